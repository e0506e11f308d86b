"""Tests of nnlite.data: loaders, parsers, downloads, search order, validation and batching.

No test touches the network: downloads are served from file:// URLs or by a monkeypatched opener.
"""

import gzip
import hashlib
import io
import os
import pickle
import re
import struct
import tarfile
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite import data
from nnlite.data import (
    ChecksumError,
    DataNotFoundError,
    batches,
    check_inputs,
    check_labels,
    cifar,
    load,
    locate,
    one_hot,
    read_cifar_batch,
    read_idx,
    sources,
)
from nnlite.data import download as download_mod

DEBIAN = Path(data.DEBIAN_FASHION_MNIST)


# ------------------------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No $NNLITE_DATA, and a user cache in an empty temporary folder."""
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "nnlite"


_IDX_CODE = {
    np.dtype("u1"): 0x08,
    np.dtype("i1"): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(arr):
    arr = np.asarray(arr)
    be = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    header = bytes([0, 0, _IDX_CODE[be], arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(be).tobytes()


def write_idx(path, arr, gz):
    raw = idx_bytes(arr)
    path = Path(str(path) + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def make_mnist_arrays(seed, n_train=12, n_test=5):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_mnist(folder, arrays, gz=(True, False, False, True)):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr, z in zip(sources._IDX_FILES, arrays, gz):
        write_idx(folder / stem, arr, z)
    return folder


class Py2Pickler(pickle._Pickler):
    """Writes pickles as Python 2's cPickle did for the CIFAR-10 batches: str as BINSTRING, NumPy's
    reconstruct function under its NumPy 1 name numpy.core.multiarray."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        if obj is cifar._NumpyOnlyUnpickler._reconstruct:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def py2_pickle(obj):
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch_dict(x, y, label=b"batch"):
    return {
        b"batch_label": label,
        b"labels": [int(v) for v in y],
        b"data": x,
        b"filenames": [b"img_%d.png" % i for i in range(len(y))],
    }


def make_cifar_arrays(seed, n_per_batch=3, n_test=4):
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8) for _ in range(5)]
    ys = [rng.integers(0, 10, n_per_batch) for _ in range(5)]
    return xs, ys, rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), rng.integers(0, 10, n_test)


def add_member(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_cifar_python_tar(path, arrays):
    xs, ys, xt, yt = arrays
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "cifar-10-batches-py/batches.meta", py2_pickle({b"label_names": [b"airplane"] * 10}))
        for i, (x, y) in enumerate(zip(xs, ys), 1):
            add_member(tar, f"cifar-10-batches-py/data_batch_{i}", py2_pickle(cifar_batch_dict(x, y)))
        add_member(tar, "cifar-10-batches-py/test_batch", py2_pickle(cifar_batch_dict(xt, yt)))
    return path


def binary_records(x, y):
    return np.concatenate([np.asarray(y, np.uint8)[:, None], x], axis=1).tobytes()


def write_cifar_binary_tar(path, arrays):
    xs, ys, xt, yt = arrays
    with tarfile.open(path, "w:gz") as tar:
        for i, (x, y) in enumerate(zip(xs, ys), 1):
            add_member(tar, f"cifar-10-batches-bin/data_batch_{i}.bin", binary_records(x, y))
        add_member(tar, "cifar-10-batches-bin/test_batch.bin", binary_records(xt, yt))
    return path


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".part"))


# ------------------------------------------------------------------------------------------------------------------
# digits and the Dataset record


def test_digits_loads_offline_with_fixed_stratified_split(clean_env):
    d = load("digits", download=False)
    assert d.name == "digits" and d.n_classes == 10 and d.shape == (64,)
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.y_train.shape == (1437,) and d.y_test.shape == (360,)
    both = np.concatenate([d.x_train, d.x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    np.testing.assert_array_equal(both * 16, np.round(both * 16))  # exactly the 0..16 counts divided by 16
    # stratified: every class's share of the test set is its share of the whole, to within one sample
    y_all = np.concatenate([d.y_train, d.y_test])
    expected = np.bincount(y_all) * 360 / len(y_all)
    assert np.all(np.abs(np.bincount(d.y_test, minlength=10) - expected) < 1)
    again = load("digits")
    for a, b in zip(
        (d.x_train, d.y_train, d.x_test, d.y_test), (again.x_train, again.y_train, again.x_test, again.y_test)
    ):
        np.testing.assert_array_equal(a, b)


def test_digits_split_is_a_partition_of_sklearn_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    d = load("digits")
    ours = np.concatenate([d.x_train, d.x_test]) * 16
    theirs = bunch.data

    # same multiset of (image, label) rows
    def key(x, y):
        return sorted(map(bytes, np.concatenate([x, y[:, None]], axis=1).astype(np.uint8)))

    assert key(ours, np.concatenate([d.y_train, d.y_test])) == key(theirs, bunch.target)


def test_digits_images_float64_and_unpacking():
    d = load("digits", flatten=False, dtype=np.float64)
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_train.dtype == np.float64 and d.shape == (1, 8, 8)
    flat = load("digits")
    np.testing.assert_array_equal(d.x_train.reshape(1437, 64), flat.x_train.astype(np.float64))
    (x_tr, y_tr), (x_te, y_te) = flat
    assert x_tr is flat.x_train and y_tr is flat.y_train and x_te is flat.x_test and y_te is flat.y_test


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as err:
        load("imagenet")
    for known in data.KNOWN_DATASETS:
        assert known in str(err.value)


def test_non_float_dtype_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        load("digits", dtype=np.int32)


# ------------------------------------------------------------------------------------------------------------------
# standardization


@pytest.mark.parametrize("flatten", [True, False])
def test_standardize_uses_train_statistics_for_both_splits(flatten):
    raw = load("digits", flatten=flatten)
    d = load("digits", flatten=flatten, standardize=True)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.mean.dtype == np.float32 and d.std.dtype == np.float32
    axes = (0,) if flatten else (0, 2, 3)
    mu = raw.x_train.astype(np.float64).mean(axis=axes, keepdims=True)[0]
    sd = np.maximum(raw.x_train.astype(np.float64).std(axis=axes, keepdims=True)[0], data.STD_FLOOR)
    assert d.mean.shape == ((64,) if flatten else (1, 1, 1))
    np.testing.assert_allclose(d.mean, mu, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d.std, sd, rtol=1e-6)
    np.testing.assert_allclose(d.x_train, (raw.x_train - mu) / sd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.x_test, (raw.x_test - mu) / sd, rtol=1e-5, atol=1e-5)
    train_std = d.x_train.std(axis=axes)
    varying = (sd > data.STD_FLOOR).ravel()
    np.testing.assert_allclose(d.x_train.mean(axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(train_std.ravel()[varying], 1.0, rtol=1e-4)
    if flatten:  # digits has constant-zero pixels: they are centred, never divided by zero
        constant = raw.x_train.std(axis=0) == 0
        assert constant.any() and np.isfinite(d.x_test).all()
        assert np.all(d.x_train[:, constant] == 0)


# ------------------------------------------------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_uint8(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    p_img = write_idx(tmp_path / "img-idx3-ubyte", images, gz)
    p_lab = write_idx(tmp_path / "lab-idx1-ubyte", labels, gz)
    assert (p_img.read_bytes()[:2] == b"\x1f\x8b") == gz
    got_img, got_lab = read_idx(p_img), read_idx(p_lab)
    assert got_img.dtype == np.uint8 and got_img.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_img, images)
    np.testing.assert_array_equal(got_lab, labels)
    got_img[0, 0, 0] = 1  # a writable array, not a view of read-only bytes


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    dtype=st.sampled_from(["u1", "i1", "i2", "i4", "f4", "f8"]),
    gz=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_idx_round_trip_any_type(tmp_path_factory, shape, dtype, gz, seed):
    rng = np.random.default_rng(seed)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    path = write_idx(tmp_path_factory.mktemp("idx") / "a", arr, gz)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_idx_truncated_names_file_and_byte_counts(tmp_path):
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(raw[:-10])
    with pytest.raises(ValueError) as err:
        read_idx(path)
    msg = str(err.value)
    assert str(path) in msg and "truncated" in msg
    assert f"expected {len(raw)} bytes" in msg and f"got {len(raw) - 10} bytes" in msg
    path.write_bytes(raw + b"\0")
    with pytest.raises(ValueError, match=f"expected {len(raw)} bytes, got {len(raw) + 1}"):
        read_idx(path)
    path.write_bytes(raw[:10])  # cut inside the dimension sizes
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_idx_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_wrong_magic_names_file_and_magic(tmp_path):
    raw = bytearray(idx_bytes(np.zeros((2, 3), np.uint8)))
    raw[2] = 0x0A  # no IDX type 0x0A
    path = tmp_path / "bad-idx"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as err:
        read_idx(path)
    assert str(path) in str(err.value) and "0x00000A02" in str(err.value)
    raw[2], raw[0] = 0x08, 0x01  # a known type code, but the first byte must be zero
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="0x01000802"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04" + bytes(40))  # e.g. a zip file saved under the wrong name
    with pytest.raises(ValueError, match="0x504B0304"):
        read_idx(path)


def test_load_mnist_from_idx_files(tmp_path, clean_env):
    arrays = make_mnist_arrays(0)
    write_mnist(tmp_path / "data" / "mnist", arrays)
    d = load("mnist", root=tmp_path / "data", download=False)
    assert d.x_train.shape == (12, 784) and d.x_test.shape == (5, 784) and d.x_train.dtype == np.float32
    np.testing.assert_allclose(d.x_train, arrays[0].reshape(12, 784) / np.float32(255), rtol=1e-7)
    np.testing.assert_array_equal(d.y_train, arrays[1])
    np.testing.assert_array_equal(d.y_test, arrays[3])
    assert d.y_train.dtype == np.int64 and d.source == str(tmp_path / "data" / "mnist")
    img = load("mnist", root=tmp_path / "data", download=False, flatten=False)
    assert img.x_test.shape == (5, 1, 28, 28) and img.shape == (1, 28, 28)
    np.testing.assert_array_equal(img.x_test.reshape(5, 784), d.x_test)


def test_load_mnist_rejects_mismatched_counts_and_bad_labels(tmp_path, clean_env):
    x, y, xt, yt = make_mnist_arrays(0)
    folder = write_mnist(tmp_path / "mnist", (x, y[:-1], xt, yt))
    with pytest.raises(ValueError, match=r"12 images but .* 11 labels"):
        load("mnist", root=tmp_path, download=False)
    y_bad = y.copy()
    y_bad[3] = 12
    write_mnist(folder, (x, y_bad, xt, yt))
    with pytest.raises(ValueError, match=r"must be in \[0, 10\), got min \d+, max 12"):
        load("mnist", root=tmp_path, download=False)


# ------------------------------------------------------------------------------------------------------------------
# CIFAR-10


@pytest.mark.parametrize("version", ["python", "binary"])
@pytest.mark.parametrize("flatten", [True, False])
def test_cifar_round_trip_of_real_format_tarball(tmp_path, clean_env, version, flatten):
    arrays = make_cifar_arrays(3)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    if version == "python":
        write_cifar_python_tar(folder / "cifar-10-python.tar.gz", arrays)
    else:
        write_cifar_binary_tar(folder / "cifar-10-binary.tar.gz", arrays)
    d = load("cifar10", root=tmp_path, download=False, flatten=flatten)
    xs, ys, xt, yt = arrays
    x_train = np.concatenate(xs).astype(np.float32) / np.float32(255)
    shape = (3072,) if flatten else (3, 32, 32)
    assert d.shape == shape and d.x_train.shape == (15,) + shape and d.x_test.shape == (4,) + shape
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    np.testing.assert_allclose(d.x_train.reshape(15, 3072), x_train, rtol=1e-7)
    np.testing.assert_array_equal(d.y_train, np.concatenate(ys))
    np.testing.assert_array_equal(d.y_test, yt)
    if not flatten:  # channel-major planes: the first 1024 values are the red channel
        np.testing.assert_allclose(d.x_test[:, 0].reshape(4, 1024) * 255, xt[:, :1024], atol=1e-4)


def test_cifar_pickle_is_parsed_from_py2_opcodes():
    # the writer really produces Python 2 style opcodes: no _codecs.encode for bytes, the NumPy 1 module name
    x = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    blob = py2_pickle(cifar_batch_dict(x, [1, 9]))
    assert b"numpy.core.multiarray\n_reconstruct" in blob and b"_codecs" not in blob
    gx, gy = read_cifar_batch(blob, "b")
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, [1, 9])


def test_cifar_extracted_folders(tmp_path, clean_env):
    arrays = make_cifar_arrays(4)
    xs, ys, xt, yt = arrays
    py_dir = tmp_path / "a" / "cifar10" / "cifar-10-batches-py"
    bin_dir = tmp_path / "b" / "cifar-10-batches-bin"
    py_dir.mkdir(parents=True)
    bin_dir.mkdir(parents=True)
    for i, (x, y) in enumerate(zip(xs, ys), 1):
        (py_dir / f"data_batch_{i}").write_bytes(py2_pickle(cifar_batch_dict(x, y)))
        (bin_dir / f"data_batch_{i}.bin").write_bytes(binary_records(x, y))
    (py_dir / "test_batch").write_bytes(py2_pickle(cifar_batch_dict(xt, yt)))
    (bin_dir / "test_batch.bin").write_bytes(binary_records(xt, yt))
    a = load("cifar10", root=tmp_path / "a", download=False)
    b = load("cifar10", root=tmp_path / "b", download=False)  # files directly in root
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    np.testing.assert_array_equal(a.y_train, np.concatenate(ys))


_evil_ran = []


def _evil():
    _evil_ran.append(True)
    return {}


class _Evil:
    def __reduce__(self):
        return (_evil, ())


def test_cifar_pickle_refuses_other_globals():
    blob = py2_pickle({b"data": _Evil(), b"labels": []})
    with pytest.raises(ValueError) as err:
        read_cifar_batch(blob, "evil_batch")
    assert "evil_batch" in str(err.value) and "refusing" in str(err.value) and "_evil" in str(err.value)
    assert not _evil_ran


def test_cifar_batch_validation():
    x = np.zeros((2, 3072), np.uint8)
    rec = binary_records(x, [1, 2])
    with pytest.raises(ValueError, match=r"data_batch_1.bin: binary CIFAR-10 batch of 6145 bytes .*3073-byte"):
        read_cifar_batch(rec[:-1], "data_batch_1.bin", binary=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\), got min 1, max 11"):
        read_cifar_batch(binary_records(x, [1, 11]), "b", binary=True)
    with pytest.raises(ValueError, match=r"expected data of uint8 \(N, 3072\), got uint8 \(2, 3071\)"):
        read_cifar_batch(py2_pickle(cifar_batch_dict(np.zeros((2, 3071), np.uint8), [0, 1])), "b")
    with pytest.raises(ValueError, match="2 images but labels of shape"):
        read_cifar_batch(py2_pickle(cifar_batch_dict(x, [0, 1, 2])), "b")
    with pytest.raises(ValueError, match="not a valid CIFAR-10 python batch"):
        read_cifar_batch(py2_pickle(cifar_batch_dict(x, [0, 1]))[:-50], "b")


def test_cifar_tarball_missing_batch_is_named(tmp_path, clean_env):
    xs, ys, xt, yt = make_cifar_arrays(5)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for i, (x, y) in enumerate(zip(xs[:4], ys[:4]), 1):
            add_member(tar, f"cifar-10-batches-py/data_batch_{i}", py2_pickle(cifar_batch_dict(x, y)))
        add_member(tar, "cifar-10-batches-py/test_batch", py2_pickle(cifar_batch_dict(xt, yt)))
    with pytest.raises(ValueError, match="missing CIFAR-10 batches data_batch_5"):
        load("cifar10", root=tmp_path, download=False)


# ------------------------------------------------------------------------------------------------------------------
# downloads


def test_download_from_file_url_lands_verified(tmp_path):
    payload = os.urandom(3 * download_mod._CHUNK + 17)  # several chunks
    src = tmp_path / "srv" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(payload)
    dest = tmp_path / "dl" / "blob.bin"
    got = data.download_file(
        ["file:///nonexistent/nowhere/blob.bin", src.as_uri()], dest, hashlib.sha256(payload).hexdigest()
    )
    assert got == dest and dest.read_bytes() == payload
    assert leftovers(dest.parent) == []


def test_download_with_wrong_checksum_raises_and_leaves_nothing(tmp_path):
    payload = b"not the real file" * 1000
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    dest = tmp_path / "dl" / "train-images-idx3-ubyte.gz"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        data.download_file(src.as_uri(), dest, wrong)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and wrong in msg and hashlib.sha256(payload).hexdigest() in msg
    assert isinstance(err.value, ValueError)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


class _Served(io.BytesIO):
    """A response that checks, while it is being read, that nothing is at the destination yet."""

    def __init__(self, payload, dest, fail_after=None):
        super().__init__(payload)
        self.dest, self.fail_after, self.reads = dest, fail_after, 0

    def read(self, n=-1):
        assert not self.dest.exists(), "destination appeared before the download finished"
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise ConnectionResetError("connection reset mid-download")
        return super().read(min(n, 1000) if n and n > 0 else n)


def _serve_mnist(monkeypatch, arrays, corrupt=None, fail_after=None):
    """Patch the MNIST source list and the opener so that downloads serve gzipped IDX bytes made here."""
    payloads = {}
    remotes = []
    for stem, arr in zip(sources._IDX_FILES, arrays):
        blob = gzip.compress(idx_bytes(arr))
        payloads[stem + ".gz"] = blob
        remotes.append(sources._Remote(stem + ".gz", hashlib.sha256(blob).hexdigest(), len(blob)))
    if corrupt is not None:
        name = remotes[corrupt].filename
        payloads[name] = payloads[name][:-1] + bytes([payloads[name][-1] ^ 1])
    monkeypatch.setitem(sources._SOURCES, "mnist", (("https://mirror.invalid/mnist/",), tuple(remotes)))
    opened = []

    def opener(url, timeout=None):
        name = url.rsplit("/", 1)[-1]
        opened.append(url)
        dest = Path(opener.target) / name
        return _Served(payloads[name], dest, fail_after)

    monkeypatch.setattr(download_mod, "_urlopen", opener)
    return opener, opened


def test_load_downloads_into_root_atomically(tmp_path, clean_env, monkeypatch):
    arrays = make_mnist_arrays(7)
    opener, opened = _serve_mnist(monkeypatch, arrays)
    opener.target = tmp_path / "mnist"
    d = load("mnist", root=tmp_path)
    assert len(opened) == 4 and all(u.startswith("https://mirror.invalid/mnist/") for u in opened)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(s + ".gz" for s in sources._IDX_FILES)
    np.testing.assert_array_equal(d.y_train, arrays[1])
    np.testing.assert_allclose(d.x_test * 255, arrays[2].reshape(5, 784), atol=1e-4)
    opened.clear()
    load("mnist", root=tmp_path)  # second time: found on disk, nothing fetched
    assert opened == []


def test_download_goes_to_nnlite_data_then_cache(tmp_path, clean_env, monkeypatch):
    arrays = make_mnist_arrays(8)
    opener, _ = _serve_mnist(monkeypatch, arrays)
    opener.target = clean_env / "mnist"
    load("mnist")
    assert (clean_env / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "shared"))
    opener.target = tmp_path / "shared" / "mnist"
    # the cache copy is found first in the search, so nothing is downloaded; remove it to force a download
    for p in (clean_env / "mnist").iterdir():
        p.unlink()
    load("mnist")
    assert (tmp_path / "shared" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_corrupted_download_does_not_land(tmp_path, clean_env, monkeypatch):
    opener, _ = _serve_mnist(monkeypatch, make_mnist_arrays(9), corrupt=1)
    opener.target = tmp_path / "mnist"
    with pytest.raises(ChecksumError, match=re.escape("train-labels-idx1-ubyte.gz")):
        load("mnist", root=tmp_path)
    names = sorted(p.name for p in (tmp_path / "mnist").iterdir())
    assert names == ["train-images-idx3-ubyte.gz"]  # the good file before it landed; no partial file
    # once the mirror is repaired, only the missing files are fetched
    arrays = make_mnist_arrays(9)
    opener, opened = _serve_mnist(monkeypatch, arrays)
    opener.target = tmp_path / "mnist"
    d = load("mnist", root=tmp_path)
    assert sorted(u.rsplit("/", 1)[-1] for u in opened) == sorted(s + ".gz" for s in sources._IDX_FILES[1:])
    np.testing.assert_array_equal(d.y_train, arrays[1])


def test_interrupted_download_leaves_no_partial_file_and_explains(tmp_path, clean_env, monkeypatch):
    opener, _ = _serve_mnist(monkeypatch, make_mnist_arrays(10), fail_after=2)
    opener.target = tmp_path / "mnist"
    with pytest.raises(DataNotFoundError) as err:
        load("mnist", root=tmp_path)
    msg = str(err.value)
    assert "connection reset" in msg and str(tmp_path / "mnist") in msg and str(clean_env / "mnist") in msg
    assert "root=" in msg and "train-images-idx3-ubyte[.gz]" in msg
    assert list((tmp_path / "mnist").iterdir()) == []


def test_network_failure_says_where_it_looked(tmp_path, clean_env, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download_mod, "_urlopen", offline)
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "shared"))
    with pytest.raises(DataNotFoundError) as err:
        load("cifar10")
    msg = str(err.value)
    assert "name resolution" in msg and "cifar-10-python.tar.gz" in msg
    assert str(tmp_path / "shared" / "cifar10") in msg and str(clean_env / "cifar10") in msg
    assert "https://www.cs.toronto.edu/~kriz/" in msg
    assert leftovers(tmp_path / "shared" / "cifar10") == []


def test_not_found_without_download(tmp_path, clean_env, monkeypatch):
    def forbidden(url, timeout=None):
        raise AssertionError("no download may be attempted")

    monkeypatch.setattr(download_mod, "_urlopen", forbidden)
    with pytest.raises(DataNotFoundError, match="download=False") as err:
        load("mnist", root=tmp_path, download=False)
    assert str(tmp_path / "mnist") in str(err.value) and isinstance(err.value, FileNotFoundError)


# ------------------------------------------------------------------------------------------------------------------
# search order


def test_search_order_root_then_env_then_cache(tmp_path, clean_env, monkeypatch):
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "env"))
    assert data.data_dirs("mnist", tmp_path / "root") == [
        tmp_path / "root" / "mnist",
        tmp_path / "root",
        tmp_path / "env" / "mnist",
        clean_env / "mnist",
    ]
    assert data.data_dirs("fashion-mnist")[-1] == DEBIAN
    copies = {}
    for where, folder in (
        ("root", tmp_path / "root" / "mnist"),
        ("env", tmp_path / "env" / "mnist"),
        ("cache", clean_env / "mnist"),
    ):
        x, _, xt, _ = make_mnist_arrays(0)
        label = {"root": 1, "env": 2, "cache": 3}[where]
        copies[where] = write_mnist(folder, (x, np.full(12, label, np.uint8), xt, np.zeros(5, np.uint8)))
    assert set(load("mnist", root=tmp_path / "root", download=False).y_train) == {1}
    assert set(load("mnist", download=False).y_train) == {2}
    monkeypatch.delenv("NNLITE_DATA")
    assert set(load("mnist", root=tmp_path / "nothing-here", download=False).y_train) == {3}
    # an incomplete copy is skipped: the next complete one wins
    locate._idx_file(copies["root"], "t10k-labels-idx1-ubyte").unlink()
    assert set(load("mnist", root=tmp_path / "root", download=False).y_train) == {3}


def test_fashion_mnist_user_copy_comes_before_debian(tmp_path, clean_env):
    x, _, xt, _ = make_mnist_arrays(1)
    write_mnist(clean_env / "fashion-mnist", (x, np.full(12, 4, np.uint8), xt, np.zeros(5, np.uint8)))
    d = load("fashion-mnist", download=False)
    assert d.x_train.shape == (12, 784) and set(d.y_train) == {4}


# ------------------------------------------------------------------------------------------------------------------
# Fashion-MNIST from Debian's dataset-fashion-mnist


def test_fashion_mnist_from_debian_files(clean_env):
    assert DEBIAN.is_dir(), "Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)"
    d = load("fashion-mnist", download=False)
    assert d.source == str(DEBIAN)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784) and d.x_train.dtype == np.float32
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.y_train.min() >= 0 and d.y_train.max() < 10
    np.testing.assert_array_equal(np.bincount(d.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(d.y_test), [1000] * 10)
    # the well-known Fashion-MNIST pixel statistics
    assert abs(float(d.x_train.mean()) - 0.2860) < 1e-3 and abs(float(d.x_train.std()) - 0.3530) < 1e-3


def test_debian_fashion_files_are_the_originals_pinned_in_the_code():
    # Debian rewrote each gzip header (no file name, a 2020 mtime); restoring the original header must give back
    # exactly the bytes whose SHA-256 the downloader pins, which checks both the pins and the Debian data.
    mtimes = {"train": 1504176606, "t10k": 1504176627}
    for remote in sources._FASHION_FILES:
        blob = (DEBIAN / remote.filename).read_bytes()
        assert blob[:3] == b"\x1f\x8b\x08" and blob[3] == 0  # deflate, no optional header fields
        header = (
            b"\x1f\x8b\x08\x08"
            + struct.pack("<I", mtimes[remote.filename.split("-")[0]])
            + b"\x00\x03"
            + remote.filename[:-3].encode()
            + b"\x00"
        )
        original = header + blob[10:]
        assert len(original) == remote.size
        assert hashlib.sha256(original).hexdigest() == remote.sha256


# ------------------------------------------------------------------------------------------------------------------
# batches and one_hot


def _orders(x, **kw):
    return np.concatenate([xb for xb, _ in batches(x, x.copy(), **kw)])


@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), seed=st.integers(0, 2**32 - 1))
def test_batches_seeded_order_covers_each_sample_once(n, batch_size, seed):
    x = np.arange(n)
    y = np.arange(n) * 10
    got = list(batches(x, y, batch_size, rng=seed))
    assert [len(xb) for xb, _ in got] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
    order = np.concatenate([xb for xb, _ in got])
    assert sorted(order.tolist()) == list(range(n))
    for xb, yb in got:
        np.testing.assert_array_equal(yb, xb * 10)  # x and y stay paired
    np.testing.assert_array_equal(order, _orders(x, batch_size=batch_size, rng=seed))
    np.testing.assert_array_equal(order, _orders(x, batch_size=batch_size, rng=np.random.default_rng(seed)))


def test_batches_shuffles_and_generator_advances():
    x = np.arange(100)
    a = _orders(x, batch_size=10, rng=0)
    assert not np.array_equal(a, x)
    assert not np.array_equal(a, _orders(x, batch_size=10, rng=1))
    g = np.random.default_rng(0)
    first, second = _orders(x, batch_size=10, rng=g), _orders(x, batch_size=10, rng=g)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)


def test_batches_drop_last_unshuffled_views_and_errors():
    x = np.arange(20.0).reshape(10, 2)
    got = list(batches(x, None, 4, shuffle=False, drop_last=True))
    assert len(got) == 2 and all(yb is None for _, yb in got)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in got]), x[:8])
    assert np.shares_memory(got[0][0], x)
    assert [len(b) for b, _ in batches(x, None, 4, rng=0)] == [4, 4, 2]
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        batches(x, np.arange(9), 4)  # raised at the call, not at the first next()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            batches(x, None, bad)


def test_one_hot():
    y = np.array([2, 0, 1, 2])
    for dtype in (np.float32, np.float64):
        oh = one_hot(y, 3, dtype)
        assert oh.dtype == dtype and oh.shape == (4, 3)
        np.testing.assert_array_equal(oh.argmax(1), y)
        np.testing.assert_array_equal(oh.sum(1), 1)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\), got max 2"):
        one_hot(y, 2)


# ------------------------------------------------------------------------------------------------------------------
# check_inputs / check_labels


def test_check_inputs_accepts_good_batches():
    x = np.zeros((3, 784), np.float32)
    assert check_inputs(x, n_features=784, ndim=2) is x
    img = np.zeros((2, 1, 28, 28), np.float64)
    assert check_inputs(img, n_features=784, ndim=4) is img


@pytest.mark.parametrize(
    "x, kw, exc, message",
    [
        ([[0.0, 1.0]], {}, TypeError, "x must be a numpy array, got list"),
        (np.zeros((2, 3), np.int64), {}, TypeError, "x must be a floating-point array (float32 or float64), got int64"),
        (np.zeros((2, 3), np.float32), {"ndim": 4}, ValueError, "x must have 4 dimensions, got 2"),
        (np.zeros((2, 783), np.float32), {"n_features": 784}, ValueError, "x: expected 784 features, got 783"),
        (np.zeros((0, 784), np.float32), {"n_features": 784}, ValueError, "x is an empty batch"),
        (np.ones((), np.float32), {}, ValueError, "must have a batch dimension"),
    ],
)
def test_check_inputs_rejects(x, kw, exc, message):
    with pytest.raises(exc) as err:
        check_inputs(x, **kw)
    assert message in str(err.value)


def test_check_inputs_counts_nonfinite_values():
    x = np.ones((4, 5), np.float32)
    x[0, 1], x[2, 2], x[3, 4] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"^inputs contains 3 NaN/inf values$"):
        check_inputs(x, name="inputs")


@pytest.mark.parametrize(
    "y, kw, exc, message",
    [
        ([1, 2], {}, TypeError, "labels must be a numpy array, got list"),
        (np.array([1.0, 2.0]), {}, TypeError, "labels must be an integer array, got float64"),
        (np.array([[1, 2]]), {}, ValueError, "labels must be 1-D (N,), got shape (1, 2)"),
        (np.array([1, 12, 3]), {}, ValueError, "labels must be in [0, 10), got max 12"),
        (np.array([1, -1, 3]), {}, ValueError, "labels must be in [0, 10), got min -1"),
        (np.array([1, 2, 3]), {"n": 4}, ValueError, "got 3 labels for 4 samples"),
        (np.array([], np.int64), {}, ValueError, "labels are empty"),
    ],
)
def test_check_labels_rejects(y, kw, exc, message):
    with pytest.raises(exc) as err:
        check_labels(y, 10, **kw)
    assert message in str(err.value)


def test_check_labels_accepts_every_integer_type():
    for dtype in (np.uint8, np.int32, np.int64):
        y = np.array([0, 9, 3], dtype)
        assert check_labels(y, 10, n=3) is y


# ------------------------------------------------------------------------------------------------------------------
# own data sets (.npz)


def _own(tmp_path, name="own.npz", compressed=False, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 3, 4, 4), dtype=np.uint8),
        "y_train": np.arange(12) % 4,
        "x_test": rng.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8),
        "y_test": np.array([0, 1, 2, 3, 1], dtype=np.int32),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / name
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path, arrays


@pytest.mark.parametrize("compressed", [False, True])
def test_own_npz_round_trip_scales_uint8(tmp_path, compressed):
    path, a = _own(tmp_path, compressed=compressed)
    ds = load(str(path), flatten=False)
    assert ds.name == "own" and ds.source == str(path) and ds.n_classes == 4 and ds.shape == (3, 4, 4)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, a["x_train"].astype(np.float32) / np.float32(255.0))
    np.testing.assert_array_equal(ds.y_test, a["y_test"])
    assert 0.0 <= ds.x_test.min() and ds.x_test.max() <= 1.0
    flat = load(path, dtype=np.float64)  # a PathLike works too; flatten=True by default
    assert flat.x_train.shape == (12, 48) and flat.x_train.dtype == np.float64
    np.testing.assert_array_equal(flat.x_test, a["x_test"].reshape(5, 48) / 255.0)


def test_own_npz_float_is_kept_and_standardized_like_the_builtins(tmp_path):
    rng = np.random.default_rng(1)
    x_tr, x_te = rng.standard_normal((20, 6)) * 3 + 1, rng.standard_normal((4, 6))
    path, _ = _own(tmp_path, x_train=x_tr, x_test=x_te, y_train=np.arange(20) % 3, y_test=np.arange(4) % 3)
    ds = load(path)
    assert ds.x_train.dtype == np.float32 and ds.shape == (6,) and ds.n_classes == 3
    np.testing.assert_array_equal(ds.x_train, x_tr.astype(np.float32))
    st_ = load(path, standardize=True, flatten=False)  # (N, D) data stays (N, D), per feature
    assert st_.x_train.shape == (20, 6) and st_.mean is not None and st_.mean.shape == (6,)
    np.testing.assert_allclose(st_.x_train.mean(axis=0), 0, atol=1e-5)
    img = load(_own(tmp_path, "img.npz")[0], standardize=True, flatten=False)
    assert img.mean is not None and img.mean.shape == (3, 1, 1)  # per channel, as for the built-ins


def test_own_file_without_npz_suffix_and_unknown_names(tmp_path):
    path, _ = _own(tmp_path)
    other = tmp_path / "mydata.bin"
    path.rename(other)
    assert load(other).n_classes == 4
    with pytest.raises(ValueError, match=r"unknown data set 'nope'.*npz"):
        load("nope")


def test_own_npz_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    _, a = _own(tmp_path)
    a["y_train"] = np.array([0, 1, "x", None] * 3, dtype=object)
    np.savez(path, **a)  # savez pickles object arrays; the reader refuses them from the header
    with pytest.raises(ValueError, match=r"obj\.npz: y_train is an object array"):
        load(path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"y_test": None}, r"missing key 'y_test'"),
        ({"x_train": np.zeros((12, 3, 4), np.uint8)}, r"x_train must be \(N, D\) or \(N, C, H, W\)"),
        ({"y_train": np.zeros((12, 1), np.int64)}, r"y_train must be 1-D"),
        ({"y_train": np.zeros(11, np.int64)}, r"x_train has 12 samples but y_train has 11"),
        ({"x_test": np.zeros((5, 3, 4, 5), np.uint8)}, r"x_test samples have shape \(3, 4, 5\)"),
        ({"x_train": np.zeros((12, 3, 4, 4), np.int16)}, r"x_train must be uint8 .* or floating point, got int16"),
        ({"y_test": np.zeros(5, np.float32)}, r"y_test must be an integer array, got float32"),
        ({"y_test": np.array([0, 1, 2, 3, 4])}, r"test labels must be in \[0, 4\), got min 0, max 4"),
        ({"y_train": -(np.arange(12) % 4)}, r"train labels must be in \[0, 1\), got min -3"),
        ({"x_train": np.full((12, 3, 4, 4), np.nan), "x_test": np.zeros((5, 3, 4, 4))}, r"x_train contains 576 NaN"),
        ({"x_train": np.zeros((12, 3, 4, 4))}, r"x_train is float64 but x_test is uint8"),
        ({"x_train": np.full((12, 3, 4, 4), 1e300), "x_test": np.zeros((5, 3, 4, 4))}, r"x_train contains 576"),
        ({"x_test": np.zeros((0, 3, 4, 4), np.uint8), "y_test": np.zeros(0, np.int64)}, r"x_test is empty"),
    ],
)
def test_own_npz_bad_contents_are_refused_naming_file_and_key(tmp_path, overrides, message):
    path, _ = _own(tmp_path, "bad.npz", **overrides)
    with pytest.raises(ValueError, match=r"bad\.npz: " + message):
        load(path)


def test_own_npz_lying_header_is_refused_before_any_allocation(tmp_path):
    path, a = _own(tmp_path, "lie.npz")
    members = {}
    for key, arr in a.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        members[key] = buf.getvalue()
    # Claim 10^12 samples of x_train in the header, keeping its length (the header is padded with spaces).
    raw, old, new = members["x_train"], b"'shape': (12, 3, 4, 4), }", b"'shape': (1000000000000, 3, 4, 4), }"
    i = raw.index(old)
    j = raw.index(b"\n", i)
    assert j - i >= len(new)
    members["x_train"] = raw[:i] + new + b" " * (j - i - len(new)) + raw[j:]
    with zipfile.ZipFile(path, "w") as zf:  # a well-formed zip (right CRCs) around a lying header
        for key, data in members.items():
            zf.writestr(key + ".npy", data)
    with pytest.raises(ValueError, match=r"lie\.npz: x_train's header says shape \(1000000000000, 3, 4, 4\)"):
        load(path)


def test_own_npz_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable \.npz file"):
        load(path)
    with pytest.raises(ValueError, match=r"missing\.npz: not a readable"):
        load(tmp_path / "missing.npz")

"""Tests of nnlite.data.idx: IDX files (plain and gzipped) read back exactly, truncated or mislabelled files
named in the error, and MNIST loaded from IDX files."""

import gzip

import numpy as np
import pytest
from data_helpers import idx_bytes, make_mnist_arrays, write_idx, write_mnist
from hypothesis import given
from hypothesis import strategies as st

from nnlite.data import load, read_idx

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

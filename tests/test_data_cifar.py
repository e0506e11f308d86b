"""Tests of nnlite.data.cifar: CIFAR-10 from real-format tarballs and extracted folders (python and binary
versions), the restricted Python 2 pickle reader, and the validation of each batch."""

import tarfile

import numpy as np
import pytest
from data_helpers import (
    add_member,
    binary_records,
    cifar_batch_dict,
    make_cifar_arrays,
    py2_pickle,
    write_cifar_binary_tar,
    write_cifar_python_tar,
)

from nnlite.data import load, read_cifar_batch

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

"""Helpers of the nnlite.data tests (tests/test_data_*.py): writers of IDX files, of MNIST folders and of
CIFAR-10 batches and tarballs in their real formats (Python 2 pickles included)."""

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from nnlite.data import cifar, sources

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

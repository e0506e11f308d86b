"""Tests of nnlite.data.locate: the search order (root, $NNLITE_DATA, the user cache, Debian's copy), and
Fashion-MNIST from Debian's dataset-fashion-mnist, whose files are the originals pinned in nnlite.data.sources."""

import hashlib
import struct
from pathlib import Path

import numpy as np
from data_helpers import make_mnist_arrays, write_mnist

from nnlite import data
from nnlite.data import load, locate, sources

DEBIAN = Path(data.DEBIAN_FASHION_MNIST)


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

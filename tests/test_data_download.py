"""Tests of nnlite.data.download: verified, atomic downloads, where they land, and the errors of a corrupted,
interrupted or impossible download.

No test touches the network: downloads are served from file:// URLs or by a monkeypatched opener.
"""

import gzip
import hashlib
import io
import os
import re
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from data_helpers import idx_bytes, leftovers, make_mnist_arrays

from nnlite import data
from nnlite.data import ChecksumError, DataNotFoundError, load, sources
from nnlite.data import download as download_mod

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

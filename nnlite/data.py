"""Data sets, file parsers, input validation and mini-batching.

Data sets
---------
``load(name)`` returns a :class:`Dataset` for one of ``KNOWN_DATASETS``:

=================  ==========================  ===============  =======================
name               x (flatten=True / False)    train / test     source
=================  ==========================  ===============  =======================
``digits``         (N, 64) / (N, 1, 8, 8)      1 437 / 360      scikit-learn (offline)
``mnist``          (N, 784) / (N, 1, 28, 28)   60 000 / 10 000  IDX files
``fashion-mnist``  (N, 784) / (N, 1, 28, 28)   60 000 / 10 000  IDX files
``cifar10``        (N, 3072) / (N, 3, 32, 32)  50 000 / 10 000  CIFAR-10 tarball
=================  ==========================  ===============  =======================

Pixels are scaled to [0, 1] (digits: / 16, the others: / 255); labels are int64 in [0, C).

Where files are looked for
--------------------------
For a data set ``name`` the folders below are tried in this order; the first that holds a complete copy wins
(``data_dirs(name, root)`` lists them):

1. ``root/<name>/``, then ``root/`` itself (only when ``root`` is given);
2. ``$NNLITE_DATA/<name>/`` (only when the variable is set);
3. the user cache, ``$XDG_CACHE_HOME/nnlite/<name>/`` or ``~/.cache/nnlite/<name>/``;
4. for ``fashion-mnist`` only: ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).

So in a shared folder (``$NNLITE_DATA``, the cache) every data set lives in its own sub-folder
(``mnist/``, ``fashion-mnist/``, ``cifar10/``): MNIST and Fashion-MNIST use the same file names. Only an
explicit ``root`` may hold the files directly.

File names: MNIST and Fashion-MNIST use the four IDX files ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or
not. CIFAR-10 is any of ``cifar-10-batches-py/`` (extracted python version), ``cifar-10-python.tar.gz``,
``cifar-10-batches-bin/`` (extracted binary version) or ``cifar-10-binary.tar.gz``.

Files found on disk are parsed and validated (sizes, magic numbers, label ranges) but not hashed: Debian ships
Fashion-MNIST with its gzip headers rewritten, so its files differ from the originals byte for byte although
their contents are the same.

Downloads
---------
When nothing is found and ``download=True``, the missing files are fetched with urllib into the first folder of
the list above (``root/<name>/``, else ``$NNLITE_DATA/<name>/``, else the cache). Each file is written to a
temporary file beside its destination, its SHA-256 checked against the value written below, and only then
renamed into place with ``os.replace``: a file under its final name is always complete and verified. A checksum
mismatch raises :class:`ChecksumError` and removes the temporary file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import math
import os
import pickle
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "KNOWN_DATASETS",
    "STD_FLOOR",
    "ChecksumError",
    "DataNotFoundError",
    "Dataset",
    "batches",
    "check_inputs",
    "check_labels",
    "data_dirs",
    "download_file",
    "load",
    "one_hot",
    "read_cifar_batch",
    "read_idx",
]

KNOWN_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

#: Smallest standard deviation divided by in ``standardize=True`` (features that are constant in the training
#: set, such as MNIST's border pixels, are then only centred, not blown up).
STD_FLOOR = 1e-2

#: Debian's ``dataset-fashion-mnist`` package ships the four gzipped IDX files directly in this folder.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------------------------------------------
# Errors


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the one recorded in this module."""


class DataNotFoundError(FileNotFoundError):
    """A data set's files are in none of the searched folders and could not be downloaded."""


# ----------------------------------------------------------------------------------------------------------------
# Sources. Every SHA-256 is of the file exactly as served at the URL.


class _Remote(NamedTuple):
    filename: str
    sha256: str
    size: int  # bytes, for the error message only


_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# MNIST: the SHA-256 of the original gzipped files from yann.lecun.com, which both mirrors below serve unchanged
# (the same four values are pinned by many independent projects, e.g. Guild AI's mnist package and torchvision's
# Ruby port; torchvision itself pins the md5 sums f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_MNIST_FILES = (
    _Remote("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    _Remote("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    _Remote("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    _Remote("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
)

# Fashion-MNIST: SHA-256 values as pinned in torchvision's prototype datasets (FashionMNIST._CHECKSUMS); their md5
# sums match the ones in the Fashion-MNIST README. Checked here against Debian's dataset-fashion-mnist files:
# Debian stripped the file name and changed the mtime in each gzip header, and putting the original header back
# (FNAME flag, name, mtime 1504176606 for train / 1504176627 for t10k) reproduces these four values exactly.
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_FASHION_FILES = (
    _Remote("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
    _Remote("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
    _Remote("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
    _Remote("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
)

# CIFAR-10, python version: SHA-256 as pinned by Keras (keras/datasets/cifar10.py, get_file(file_hash=...)).
# The binary version (found on disk only, never downloaded) would be
# c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd (170052171 bytes).
_CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
_CIFAR_FILES = (
    _Remote("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071),
)

_SOURCES: dict[str, tuple[tuple[str, ...], tuple[_Remote, ...]]] = {
    "mnist": (_MNIST_MIRRORS, _MNIST_FILES),
    "fashion-mnist": (_FASHION_MIRRORS, _FASHION_FILES),
    "cifar10": (_CIFAR_MIRRORS, _CIFAR_FILES),
}

# The opener used for downloads; a module attribute so that tests can serve bytes without a network.
_urlopen = urllib.request.urlopen
_DOWNLOAD_TIMEOUT = 60.0
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------------------------------------------
# The data set record


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split.

    Attributes
    ----------
    x_train : ndarray, shape (N_train, *shape)
    y_train : ndarray of int64, shape (N_train,), values in [0, n_classes)
    x_test : ndarray, shape (N_test, *shape)
    y_test : ndarray of int64, shape (N_test,)
    name : str
        One of ``KNOWN_DATASETS``.
    n_classes : int
        C, the number of classes.
    shape : tuple of int
        The shape of one sample: ``(D,)`` when flattened, else ``(C_in, H, W)``.
    mean, std : ndarray or None
        With ``standardize=True``, the training statistics that were applied (shape ``shape`` per feature, or
        ``(C_in, 1, 1)`` per channel), so new data can be transformed the same way: ``(x - mean) / std``.
    source : str
        Where the data came from (a folder or file path, or ``"sklearn"``).

    Notes
    -----
    A Dataset unpacks like Keras' ``load_data()``::

        (x_train, y_train), (x_test, y_test) = nnlite.data.load("digits")
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    n_classes: int
    shape: tuple
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    source: str = ""

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, x_train={self.x_train.shape} {self.x_train.dtype}, "
            f"x_test={self.x_test.shape}, n_classes={self.n_classes}, "
            f"standardized={self.mean is not None}, source={self.source!r})"
        )


# ----------------------------------------------------------------------------------------------------------------
# Public entry point


def load(
    name: str,
    root: str | os.PathLike | None = None,
    download: bool = True,
    standardize: bool = False,
    dtype=np.float32,
    flatten: bool = True,
) -> Dataset:
    """Load a data set as float arrays in [0, 1] with int64 labels.

    Parameters
    ----------
    name : str
        One of ``KNOWN_DATASETS``: ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``.
    root : path, optional
        A folder searched first (see the module docstring for the whole search order), and where downloads go.
    download : bool
        Fetch missing files from the original mirrors (checked against SHA-256) when they are found nowhere.
        ``"digits"`` never needs a download: it ships with scikit-learn.
    standardize : bool
        If True, subtract the training mean and divide by the training standard deviation (floored at
        ``STD_FLOOR``), the same statistics for train and test: per feature when ``flatten=True``, per channel
        (over N, H, W) when ``flatten=False``.
    dtype : float dtype
        float32 (default) or float64.
    flatten : bool
        True: x is (N, D). False: x is (N, C_in, H, W), i.e. (N, 1, 8, 8), (N, 1, 28, 28) or (N, 3, 32, 32).

    Returns
    -------
    Dataset
        x_train (N_train, D) or (N_train, C_in, H, W); y_train (N_train,) int64; likewise for test.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), or a file that does not parse.
    DataNotFoundError
        The files are in none of the searched folders and ``download`` is False or the download failed.
    ChecksumError
        A downloaded file does not match its recorded SHA-256.

    Notes
    -----
    ``digits`` is scikit-learn's 1 797 8×8 images (``load_digits``) divided by 16, split once and for all into
    1 437 train / 360 test samples, stratified by class with ``numpy.random.default_rng(0)``.

    Standardization: ``x' = (x - mu) / max(sigma, STD_FLOOR)`` with ``mu``, ``sigma`` from ``x_train`` only.
    """
    if not isinstance(name, str) or name not in KNOWN_DATASETS:
        raise ValueError(f"unknown data set {name!r}; known data sets: {', '.join(KNOWN_DATASETS)}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point type such as float32 or float64, got {dtype}")

    if name == "digits":
        x_tr, y_tr, x_te, y_te, source = _load_digits_uint8()
        image_shape, scale, n_classes = (1, 8, 8), 16.0, 10
    elif name in ("mnist", "fashion-mnist"):
        folder = _find_or_download(name, root, download)
        x_tr, y_tr, x_te, y_te = _load_idx_folder(folder)
        image_shape, scale, n_classes, source = (1, 28, 28), 255.0, 10, str(folder)
    else:
        folder = _find_or_download(name, root, download)
        x_tr, y_tr, x_te, y_te, source = _load_cifar_folder(folder)
        image_shape, scale, n_classes = (3, 32, 32), 255.0, 10

    sample_shape = (int(np.prod(image_shape)),) if flatten else image_shape
    x_train = _to_float(x_tr, sample_shape, scale, dtype)
    x_test = _to_float(x_te, sample_shape, scale, dtype)
    y_train = np.ascontiguousarray(y_tr, dtype=np.int64)
    y_test = np.ascontiguousarray(y_te, dtype=np.int64)
    for y, split in ((y_train, "train"), (y_test, "test")):
        if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(
                f"{source}: {split} labels must be in [0, {n_classes}), got min {int(y.min())}, max {int(y.max())}"
            )

    mean = std = None
    if standardize:
        x_train, x_test, mean, std = _standardize(x_train, x_test, per_channel=not flatten)
    return Dataset(x_train, y_train, x_test, y_test, name, n_classes, tuple(sample_shape), mean, std, source)


def _to_float(x_uint8: np.ndarray, sample_shape: tuple, scale: float, dtype: np.dtype) -> np.ndarray:
    out = np.ascontiguousarray(x_uint8.reshape((x_uint8.shape[0],) + tuple(sample_shape)), dtype=dtype)
    out /= float(scale)  # Python float: the array keeps its dtype
    return out


def _standardize(x_train: np.ndarray, x_test: np.ndarray, per_channel: bool):
    axes = (0, 2, 3) if per_channel else (0,)
    mean = x_train.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = x_train.std(axis=axes, keepdims=True, dtype=np.float64)
    std = np.maximum(std, STD_FLOOR)
    mean = mean.astype(x_train.dtype)[0]
    std = std.astype(x_train.dtype)[0]
    return (x_train - mean) / std, (x_test - mean) / std, mean, std


# ----------------------------------------------------------------------------------------------------------------
# digits


def _stratified_test_indices(y: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified test subset of size n_test (largest-remainder allocation per class)."""
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (n_test / len(y))
    take = np.floor(quota).astype(np.int64)
    short = n_test - int(take.sum())
    order = np.argsort(-(quota - take), kind="stable")  # largest fractional parts first, ties by class
    take[order[:short]] += 1
    chosen = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(y == c)
        chosen.append(rng.permutation(idx)[:k])
    return np.sort(np.concatenate(chosen))


def _load_digits_uint8():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data).astype(np.uint8)  # values are the integers 0..16
    y = np.asarray(bunch.target).astype(np.int64)
    test = _stratified_test_indices(y, 360, np.random.default_rng(0))
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test] = True
    return x[~is_test], y[~is_test], x[is_test], y[is_test], "sklearn"


# ----------------------------------------------------------------------------------------------------------------
# Where files are


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnlite"


def data_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for data set ``name``, in order (see the module docstring).

    Parameters
    ----------
    name : str
        One of ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``.
    root : path, optional

    Returns
    -------
    list of Path
        ``[root/name, root, $NNLITE_DATA/name, <cache>/name, (Debian folder)]``, the absent ones left out.
    """
    dirs: list[Path] = []
    if root is not None:
        dirs += [Path(root) / name, Path(root)]
    env = os.environ.get("NNLITE_DATA")
    if env:
        dirs.append(Path(env) / name)
    dirs.append(_cache_dir() / name)
    if name == "fashion-mnist":
        dirs.append(Path(DEBIAN_FASHION_MNIST))
    return dirs


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


_CIFAR_LAYOUTS = ("cifar-10-batches-py", "cifar-10-python.tar.gz", "cifar-10-batches-bin", "cifar-10-binary.tar.gz")


def _has_dataset(name: str, folder: Path) -> bool:
    if name in ("mnist", "fashion-mnist"):
        return all(_idx_file(folder, stem) is not None for stem in _IDX_FILES)
    return any((folder / layout).exists() for layout in _CIFAR_LAYOUTS)


def _expected_files(name: str) -> str:
    if name in ("mnist", "fashion-mnist"):
        return ", ".join(s + "[.gz]" for s in _IDX_FILES)
    return " or ".join(_CIFAR_LAYOUTS)


def _find_or_download(name: str, root, download: bool) -> Path:
    dirs = data_dirs(name, root)
    for folder in dirs:
        if _has_dataset(name, folder):
            return folder
    looked = "\n  ".join(str(d) for d in dirs)
    how = (
        f"Put {_expected_files(name)} in one of these folders (for $NNLITE_DATA and the cache, in a "
        f"'{name}' sub-folder), or pass root=<folder holding them>."
    )
    if not download:
        raise DataNotFoundError(f"{name}: files not found (download=False). Looked in:\n  {looked}\n{how}")
    if root is not None:
        target = Path(root) / name
    elif os.environ.get("NNLITE_DATA"):
        target = Path(os.environ["NNLITE_DATA"]) / name
    else:
        target = _cache_dir() / name
    mirrors, files = _SOURCES[name]
    try:
        target.mkdir(parents=True, exist_ok=True)
        for remote in files:
            dest = target / remote.filename
            if not dest.is_file():
                download_file([m + remote.filename for m in mirrors], dest, remote.sha256)
    except OSError as exc:
        raise DataNotFoundError(
            f"{name}: files not found and the download into {target} failed ({exc}). Looked in:\n  {looked}\n"
            f"{how} Sources: {', '.join(mirrors)}"
        ) from exc
    return target


# ----------------------------------------------------------------------------------------------------------------
# Downloads


def download_file(
    urls: str | Sequence[str], dest: str | os.PathLike, sha256: str, *, timeout: float = _DOWNLOAD_TIMEOUT
) -> Path:
    """Download a file, verify its SHA-256 and move it into place atomically.

    Parameters
    ----------
    urls : str or sequence of str
        Mirrors, tried in order until one answers (any scheme urllib opens, including ``file://``).
    dest : path
        Final location. The bytes go to a temporary file in the same folder, which is renamed to ``dest``
        (``os.replace``) only once the whole file is in and its hash matches.
    sha256 : str
        Expected SHA-256, lowercase hex.
    timeout : float
        Seconds, per connection attempt.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The bytes received do not hash to ``sha256`` (raised at once, without trying further mirrors: a mirror
        serving wrong bytes is worth knowing about). The temporary file is removed; ``dest`` is untouched.
    OSError
        Every mirror failed (the last error is chained).
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("download_file needs at least one URL")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                with _urlopen(url, timeout=timeout) as response:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        digest.update(chunk)
                        out.write(chunk)
            got = digest.hexdigest()
            if got != sha256.lower():
                raise ChecksumError(
                    f"{dest.name} downloaded from {url}: SHA-256 mismatch, expected {sha256}, "
                    f"got {got}; the file was discarded"
                )
            os.replace(tmp_name, dest)
            return dest
        except ChecksumError:
            _remove(tmp_name)
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            _remove(tmp_name)
            errors.append(f"{url}: {exc}")
            last = exc
        except BaseException:
            _remove(tmp_name)
            raise
    raise OSError(f"could not download {dest.name}: " + "; ".join(errors)) from last


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ----------------------------------------------------------------------------------------------------------------
# IDX


_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, gunzipped if it starts with the gzip magic; and whether it was gzipped."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"\x1f\x8b":
        return path.read_bytes(), False
    try:
        with gzip.open(path, "rb") as f:
            return f.read(), True
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped or not.

    Parameters
    ----------
    path : path
        The file. Gzip is recognised by its magic bytes, not by the name.

    Returns
    -------
    ndarray
        Of the file's shape, in native byte order; uint8 for MNIST (images (N, 28, 28), labels (N,)).

    Raises
    ------
    ValueError
        A magic number that is not ``0x0000TTDD`` with a known type code TT (e.g. 0x00000801 for uint8 labels,
        0x00000803 for uint8 images), a file shorter or longer than its header says (the message gives both byte
        counts), or corrupt gzip data. Every message names the file.

    Notes
    -----
    Layout: a big-endian uint32 magic ``0x00 0x00 TT DD`` (TT the element type, DD the number of dimensions),
    DD big-endian uint32 sizes, then ``prod(sizes)`` big-endian elements.
    """
    path = Path(path)
    raw, gz = _read_bytes(path)
    what = f"{path}{' (after gunzip)' if gz else ''}"
    if len(raw) < 4:
        raise ValueError(f"{what}: truncated IDX file: expected at least 4 bytes of header, got {len(raw)} bytes")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08X} (expected 0x000008DD for uint8 data "
            f"with DD dimensions, e.g. 0x00000801 labels, 0x00000803 images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{what}: truncated IDX file: expected at least {header} bytes of header, got {len(raw)} bytes"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "oversized"
        raise ValueError(
            f"{what}: {kind} IDX file: header says shape {dims} of {dtype.name}, so expected "
            f"{expected} bytes, got {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def _load_idx_folder(folder: Path):
    paths = {stem: _idx_file(folder, stem) for stem in _IDX_FILES}
    arrays = {stem: read_idx(p) for stem, p in paths.items()}
    out = []
    for split in ("train", "t10k"):
        x, y = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        px, py = paths[f"{split}-images-idx3-ubyte"], paths[f"{split}-labels-idx1-ubyte"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{px}: expected uint8 images of shape (N, 28, 28), got {x.dtype} {x.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{py}: expected uint8 labels of shape (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{px} has {len(x)} images but {py} has {len(y)} labels")
        out += [x, y]
    return tuple(out)


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: any other global raises ``pickle.UnpicklingError``."""

    _reconstruct = np.empty(0).__reduce__()[0]
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a CIFAR batch") from None


_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_batch(data: bytes, name: str = "<batch>", binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR-10 batch, python (pickled dict) or binary version.

    Parameters
    ----------
    data : bytes
        The batch file's content.
    name : str
        Used in error messages.
    binary : bool
        False: the python version (a pickle of ``{b"data": uint8 (N, 3072), b"labels": [N ints], ...}``), read
        by an unpickler that only accepts NumPy's array reconstruction globals. True: the binary version,
        records of 1 label byte + 3072 pixel bytes.

    Returns
    -------
    x : ndarray of uint8, shape (N, 3072)
        Channel-major: 1024 red, then 1024 green, then 1024 blue values, each plane row by row.
    y : ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        A size that is not a whole number of records, a malformed pickle or a disallowed global, a wrong data
        shape or dtype, a label count that differs from the image count, or labels outside [0, 10).
    """
    if binary:
        if len(data) == 0 or len(data) % _CIFAR_RECORD:
            raise ValueError(
                f"{name}: binary CIFAR-10 batch of {len(data)} bytes is not a whole number of "
                f"{_CIFAR_RECORD}-byte records"
            )
        rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        x, y = rec[:, 1:].copy(), rec[:, 0].astype(np.int64)
    else:
        try:
            d = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        except Exception as exc:  # a damaged pickle can raise nearly anything
            raise ValueError(f"{name}: not a valid CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
        if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
            keys = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{name}: expected a dict with b'data' and b'labels', got {keys}")
        x = d[b"data"]
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
            desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"{name}: expected data of uint8 (N, 3072), got {desc}")
        try:
            y = np.asarray(d[b"labels"], dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: labels are not a list of integers ({exc})") from exc
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name}: {len(x)} images but labels of shape {y.shape}")
        x = np.ascontiguousarray(x)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= 10):
        raise ValueError(f"{name}: labels must be in [0, 10), got min {int(y.min())}, max {int(y.max())}")
    return x, y


_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)


def _cifar_members(folder: Path):
    """(path, is_binary, [batch bytes], [batch names]) for the first CIFAR layout present in folder."""
    for layout in _CIFAR_LAYOUTS:
        p = folder / layout
        if not p.exists():
            continue
        binary = "bin" in layout
        wanted = [b + (".bin" if binary else "") for b in _CIFAR_TRAIN + _CIFAR_TEST]
        blobs: dict[str, bytes] = {}
        if p.is_dir():
            for w in wanted:
                if (p / w).is_file():
                    blobs[w] = (p / w).read_bytes()
        else:
            try:
                with tarfile.open(p, "r:*") as tar:
                    for member in tar:
                        base = member.name.rsplit("/", 1)[-1]
                        if member.isfile() and base in wanted and base not in blobs:
                            blobs[base] = tar.extractfile(member).read()
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                raise ValueError(f"{p}: corrupt or truncated tar archive ({exc})") from exc
        missing = [w for w in wanted if w not in blobs]
        if missing:
            raise ValueError(f"{p}: missing CIFAR-10 batches {', '.join(missing)}")
        return p, binary, [blobs[w] for w in wanted], wanted
    raise DataNotFoundError(f"{folder}: none of {', '.join(_CIFAR_LAYOUTS)}")


def _load_cifar_folder(folder: Path):
    p, binary, blobs, names = _cifar_members(folder)
    parts = [read_cifar_batch(b, f"{p}:{n}", binary=binary) for b, n in zip(blobs, names)]
    n_train = len(_CIFAR_TRAIN)
    x_tr = np.concatenate([x for x, _ in parts[:n_train]])
    y_tr = np.concatenate([y for _, y in parts[:n_train]])
    x_te, y_te = parts[n_train]
    return x_tr, y_tr, x_te, y_te, str(p)


# ----------------------------------------------------------------------------------------------------------------
# Validation helpers used across the engine


def check_inputs(x, *, n_features: int | None = None, ndim: int | None = None, name: str = "x") -> np.ndarray:
    """Check a batch of inputs and return it unchanged.

    Parameters
    ----------
    x : ndarray, shape (N, D) or (N, C, H, W)
    n_features : int, optional
        Required number of features per sample, ``prod(x.shape[1:])`` (D, or C*H*W).
    ndim : int, optional
        Required number of dimensions (2 for dense data, 4 for images).
    name : str
        The name used in messages.

    Returns
    -------
    ndarray
        ``x`` itself.

    Raises
    ------
    TypeError
        ``x`` is not a NumPy array, or not floating-point.
    ValueError
        Wrong number of dimensions, wrong feature count ("expected 784 features, got 783"), an empty batch,
        or NaN/inf values ("x contains 3 NaN/inf values").
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array (float32 or float64), got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got {x.ndim} (shape {x.shape})")
    if x.ndim < 1:
        raise ValueError(f"{name} must have a batch dimension, got a scalar")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {x.shape})")
    if n_features is not None:
        got = math.prod(x.shape[1:])
        if got != n_features:
            raise ValueError(f"{name}: expected {n_features} features, got {got} (shape {x.shape})")
    n_bad = x.size - int(np.count_nonzero(np.isfinite(x)))
    if n_bad:
        raise ValueError(f"{name} contains {n_bad} NaN/inf values")
    return x


def check_labels(y, n_classes: int, n: int | None = None, *, name: str = "labels") -> np.ndarray:
    """Check a vector of class labels and return it unchanged.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
    n_classes : int
        C; labels must lie in [0, C).
    n : int, optional
        Required length (the number of samples in the matching x).
    name : str
        The name used in messages.

    Returns
    -------
    ndarray
        ``y`` itself.

    Raises
    ------
    TypeError
        ``y`` is not a NumPy integer array.
    ValueError
        Not 1-D, empty, of the wrong length, or a value outside [0, C) ("labels must be in [0, 10), got max 12").
    """
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,), got shape {y.shape}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    if n is not None and len(y) != n:
        raise ValueError(f"got {len(y)} {name} for {n} samples")
    if len(y) == 0:
        raise ValueError(f"{name} are empty")
    lo, hi = int(y.min()), int(y.max())
    if hi >= n_classes:
        raise ValueError(f"{name} must be in [0, {n_classes}), got max {hi}")
    if lo < 0:
        raise ValueError(f"{name} must be in [0, {n_classes}), got min {lo}")
    return y


def one_hot(y: np.ndarray, n_classes: int, dtype=np.float32) -> np.ndarray:
    """One-hot encode labels.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
    n_classes : int
        C.
    dtype : float dtype

    Returns
    -------
    ndarray, shape (N, C)
        ``out[i, y[i]] = 1``, zeros elsewhere.
    """
    from .ops.losses import one_hot as _one_hot

    check_labels(y, n_classes)
    return _one_hot(y, int(n_classes), dtype)


# ----------------------------------------------------------------------------------------------------------------
# Mini-batches


def batches(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """One epoch of mini-batches.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    y : ndarray, shape (N, ...), or None
    batch_size : int
        B; the last batch has ``N mod B`` samples unless ``drop_last``.
    shuffle : bool
        Visit the samples in a random order (each exactly once).
    rng : numpy.random.Generator or int or None
        The source of the order. An int seeds a new Generator, so the same int gives the same order; a Generator
        advances, so successive epochs differ; None draws fresh OS entropy.
    drop_last : bool
        Skip a final batch smaller than ``batch_size``.

    Returns
    -------
    iterator of (xb, yb)
        xb of shape (B, ...), yb of shape (B, ...) (or None). Shuffled batches are copies (fancy indexing);
        unshuffled ones are views into x and y.

    Raises
    ------
    ValueError
        ``batch_size`` < 1, or x and y of different lengths (raised here, not at the first ``next``).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = len(x)
    if y is not None and len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    order = None
    if shuffle:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        order = gen.permutation(n)
    return _batch_iter(x, y, int(batch_size), order, drop_last)


def _batch_iter(x, y, batch_size, order, drop_last):
    n = len(x)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        if order is None:
            yield x[start:end], (None if y is None else y[start:end])
        else:
            idx = order[start:end]
            yield x[idx], (None if y is None else y[idx])

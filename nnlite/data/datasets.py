"""The data set record and its loader: ``Dataset``, ``load`` (find or download, parse, scale to [0, 1], check
the labels, optionally standardise), the standardisation with ``STD_FLOOR``, and scikit-learn's digits with
their fixed stratified train/test split.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import FLOAT_DTYPES, as_bool, as_generator, check_inputs
from .cifar import _load_cifar_folder
from .download import _find_or_download
from .idx import _load_idx_folder
from .npz import read_npz
from .sources import KNOWN_DATASETS

#: Smallest standard deviation divided by in ``standardize=True`` (features that are constant in the training
#: set, such as MNIST's border pixels, are then only centred, not blown up).
STD_FLOOR = 1e-2


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split.

    :func:`load` makes one; each parameter is also the attribute of that name.

    Parameters
    ----------
    x_train : ndarray, shape ``(N_train, *shape)``
        The training inputs, float32 or float64.
    y_train : ndarray of int64, shape (N_train,)
        The training labels, values in ``[0, n_classes)``.
    x_test : ndarray, shape ``(N_test, *shape)``
        The test inputs, of ``x_train``'s dtype.
    y_test : ndarray of int64, shape (N_test,)
        The test labels.
    name : str
        One of ``KNOWN_DATASETS``, or an own file's name without ``.npz``.
    n_classes : int
        C, the number of classes.
    shape : tuple of int
        The shape of one sample: ``(D,)`` when flattened (or stored flat), else ``(C_in, H, W)``.
    mean, std : ndarray or None
        With ``standardize=True``, the training statistics that were applied (shape ``shape`` per feature, or
        ``(C_in, 1, 1)`` per channel), so new data can be transformed the same way: ``(x - mean) / std``.
    source : str
        Where the data came from (a folder or file path, or ``"sklearn"``).

    Notes
    -----
    A Dataset unpacks like Keras' ``load_data()``::

        (x_train, y_train), (x_test, y_test) = nnlite.data.load("digits")

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> d.x_train.shape, d.x_train.dtype, d.n_classes, d.shape
    ((1437, 64), dtype('float32'), 10, (64,))
    >>> (x_train, y_train), (x_test, y_test) = d
    >>> x_test.shape, y_test.dtype
    ((360, 64), dtype('int64'))
    >>> nn.data.load("digits", flatten=False).shape  # images: (C_in, H, W)
    (1, 8, 8)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    n_classes: int
    shape: tuple[int, ...]
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
    name: str | os.PathLike,
    root: str | os.PathLike | None = None,
    download: bool = True,
    standardize: bool = False,
    dtype: DTypeLike = np.float32,
    flatten: bool = True,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Dataset:
    """Load a data set as float arrays in [0, 1] with int64 labels.

    Parameters
    ----------
    name : str or path
        One of ``KNOWN_DATASETS``: ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``; or your own
        data: a name ending in ``.npz``, or any existing file that is not a known name, holding ``x_train``
        (N_train, D) or (N_train, C_in, H, W), ``y_train`` (N_train,), ``x_test`` and ``y_test``
        (:func:`nnlite.data.npz.read_npz` checks each member's header before reading it). uint8 pixels are
        scaled to [0, 1], floating-point ones kept as they are; labels must be integers in [0, C) with
        C = ``max(y_train) + 1``; x must be finite. ``root`` and ``download`` do not apply.
    root : path, optional
        A folder searched first (see the :mod:`nnlite.data` docstring for the whole search order), and where
        downloads go.
    download : bool
        Fetch missing files from the original mirrors (checked against SHA-256) when they are found nowhere.
        ``"digits"`` never needs a download: it ships with scikit-learn.
    standardize : bool
        If True, subtract the training mean and divide by the training standard deviation (floored at
        ``STD_FLOOR``), the same statistics for train and test: per feature when ``flatten=True``, per channel
        (over N, H, W) when ``flatten=False``. An empty training split is refused (``ValueError``).
    dtype : float dtype
        float32 (default) or float64 (the dtypes the layers take); anything else is a ``TypeError``.
    flatten : bool
        True: x is (N, D). False: x is (N, C_in, H, W), i.e. (N, 1, 8, 8), (N, 1, 28, 28) or (N, 3, 32, 32)
        (an own file's x stored as (N, D) stays (N, D), standardised per feature).
    mean, std : sequence of float, optional
        Fixed normalisation constants (e.g. the authors' CIFAR-10 per-channel means and stds), applied to both
        splits after the scaling to [0, 1] and before ``standardize``: :func:`normalize`, per channel of the
        images (also when flattened), per feature, or one value for all. Both or neither.

    Returns
    -------
    Dataset
        x_train (N_train, D) or (N_train, C_in, H, W); y_train (N_train,) int64; likewise for test.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), or a file that does not parse or fails a check (the
        message names the file and the key).
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
    own = _is_own_file(name)
    if not own and (not isinstance(name, str) or name not in KNOWN_DATASETS):
        raise ValueError(
            f"unknown data set {name!r}; known data sets: {', '.join(KNOWN_DATASETS)}, "
            "or a path to an .npz file of your own"
        )
    download, standardize, flatten = (
        as_bool(v, n) for v, n in ((download, "download"), (standardize, "standardize"), (flatten, "flatten"))
    )
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:  # float16 too: the layers take float32 and float64 only
        raise TypeError(f"dtype must be a floating-point type nnlite computes in, float32 or float64, got {dtype}")

    if own:
        source = os.fspath(name)
        x_tr, y_tr, x_te, y_te = read_npz(source)
        name = os.path.basename(source).removesuffix(".npz")
        image_shape, scale = tuple(x_tr.shape[1:]), 255.0 if x_tr.dtype == np.uint8 else 1.0
        n_classes = int(y_tr.max()) + 1 if y_tr.size else 0
        if n_classes > y_tr.shape[0]:  # every class must appear in y_train: a label is never an allocation size
            raise ValueError(
                f"{source}: the training labels run to {n_classes - 1}, so the network would get {n_classes:,} "
                f"classes, more than the {y_tr.shape[0]:,} training samples can name (each class must appear in "
                "y_train): relabel the classes as 0..C-1"
            )
    elif name == "digits":
        x_tr, y_tr, x_te, y_te, source = _load_digits_uint8()
        image_shape, scale, n_classes = (1, 8, 8), 16.0, 10
    elif name in ("mnist", "fashion-mnist"):
        folder = _find_or_download(str(name), root, download)
        x_tr, y_tr, x_te, y_te = _load_idx_folder(folder)
        image_shape, scale, n_classes, source = (1, 28, 28), 255.0, 10, str(folder)
    else:
        folder = _find_or_download(str(name), root, download)
        x_tr, y_tr, x_te, y_te, source = _load_cifar_folder(folder)
        image_shape, scale, n_classes = (3, 32, 32), 255.0, 10

    sample_shape = (int(np.prod(image_shape)),) if flatten else image_shape
    x_train = _to_float(x_tr, sample_shape, scale, dtype)
    x_test = _to_float(x_te, sample_shape, scale, dtype)
    if own:  # float data may hold NaN/inf, or overflow to inf in a narrower dtype
        for x, key in ((x_train, "x_train"), (x_test, "x_test")):
            check_inputs(x, name=f"{source}: {key}")
    y_train = np.ascontiguousarray(y_tr, dtype=np.int64)
    y_test = np.ascontiguousarray(y_te, dtype=np.int64)
    for y, split in ((y_train, "train"), (y_test, "test")):
        if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(
                f"{source}: {split} labels must be in [0, {n_classes}), got min {int(y.min())}, max {int(y.max())}"
            )
    if own:  # n_classes is read from the labels: a class no training label names is an output nothing trains
        missing = np.flatnonzero(np.bincount(y_train, minlength=n_classes) == 0)
        if missing.size:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if missing.size > 10 else "")
            fix = " (labels 1..C? use y - 1)" if missing[0] == 0 and missing.size == 1 else ""
            raise ValueError(
                f"{source}: the training labels run to {n_classes - 1}, so the network gets {n_classes} classes, but "
                f"class {shown} never appears in y_train: relabel the classes as 0..C-1{fix}"
            )

    if mean is not None or std is not None:
        channels = image_shape[0] if len(image_shape) == 3 else None
        x_train, x_test = (normalize(x, mean, std, channels) for x in (x_train, x_test))
    mean_, std_ = None, None
    if standardize:
        x_train, x_test, mean_, std_ = _standardize(x_train, x_test, per_channel=len(sample_shape) == 3)
    return Dataset(x_train, y_train, x_test, y_test, str(name), n_classes, tuple(sample_shape), mean_, std_, source)


def _constants(v: Any, what: str, n_channels: int | None, n_features: int) -> np.ndarray:
    if v is None or isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray)):
        raise TypeError(f"{what} must be a sequence of numbers, got {v!r}")
    try:
        a = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a sequence of numbers, got {v!r}") from None
    lengths = sorted({1, n_features} | ({n_channels} if n_channels else set()))
    if a.size not in lengths:
        per = f"1 (all), {n_channels} (per channel) or {n_features} (per feature)" if n_channels else None
        raise ValueError(f"{what} has {a.size} values; expected {per or ' or '.join(map(str, lengths))}")
    if not np.isfinite(a).all() or (what == "std" and (a <= 0).any()):
        raise ValueError(f"{what} must be finite{' and positive' if what == 'std' else ''}, got {v!r}")
    return a


def normalize(x: np.ndarray, mean: Any, std: Any, channels: int | None = None) -> np.ndarray:
    """``(x - mean) / std`` with fixed constants, in ``x``'s dtype (a new array).

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (N, D)
    mean, std : sequence of float
        One value for all, one per channel (``C_in`` values: images, or flat images of ``channels`` channels
        stored channel-major, as :func:`load` flattens them), or one per feature (``prod(x.shape[1:])``);
        ``std > 0``. Another length is a ``ValueError`` naming ``mean`` or ``std`` and the lengths it takes.
    channels : int, optional
        ``C_in`` of a flattened image (default: ``x.shape[1]`` for 4-D ``x``, none for 2-D).

    Notes
    -----
    ``x'[n, c, i] = (x[n, c, i] - mean[c]) / std[c]`` per channel (torchvision's ``Normalize``), likewise per
    feature; the constants are rounded to ``x``'s dtype first.
    """
    if x.ndim == 4:
        channels = x.shape[1]
    n_features = int(np.prod(x.shape[1:]))
    m = _constants(mean, "mean", channels, n_features)
    s = _constants(std, "std", channels, n_features)
    if m.size != s.size:
        raise ValueError(f"mean has {m.size} values and std {s.size}; give as many of each")
    c = channels or 0
    view = x.reshape(x.shape[0], c, n_features // c) if c and m.size == c else x.reshape(x.shape[0], n_features)
    shape = (1, -1, 1) if view.ndim == 3 else (1, -1)
    out = (view - m.astype(x.dtype).reshape(shape)) / s.astype(x.dtype).reshape(shape)
    return np.ascontiguousarray(out.reshape(x.shape), dtype=x.dtype)


def _is_own_file(name: object) -> bool:
    """A name ending in ``.npz``, or an existing file whose name is not one of ``KNOWN_DATASETS``."""
    if not isinstance(name, (str, os.PathLike)) or name in KNOWN_DATASETS:
        return False
    path = os.fspath(name)
    return isinstance(path, str) and (path.endswith(".npz") or os.path.isfile(path))


def _to_float(x: np.ndarray, sample_shape: tuple[int, ...], scale: float, dtype: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, which check_inputs refuses
        out = np.ascontiguousarray(x.reshape((x.shape[0],) + tuple(sample_shape)), dtype=dtype)
    if scale != 1.0:
        out /= float(scale)  # Python float: the array keeps its dtype
    return out


def _standardize(
    x_train: np.ndarray, x_test: np.ndarray, per_channel: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if x_train.shape[0] == 0:  # a mean over no samples is NaN, and so would every standardised test value be
        raise ValueError(
            f"standardize=True needs training data, but the training split is empty (x_train {x_train.shape})"
        )
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


def _load_digits_uint8() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data).astype(np.uint8)  # values are the integers 0..16
    y = np.asarray(bunch.target).astype(np.int64)
    test = _stratified_test_indices(y, 360, as_generator(0))
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test] = True
    return x[~is_test], y[~is_test], x[is_test], y[is_test], "sklearn"

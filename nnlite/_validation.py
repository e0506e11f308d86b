"""Argument checks shared by the whole library: the one place where seeds, integers, floats, dtypes and arrays
are validated, so that every entry point refuses the same bad input with the same message.

Every function returns the value in its canonical form (a Generator, a Python int or float, a NumPy dtype, the
array itself) or raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value), naming
the argument and what was expected.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "did_you_mean",
    "FLOAT_DTYPES",
    "SeedLike",
    "as_generator",
    "check_seed",
    "as_bool",
    "as_pair",
    "check_inputs",
    "check_labels",
    "finite_float",
    "float_dtype",
    "new_file_mode",
    "positive_int",
    "probability",
    "own_path",
    "plain_name",
    "replaceable_path",
]

#: The floating-point dtypes nnlite computes in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: What a ``seed`` argument accepts everywhere.
SeedLike = int | np.integer | np.random.Generator | None


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def as_generator(seed: SeedLike) -> np.random.Generator:
    """``seed`` as a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : None, int or numpy.random.Generator
        A Generator is returned as it is (its draws advance the caller's stream); an int seeds a new one (the same
        int gives the same stream); None draws fresh entropy from the OS.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or _is_int(seed):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(None if seed is None else int(seed))
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}")


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a Python bool; ``TypeError`` for anything but True/False (a string such as ``"no"`` is truthy,
    so it would silently mean True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(seed: SeedLike) -> SeedLike:
    """``seed`` unchanged if :func:`as_generator` would accept it (nothing is drawn, a Generator is not advanced);
    the same TypeError/ValueError otherwise. For constructors that keep a seed to use later."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if _is_int(seed):
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return seed
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}")


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python int ``>= minimum`` (booleans and floats refused, with ``ValueError``)."""
    if not _is_int(value) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def finite_float(value: Any, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite Python float, optionally ``>= minimum`` (``> minimum`` with ``strict``).

    A Python float, never a NumPy scalar: a NumPy float64 scalar would promote float32 arrays
    (docs/design.md, "Conventions").
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be {rel} {minimum:g}, got {v:g}")
    return v


def probability(value: Any, name: str) -> float:
    """``value`` as a Python float in ``[0, 1)`` (a drop probability)."""
    p = finite_float(value, name)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p:g}")
    return p


def float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``np.dtype(dtype)`` if it is float32 or float64, else ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def as_pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """An int (used for both axes) or a pair of ints, each ``>= minimum``, as a tuple of two Python ints."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def check_inputs(x: Any, *, n_features: int | None = None, ndim: int | None = None, name: str = "x") -> np.ndarray:
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


def check_labels(y: Any, n_classes: int, n: int | None = None, *, name: str = "labels") -> np.ndarray:
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
    if not _is_int(n_classes) or n_classes < 1:
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


def replaceable_path(path: str | os.PathLike) -> str:
    """The path a write that replaces ``path`` goes to: ``path`` itself, or a symbolic link's target (a link is
    written through and stays). Only a regular file (or nothing) may be replaced: a folder, a FIFO, a device or a
    socket at ``path`` raises ``ValueError`` naming it, so that no write of nnlite's ever replaces ``/dev/null``.
    Every file nnlite writes or downloads goes through this check."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.lexists(path) and not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a device, FIFO or socket)"
        raise ValueError(f"{path} is {kind}; nnlite replaces only regular files")
    return path


def own_path(path: str | os.PathLike) -> str:
    """The path a write of a file that nnlite names itself goes to (a lock, a run record, a report, a figure, a
    checkpoint inside a results or checkpoint folder): ``path`` itself, which must be a regular file or nothing.
    A symbolic link there is refused with ``ValueError`` rather than written through (a folder prepared by
    someone else must not make nnlite overwrite a file elsewhere), and so is anything that is not a regular file.
    The write itself creates a new file and renames it over ``path``, which never follows a link."""
    path = os.fspath(path)
    if os.path.islink(path):
        raise ValueError(
            f"{path} is a symbolic link; nnlite writes the files it names itself as regular files in their folder, "
            "never through a link: remove the link (or use another folder)"
        )
    if os.path.lexists(path) and not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a device, FIFO or socket)"
        raise ValueError(f"{path} is {kind}; nnlite replaces only regular files")
    return path


#: What a name nnlite turns into a file or folder name may hold: a letter or digit first, then letters, digits,
#: ``.``, ``_`` and ``-``, at most 64 characters (so never ``..``, a separator, a hidden file or an absolute path).
PLAIN_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


def plain_name(value: Any, what: str) -> str:
    """``value`` when it is a plain file or folder name (:data:`PLAIN_NAME`), else ``ValueError`` naming ``what``
    and the rule: a name that comes from a spec or a record never leaves the folder it is used in."""
    import re

    if not isinstance(value, str) or re.fullmatch(PLAIN_NAME, value) is None:
        raise ValueError(
            f"{what} must be a plain name — a letter or digit, then letters, digits, '.', '_' or '-', at most 64 "
            f"characters (no '/', no '..', not hidden) — got {value!r}"
        )
    return value


def new_file_mode(path: str | os.PathLike) -> int:
    """The permission bits a file written to ``path`` gets: the existing file's, or what the umask leaves of
    ``0o666`` for a new file (a temporary file from ``mkstemp`` is ``0o600`` until it is given these)."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: Names people type for a known one that difflib would not find (``fmnist`` is closer to ``mnist``).
ALIASES = {"fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist",
           "cifar": "cifar10", "cifar-10": "cifar10", "cifar_10": "cifar10"}  # fmt: skip


def did_you_mean(value: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``value`` (difflib's ratio at least 0.6, case
    ignored; a known alias first), or ``""`` when none is close."""
    import difflib

    names = [str(k) for k in known]
    alias = ALIASES.get(str(value).lower())
    if alias in names:
        return f" (did you mean {alias!r}?)"
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(value).lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""

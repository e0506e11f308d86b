"""Mini-batching and label encoding: ``batches`` (one epoch of mini-batches, shuffled or not) and ``one_hot``
(the checked wrapper around :func:`nnlite.ops.losses.one_hot`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import DTypeLike

from .._validation import as_generator, check_labels, positive_int


def one_hot(y: np.ndarray, n_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
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
    from ..ops.losses import one_hot as _one_hot

    check_labels(y, n_classes)
    return _one_hot(y, int(n_classes), dtype)


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
    batch_size = positive_int(batch_size, "batch_size")
    for a, name in ((x, "x"), (y, "y")):
        if a is not None and (not isinstance(a, np.ndarray) or a.ndim < 1):
            raise TypeError(f"{name} must be a numpy array of shape (N, ...), got {type(a).__name__}")
    n = len(x)
    if y is not None and len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    order = None
    if shuffle:
        order = as_generator(rng).permutation(n)
    return _batch_iter(x, y, batch_size, order, drop_last)


def _batch_iter(
    x: np.ndarray, y: np.ndarray | None, batch_size: int, order: np.ndarray | None, drop_last: bool
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    n = len(x)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        if order is None:
            yield x[start:end], (None if y is None else y[start:end])
        else:
            idx = order[start:end]
            yield x[idx], (None if y is None else y[idx])

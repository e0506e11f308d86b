"""Losses: each takes ``logits`` (or outputs) of shape (N, C) and integer labels ``y`` of shape (N,), and returns
the batch-mean loss (a Python float) and ``e = dL/d(logits)`` of shape (N, C), in the logits' dtype.

Because the loss is a mean over the batch, ``e`` carries the factor ``1/N``; every rule's update is then on BP's
scale. Labels are integer class indices of shape (N,); the targets are their one-hot codes. An empty batch (N = 0)
has no mean and is refused with ``ValueError``.

Infinite logits give the limit wherever it is finite: softmax of ``[inf, 0]`` is ``[1, 0]`` (the +inf entries
of a row share it equally), its cross-entropy is 0 for the label at +inf and inf for another, the binary
cross-entropy of ``+inf`` with target 1 (or ``-inf`` with target 0) is 0. NaN logits give NaN.

``softmax_cross_entropy`` here is the NumPy equation (and the twin of the fused kernel); the public
``nnlite.softmax_cross_entropy`` is :func:`nnlite.backend.softmax_cross_entropy`, the same function
computed in one fused sweep when the logits allow.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


def one_hot(y: np.ndarray, n_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """One-hot codes, shape (N, C), of integer labels ``y`` of shape (N,)."""
    t = np.zeros((y.shape[0], n_classes), dtype=dtype)
    t[np.arange(y.shape[0]), y] = 1
    return t


def check_logits_and_labels(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Check ``logits`` (N, C) float32/float64 with N, C >= 1 and ``y`` (N,) integer labels in [0, C); return ``y``
    as an array."""
    if not isinstance(logits, np.ndarray):
        raise TypeError(f"logits must be a numpy array, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got shape {logits.shape}")
    if logits.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"logits must be float32 or float64, got {logits.dtype}")
    if logits.shape[0] == 0:
        raise ValueError(f"empty batch: logits have shape {logits.shape}, and a mean over 0 samples is undefined")
    if logits.shape[1] == 0:
        raise ValueError(f"logits have shape {logits.shape}: no classes")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != logits.shape[0]:
        raise ValueError(f"labels must have shape ({logits.shape[0]},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError(f"labels must be in [0, {logits.shape[1]}), got min {y.min()} and max {y.max()}")
    return y


def _shifted(z: np.ndarray) -> np.ndarray:
    """``z - max(z)`` per row (a new array), with the limit in the rows whose maximum is +inf: 0 at their +inf
    entries, -inf elsewhere (``inf - inf`` would be NaN). The check for such rows reads the N row maxima only."""
    m = z.max(axis=1, keepdims=True)
    inf_rows = np.isposinf(m[:, 0])
    if not inf_rows.any():
        return z - m
    with np.errstate(invalid="ignore"):
        s = z - m
    s[inf_rows] = np.where(np.isposinf(z[inf_rows]), 0.0, -np.inf)
    return s


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of z, shape (N, C), stable (the row maximum is subtracted first).

    Notes
    -----
    ``softmax(z)_c = exp(z_c - m) / sum_j exp(z_j - m)``, ``m = max_j z_j``. A row with +inf entries gets their
    limit: ``1/k`` at each of its k +inf entries, 0 elsewhere (``[inf, 0] -> [1, 0]``).
    """
    p = _shifted(z)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of z, shape (N, C), stable (``-log k`` at the k +inf entries of a row, -inf elsewhere)."""
    s = _shifted(z)
    s -= np.log(np.exp(s).sum(axis=1, keepdims=True))
    return s


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
        The network's outputs, float32 or float64, N >= 1 samples of C >= 1 classes.
    y : ndarray of int, shape (N,)
        The labels, integers in ``[0, C)``; the targets are their one-hot codes.

    Returns
    -------
    loss : float
        The loss of the batch.
    e : ndarray, shape (N, C)
        ``dL/d(logits)``, in the logits' dtype.

    Notes
    -----
    ``L = -(1/N) sum_n log softmax(z_n)[y_n]`` and ``e = (softmax(z) - onehot(y)) / N``.
    """
    y = check_logits_and_labels(logits, y)
    n = logits.shape[0]
    ls = log_softmax(logits)
    loss = -float(ls[np.arange(n), y].sum()) / n
    e = np.exp(ls)
    e[np.arange(n), y] -= 1
    e *= 1.0 / n
    return loss, e


def binary_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Sigmoid binary cross-entropy against one-hot targets (the loss of the DFA literature).

    Parameters
    ----------
    logits, y : ndarray
        As for :func:`nnlite.ops.losses.softmax_cross_entropy`.

    Returns
    -------
    loss : float
        The batch mean of the per-sample loss.
    e : ndarray, shape (N, C)
        ``dL/d(logits)``, in the logits' dtype.

    Notes
    -----
    With ``t = onehot(y)`` and ``p = sigmoid(z)``:
    ``L = -(1/N) sum_n sum_c [t log p + (1 - t) log(1 - p)]`` and ``e = (p - t) / N``.
    Computed as ``softplus((1 - 2t) z)`` (``= softplus(z) - t z`` for ``t`` in {0, 1}) so that large logits do
    not overflow and infinite ones give the limit: 0 for ``+inf`` with ``t = 1`` and ``-inf`` with ``t = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> loss, e = nn.binary_cross_entropy(np.zeros((2, 3), dtype=np.float32), np.array([0, 2]))
    >>> round(loss, 4)  # 3 log 2: each of the 3 outputs is at p = 1/2
    2.0794
    >>> e  # (p - t) / N
    array([[-0.25,  0.25,  0.25],
           [ 0.25,  0.25, -0.25]], dtype=float32)
    """
    y = check_logits_and_labels(logits, y)
    n, c = logits.shape
    t = one_hot(y, c, logits.dtype)
    u = logits * (1 - 2 * t)  # -z where t = 1, z where t = 0: an exact sign flip, never 0 * inf
    # softplus(u) = max(u, 0) + log1p(exp(-|u|))
    sp = np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))
    loss = float(sp.sum()) / n
    p = np.tanh(logits * 0.5)
    p += 1
    p *= 0.5
    e = (p - t) * (1.0 / n)
    return loss, e


def binary_cross_entropy_sum(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Sigmoid binary cross-entropy summed over the batch, without ``1/N`` (Nøkland's dfa-torch loss).

    Parameters
    ----------
    logits, y : ndarray
        As for :func:`nnlite.ops.losses.softmax_cross_entropy`.

    Returns
    -------
    loss : float
        The sum of the per-sample losses.
    e : ndarray, shape (N, C)
        ``dL/d(logits)``, in the logits' dtype.

    Notes
    -----
    ``L = -sum_n sum_c [t log p + (1 - t) log(1 - p)]`` and ``e = p - t``: N times
    :func:`binary_cross_entropy`'s loss and error. The one loss here whose ``e`` does not carry ``1/N``, so
    every rule's step is N times the mean loss's at the same lr.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> loss, e = nn.binary_cross_entropy_sum(np.zeros((2, 3), dtype=np.float32), np.array([0, 2]))
    >>> round(loss, 4)  # N = 2 times binary_cross_entropy's 3 log 2
    4.1589
    >>> e  # p - t, no 1/N
    array([[-0.5,  0.5,  0.5],
           [ 0.5,  0.5, -0.5]], dtype=float32)
    """
    loss, e = binary_cross_entropy(logits, y)
    n = logits.shape[0]
    e *= float(n)
    return loss * n, e


def mean_squared_error(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Half squared error against one-hot targets, summed over classes and averaged over the batch.

    Parameters
    ----------
    out : ndarray, shape (N, C)
        The network's outputs (no activation is applied), float32 or float64.
    y : ndarray
        As for :func:`nnlite.ops.losses.softmax_cross_entropy`.

    Returns
    -------
    loss : float
        The batch mean of the per-sample loss.
    e : ndarray, shape (N, C)
        ``dL/d(out)``, in ``out``'s dtype.

    Notes
    -----
    ``L = (1/N) sum_n 0.5 ||out_n - onehot(y_n)||^2`` and ``e = (out - onehot(y)) / N``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> out = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    >>> loss, e = nn.mean_squared_error(out, np.array([0, 1]))
    >>> loss  # (0 + 0.5 * (0.25 + 0.25)) / 2
    0.125
    >>> e
    array([[ 0.  ,  0.  ],
           [ 0.25, -0.25]], dtype=float32)
    """
    y = check_logits_and_labels(out, y)
    n, c = out.shape
    d = out - one_hot(y, c, out.dtype)
    loss = 0.5 * float((d * d).sum()) / n
    d *= 1.0 / n
    return loss, d

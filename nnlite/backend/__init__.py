"""The one place that chooses, for every op, a Numba kernel of :mod:`nnlite.kernels` or its NumPy twin in
:mod:`nnlite.ops`, and for a convolution im2col, FFT or direct loops.

The ops are the readable equations; the kernels compute the same things in fewer passes over memory. This module
holds the elementwise choices: each function takes the fused kernel of :mod:`nnlite.kernels.fused` when every
array is a C-contiguous float32/float64 array of one shape and dtype (:func:`can_fuse`), and the NumPy op otherwise
(views, mixed dtypes, fused kernels turned off). :mod:`nnlite.backend.pool` chooses for pooling and
:mod:`nnlite.backend.conv` for convolutions (and copies an input into the layout a kernel needs). Layers, losses and
optimizers call the backend; the ops never branch on speed.

``with fused_kernels(False): ...`` runs everything on the NumPy path (the benchmarks' "NumPy" column, tests).
"""

from __future__ import annotations

import numpy as np

from ..kernels import fused
from ..ops import activations as act
from ..ops import losses as _losses
from ..ops import updates as _updates
from ..ops._checks import check_grad
from . import products
from ._switch import can_fuse, fused_kernels, fused_on
from .lazy import Product, deferring, materialize

__all__ = [
    "adam_update",
    "bias_grad",
    "can_fuse",
    "dense_backward",
    "dense_forward",
    "Product",
    "deferring",
    "materialize",
    "products",
    "fused_kernels",
    "fused_on",
    "relu_backward",
    "rmsprop_update",
    "sgd_update",
    "sigmoid_backward",
    "softmax_cross_entropy",
    "tanh_backward",
]


# -- activations: dx = dout * f'(.) from the cached output ---------------------------------------------------------
def tanh_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnlite.ops.activations.tanh_backward`, fused when the arrays allow."""
    return fused.tanh_grad(dout, y) if can_fuse(dout, y) else act.tanh_backward(dout, y)


def sigmoid_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnlite.ops.activations.sigmoid_backward`, fused when the arrays allow."""
    return fused.sigmoid_grad(dout, y) if can_fuse(dout, y) else act.sigmoid_backward(dout, y)


def relu_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnlite.ops.activations.relu_backward`, fused when the arrays allow."""
    return fused.relu_grad(dout, y) if can_fuse(dout, y) else act.relu_backward(dout, y)


# -- dense layer ---------------------------------------------------------------------------------------------------
def bias_grad(dout: np.ndarray) -> np.ndarray:
    """``db = sum_n dout[n]``, shape (D,), from ``dout`` (N, D): one fused pass or ``dout.sum(axis=0)``."""
    return fused.column_sums(dout) if can_fuse(dout) and dout.ndim == 2 else dout.sum(axis=0)


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nnlite.ops.dense.dense_forward` with ``x @ W.T`` on the matrix-product provider in force
    (:mod:`nnlite.backend.products`)."""
    a = products.matmul(x, W.T)
    if b is not None:
        a += b
    return a, x


def dense_backward(
    dout: np.ndarray,
    cache: np.ndarray,
    W: np.ndarray,
    *,
    feedback: np.ndarray | None = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> tuple[np.ndarray | None, np.ndarray | Product, np.ndarray | None]:
    """:func:`nnlite.ops.dense.dense_backward` with its products on the provider in force and the bias gradient from
    :func:`bias_grad`. Inside :func:`deferring` (a training step whose optimizer folds its update into the product)
    ``dW`` is the :class:`Product` ``dout.T @ x``, computed when the update runs."""
    x = cache
    check_grad(dout, (x.shape[0], W.shape[0]), np.result_type(x.dtype, W.dtype), "dense_backward")
    dW: np.ndarray | Product = Product(dout.T, x) if deferring() else products.matmul(dout.T, x)
    dx = products.matmul(dout, W if feedback is None else feedback) if need_dx else None
    return dx, dW, (bias_grad(dout) if need_db else None)


# -- loss ----------------------------------------------------------------------------------------------------------
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy ``(loss, e)`` of ``logits`` (N, C) and labels ``y`` (N,): the equation of
    :func:`nnlite.ops.losses.softmax_cross_entropy`, computed in one sweep per row by
    :func:`nnlite.kernels.fused.softmax_xent` when the logits allow.

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
    ``L = -(1/N) sum_n log softmax(z_n)[y_n]``, ``e = (softmax(z) - onehot(y)) / N``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> logits = np.array([[0.0, 0.0], [10.0, -10.0]], dtype=np.float32)
    >>> loss, e = nn.softmax_cross_entropy(logits, np.array([0, 0]))
    >>> round(loss, 4)  # (log 2 + ~0) / 2
    0.3466
    >>> e[0]  # (softmax - onehot) / N
    array([-0.25,  0.25], dtype=float32)
    """
    y = _losses.check_logits_and_labels(logits, y)
    if logits.shape[0] and logits.shape[1] and can_fuse(logits):
        return fused.softmax_xent(logits, y.astype(np.int64, copy=False))
    return _losses.softmax_cross_entropy(logits, y)


# -- optimizer updates (in place) ----------------------------------------------------------------------------------
def sgd_update(
    p: np.ndarray,
    g: np.ndarray,
    v: np.ndarray | None,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """:func:`nnlite.ops.updates.sgd_step`, fused when the arrays allow."""
    if can_fuse(p, g) and (v is None or can_fuse(p, v)):
        fused.sgd_step(p, g, v, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    else:
        _updates.sgd_step(p, g, v, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def adam_update(
    p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, lr_t: float, beta1: float, beta2: float, eps: float
) -> None:
    """:func:`nnlite.ops.updates.adam_step`, fused when the arrays allow."""
    step = fused.adam_step if can_fuse(p, g, m, v) else _updates.adam_step
    step(p, g, m, v, lr_t=lr_t, beta1=beta1, beta2=beta2, eps=eps)


def rmsprop_update(p: np.ndarray, g: np.ndarray, s: np.ndarray, *, lr: float, rho: float, eps: float) -> None:
    """:func:`nnlite.ops.updates.rmsprop_step`, fused when the arrays allow."""
    step = fused.rmsprop_step if can_fuse(p, g, s) else _updates.rmsprop_step
    step(p, g, s, lr=lr, rho=rho, eps=eps)

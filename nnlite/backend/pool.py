"""Pooling: the Numba loops of :mod:`nnlite.kernels` when the fused kernels are on, the NumPy ops of
:mod:`nnlite.ops.pool` when they are off; both build the caches :mod:`nnlite.ops.pool` defines.

The loops read C-contiguous arrays: an input of another layout (Fortran order, negative strides, a view) is
copied once here, a C-contiguous one is not. 2x2 windows at stride 2 take the one-byte kernels
(:func:`nnlite.kernels.maxpool2x2_forward`: docs/design.md, "Kernels and their twins"). The max-pooling carry (IFA) is
a NumPy gather on
either path (:func:`nnlite.ops.pool.maxpool2d_carry`).
"""

from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..ops import pool as _pool
from ..ops._checks import check_grad
from ._switch import fused_on

__all__ = ["avgpool2d_backward", "avgpool2d_carry", "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward"]

_C = np.ascontiguousarray


def maxpool2d_forward(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, _pool.MaxPoolCache]:
    """:func:`nnlite.ops.pool.maxpool2d_forward_op` (same output and cache), by the kernels when they are on."""
    if not fused_on():
        return _pool.maxpool2d_forward_op(x, kh, kw, stride)
    if (kh, kw) == (2, 2) and stride in (None, 2, (2, 2)):
        out, winners = K.maxpool2x2_forward(_C(x))
    else:
        out, winners = K.maxpool2d_forward(_C(x), kh, kw, stride)
    return out, _pool.MaxPoolCache(winners, x.shape, kh, kw, stride, out.shape, out.dtype)


def maxpool2d_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """:func:`nnlite.ops.pool.maxpool2d_backward_op`, by the kernels when they are on."""
    if not fused_on():
        return _pool.maxpool2d_backward_op(dout, cache)
    winners, x_shape, kh, kw, stride, out_shape, dtype = cache
    check_grad(dout, out_shape, dtype, "maxpool2d_backward")
    if winners.dtype == np.uint8:
        return K.maxpool2x2_backward(_C(dout), winners, x_shape)
    return K.maxpool2d_backward(_C(dout), winners, x_shape, kh, kw, stride)


def avgpool2d_forward(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, _pool.AvgPoolCache]:
    """:func:`nnlite.ops.pool.avgpool2d_forward_op` (same output and cache), by the kernels when they are on."""
    if not fused_on():
        return _pool.avgpool2d_forward_op(x, kh, kw, stride)
    out = K.avgpool2d_forward(_C(x), kh, kw, stride)
    return out, _pool.AvgPoolCache(x.shape, kh, kw, stride, out.shape, out.dtype)


def avgpool2d_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """:func:`nnlite.ops.pool.avgpool2d_backward_op`, by the kernels when they are on."""
    if not fused_on():
        return _pool.avgpool2d_backward_op(dout, cache)
    x_shape, kh, kw, stride, out_shape, dtype = cache
    check_grad(dout, out_shape, dtype, "avgpool2d_backward")
    return K.avgpool2d_backward(_C(dout), x_shape, kh, kw, stride)


def avgpool2d_carry(v: np.ndarray, cache: tuple) -> np.ndarray:
    """:func:`nnlite.ops.pool.avgpool2d_carry`, by the kernels when they are on."""
    if not fused_on():
        return _pool.avgpool2d_carry(v, cache)
    x_shape, kh, kw, stride = cache[:4]
    _pool.check_carry(v, x_shape)
    return K.avgpool2d_forward(_C(v), kh, kw, stride)

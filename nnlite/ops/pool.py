"""Max and average pooling over non-padded windows: forward, backward, and the forward carry of IFA.

Shapes: x (N, C, H, W), out (N, C, OH, OW) with ``OH = (H - KH) // stride + 1`` (same for OW). Windows may
overlap (stride < kernel). The loops are the Numba kernels of :mod:`nnlite.kernels`.
"""

from __future__ import annotations

import numpy as np

from ..kernels import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2x2_backward,
    maxpool2x2_forward,
    maxpool2x2_winners,
)
from ._checks import check_grad

__all__ = [
    "pool_output_of",
    "maxpool2d_forward_op",
    "maxpool2d_backward_op",
    "maxpool2d_carry",
    "avgpool2d_forward_op",
    "avgpool2d_backward_op",
    "avgpool2d_carry",
]


def maxpool2d_forward_op(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, tuple]:
    """Max pooling.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kh, kw : int
        Window size.
    stride : int, pair or None
        ``None``: the window size (non-overlapping windows).

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), x's dtype
    cache : tuple
        ``(winners, x_shape, kh, kw, stride, out_shape, dtype)``; ``winners`` (N, C, OH, OW) is int64, the flat
        index ``h*W + w`` of each window's winner in its ``(H, W)`` plane, or, for 2x2 windows at stride 2,
        uint8, the winner's place in its window (:func:`nnlite.kernels.maxpool2x2_forward`: one byte instead of
        eight, and a kernel four times faster).

    Notes
    -----
    ``out[n, c, y, q] = max_{i<KH, j<KW} x[n, c, y*s + i, q*s + j]``. A NaN anywhere in a window is that
    window's maximum and winner (the first NaN, as ``np.max`` and ``np.argmax``), so NaN propagates and the
    backward pass sends the window's gradient to it.
    """
    if (kh, kw) == (2, 2) and stride in (None, 2, (2, 2)):
        out, winners = maxpool2x2_forward(x)
    else:
        out, winners = maxpool2d_forward(np.ascontiguousarray(x), kh, kw, stride)
    return out, (winners, x.shape, kh, kw, stride, out.shape, out.dtype)


def _flat_winners(cache: tuple) -> np.ndarray:
    """The cache's winners as flat indices ``h*W + w`` (int64), whichever kernel wrote them."""
    winners, x_shape = cache[:2]
    return maxpool2x2_winners(winners, x_shape[3]) if winners.dtype == np.uint8 else winners


def pool_output_of(cache: tuple) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of the forward output a max or average pooling ``cache`` belongs to (what ``dout`` must
    have)."""
    return cache[-2], cache[-1]


def maxpool2d_backward_op(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """``dx``: each window's gradient goes to its winner (overlapping windows sharing a winner add).

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW)
    cache : tuple from :func:`maxpool2d_forward_op`

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)

    Notes
    -----
    ``dx[n, c, h, w] = sum_{(y, q): argmax[n, c, y, q] = h*W + w} dout[n, c, y, q]``.
    """
    winners, x_shape, kh, kw, stride, out_shape, dtype = cache
    check_grad(dout, out_shape, dtype, "maxpool2d_backward_op")
    if winners.dtype == np.uint8:
        return maxpool2x2_backward(dout, winners, x_shape)
    return maxpool2d_backward(np.ascontiguousarray(dout), winners, x_shape, kh, kw, stride)


def maxpool2d_carry(v: np.ndarray, cache: tuple) -> np.ndarray:
    """The linear map "take the forward pass's winners" applied to ``v`` (IFA).

    Parameters
    ----------
    v : ndarray, shape (N, C, H, W) (the forward input's shape)
    cache : tuple from :func:`maxpool2d_forward_op`

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW)

    Notes
    -----
    ``out[n, c, y, q] = v[n, c, h, w]`` where ``h*W + w = argmax[n, c, y, q]``: the Jacobian of max pooling at
    the forward input (a selection matrix) applied to ``v``; the adjoint of :func:`maxpool2d_backward_op`.
    """
    x_shape = cache[1]
    argmax = _flat_winners(cache)
    if tuple(v.shape) != tuple(x_shape):
        raise ValueError(f"v must have the forward input's shape {tuple(x_shape)}, got {v.shape}")
    N, C = v.shape[:2]
    picked = np.take_along_axis(v.reshape(N, C, -1), argmax.reshape(N, C, -1), axis=2)
    return picked.reshape(argmax.shape)


def avgpool2d_forward_op(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, tuple]:
    """Average pooling; the parameters are :func:`maxpool2d_forward_op`'s.

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW)
    cache : tuple ``(x_shape, kh, kw, stride, out_shape, dtype)``

    Notes
    -----
    ``out[n, c, y, q] = (1/(KH KW)) sum_{i<KH, j<KW} x[n, c, y*s + i, q*s + j]``.
    """
    out = avgpool2d_forward(np.ascontiguousarray(x), kh, kw, stride)
    return out, (x.shape, kh, kw, stride, out.shape, out.dtype)


def avgpool2d_backward_op(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """``dx[n, c, h, w] = (1/(KH KW)) sum over the windows containing (h, w) of dout[n, c, y, q]``."""
    x_shape, kh, kw, stride, out_shape, dtype = cache
    check_grad(dout, out_shape, dtype, "avgpool2d_backward_op")
    return avgpool2d_backward(np.ascontiguousarray(dout), x_shape, kh, kw, stride)


def avgpool2d_carry(v: np.ndarray, cache: tuple) -> np.ndarray:
    """Average pooling is linear: its carry is the same averaging of ``v`` (shape of the forward input)."""
    x_shape, kh, kw, stride = cache[:4]
    if tuple(v.shape) != tuple(x_shape):
        raise ValueError(f"v must have the forward input's shape {tuple(x_shape)}, got {v.shape}")
    return avgpool2d_forward(np.ascontiguousarray(v), kh, kw, stride)

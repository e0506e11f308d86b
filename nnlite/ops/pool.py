"""Max and average pooling over non-padded windows: forward, backward, and the forward carry of IFA, in NumPy.

Shapes: x (N, C, H, W), out (N, C, OH, OW) with ``OH = (H - KH) // stride + 1`` (same for OW). Windows may
overlap (stride < kernel). Any layout is read as it is. The Numba loops of :mod:`nnlite.kernels` compute the same
(these are their twins); :mod:`nnlite.backend.pool` chooses, and builds the same caches.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import as_pair, check_grad, conv_output_shape

__all__ = [
    "AvgPoolCache",
    "MaxPoolCache",
    "avgpool2d",
    "avgpool2d_backward_op",
    "avgpool2d_carry",
    "avgpool2d_forward_op",
    "avgpool2d_grad",
    "check_carry",
    "flat_winners",
    "maxpool2d",
    "maxpool2d_backward_op",
    "maxpool2d_carry",
    "maxpool2d_forward_op",
    "maxpool2d_grad",
    "maxpool2x2_winners",
    "pool_output_of",
]


class MaxPoolCache(NamedTuple):
    """The forward cache of max pooling; ``winners`` (N, C, OH, OW) is int64, the flat index ``h*W + w`` of each
    window's winner in its ``(H, W)`` plane, or, from :func:`nnlite.kernels.maxpool2x2_forward` (2x2 windows at
    stride 2), uint8, the winner's place in its window (one byte instead of eight)."""

    winners: np.ndarray
    x_shape: tuple[int, ...]
    kh: int
    kw: int
    stride: int | tuple[int, int] | None
    out_shape: tuple[int, ...]
    dtype: np.dtype


class AvgPoolCache(NamedTuple):
    """The forward cache of average pooling: the geometry and the output's shape and dtype."""

    x_shape: tuple[int, ...]
    kh: int
    kw: int
    stride: int | tuple[int, int] | None
    out_shape: tuple[int, ...]
    dtype: np.dtype


def _windows(x, kh, kw, sh, sw):
    # (N, C, OH, OW, KH*KW) view-copy of the pooling windows
    N, C, H, W = x.shape
    OH, OW = conv_output_shape(H, W, kh, kw, (sh, sw), 0)
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :OH, :OW]
    return win.reshape(N, C, OH, OW, kh * kw), OH, OW


def maxpool2d(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(out, argmax)``: the window maxima (N, C, OH, OW) and their flat indices ``h*W + w`` (int64); the twin of
    :func:`nnlite.kernels.maxpool2d_forward`. Ties and NaN as ``np.argmax``: the first maximum, or the first NaN."""
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    W = x.shape[3]
    win, OH, OW = _windows(x, kh, kw, sh, sw)
    k = win.argmax(axis=-1)
    out = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]
    h = np.arange(OH)[:, None] * sh + k // kw
    w = np.arange(OW)[None, :] * sw + k % kw
    return np.ascontiguousarray(out), (h * W + w).astype(np.int64)


def maxpool2d_grad(dout: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """``dx`` (``x_shape``): each window's gradient added at its winner ``argmax`` (flat indices); the twin of
    :func:`nnlite.kernels.maxpool2d_backward`."""
    N, C, H, W = x_shape
    dx = np.zeros((N * C, H * W), dtype=dout.dtype)
    rows = np.repeat(np.arange(N * C), argmax[0, 0].size) if argmax.size else np.zeros(0, np.int64)
    np.add.at(dx, (rows, argmax.reshape(-1)), dout.reshape(-1))
    return dx.reshape(N, C, H, W)


def maxpool2x2_winners(code: np.ndarray, width: int) -> np.ndarray:
    """The flat indices ``h*W + w`` (int64, ``code``'s shape) of the winners that
    :func:`nnlite.kernels.maxpool2x2_forward`'s ``code`` names in planes ``width`` wide: :func:`maxpool2d`'s
    ``argmax`` at 2x2/stride 2."""
    if not isinstance(code, np.ndarray) or code.dtype != np.uint8 or code.ndim != 4:
        raise TypeError(
            f"code must be the 4-d uint8 array of maxpool2x2_forward, got {getattr(code, 'dtype', type(code).__name__)}"
        )
    OH, OW = code.shape[2:]
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 2 * OW:
        raise ValueError(f"width must be an int of at least 2 * {OW} (the windows' columns), got {width!r}")
    k = code.astype(np.int64)
    return (2 * np.arange(OH)[:, None] + (k >> 1)) * width + 2 * np.arange(OW)[None, :] + (k & 1)


def avgpool2d(x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None) -> np.ndarray:
    """The window means (N, C, OH, OW); the twin of :func:`nnlite.kernels.avgpool2d_forward`."""
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    win, OH, OW = _windows(x, kh, kw, sh, sw)
    return (win.sum(axis=-1) / (kh * kw)).astype(x.dtype)


def avgpool2d_grad(
    dout: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """``dx`` (``x_shape``) of :func:`avgpool2d`; the twin of :func:`nnlite.kernels.avgpool2d_backward`."""
    N, C, H, W = x_shape
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    OH, OW = dout.shape[2], dout.shape[3]
    g = dout / dout.dtype.type(kh * kw)
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * (OH - 1) + 1 : sh, j : j + sw * (OW - 1) + 1 : sw] += g
    return dx


def maxpool2d_forward_op(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, MaxPoolCache]:
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
    cache : MaxPoolCache
        ``(winners, x_shape, kh, kw, stride, out_shape, dtype)``, ``winners`` the int64 flat indices.

    Notes
    -----
    ``out[n, c, y, q] = max_{i<KH, j<KW} x[n, c, y*s + i, q*s + j]``. A NaN anywhere in a window is that
    window's maximum and winner (the first NaN, as ``np.max`` and ``np.argmax``), so NaN propagates and the
    backward pass sends the window's gradient to it.
    """
    out, winners = maxpool2d(x, kh, kw, stride)
    return out, MaxPoolCache(winners, x.shape, kh, kw, stride, out.shape, out.dtype)


def flat_winners(cache: tuple) -> np.ndarray:
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
    cache : tuple from :func:`maxpool2d_forward_op` (or the backend's, whose winners may be 2x2 codes)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)

    Notes
    -----
    ``dx[n, c, h, w] = sum_{(y, q): argmax[n, c, y, q] = h*W + w} dout[n, c, y, q]``.
    """
    check_grad(dout, *pool_output_of(cache), "maxpool2d_backward_op")
    return maxpool2d_grad(dout, flat_winners(cache), cache[1])


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
    argmax = flat_winners(cache)
    check_carry(v, x_shape)
    N, C = v.shape[:2]
    picked = np.take_along_axis(v.reshape(N, C, -1), argmax.reshape(N, C, -1), axis=2)
    return picked.reshape(argmax.shape)


def check_carry(v: np.ndarray, x_shape: tuple[int, ...]) -> None:
    """ValueError unless ``v`` has the forward input's shape (what a pooling carry takes)."""
    if tuple(v.shape) != tuple(x_shape):
        raise ValueError(f"v must have the forward input's shape {tuple(x_shape)}, got {v.shape}")


def avgpool2d_forward_op(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, AvgPoolCache]:
    """Average pooling; the parameters are :func:`maxpool2d_forward_op`'s.

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW)
    cache : AvgPoolCache ``(x_shape, kh, kw, stride, out_shape, dtype)``

    Notes
    -----
    ``out[n, c, y, q] = (1/(KH KW)) sum_{i<KH, j<KW} x[n, c, y*s + i, q*s + j]``.
    """
    out = avgpool2d(x, kh, kw, stride)
    return out, AvgPoolCache(x.shape, kh, kw, stride, out.shape, out.dtype)


def avgpool2d_backward_op(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """``dx[n, c, h, w] = (1/(KH KW)) sum over the windows containing (h, w) of dout[n, c, y, q]``."""
    x_shape, kh, kw, stride, out_shape, dtype = cache
    check_grad(dout, out_shape, dtype, "avgpool2d_backward_op")
    return avgpool2d_grad(dout, x_shape, kh, kw, stride)


def avgpool2d_carry(v: np.ndarray, cache: tuple) -> np.ndarray:
    """Average pooling is linear: its carry is the same averaging of ``v`` (shape of the forward input)."""
    x_shape, kh, kw, stride = cache[:4]
    check_carry(v, x_shape)
    return avgpool2d(v, kh, kw, stride)

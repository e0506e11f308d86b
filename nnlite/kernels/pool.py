"""Max and average pooling over non-padded windows, forward and backward.

Windows may overlap (stride < kernel); in the backward passes the gradients of overlapping windows add.
"""

from __future__ import annotations

import numba
import numpy as np

from ..ops.pool import maxpool2x2_winners
from ._checks import as_pair, check_float_array, check_shape4, output_size

__all__ = [
    "maxpool2d_forward",
    "maxpool2d_backward",
    "maxpool2x2_forward",
    "maxpool2x2_backward",
    "maxpool2x2_winners",
    "avgpool2d_forward",
    "avgpool2d_backward",
]


@numba.njit(cache=True, nogil=True)
def _maxpool_fwd(x, kh, kw, sh, sw, out, argmax):
    N, C, H, W = x.shape
    OH = out.shape[2]
    OW = out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h0 = oh * sh
                for ow in range(OW):
                    w0 = ow * sw
                    best = x[n, c, h0, w0]
                    arg = h0 * W + w0
                    for i in range(kh):
                        for j in range(kw):
                            v = x[n, c, h0 + i, w0 + j]
                            # the first NaN wins and stays (np.max, np.argmax); else the first maximum
                            if v > best or (v != v and best == best):
                                best = v
                                arg = (h0 + i) * W + w0 + j
                    out[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = arg


@numba.njit(cache=True, inline="always")
def _pick(v, k, best, arg):
    # the running winner after seeing v at flat index k: the first NaN wins and stays, else the first maximum;
    # written as selects (no branch), so the loop over a row of windows vectorises
    take = (v > best) | ((v != v) & (best == best))
    return (v if take else best), (k if take else arg)


@numba.njit(cache=True, nogil=True)
def _max2x2_fwd(x, out, code):
    # 2x2 windows, stride 2 (the cnn's pooling): the four candidates of a window in row-major order, as
    # _maxpool_fwd takes them, over contiguous input rows; the winner kept as its place in the window (0..3):
    # an int64 flat index per window cost more than the maxima themselves (docs/design.md, "Kernels and their twins")
    N, C, H, W = x.shape
    OH = out.shape[2]
    OW = out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                r0 = x[n, c, 2 * oh]
                r1 = x[n, c, 2 * oh + 1]
                o = out[n, c, oh]
                a = code[n, c, oh]
                for ow in range(OW):
                    j = 2 * ow
                    best, arg = r0[j], np.uint8(0)
                    best, arg = _pick(r0[j + 1], np.uint8(1), best, arg)
                    best, arg = _pick(r1[j], np.uint8(2), best, arg)
                    best, arg = _pick(r1[j + 1], np.uint8(3), best, arg)
                    o[ow] = best
                    a[ow] = arg


@numba.njit(cache=True, nogil=True)
def _max2x2_bwd(dout, code, dx):
    # dx zeroed by the caller; one store per window, at its winner
    N, C, H, W = dx.shape
    OH = dout.shape[2]
    OW = dout.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                g = dout[n, c, oh]
                a = code[n, c, oh]
                d0 = dx[n, c, 2 * oh]
                d1 = dx[n, c, 2 * oh + 1]
                for ow in range(OW):
                    k = a[ow]
                    j = 2 * ow + (k & 1)
                    if k < 2:
                        d0[j] = g[ow]
                    else:
                        d1[j] = g[ow]


@numba.njit(cache=True, nogil=True)
def _maxpool_bwd(dout, argmax, dx):
    N, C, H, W = dx.shape
    OH = dout.shape[2]
    OW = dout.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    k = argmax[n, c, oh, ow]
                    h = k // W
                    dx[n, c, h, k - h * W] += dout[n, c, oh, ow]


@numba.njit(cache=True, nogil=True)
def _avgpool_fwd(x, kh, kw, sh, sw, out):
    N, C, H, W = x.shape
    OH = out.shape[2]
    OW = out.shape[3]
    area = kh * kw
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h0 = oh * sh
                for ow in range(OW):
                    w0 = ow * sw
                    s = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            s += x[n, c, h0 + i, w0 + j]
                    out[n, c, oh, ow] = s / area


@numba.njit(cache=True, nogil=True)
def _avgpool_bwd(dout, kh, kw, sh, sw, dx):
    N, C, H, W = dx.shape
    OH = dout.shape[2]
    OW = dout.shape[3]
    area = kh * kw
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h0 = oh * sh
                for ow in range(OW):
                    w0 = ow * sw
                    g = dout[n, c, oh, ow] / area
                    for i in range(kh):
                        for j in range(kw):
                            dx[n, c, h0 + i, w0 + j] += g


def _pool_geometry(H, W, kh, kw, stride):
    kh, kw = as_pair((kh, kw), "kernel size (kh, kw)", 1)
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    OH = output_size(H, kh, sh, 0, "H")
    OW = output_size(W, kw, sw, 0, "W")
    return kh, kw, sh, sw, OH, OW


def _check_dout(dout, x_shape, OH, OW):
    check_float_array(dout, "dout", ndim=4)
    expected = (x_shape[0], x_shape[1], OH, OW)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape (N, C, OH, OW) = {expected} for x_shape {tuple(x_shape)}, got {dout.shape}"
        )


def maxpool2d_forward(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over ``KH x KW`` windows (no padding).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64, C-contiguous
    kh, kw : int
        Window height and width (>= 1).
    stride : int or (int, int) or None
        Window step; ``None`` means ``(kh, kw)`` (non-overlapping windows).

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), dtype of ``x``
        ``OH = (H - KH) // sh + 1``, ``OW = (W - KW) // sw + 1``.
    argmax : ndarray, shape (N, C, OH, OW), int64
        Flat index ``h * W + w`` of each window's winner inside its own ``(H, W)`` plane ``x[n, c]``.
        Ties go to the first maximum in row-major window order (as ``numpy.argmax``).

    Notes
    -----
    ``out[n, c, oh, ow] = max_{i<KH, j<KW} x[n, c, oh*sh + i, ow*sw + j]``. A NaN anywhere in a window
    propagates as in ``numpy.max``: the window's output is NaN and its winner the first NaN in row-major order
    (``numpy.argmax``'s), so the backward pass routes the window's gradient to it.
    """
    check_float_array(x, "x", ndim=4)
    N, C, H, W = x.shape
    kh, kw, sh, sw, OH, OW = _pool_geometry(H, W, kh, kw, stride)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    if (kh, kw, sh, sw) == (2, 2, 2, 2) and x.flags.c_contiguous:  # the one-byte kernel, indices from its codes
        out, code = maxpool2x2_forward(x)
        return out, maxpool2x2_winners(code, W)
    _maxpool_fwd(x, kh, kw, sh, sw, out, argmax)
    return out, argmax


def maxpool2d_backward(
    dout: np.ndarray,
    argmax: np.ndarray,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Gradient of :func:`maxpool2d_forward`: each window's gradient goes to its winner.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW), float32 or float64, C-contiguous
        dL/d(out).
    argmax : ndarray, shape (N, C, OH, OW), int64
        As returned by :func:`maxpool2d_forward`.
    x_shape : (N, C, H, W)
    kh, kw, stride
        As for the forward pass.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), dtype of ``dout``

    Notes
    -----
    ``dx[n, c, h, w] = sum over windows (oh, ow) whose winner is (h, w) of dout[n, c, oh, ow]``
    (overlapping windows that share a winner add).
    """
    N, C, H, W = check_shape4(x_shape, "x_shape")
    kh, kw, sh, sw, OH, OW = _pool_geometry(H, W, kh, kw, stride)
    _check_dout(dout, (N, C, H, W), OH, OW)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64:
        raise TypeError(
            f"argmax must be an int64 ndarray from maxpool2d_forward, got "
            f"{getattr(argmax, 'dtype', type(argmax).__name__)}"
        )
    if argmax.shape != dout.shape or not argmax.flags.c_contiguous:
        raise ValueError(f"argmax must be C-contiguous with the shape of dout {dout.shape}, got {argmax.shape}")
    if argmax.size and (argmax.min() < 0 or argmax.max() >= H * W):
        raise ValueError(
            f"argmax entries must lie in [0, H*W) = [0, {H * W}), got range [{argmax.min()}, {argmax.max()}]"
        )
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    _maxpool_bwd(dout, argmax, dx)
    return dx


def maxpool2x2_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over 2x2 windows at stride 2 (the common case), with each winner's place in its window.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64, H and W >= 2

    Returns
    -------
    out : ndarray, shape (N, C, H // 2, W // 2), dtype of ``x``
        ``maxpool2d_forward(x, 2, 2)[0]``, NaN and ties alike.
    code : ndarray, shape of ``out``, uint8
        The winner's place in its window, row-major: 0 ``(2y, 2q)``, 1 ``(2y, 2q+1)``, 2 ``(2y+1, 2q)``,
        3 ``(2y+1, 2q+1)``; the winner :func:`maxpool2d_forward` picks (its flat index is
        ``(2y + code // 2) * W + 2q + code % 2``).

    Notes
    -----
    One byte per window instead of :func:`maxpool2d_forward`'s int64 index: writing the index cost more than
    the maxima (docs/design.md, "Kernels and their twins").
    """
    check_float_array(x, "x", ndim=4)
    N, C, H, W = x.shape
    output_size(H, 2, 2, 0, "H")
    output_size(W, 2, 2, 0, "W")
    out = np.empty((N, C, H // 2, W // 2), dtype=x.dtype)
    code = np.empty(out.shape, dtype=np.uint8)
    _max2x2_fwd(np.ascontiguousarray(x), out, code)
    return out, code


def maxpool2x2_backward(dout: np.ndarray, code: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """Gradient of :func:`maxpool2x2_forward`: each window's gradient goes to its winner.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H // 2, W // 2), float32 or float64
    code : ndarray, uint8, shape of ``dout``
        As returned by :func:`maxpool2x2_forward`.
    x_shape : (N, C, H, W)

    Returns
    -------
    dx : ndarray, shape ``x_shape``, dtype of ``dout``
        ``maxpool2d_backward(dout, argmax, x_shape, 2, 2)`` with the forward pass's ``argmax``.
    """
    N, C, H, W = check_shape4(x_shape, "x_shape")
    _check_dout(dout, (N, C, H, W), H // 2, W // 2)
    if not isinstance(code, np.ndarray) or code.dtype != np.uint8 or code.shape != dout.shape:
        raise TypeError(
            f"code must be the uint8 array of maxpool2x2_forward, of shape {dout.shape}, got "
            f"{getattr(code, 'dtype', type(code).__name__)} {getattr(code, 'shape', '')}"
        )
    if code.size and code.max() > 3:
        raise ValueError(f"code entries must lie in [0, 3], got up to {code.max()}")
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    _max2x2_bwd(np.ascontiguousarray(dout), np.ascontiguousarray(code), dx)
    return dx


def avgpool2d_forward(x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None) -> np.ndarray:
    """Average pooling over ``KH x KW`` windows (no padding).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64, C-contiguous
    kh, kw : int
    stride : int or (int, int) or None
        ``None`` means ``(kh, kw)``.

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), dtype of ``x``

    Notes
    -----
    ``out[n, c, oh, ow] = (1 / (KH KW)) sum_{i<KH, j<KW} x[n, c, oh*sh + i, ow*sw + j]``.
    """
    check_float_array(x, "x", ndim=4)
    N, C, H, W = x.shape
    kh, kw, sh, sw, OH, OW = _pool_geometry(H, W, kh, kw, stride)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    _avgpool_fwd(x, kh, kw, sh, sw, out)
    return out


def avgpool2d_backward(
    dout: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """Gradient of :func:`avgpool2d_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW), float32 or float64, C-contiguous
    x_shape : (N, C, H, W)
    kh, kw, stride
        As for the forward pass.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), dtype of ``dout``

    Notes
    -----
    ``dx[n, c, h, w] = (1 / (KH KW)) sum over windows (oh, ow) containing (h, w) of dout[n, c, oh, ow]``.
    """
    N, C, H, W = check_shape4(x_shape, "x_shape")
    kh, kw, sh, sw, OH, OW = _pool_geometry(H, W, kh, kw, stride)
    _check_dout(dout, (N, C, H, W), OH, OW)
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    _avgpool_bwd(dout, kh, kw, sh, sw, dx)
    return dx

"""im2col / col2im: the loops that turn a convolution into one BLAS matrix product.

Layout of ``cols`` (shared by both kernels): shape ``(C*KH*KW, N*OH*OW)``; row ``(c*KH + i)*KW + j``
holds kernel tap ``(c, i, j)``, column ``n*OH*OW + oh*OW + ow`` holds output pixel ``(n, oh, ow)``.

Why this layout: with ``W2 = W.reshape(F, C*KH*KW)`` (a free view of an ``(F, C, KH, KW)`` weight),

* forward   ``out = (W2 @ cols).reshape(F, N, OH, OW).transpose(1, 0, 2, 3)``  -- one GEMM;
* backward  ``dW = dout2 @ cols.T`` and ``dcols = W2.T @ dout2`` with
  ``dout2 = dout.transpose(1, 0, 2, 3).reshape(F, N*OH*OW)``                     -- one GEMM each.

``cols`` is never copied or transposed in memory (BLAS reads ``cols.T`` as a transposed operand); the only
reordering is of the output / its gradient between ``(F, N, OH, OW)`` and NCHW, which is ``C*KH*KW / F``
times smaller than ``cols`` (e.g. 1/25 of it for C = F, 5x5 kernels). The other 2-D layout,
``(N*OH*OW, C*KH*KW)``, gives NHWC out of the GEMM and needs the same-sized reordering; this one also makes
every row of ``cols`` a long contiguous run that the kernels fill with unit-stride writes.
"""

from __future__ import annotations

import numba
import numpy as np

from ._checks import as_pair, check_float_array, check_shape4, output_size

__all__ = ["im2col", "col2im"]


@numba.njit(cache=True, nogil=True)
def _im2col_same1(x, kh, kw, ph, pw, OH, cols):
    # Stride 1 and OW == W ("same" width): for one sample, row (c, i, j) of cols is the plane x[n, c]
    # read flat from offset (i - ph)*W + (j - pw), i.e. one contiguous copy of the valid output rows
    # [oh_lo, oh_hi), after which the border columns ow < lo and ow >= hi (which picked up the ends of the
    # neighbouring input rows) are set to zero, and the rows outside [oh_lo, oh_hi) are zero-filled.
    # Every cell is written once or twice, never read; all indices come from slices + range(0, m).
    # Several times faster than the per-row loop below (python -m benchmarks step --only kernels).
    N, C, H, W = x.shape
    OW = W
    L = OH * OW
    xf = x.reshape(N * C * H * W)
    for c in range(C):
        for i in range(kh):
            oh_lo = min(max(ph - i, 0), OH)  # ih = oh + i - ph in [0, H)
            oh_hi = max(min(H + ph - i, OH), oh_lo)
            for j in range(kw):
                crow = cols[(c * kh + i) * kw + j]
                lo = min(max(pw - j, 0), OW)  # iw = ow + j - pw in [0, W)
                hi = max(min(W + pw - j, OW), lo)
                for n in range(N):
                    dst = crow[n * L : (n + 1) * L]
                    top = dst[: oh_lo * OW]
                    for t in range(top.size):
                        top[t] = 0.0
                    bot = dst[oh_hi * OW :]
                    for t in range(bot.size):
                        bot[t] = 0.0
                    if oh_hi == oh_lo or hi == lo:
                        mid = dst[oh_lo * OW : oh_hi * OW]
                        for t in range(mid.size):
                            mid[t] = 0.0
                        continue
                    a = oh_lo * OW + lo
                    b = (oh_hi - 1) * OW + hi
                    s0 = ((n * C + c) * H + oh_lo + i - ph) * W + lo + j - pw
                    d = dst[a:b]
                    s = xf[s0 : s0 + (b - a)]
                    for t in range(b - a):
                        d[t] = s[t]
                    span = oh_hi * OW
                    for t in range(lo):  # left border columns, one strided sweep each
                        col = dst[oh_lo * OW + t : span : OW]
                        for q in range(col.size):
                            col[q] = 0.0
                    for t in range(OW - hi):  # right border columns
                        col = dst[oh_lo * OW + hi + t : span : OW]
                        for q in range(col.size):
                            col[q] = 0.0


@numba.njit(cache=True, nogil=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, OH, OW, cols):
    # Row-outer order: each row of cols (one kernel tap) is written front to back in one sweep.
    # Slices + range(0, m) indices keep every index provably >= 0, so the unit-stride copies vectorise.
    N, C, H, W = x.shape
    L = OH * OW
    if sh == 1 and sw == 1 and OW == W:
        _im2col_same1(x, kh, kw, ph, pw, OH, cols)
        return
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                crow = cols[(c * kh + i) * kw + j]
                # output columns ow whose input column iw = ow*sw + j - pw lies in [0, W)
                lo = min(max(-((j - pw) // sw), 0), OW)
                hi = max(min((W - 1 + pw - j) // sw + 1, OW), lo)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * sh + i - ph
                        dst = crow[n * L + oh * OW : n * L + (oh + 1) * OW]
                        if ih < 0 or ih >= H:
                            dst[:] = 0.0
                            continue
                        for t in range(lo):
                            dst[t] = 0.0
                        for t in range(OW - hi):
                            dst[hi + t] = 0.0
                        src = x[n, c, ih, lo * sw + j - pw :]
                        d = dst[lo:hi]
                        if sw == 1:
                            for t in range(hi - lo):
                                d[t] = src[t]
                        else:
                            for t in range(hi - lo):
                                d[t] = src[t * sw]


@numba.njit(cache=True, nogil=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx):
    # Same sweep as _im2col, adding instead of copying; taps of one pixel are added in (i, j) order.
    N, C, H, W = dx.shape
    L = OH * OW
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                crow = cols[(c * kh + i) * kw + j]
                lo = min(max(-((j - pw) // sw), 0), OW)
                hi = max(min((W - 1 + pw - j) // sw + 1, OW), lo)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * sh + i - ph
                        if ih < 0 or ih >= H:
                            continue
                        src = crow[n * L + oh * OW + lo : n * L + oh * OW + hi]
                        d = dx[n, c, ih, lo * sw + j - pw :]
                        if sw == 1:
                            for t in range(hi - lo):
                                d[t] += src[t]
                        else:
                            for t in range(hi - lo):
                                d[t * sw] += src[t]


def _geometry(H, W, kh, kw, stride, padding):
    kh, kw = as_pair((kh, kw), "kernel size (kh, kw)", 1)
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    OH = output_size(H, kh, sh, ph, "H")
    OW = output_size(W, kw, sw, pw, "W")
    return kh, kw, sh, sw, ph, pw, OH, OW


def im2col(
    x: np.ndarray,
    kh: int,
    kw: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Unfold the zero-padded windows of an NCHW batch into the columns of a matrix.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64, C-contiguous
        Input images.
    kh, kw : int
        Kernel height and width (KH, KW), >= 1.
    stride : int or (int, int)
        Window step (sh, sw), >= 1.
    padding : int or (int, int)
        Zero padding (ph, pw) on both sides of each spatial axis, >= 0.
    out : ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x``, C-contiguous, optional
        Written in full and returned instead of a new array (a buffer reused across calls).

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x`` (``out`` when given)
        ``(OH, OW) = conv_output_shape(H, W, KH, KW, stride, padding)``. See the module docstring for why
        this layout: ``W.reshape(F, C*KH*KW) @ cols`` is the whole convolution in one GEMM.

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 ndarray, ``out``'s dtype is not ``x``'s, or a parameter is not an
        int (pair).
    ValueError
        If ``x`` (or ``out``) is not C-contiguous or has the wrong shape, ``out`` is read-only or overlaps
        ``x``, or the kernel does not fit the padded input.

    Notes
    -----
    ``cols[(c*KH + i)*KW + j, n*OH*OW + oh*OW + ow] = xpad[n, c, oh*sh + i, ow*sw + j]``, where ``xpad`` is
    ``x`` with ``ph`` (``pw``) zeros added above and below (left and right).
    """
    check_float_array(x, "x", ndim=4)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, OH, OW = _geometry(H, W, kh, kw, stride, padding)
    cols = _out_or_new(out, "out", (C * kh * kw, N * OH * OW), x.dtype, x)
    _im2col(x, kh, kw, sh, sw, ph, pw, OH, OW, cols)
    return cols


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Fold columns back onto an NCHW batch, adding where windows overlap: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), float32 or float64, C-contiguous
        Column matrix in the layout produced by :func:`im2col` (typically ``dcols = W2.T @ dout2``).
    x_shape : (N, C, H, W)
        Shape of the images the columns came from.
    kh, kw, stride, padding
        As for :func:`im2col`.
    out : ndarray, shape (N, C, H, W), dtype of ``cols``, C-contiguous, optional
        Overwritten (zeroed, then the columns added) and returned instead of a new array.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), dtype of ``cols`` (``out`` when given)

    Raises
    ------
    TypeError, ValueError
        On a wrong dtype, rank, contiguity, or a ``cols`` shape that does not match ``x_shape`` and the
        window geometry; on an ``out`` of another shape or dtype than ``dx``'s, read-only, or overlapping
        ``cols``.

    Notes
    -----
    ``dx[n, c, h, w] = sum over (i, j, oh, ow) with oh*sh + i - ph = h and ow*sw + j - pw = w of
    cols[(c*KH + i)*KW + j, n*OH*OW + oh*OW + ow]``; entries that fall in the padding are dropped.
    Equivalently ``<im2col(x), cols> = <x, col2im(cols)>`` for every ``x`` and ``cols``.
    """
    check_float_array(cols, "cols", ndim=2)
    N, C, H, W = check_shape4(x_shape, "x_shape")
    kh, kw, sh, sw, ph, pw, OH, OW = _geometry(H, W, kh, kw, stride, padding)
    expected = (C * kh * kw, N * OH * OW)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape (C*KH*KW, N*OH*OW) = {expected} for x_shape {(N, C, H, W)}, "
            f"kernel {(kh, kw)}, stride {(sh, sw)}, padding {(ph, pw)}; got {cols.shape}"
        )
    dx = _out_or_new(out, "out", (N, C, H, W), cols.dtype, cols)
    dx.fill(0)
    _col2im(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx)
    return dx


def _out_or_new(out, name, shape, dtype, source):
    """``out`` after checking it is a writeable C-contiguous ``shape`` array of ``dtype`` apart from
    ``source``, or a new empty one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    check_float_array(out, name, ndim=len(shape))
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    if np.may_share_memory(out, source):
        raise ValueError(f"{name} must not overlap the input array")
    return out

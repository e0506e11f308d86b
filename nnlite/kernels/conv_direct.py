"""Direct stride-1 convolution for few input taps (``C*KH*KW`` small: a network's first layer on grey or RGB
images), forward, ``dW``/``db`` and ``dx``, as Numba loops over whole image rows.

With few taps im2col's GEMMs have an inner dimension of 9-27: they run far below the BLAS's speed, and the
(F, n, P) -> (n, F, P) reorderings of the output and of ``dout`` around them cost as much as the products.
Here every output plane ``out[n, f]`` is built in place, tap by tap (docs/design.md, "Kernels and their twins" has the
timings):

    out[n, f, y, q]  = b[f] + sum_{c, i, j} W[f, c, i, j] * x[n, c, y + i - ph, q + j - pw]
    dW[f, c, i, j]   = sum_{n, y, q} dout[n, f, y, q] * x[n, c, y + i - ph, q + j - pw]
    dx[n, c, h, w]   = sum_{f, i, j} K[f, c, i, j] * dout[n, f, h + ph - i, w + pw - j]

(terms whose index leaves the image are the zero padding and are skipped). The innermost loop runs along a row
``q`` (contiguous: it vectorises)
a plane of a few kB stays in L1 while its taps add up. The sums run in x's
dtype, in another order than the GEMMs' (equal to :mod:`nnlite.ops.conv` within rounding, which the tests hold).
These are the loops and their checking wrappers for one slice of a batch; :mod:`nnlite.backend.conv_direct` splits
the batch into one slice per BLAS thread and keeps the cache.
"""

from __future__ import annotations

import numba
import numpy as np

from ._checks import check_float_array

__all__ = ["direct_forward", "direct_grad_w", "direct_grad_x"]


@numba.njit(cache=True, inline="always")
def _widen_into(src, dst):
    # the (R, Q) plane src into the first R rows and Q columns of the wider plane dst (the rest left as it is)
    R, Q = src.shape
    for y in range(R):
        drow = dst[y, :Q]
        srow = src[y]
        for q in range(Q):
            drow[q] = srow[q]


@numba.njit(cache=True, inline="always")
def _crop_into(acc, width, dst):
    # the (R, Q) plane dst from the flat plane acc of rows ``width`` wide (its spare columns dropped)
    R, Q = dst.shape
    for y in range(R):
        drow = dst[y]
        arow = acc[y * width : y * width + Q]
        for q in range(Q):
            drow[q] = arow[q]


@numba.njit(cache=True, nogil=True)
def _pad_into(src, top, left, dst):
    # dst[c] = src[c] placed at (top, left) of a zeroed plane (dst's planes may be larger than the image needs)
    dst[:] = 0
    for c in range(src.shape[0]):
        _widen_into(src[c], dst[c, top:, left:])


@numba.njit(cache=True, nogil=True)
def _forward(x, W, b, ph, pw, out):
    # per sample: the padded image once, then each output plane on the padded width Wp (columns q >= OW are
    # spare), so that a tap is one run of L = OH*Wp contiguous elements at the offset i*Wp + j
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    OH = out.shape[2]
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    L = OH * Wp
    xp = np.empty((C, Hp + 1, Wp), dtype=x.dtype)  # one spare row: the last tap's run reaches KW-1 past the plane
    acc = np.empty(L, dtype=out.dtype)
    for n in range(N):
        _pad_into(x[n], ph, pw, xp)
        xf = xp.reshape(C, (Hp + 1) * Wp)
        for f in range(F):
            acc[:] = b[f]
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):
                        w = W[f, c, i, j]
                        xs = xf[c, i * Wp + j : i * Wp + j + L]
                        for t in range(L):
                            acc[t] += w * xs[t]
            _crop_into(acc, Wp, out[n, f])


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _grad_w(x, dout, ph, pw, dW, db):
    # dW and db of the rows given, added into dW and db: each tap is a dot product of runs of L elements, the
    # output gradient laid out on the padded width with zeros in the spare columns (reassociated: vectorised)
    N, C, H, Wd = x.shape
    F, _, KH, KW = dW.shape
    OH = dout.shape[2]
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    L = OH * Wp
    xp = np.empty((C, Hp + 1, Wp), dtype=x.dtype)
    ge = np.zeros((OH, Wp), dtype=dout.dtype)
    gf = ge.reshape(L)
    for n in range(N):
        _pad_into(x[n], ph, pw, xp)
        xf = xp.reshape(C, (Hp + 1) * Wp)
        for f in range(F):
            _widen_into(dout[n, f], ge)
            s = dout.dtype.type(0)
            for t in range(L):
                s += gf[t]
            db[f] += s
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):
                        xs = xf[c, i * Wp + j : i * Wp + j + L]
                        s = dout.dtype.type(0)
                        for t in range(L):
                            s += gf[t] * xs[t]
                        dW[f, c, i, j] += s


@numba.njit(cache=True, nogil=True)
def _forward3x3(x, W, b, ph, pw, out):
    # _forward for 3x3 kernels: the nine taps of a channel added in one pass (one store per element, not nine)
    N, C, H, Wd = x.shape
    F = W.shape[0]
    OH = out.shape[2]
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    L = OH * Wp
    xp = np.empty((C, Hp + 1, Wp), dtype=x.dtype)
    acc = np.empty(L, dtype=out.dtype)
    for n in range(N):
        _pad_into(x[n], ph, pw, xp)
        xf = xp.reshape(C, (Hp + 1) * Wp)
        for f in range(F):
            acc[:] = b[f]
            for c in range(C):
                w00 = W[f, c, 0, 0]
                w01 = W[f, c, 0, 1]
                w02 = W[f, c, 0, 2]
                w10 = W[f, c, 1, 0]
                w11 = W[f, c, 1, 1]
                w12 = W[f, c, 1, 2]
                w20 = W[f, c, 2, 0]
                w21 = W[f, c, 2, 1]
                w22 = W[f, c, 2, 2]
                r0 = xf[c, 0 : L + 2]
                r1 = xf[c, Wp : Wp + L + 2]
                r2 = xf[c, 2 * Wp : 2 * Wp + L + 2]
                for t in range(L):
                    acc[t] += (
                        w00 * r0[t]
                        + w01 * r0[t + 1]
                        + w02 * r0[t + 2]
                        + w10 * r1[t]
                        + w11 * r1[t + 1]
                        + w12 * r1[t + 2]
                        + w20 * r2[t]
                        + w21 * r2[t + 1]
                        + w22 * r2[t + 2]
                    )
            _crop_into(acc, Wp, out[n, f])


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _grad_w3x3(x, dout, ph, pw, dW, db):
    # _grad_w for 3x3 kernels: the nine dot products of a channel in one pass over the output gradient
    N, C, H, Wd = x.shape
    F = dW.shape[0]
    OH = dout.shape[2]
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    L = OH * Wp
    xp = np.empty((C, Hp + 1, Wp), dtype=x.dtype)
    ge = np.zeros((OH, Wp), dtype=dout.dtype)
    gf = ge.reshape(L)
    z = dout.dtype.type(0)
    for n in range(N):
        _pad_into(x[n], ph, pw, xp)
        xf = xp.reshape(C, (Hp + 1) * Wp)
        for f in range(F):
            _widen_into(dout[n, f], ge)
            s = z
            for t in range(L):
                s += gf[t]
            db[f] += s
            for c in range(C):
                r0 = xf[c, 0 : L + 2]
                r1 = xf[c, Wp : Wp + L + 2]
                r2 = xf[c, 2 * Wp : 2 * Wp + L + 2]
                s00 = z
                s01 = z
                s02 = z
                s10 = z
                s11 = z
                s12 = z
                s20 = z
                s21 = z
                s22 = z
                for t in range(L):
                    v = gf[t]
                    s00 += v * r0[t]
                    s01 += v * r0[t + 1]
                    s02 += v * r0[t + 2]
                    s10 += v * r1[t]
                    s11 += v * r1[t + 1]
                    s12 += v * r1[t + 2]
                    s20 += v * r2[t]
                    s21 += v * r2[t + 1]
                    s22 += v * r2[t + 2]
                dW[f, c, 0, 0] += s00
                dW[f, c, 0, 1] += s01
                dW[f, c, 0, 2] += s02
                dW[f, c, 1, 0] += s10
                dW[f, c, 1, 1] += s11
                dW[f, c, 1, 2] += s12
                dW[f, c, 2, 0] += s20
                dW[f, c, 2, 1] += s21
                dW[f, c, 2, 2] += s22


@numba.njit(cache=True, nogil=True)
def _grad_x(dout, K, ph, pw, dx):
    # dx is the full correlation of dout with the flipped kernel: dout padded by KH-1 / KW-1 on every side, each
    # input plane built on that padded width Wq, one run of H*Wq elements per (f, tap)
    N, C, H, Wd = dx.shape
    F, _, KH, KW = K.shape
    OH, OW = dout.shape[2], dout.shape[3]
    Hq, Wq = OH + 2 * (KH - 1), OW + 2 * (KW - 1)
    L = H * Wq
    dp = np.empty((F, Hq + 1, Wq), dtype=dout.dtype)
    acc = np.empty(L, dtype=dx.dtype)
    for n in range(N):
        _pad_into(dout[n], KH - 1, KW - 1, dp)
        df = dp.reshape(F, (Hq + 1) * Wq)
        for c in range(C):
            acc[:] = 0
            for f in range(F):
                for i in range(KH):
                    for j in range(KW):
                        k = K[f, c, i, j]
                        off = (ph + KH - 1 - i) * Wq + pw + KW - 1 - j
                        ds = df[f, off : off + L]
                        for t in range(L):
                            acc[t] += k * ds[t]
            _crop_into(acc, Wq, dx[n, c])


@numba.njit(cache=True, nogil=True)
def _grad_x3x3(dout, K, ph, pw, dx):
    # _grad_x for 3x3 kernels: the nine flipped taps of a filter added in one pass
    N, C, H, Wd = dx.shape
    F = K.shape[0]
    OH, OW = dout.shape[2], dout.shape[3]
    Hq, Wq = OH + 4, OW + 4
    L = H * Wq
    dp = np.empty((F, Hq + 1, Wq), dtype=dout.dtype)
    acc = np.empty(L, dtype=dx.dtype)
    for n in range(N):
        _pad_into(dout[n], 2, 2, dp)
        df = dp.reshape(F, (Hq + 1) * Wq)
        for c in range(C):
            acc[:] = 0
            for f in range(F):
                k00 = K[f, c, 0, 0]
                k01 = K[f, c, 0, 1]
                k02 = K[f, c, 0, 2]
                k10 = K[f, c, 1, 0]
                k11 = K[f, c, 1, 1]
                k12 = K[f, c, 1, 2]
                k20 = K[f, c, 2, 0]
                k21 = K[f, c, 2, 1]
                k22 = K[f, c, 2, 2]
                # tap (i, j) reads dout padded at row offset ph + 2 - i, column offset pw + 2 - j
                a0 = (ph + 2) * Wq + pw
                r0 = df[f, a0 : a0 + L + 2]
                r1 = df[f, a0 - Wq : a0 - Wq + L + 2]
                r2 = df[f, a0 - 2 * Wq : a0 - 2 * Wq + L + 2]
                for t in range(L):
                    acc[t] += (
                        k00 * r0[t + 2]
                        + k01 * r0[t + 1]
                        + k02 * r0[t]
                        + k10 * r1[t + 2]
                        + k11 * r1[t + 1]
                        + k12 * r1[t]
                        + k20 * r2[t + 2]
                        + k21 * r2[t + 1]
                        + k22 * r2[t]
                    )
            _crop_into(acc, Wq, dx[n, c])


def _check(arrays: dict, dtype: np.dtype) -> None:
    for name, a in arrays.items():
        check_float_array(a, name)
        if a.dtype != dtype:
            raise TypeError(f"{name} must be {dtype} like x, got {a.dtype}")


def direct_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, ph: int, pw: int, out: np.ndarray) -> None:
    """``out = conv(x, W) + b`` at stride 1 with zero padding ``(ph, pw)``, written into ``out``.

    x (n, C, H, W), W (F, C, KH, KW), b (F,), out (n, F, H + 2ph - KH + 1, W + 2pw - KW + 1): C-contiguous, of
    one dtype (checked); 3x3 kernels take the unrolled loop.
    """
    _check({"x": x, "W": W, "b": b, "out": out}, x.dtype)
    (_forward3x3 if W.shape[2:] == (3, 3) else _forward)(x, W, b, ph, pw, out)


def direct_grad_w(x: np.ndarray, dout: np.ndarray, ph: int, pw: int, dW: np.ndarray, db: np.ndarray) -> None:
    """Add this slice's ``dW`` (F, C, KH, KW) and ``db`` (F,) into the zeroed ``dW`` and ``db`` (as
    :func:`direct_forward`'s arrays)."""
    _check({"x": x, "dout": dout, "dW": dW, "db": db}, x.dtype)
    (_grad_w3x3 if dW.shape[2:] == (3, 3) else _grad_w)(x, dout, ph, pw, dW, db)


def direct_grad_x(dout: np.ndarray, K: np.ndarray, ph: int, pw: int, dx: np.ndarray) -> None:
    """``dx`` (n, C, H, W) of the slice: the full correlation of ``dout`` with the flipped kernel ``K``."""
    _check({"dout": dout, "K": K, "dx": dx}, dout.dtype)
    (_grad_x3x3 if K.shape[2:] == (3, 3) else _grad_x)(dout, K, ph, pw, dx)

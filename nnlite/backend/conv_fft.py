"""The convolution by FFT: the same forward and backward as :mod:`nnlite.ops.conv` (its twin, which the tests
hold this to within float32 rounding), computed in the frequency domain, for stride 1.

Shapes as in :mod:`nnlite.ops.conv`: x (N, C, H, W), W (F, C, KH, KW), out (N, F, OH, OW) with
``OH = H + 2*ph - KH + 1``. The transforms run over an ``L1 x L2`` grid, ``L1 >= H + 2*ph`` (the next size
pocketfft transforms fast), on the spatial-first layout ``xg[h, w, n, c] = x[n, c, h, w]``
(:func:`nnlite.kernels.layout.to_spatial_major`), so that the 2-D real FFT over the first two axes
(:func:`scipy.fft.rfft` then :func:`scipy.fft.fft`, pocketfft, in x's precision, the grid's zeros appended by
the transforms themselves) leaves the ``Q = L1 * (L2 // 2 + 1)`` frequencies as the leading axis: ``X[q]`` is an
(N, C) matrix. A circular correlation over the grid equals the linear one at every output position: with the
image at the grid's origin, the window of output ``(y, q)`` covers grid rows ``y - ph ... y - ph + KH - 1``,
and the negative ones wrap to rows ``>= L1 - ph >= H``, which hold zeros.

With ``^`` the 2-D DFT over the grid, ``*`` the complex conjugate and ``s = (ph, pw)``:

    forward  Y[q]  = X[q] @ Wc[q]         (N, C) @ (C, F)   out = irfft2(Y)[:OH, :OW] + b
    dx       DX[q] = D[q] @ Kb[q].T       (N, F) @ (F, C)   dx  = irfft2(DX)[:H, :W]
    dW       DW[q] = X[q].T @ D[q]*       (C, N) @ (N, F)   dW[u, v] = irfft2(DW)[u - ph, v - pw]  (mod L)

where ``D = dout^`` (dout at the grid's origin), ``Wc[q] = sum_{u,v} W[:, :, u, v].T e^{+2 pi i k.(u - s)/L}``
(the conjugate kernel spectrum with the padding's shift folded in) and ``Kb = Wc*`` computed from ``K = W`` (BP)
or the feedback kernel (FA). The kernel spectra and the ``dW`` read-out touch only the ``KH*KW`` taps, so they
are small real GEMMs against a table of phases (:func:`_phases`), not transforms of mostly-zero grids. The three
products are ``Q`` complex GEMMs each (stacked ``np.matmul``).

Threads: with T BLAS threads the batch is cut into T slices, each run through the whole pipeline by one thread
with one-thread BLAS and one-worker transforms (like the chunks of :mod:`nnlite.backend.conv_im2col`: one barrier
per call, not one per GEMM or transform); ``dW`` adds the slices' spectra in slice order. Why and where this is faster
than im2col, and the memory it keeps, are in docs/design.md, "Kernels and their twins";
:func:`nnlite.backend.conv.conv2d_algorithm`
chooses. The forward cache keeps ``X`` (Q x N x C complex, about ``2 * L1*L2 / (H*W)`` times x's bytes), which
the ``dW`` product needs, and nothing else.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..kernels.layout import from_spatial_major, to_spatial_major
from ..ops._checks import as_pair, conv_output_shape
from ..runtime.threads import controller
from ._split import ConvGrads, Kernel, check_dout_shape, one_thread_blas, run, slices

__all__ = ["FFTCache", "conv2d_fft_backward", "conv2d_fft_forward", "fft_grid"]


class FFTCache(NamedTuple):
    """The forward cache of the FFT path: what :func:`conv2d_fft_backward` needs."""

    x: np.ndarray  #: the input (for its shape; not read again)
    stride: int  #: always 1
    padding: tuple[int, int]
    KH: int
    KW: int
    parts: list  #: per batch slice ``(n0, n1, X)``, ``X`` the slice's (Q, n, C) input spectra


def _scipy_fft():
    """:mod:`scipy.fft`, imported on first use, after :func:`nnlite.runtime.threads.controller` has been made.

    Importing it loads scipy's own OpenBLAS, a second BLAS library beside numpy's. Made first, nnlite's controller
    holds the libraries loaded before (numpy's, which does nnlite's products), so the thread counts nnlite reads
    and the limits it sets are numpy's BLAS's. Made after, it counted scipy's library too, at its default two
    threads: under ``--threads 1`` (a limit set before the import) the convolutions ran two threads.
    """
    controller()
    import scipy.fft

    return scipy.fft


def fft_grid(H: int, W: int, ph: int, pw: int) -> tuple[int, int]:
    """``(L1, L2)``: the transform sizes, at least the padded image's, rounded up to sizes pocketfft does fast."""
    sfft = _scipy_fft()
    return sfft.next_fast_len(H + 2 * ph, real=True), sfft.next_fast_len(W + 2 * pw, real=True)


@functools.lru_cache(maxsize=64)
def _phases(L1: int, L2: int, KH: int, KW: int, ph: int, pw: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """``(E, M)`` for the taps ``t = (u, v)`` and the half-spectrum frequencies ``q = (k1, k2)``:

    ``E`` (2Q, KH*KW): the real and imaginary parts of ``e^{+2 pi i (k1 (u - ph) / L1 + k2 (v - pw) / L2)}``,
    stacked, so that ``E @ K.reshape(KH*KW, C*F)`` is ``Wc``'s parts;
    ``M`` (2*KH*KW, Q): ``Re(sum_q w_q e^{...} S[q]) / (L1 L2)`` for a half spectrum ``S`` of a real grid is
    ``M[:KK] @ S.real + M[KK:] @ S.imag`` (``w_q`` = 2 for the columns of the half spectrum that stand for two,
    1 for k2 = 0 and k2 = L2 / 2).

    Computed in float64, rounded once to ``dtype``; read-only.
    """
    K2 = L2 // 2 + 1
    k1 = np.arange(L1).reshape(L1, 1, 1, 1)
    k2 = np.arange(K2).reshape(1, K2, 1, 1)
    u = (np.arange(KH) - ph).reshape(1, 1, KH, 1)
    v = (np.arange(KW) - pw).reshape(1, 1, 1, KW)
    ang = 2 * np.pi * (k1 * u / L1 + k2 * v / L2)  # (L1, K2, KH, KW)
    ang = ang.reshape(L1 * K2, KH * KW)
    E = np.concatenate([np.cos(ang), np.sin(ang)]).astype(dtype)
    w = np.full(K2, 2.0)
    w[0] = 1.0
    if L2 % 2 == 0:
        w[-1] = 1.0
    wq = np.tile(w, L1).reshape(1, L1 * K2) / (L1 * L2)
    # Re((c + i s)(a + i b)) = c a - s b: the first KK rows meet S.real, the last KK S.imag
    M = np.concatenate([np.cos(ang).T * wq, -np.sin(ang).T * wq]).astype(dtype)
    E.setflags(write=False)
    M.setflags(write=False)
    return E, M


def _kernel_spectrum(K: np.ndarray, L1: int, L2: int, ph: int, pw: int, dtype, conj: bool) -> np.ndarray:
    """``Wc`` (Q, C, F) of the module docstring for the kernels ``K`` (F, C, KH, KW); its conjugate ``Kb``
    when ``conj``."""
    F, C, KH, KW = K.shape
    E, _ = _phases(L1, L2, KH, KW, ph, pw, np.dtype(dtype).name)
    Q = E.shape[0] // 2
    taps = np.ascontiguousarray(K.transpose(2, 3, 1, 0), dtype=dtype).reshape(KH * KW, C * F)
    parts = E @ taps  # (2Q, C*F)
    S = np.empty((Q, C, F), dtype=np.result_type(dtype, np.complex64))
    S.real = parts[:Q].reshape(Q, C, F)
    S.imag = parts[Q:].reshape(Q, C, F)
    if conj:
        np.conjugate(S, out=S)
    return S


def _spectrum(a: np.ndarray, L1: int, L2: int) -> np.ndarray:
    """The (Q, N, C) spectra of the images ``a`` (N, C, h, w) at the origin of the L1 x L2 grid."""
    N, C = a.shape[:2]
    sfft = _scipy_fft()
    g = to_spatial_major(np.ascontiguousarray(a))
    s = sfft.rfft(g, n=L2, axis=1, workers=1)  # (h, K2, N, C)
    return sfft.fft(s, n=L1, axis=0, workers=1, overwrite_x=True).reshape(-1, N, C)


def _image(S: np.ndarray, L1: int, L2: int, rows: int) -> np.ndarray:
    """The first ``rows`` rows, (rows, L2, A, B) real, of the grid whose half spectra are ``S`` (Q, A, B)."""
    _, A, B = S.shape
    sfft = _scipy_fft()
    z = sfft.ifft(S.reshape(L1, L2 // 2 + 1, A, B), axis=0, workers=1, overwrite_x=True)
    return sfft.irfft(z[:rows], n=L2, axis=1, workers=1)


def conv2d_fft_forward(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    padding: int | tuple[int, int] = 0,
) -> tuple[np.ndarray, tuple]:
    """Stride-1 convolution by FFT (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    W : ndarray, shape (F, C, KH, KW), x's dtype
    b : ndarray, shape (F,), or None
    padding : int or (int, int)

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW), C-contiguous, x's dtype
    cache : FFTCache
    """
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    ph, pw = as_pair(padding, "padding", 0)
    OH, OW = conv_output_shape(H, Wd, KH, KW, 1, (ph, pw))
    dtype = x.dtype
    L1, L2 = fft_grid(H, Wd, ph, pw)
    out = np.empty((N, F, OH, OW), dtype=dtype)
    parts_of = slices(N)

    def work(sl):
        n0, n1 = sl
        X = _spectrum(x[n0:n1], L1, L2)
        y = _image(np.matmul(X, Wc), L1, L2, OH)
        from_spatial_major(y, OH, OW, b, out=out[n0:n1])
        return n0, n1, X

    with one_thread_blas(len(parts_of) > 1):
        Wc = _kernel_spectrum(W, L1, L2, ph, pw, dtype, conj=False)
        parts = run(work, parts_of)
    return out, FFTCache(x, 1, (ph, pw), KH, KW, parts)


def conv2d_fft_backward(
    dout: np.ndarray, cache: tuple, W: np.ndarray, feedback: Kernel = None, need_dx: bool = True, need_db: bool = True
) -> ConvGrads:
    """Gradients of :func:`conv2d_fft_forward` (the arguments and results of
    :func:`nnlite.backend.conv.conv2d_backward`)."""
    x, _, (ph, pw), KH, KW, parts = cache
    F = W.shape[0]
    N, C, H, Wd = x.shape
    OH, OW = H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1
    check_dout_shape(dout, (N, F, OH, OW))
    dtype = x.dtype
    L1, L2 = fft_grid(H, Wd, ph, pw)
    dx = np.empty((N, C, H, Wd), dtype=dtype) if need_dx else None

    def work(part):
        n0, n1, X = part
        D = _spectrum(dout[n0:n1], L1, L2)  # (Q, n, F)
        if dx is not None:
            g = _image(np.matmul(D, Kb.transpose(0, 2, 1)), L1, L2, H)  # (H, L2, n, C)
            from_spatial_major(g, H, Wd, out=dx[n0:n1])
        np.conjugate(D, out=D)
        return np.matmul(X.transpose(0, 2, 1), D)  # (Q, C, F)

    _, M = _phases(L1, L2, KH, KW, ph, pw, np.dtype(dtype).name)
    KK = KH * KW
    with one_thread_blas(len(parts) > 1):
        if need_dx:
            Kb = _kernel_spectrum(W if feedback is None else feedback, L1, L2, ph, pw, dtype, conj=True)
        DWs = run(work, parts)
        DW = DWs[0]
        for more in DWs[1:]:
            DW += more
        R = M @ DW.view(dtype).reshape(M.shape[1], 2 * C * F)  # (2KK, C*F*2): columns (c, f, real/imag)
    taps = R[:KK, 0::2] + R[KK:, 1::2]  # (KK, C*F)
    dW = np.ascontiguousarray(taps.reshape(KH, KW, C, F).transpose(3, 2, 0, 1))
    db = dout.sum(axis=(0, 2, 3), dtype=dtype) if need_db else None
    return dx, dW, db

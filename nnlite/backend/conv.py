"""Convolutions: the choice of algorithm, and the one entry point the layers call.

The maths is :mod:`nnlite.ops.conv` (im2col and three GEMMs over the whole batch), which runs as it is when the
fused kernels are off. With them on, a convolution runs one of three schedules of the same sums, each its own
module of this package: im2col chunks spread over threads (:mod:`~nnlite.backend.conv_im2col`, any stride), the
FFT (:mod:`~nnlite.backend.conv_fft`, stride 1) and direct loops for few input channels
(:mod:`~nnlite.backend.conv_direct`, stride 1); they split the batch with :mod:`~nnlite.backend._split`.
``algorithm="auto"`` asks :func:`conv2d_algorithm`, a cost model fitted to timed shapes (docs/design.md, "Kernels and
their twins").
Their caches differ, and :func:`conv2d_backward` hands each to its own backward pass.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ..ops import conv as _ops
from ..ops._checks import conv_output_shape
from ._split import pairs
from ._switch import fused_on
from .conv_direct import DIRECT_CHANNELS, DirectCache, conv2d_direct_backward, conv2d_direct_forward
from .conv_fft import FFTCache, conv2d_fft_backward, conv2d_fft_forward, fft_grid
from .conv_im2col import (
    CHUNK_BYTES,
    PER_SAMPLE_OUTPUTS,
    check_chunk,
    conv2d_chunk_size,
    im2col_backward,
    im2col_forward,
)

__all__ = [
    "ALGORITHMS",
    "CHUNK_BYTES",
    "PER_SAMPLE_OUTPUTS",
    "conv2d_algorithm",
    "conv2d_backward",
    "conv2d_chunk_size",
    "conv2d_forward",
]

#: The convolution algorithms: "im2col" (:mod:`nnlite.backend.conv_im2col`'s chunks), "fft"
#: (:mod:`nnlite.backend.conv_fft`, stride 1 only), "direct" (:mod:`nnlite.backend.conv_direct`, stride 1 only) and
#: "auto", which asks :func:`conv2d_algorithm`.
ALGORITHMS = ("auto", "im2col", "fft", "direct")

#: The cost model behind :func:`conv2d_algorithm`, seconds per 1e9 units, fitted (non-negative least squares on
#: relative error) to 88 shapes timed at one thread (C 1-128, F 32-64, 3x3 and 5x5 kernels, 7-32 pixels wide,
#: C*F*H*W up to 1.1 x 128*64*16*16; ``python -m benchmarks conv --sweep`` reruns it, docs/design.md, "Kernels and
#: their twins").
#: im2col: the three GEMMs per (sample, position, tap, C, F), the unfold and col2im per (sample, position, tap,
#: C), the output's reordering per (sample, position, F). FFT: the three complex GEMMs per (sample, frequency,
#: C, F), the transforms per (sample, channel of C + F, grid point x log2 of the grid).
IM2COL_COST = (0.058, 1.2, 2.35)
FFT_COST = (0.48, 1.37)
#: "auto" takes the FFT only when the model gives it this fraction of im2col's time or less: near the line the
#: model's error decides (docs/design.md, "Kernels and their twins" has its mis-picks), and im2col is the reference
#: algorithm.
FFT_MARGIN = 0.9


def conv2d_algorithm(
    C: int,
    H: int,
    W: int,
    F: int,
    KH: int,
    KW: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dtype: DTypeLike = np.float32,
    wdtype: DTypeLike | None = None,
) -> str:
    """The algorithm that is faster for this convolution: "direct" for a 3x3 kernel on at most
    :data:`nnlite.backend.conv_direct.DIRECT_CHANNELS` input channels, else "fft" or "im2col" by the cost model
    :data:`IM2COL_COST` / :data:`FFT_COST` (the batch size cancels out). "direct" and "fft" are considered for
    stride 1 and one dtype only."""
    (sh, sw), (ph, pw) = pairs(stride, padding)
    if (sh, sw) != (1, 1) or (wdtype is not None and np.dtype(wdtype) != np.dtype(dtype)):
        return "im2col"
    if (KH, KW) == (3, 3) and C <= DIRECT_CHANNELS:
        return "direct"
    OH, OW = conv_output_shape(H, W, KH, KW, 1, (ph, pw))
    L1, L2 = fft_grid(H, W, ph, pw)
    P, KK, Q = OH * OW, KH * KW, L1 * (L2 // 2 + 1)
    t_im2col = IM2COL_COST[0] * P * KK * C * F + IM2COL_COST[1] * P * KK * C + IM2COL_COST[2] * P * F
    t_fft = FFT_COST[0] * Q * C * F + FFT_COST[1] * (C + F) * L1 * L2 * np.log2(L1 * L2)
    return "fft" if t_fft <= FFT_MARGIN * t_im2col else "im2col"


def _pick(algorithm, x, W, stride, padding) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    (sh, sw), _ = pairs(stride, 0)
    what = {"fft": "FFT", "direct": "direct"}.get(algorithm)
    if what and (sh, sw) != (1, 1):
        raise ValueError(f"the {what} convolution is for stride 1 only, got stride {stride!r}; use 'im2col' or 'auto'")
    if what and x.dtype != W.dtype:
        raise TypeError(f"the {what} convolution needs x and W of one dtype, got {x.dtype} and {W.dtype}")
    if algorithm != "auto":
        return algorithm
    F, C, KH, KW = W.shape
    return conv2d_algorithm(C, x.shape[2], x.shape[3], F, KH, KW, stride, padding, x.dtype, W.dtype)


def conv2d_forward(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    *,
    chunk: int | None = None,
    algorithm: str = "im2col",
) -> tuple[np.ndarray, tuple]:
    """Convolution by im2col and one GEMM per chunk of samples, or by FFT or direct loops (``algorithm``); with
    the fused kernels off (:func:`nnlite.backend.fused_kernels`), by :func:`nnlite.ops.conv.conv2d_forward`.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    W : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), or None
    stride : int or (int, int)
    padding : int or (int, int)
        Zero padding on every side.
    chunk : int or None
        Samples per chunk (the last one may be smaller); None picks :func:`conv2d_chunk_size`.
    algorithm : {"im2col", "fft", "direct", "auto"}
        "im2col" runs :func:`nnlite.backend.conv_im2col.im2col_forward`, "fft"
        :func:`nnlite.backend.conv_fft.conv2d_fft_forward` and "direct"
        :func:`nnlite.backend.conv_direct.conv2d_direct_forward` (both stride 1, x and W of one dtype); each
        returns its own cache, which :func:`conv2d_backward` recognises; "auto" picks by :func:`conv2d_algorithm`.

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW), C-contiguous, dtype of ``W2 @ cols`` (x's dtype when W's is x's)
    cache : ChunkedCache, FFTCache, DirectCache or ConvCache (fused kernels off)
        im2col's ``(x, stride, padding, KH, KW, chunk)`` with ``x`` C-contiguous (the input itself when it
        already is: it must not be changed in place before the backward pass). No columns are kept.

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, y*stride + i, q*stride + j]``,
    computed as the module docstring says (the bias a last tap when ``b``, ``W`` and ``x`` share a dtype).
    With T > 1 BLAS threads (threadpoolctl), the chunks are dealt to T threads that each run one-thread BLAS.
    """
    if chunk is not None:  # checked whichever algorithm runs (only im2col's chunks use it)
        check_chunk(chunk)
    picked = _pick(algorithm, x, W, stride, padding)
    if not fused_on():
        return _ops.conv2d_forward(x, W, b, stride, padding)
    x = np.ascontiguousarray(x)  # the kernels' layout; no copy when x already is
    if picked == "fft":
        return conv2d_fft_forward(x, W, b, padding)
    if picked == "direct":
        return conv2d_direct_forward(x, W, b, padding)
    return im2col_forward(x, W, b, stride, padding, chunk)


def conv2d_backward(
    dout: np.ndarray,
    cache: tuple,
    W: np.ndarray,
    *,
    feedback: np.ndarray | None = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the convolution, by the algorithm of the forward pass that made ``cache``.

    Parameters
    ----------
    dout : ndarray, shape (N, F, OH, OW)
        ``dL/dout``.
    cache : tuple
        From :func:`conv2d_forward`.
    W : ndarray, shape (F, C, KH, KW)
    feedback : ndarray, shape (F, C, KH, KW), optional
        Kernel used in place of ``W`` to send the error down (Feedback Alignment).
    need_dx : bool
        When False the ``dx`` product and the col2im are skipped and ``dx`` is None.
    need_db : bool
        When False (no bias) ``db`` is None.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None
    dW : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,), or None

    Notes
    -----
    With ``D2[f, (n, y, q)] = dout[n, f, y, q]``:
    ``dW[f, c, i, j] = sum_{n, y, q} dout[n, f, y, q] * xpad[n, c, y*stride + i, q*stride + j]``
    = ``D2 @ cols.T`` = ``sum_c (cols_c @ D2_c.T).T`` over the chunks (``cols_c = im2col(x_c)`` recomputed);
    ``db[f] = sum_{n, y, q} dout[n, f, y, q]`` = ``sum_c D2_c.sum(axis=1)``;
    ``dx_c = col2im(K.reshape(F, -1).T @ D2_c)`` with ``K = W`` (BP) or ``K = feedback`` (FA): every input
    pixel collects ``K[f, c, i, j] * dout[n, f, y, q]`` from each output position whose window covers it.
    ``(cols_c @ D2_c.T).T``, not ``D2_c @ cols_c.T``: OpenBLAS ran this orientation faster
    (docs/measurements.md). With T threads, thread t sums every T-th chunk and the T partial sums are added in
    thread order. An FFT, direct or NumPy cache (:class:`~nnlite.backend.conv_fft.FFTCache`,
    :class:`~nnlite.backend.conv_direct.DirectCache`, :class:`~nnlite.ops.conv.ConvCache`) is handed to its own
    backward pass.
    """
    if isinstance(cache, _ops.ConvCache):
        return _ops.conv2d_backward(dout, cache, W, feedback=feedback, need_dx=need_dx, need_db=need_db)
    if isinstance(cache, FFTCache):
        return conv2d_fft_backward(dout, cache, W, feedback, need_dx, need_db)
    if isinstance(cache, DirectCache):
        return conv2d_direct_backward(dout, cache, W, feedback, need_dx, need_db)
    return im2col_backward(dout, cache, W, feedback, need_dx, need_db)

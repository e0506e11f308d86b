"""The convolution executor: :mod:`nnlite.ops.conv`'s im2col and three GEMMs, run chunk by chunk over the batch
and spread over threads. The maths is :mod:`nnlite.ops.conv` (its twin, which the tests hold this to); this
module only decides how the same products are scheduled.

Shapes: x (N, C, H, W), W (F, C, KH, KW), b (F,), out (N, F, OH, OW) with
``OH = (H + 2*padding - KH) // stride + 1`` and ``OW`` likewise. ``P = OH*OW`` positions per image.

The patches of a chunk of ``n_c`` samples ``x_c`` are unfolded by :func:`nnlite.kernels.im2col` into ``cols_c``
of shape (C*KH*KW, n_c*P) (rows ordered (C, KH, KW) like ``W``'s last three axes, columns ordered (n, OH, OW)),
so that the forward pass, ``dW`` and the columns of ``dx`` are GEMMs (BLAS) on plain 2-D matrices:

    forward  out_n  = [W2 | b] @ [cols_n ; 1]   (F, C*KH*KW + 1) @ (C*KH*KW + 1, P) -> (F, P), per sample n
             out_c  = W2 @ cols_c               (F, C*KH*KW) @ (C*KH*KW, n_c*P) -> (F, n_c*P), or per chunk
    dW             += (cols_c @ D2_c.T).T        (C*KH*KW, n_c*P) @ (n_c*P, F)   -> (F, C*KH*KW), per chunk
    dx     dcols_c  = W2.T @ D2_c,  dx_c = col2im(dcols_c)

with ``W2 = W.reshape(F, -1)``, ``cols_n`` sample n's P columns of ``cols_c`` and ``D2_c`` the chunk's output
gradient laid out as (F, n_c*P). Per sample, the product lands in ``out[n]`` in its layout; per chunk, it is
reordered from (F, n_c, P) to (n_c, F, P), one more pass, cheaper than many calls for small outputs.

Why chunks: the full-batch ``cols`` is ``C*KH*KW / C`` times larger than ``x`` (25x for 5x5 kernels: 210 MB
for 128x64x16x16). Written once and read by two GEMMs, it streamed from memory and paid first-touch page faults
on every call. A chunk's columns (a few MB, see :func:`conv2d_chunk_size`) live in one buffer reused across the
chunks of a call, stay in cache between the im2col and the GEMM that reads them, and are not kept: the cache
holds ``x`` only and the backward pass unfolds each chunk again (one im2col more per step, for a cache 25x
smaller). The chunks change only the order in which ``dW`` and ``db`` add up the samples; the bias as a tap
changes where it joins each output's sum. Both are rounding-level differences from :mod:`nnlite.ops.conv`.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
from numpy.typing import DTypeLike

from .._threads import blas_limit, blas_threads_now, parallel_map
from ._checks import conv_output_shape
from .conv import col2im, im2col

__all__ = [
    "ALGORITHMS",
    "CHUNK_BYTES",
    "PER_SAMPLE_OUTPUTS",
    "conv2d_algorithm",
    "conv2d_backward",
    "conv2d_chunk_size",
    "conv2d_forward",
]

#: The convolution algorithms: "im2col" (this module's chunks), "fft" (:mod:`nnlite.kernels.conv_fft`, stride 1
#: only), "direct" (:mod:`nnlite.kernels.conv_direct`, stride 1 only) and "auto", which asks
#: :func:`conv2d_algorithm`.
ALGORITHMS = ("auto", "im2col", "fft", "direct")

#: The cost model behind :func:`conv2d_algorithm`, seconds per 1e9 units, fitted (non-negative least squares on
#: relative error) to 88 shapes timed at one thread (C 1-128, F 32-64, 3x3 and 5x5 kernels, 7-32 pixels wide,
#: C*F*H*W up to 1.1 x 128*64*16*16; ``python -m benchmarks conv --sweep`` reruns it, docs/design.md §7).
#: im2col: the three GEMMs per (sample, position, tap, C, F), the unfold and col2im per (sample, position, tap,
#: C), the output's reordering per (sample, position, F). FFT: the three complex GEMMs per (sample, frequency,
#: C, F), the transforms per (sample, channel of C + F, grid point x log2 of the grid).
IM2COL_COST = (0.058, 1.2, 2.35)
FFT_COST = (0.48, 1.37)
#: "auto" takes the FFT only when the model gives it this fraction of im2col's time or less: near the line the
#: model's error decides (docs/design.md §7 has its mis-picks), and im2col is the reference algorithm.
FFT_MARGIN = 0.9

#: The forward pass runs one product per sample when a sample's output has at least this many elements (F*P), else
#: one per chunk (docs/design.md §7 has the timings either side of it).
PER_SAMPLE_OUTPUTS = 16384

#: Target size in bytes of one chunk's columns ``cols_c`` (C*KH*KW x n_c*P): a few MB, near a core's L2 (docs/design.md
#: §7 has what other sizes measured; ``python -m benchmarks conv --chunks`` times chunk counts).
CHUNK_BYTES = 2 << 20


def conv2d_chunk_size(C: int, KH: int, KW: int, P: int, itemsize: int, target_bytes: int | None = None) -> int:
    """Samples per chunk: as many as keep ``cols_c`` (``C*KH*KW * n_c*P * itemsize`` bytes) within
    ``target_bytes`` (default :data:`CHUNK_BYTES`), at least one."""
    target = CHUNK_BYTES if target_bytes is None else int(target_bytes)
    return max(1, target // max(1, C * KH * KW * P * itemsize))


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
    :data:`nnlite.kernels.conv_direct.DIRECT_CHANNELS` input channels, else "fft" or "im2col" by the cost model
    :data:`IM2COL_COST` / :data:`FFT_COST` (the batch size cancels out). "direct" and "fft" are considered for
    stride 1 and one dtype only."""
    from .conv_direct import DIRECT_CHANNELS

    (sh, sw), (ph, pw) = (p if isinstance(p, tuple) else (p, p) for p in (stride, padding))
    if (sh, sw) != (1, 1) or (wdtype is not None and np.dtype(wdtype) != np.dtype(dtype)):
        return "im2col"
    if (KH, KW) == (3, 3) and C <= DIRECT_CHANNELS:
        return "direct"
    from .conv_fft import fft_grid

    OH, OW = conv_output_shape(H, W, KH, KW, 1, (ph, pw))
    L1, L2 = fft_grid(H, W, ph, pw)
    P, KK, Q = OH * OW, KH * KW, L1 * (L2 // 2 + 1)
    t_im2col = IM2COL_COST[0] * P * KK * C * F + IM2COL_COST[1] * P * KK * C + IM2COL_COST[2] * P * F
    t_fft = FFT_COST[0] * Q * C * F + FFT_COST[1] * (C + F) * L1 * L2 * np.log2(L1 * L2)
    return "fft" if t_fft <= FFT_MARGIN * t_im2col else "im2col"


def _pick(algorithm, x, W, stride, padding) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    (sh, sw) = stride if isinstance(stride, tuple) else (stride, stride)
    what = {"fft": "FFT", "direct": "direct"}.get(algorithm)
    if what and (sh, sw) != (1, 1):
        raise ValueError(f"the {what} convolution is for stride 1 only, got stride {stride!r}; use 'im2col' or 'auto'")
    if what and x.dtype != W.dtype:
        raise TypeError(f"the {what} convolution needs x and W of one dtype, got {x.dtype} and {W.dtype}")
    if algorithm != "auto":
        return algorithm
    F, C, KH, KW = W.shape
    return conv2d_algorithm(C, x.shape[2], x.shape[3], F, KH, KW, stride, padding, x.dtype, W.dtype)


def _check_chunk(chunk):
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer (samples per chunk) or None, got {chunk!r}")
    return int(chunk)


def _chunk(chunk, N, C, KH, KW, P, itemsize, workers):
    """Samples per chunk: ``chunk`` or the cache-sized default, evened out so the chunks split into equal
    groups over ``workers`` threads."""
    if chunk is None:
        nc = conv2d_chunk_size(C, KH, KW, P, itemsize)
    else:
        return max(1, min(_check_chunk(chunk), N))
    if N <= 1:
        return 1
    n_chunks = -(-N // min(nc, N))
    n_chunks = -(-n_chunks // workers) * workers if N >= workers else n_chunks
    return -(-N // n_chunks)


def _workers(n):
    """Threads to spread ``n`` chunks over: the BLAS thread count in force (:func:`nnlite._threads.blas_threads_now`),
    at most ``n`` and the CPUs."""
    if n < 2:
        return 1
    return max(1, min(blas_threads_now(), n, os.cpu_count() or 1))


def one_thread_blas(active: bool = True) -> contextlib.AbstractContextManager:
    """One BLAS thread inside the block when ``active``: for the work around a :func:`_run`, since a 2-thread
    OpenBLAS GEMM just before the pool leaves its worker spinning on a core one of the pool's threads needs
    (docs/design.md §7, the FFT convolution)."""
    return blas_limit(1) if active else contextlib.nullcontext()


def _run(fn, groups):
    """``[fn(g) for g in groups]``; with several groups in a thread pool, each running one-thread BLAS.

    The threads are the parallelism: one BLAS thread each, one barrier per call instead of one per GEMM. On a
    loaded 2-core machine, two OpenBLAS threads per small GEMM stalled at every GEMM's barrier (2-thread
    chunked conv 3-10x slower than 1 thread); whole groups of chunks per thread do not.
    """
    if len(groups) == 1:
        return [fn(groups[0])]
    with blas_limit(1):
        return parallel_map(fn, groups)


def _groups(N, nc, workers):
    """Chunk starts dealt round-robin to ``workers`` groups (a fixed assignment: results do not depend on
    which thread finishes first)."""
    starts = list(range(0, N, nc))
    workers = max(1, min(workers, len(starts)))
    return [starts[k::workers] for k in range(workers)]


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
    """Convolution by im2col and one GEMM per chunk of samples (or by FFT, see ``algorithm``).

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
        "fft" runs :func:`nnlite.kernels.conv_fft.conv2d_fft_forward` and "direct"
        :func:`nnlite.kernels.conv_direct.conv2d_direct_forward` (both stride 1, x and W of one dtype), and
        return their caches, which :func:`conv2d_backward` recognises; "auto" picks by :func:`conv2d_algorithm`.

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW), C-contiguous, dtype of ``W2 @ cols`` (x's dtype when W's is x's)
    cache : tuple
        ``(x, stride, padding, KH, KW, chunk)`` with ``x`` C-contiguous (the input itself when it already
        is: it must not be changed in place before the backward pass). No columns are kept.

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, y*stride + i, q*stride + j]``,
    computed as the module docstring says (the bias a last tap when ``b``, ``W`` and ``x`` share a dtype).
    With T > 1 BLAS threads (threadpoolctl), the chunks are dealt to T threads that each run one-thread BLAS.
    """
    x = np.ascontiguousarray(x)
    if chunk is not None:  # checked whichever algorithm runs (only im2col's chunks use it)
        _check_chunk(chunk)
    picked = _pick(algorithm, x, W, stride, padding)
    if picked == "fft":
        from .conv_fft import conv2d_fft_forward

        return conv2d_fft_forward(x, W, b, padding)
    if picked == "direct":
        from .conv_direct import conv2d_direct_forward

        return conv2d_direct_forward(x, W, b, padding)
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    OH, OW = conv_output_shape(H, Wd, KH, KW, stride, padding)
    P = OH * OW
    CK = C * KH * KW
    workers = _workers(N)
    nc = _chunk(chunk, N, C, KH, KW, P, x.itemsize, workers)
    W2 = W.reshape(F, CK)
    dtype = np.result_type(W2.dtype, x.dtype)
    out = np.empty((N, F, OH, OW), dtype=dtype)
    per_sample = nc == 1 or F * P >= PER_SAMPLE_OUTPUTS
    # per sample, the bias is one more tap: a column of W2 against a row of ones under the columns (when b, W and
    # x share a dtype: the product then rounds as W2 @ cols + b would, up to the order of the sum's terms)
    ones = per_sample and b is not None and b.dtype == W2.dtype == x.dtype
    R = CK + 1 if ones else CK
    Wa = np.concatenate([W2, b.reshape(F, 1)], axis=1) if ones and b is not None else W2
    bias = None if b is None or ones else b.reshape(F, 1)

    def chunks(starts):
        cbuf = np.empty(R * nc * P, dtype=x.dtype)  # one chunk's columns (and the row of ones), reused
        abuf = None if per_sample else np.empty(F * nc * P, dtype=dtype)
        for n0 in starts:
            m = min(nc, N - n0)
            cols = cbuf[: R * m * P].reshape(R, m * P)
            im2col(x[n0 : n0 + m], KH, KW, stride, padding, out=cols[:CK])
            if ones:
                cols[CK] = 1
            if per_sample:  # each sample's (F, P) product straight into out[n0 + i], in its layout
                for i in range(m):
                    dst = out[n0 + i].reshape(F, P)
                    np.matmul(Wa, cols[:, i * P : (i + 1) * P], out=dst)
                    if bias is not None:
                        np.add(dst, bias, out=dst)
                continue
            assert abuf is not None  # one product for the chunk, reordered into out with the bias added
            a = np.matmul(W2, cols, out=abuf[: F * m * P].reshape(F, m * P))
            src = a.reshape(F, m, P).transpose(1, 0, 2)
            dst3 = out[n0 : n0 + m].reshape(m, F, P)
            if bias is None:
                dst3[...] = src
            else:
                np.add(src, bias, out=dst3)

    _run(chunks, _groups(N, nc, workers))
    return out, (x, stride, padding, KH, KW, nc)


def check_dout_shape(dout: object, shape: tuple[int, ...]) -> None:
    """ValueError unless ``dout`` has the forward output's ``shape`` (both backward paths check it first)."""
    if getattr(dout, "shape", None) != shape:
        raise ValueError(
            f"conv2d_backward: dout has shape {getattr(dout, 'shape', type(dout).__name__)}, but the forward "
            f"pass's output has shape {shape}"
        )


def conv2d_backward(
    dout: np.ndarray,
    cache: tuple,
    W: np.ndarray,
    *,
    feedback: np.ndarray | None = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the convolution, chunk by chunk (the chunks of the forward pass).

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
    ``(cols_c @ D2_c.T).T``, not ``D2_c @ cols_c.T``: OpenBLAS ran this orientation faster (README). With T
    threads, thread t sums every T-th chunk and the T partial sums are added in thread order. An FFT or direct
    cache (:class:`~nnlite.kernels.conv_fft.FFTCache`, :class:`~nnlite.kernels.conv_direct.DirectCache`) is
    handed to its own backward pass.
    """
    from .conv_direct import DirectCache, conv2d_direct_backward
    from .conv_fft import FFTCache, conv2d_fft_backward

    if isinstance(cache, FFTCache):
        return conv2d_fft_backward(dout, cache, W, feedback=feedback, need_dx=need_dx, need_db=need_db)
    if isinstance(cache, DirectCache):
        return conv2d_direct_backward(dout, cache, W, feedback=feedback, need_dx=need_dx, need_db=need_db)
    x, stride, padding, KH, KW, nc = cache
    F = W.shape[0]
    N, C = x.shape[:2]
    (sh, sw), (ph, pw) = (p if isinstance(p, tuple) else (p, p) for p in (stride, padding))
    OH, OW = (x.shape[2] + 2 * ph - KH) // sh + 1, (x.shape[3] + 2 * pw - KW) // sw + 1
    check_dout_shape(dout, (N, F, OH, OW))  # the chunked loop would slice a larger dout silently
    dout = np.ascontiguousarray(dout)
    P = dout.shape[2] * dout.shape[3]
    CK = C * KH * KW
    K2 = (W if feedback is None else feedback).reshape(F, CK)
    dtype = np.result_type(x.dtype, dout.dtype)
    dx = None
    if need_dx:
        dx = np.empty(x.shape, dtype=np.result_type(K2.dtype, dout.dtype))

    def chunks(starts):
        dWt = np.zeros((CK, F), dtype=dtype)  # dW.T summed over these chunks
        tmp = np.empty((CK, F), dtype=dtype) if len(starts) > 1 else None
        db = np.zeros(F, dtype=dout.dtype) if need_db else None
        cbuf = np.empty(CK * nc * P, dtype=x.dtype)  # one chunk's columns, then its dcols
        dbuf = np.empty(F * nc * P, dtype=dout.dtype) if nc > 1 else None
        xbuf = cbuf if dx is None or dx.dtype == x.dtype else np.empty(CK * nc * P, dtype=dx.dtype)
        for k, n0 in enumerate(starts):
            m = min(nc, N - n0)
            cols = im2col(x[n0 : n0 + m], KH, KW, stride, padding, out=cbuf[: CK * m * P].reshape(CK, m * P))
            if m == 1:
                D2 = dout[n0].reshape(F, P)
            else:
                assert dbuf is not None
                D2 = dbuf[: F * m * P].reshape(F, m * P)
                D2.reshape(F, m, P)[...] = dout[n0 : n0 + m].reshape(m, F, P).transpose(1, 0, 2)
            if k == 0:
                np.matmul(cols, D2.T, out=dWt)
            else:
                dWt += np.matmul(cols, D2.T, out=tmp)
            if db is not None:
                db += D2.sum(axis=1)
            if dx is not None:  # cols_c is spent: its buffer takes dcols_c
                dcols = np.matmul(K2.T, D2, out=xbuf[: CK * m * P].reshape(CK, m * P))
                col2im(dcols, (m,) + x.shape[1:], KH, KW, stride, padding, out=dx[n0 : n0 + m])
        return dWt, db

    parts = _run(chunks, _groups(N, nc, _workers(-(-N // nc))))
    dWt, db = parts[0]
    for dWt_k, db_k in parts[1:]:
        dWt += dWt_k
        if need_db:
            db += db_k
    dW = np.ascontiguousarray(dWt.T).reshape(W.shape)
    return dx, dW, db

"""The im2col convolution: :mod:`nnlite.ops.conv`'s im2col and three GEMMs, run chunk by chunk over the batch
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

from typing import Any, NamedTuple

import numpy as np

from ..kernels import col2im, conv_output_shape, im2col
from . import _split, products
from ._split import ConvGrads, Kernel, check_dout_shape, groups, pairs, run

__all__ = [
    "CHUNK_BYTES",
    "PER_SAMPLE_OUTPUTS",
    "ChunkedCache",
    "check_chunk",
    "conv2d_chunk_size",
    "im2col_backward",
    "im2col_forward",
]

#: The forward pass runs one product per sample when a sample's output has at least this many elements (F*P), else
#: one per chunk (docs/design.md, "Kernels and their twins" has the timings either side of it).
PER_SAMPLE_OUTPUTS = 16384

#: Target size in bytes of one chunk's columns ``cols_c`` (C*KH*KW x n_c*P): a few MB, near a core's L2 (docs/design.md,
#: "Kernels and their twins", has what other sizes measured; ``python -m benchmarks conv --chunks`` times chunk counts).
CHUNK_BYTES = 2 << 20


def conv2d_chunk_size(C: int, KH: int, KW: int, P: int, itemsize: int, target_bytes: int | None = None) -> int:
    """Samples per chunk: as many as keep ``cols_c`` (``C*KH*KW * n_c*P * itemsize`` bytes) within
    ``target_bytes`` (default :data:`CHUNK_BYTES`), at least one."""
    target = CHUNK_BYTES if target_bytes is None else int(target_bytes)
    return max(1, target // max(1, C * KH * KW * P * itemsize))


class ChunkedCache(NamedTuple):
    """The forward cache of :func:`im2col_forward`: the input (C-contiguous), the geometry and the chunk size; no
    columns."""

    x: np.ndarray
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    KH: int
    KW: int
    chunk: int


def check_chunk(chunk: Any) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer (samples per chunk) or None, got {chunk!r}")
    return int(chunk)


def _chunk(chunk, N, C, KH, KW, P, itemsize, workers):
    """Samples per chunk: ``chunk`` or the cache-sized default, evened out so the chunks split into equal
    groups over ``workers`` threads."""
    if chunk is None:
        nc = conv2d_chunk_size(C, KH, KW, P, itemsize)
    else:
        return max(1, min(check_chunk(chunk), N))
    if N <= 1:
        return 1
    n_chunks = -(-N // min(nc, N))
    n_chunks = -(-n_chunks // workers) * workers if N >= workers else n_chunks
    return -(-N // n_chunks)


def im2col_forward(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None,
    stride: int | tuple[int, int],
    padding: int | tuple[int, int],
    chunk: int | None,
) -> tuple[np.ndarray, ChunkedCache]:
    """:func:`nnlite.backend.conv.conv2d_forward` by im2col chunks (``x`` C-contiguous; see the module docstring)."""
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    OH, OW = conv_output_shape(H, Wd, KH, KW, stride, padding)
    P = OH * OW
    CK = C * KH * KW
    n_workers = _split.workers(N)
    nc = _chunk(chunk, N, C, KH, KW, P, x.itemsize, n_workers)
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
                    products.matmul(Wa, cols[:, i * P : (i + 1) * P], out=dst)
                    if bias is not None:
                        np.add(dst, bias, out=dst)
                continue
            assert abuf is not None  # one product for the chunk, reordered into out with the bias added
            a = products.matmul(W2, cols, out=abuf[: F * m * P].reshape(F, m * P))
            src = a.reshape(F, m, P).transpose(1, 0, 2)
            dst3 = out[n0 : n0 + m].reshape(m, F, P)
            if bias is None:
                dst3[...] = src
            else:
                np.add(src, bias, out=dst3)

    run(chunks, groups(N, nc, n_workers))
    return out, ChunkedCache(x, stride, padding, KH, KW, nc)


def im2col_backward(
    dout: np.ndarray, cache: tuple, W: np.ndarray, feedback: Kernel = None, need_dx: bool = True, need_db: bool = True
) -> ConvGrads:
    """:func:`nnlite.backend.conv.conv2d_backward` for the cache of :func:`im2col_forward`, chunk by chunk (the
    forward pass's chunks)."""
    x, stride, padding, KH, KW, nc = cache
    F = W.shape[0]
    N, C = x.shape[:2]
    (sh, sw), (ph, pw) = pairs(stride, padding)
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
            # the chunks' dW.T accumulate in one GEMM each (beta = 1 after the first): no temporary, no extra pass
            products.gemm(cols, D2.T, dWt, beta=0.0 if k == 0 else 1.0)
            if db is not None:
                db += D2.sum(axis=1)
            if dx is not None:  # cols_c is spent: its buffer takes dcols_c
                dcols = products.matmul(K2.T, D2, out=xbuf[: CK * m * P].reshape(CK, m * P))
                col2im(dcols, (m,) + x.shape[1:], KH, KW, stride, padding, out=dx[n0 : n0 + m])
        return dWt, db

    parts = run(chunks, groups(N, nc, _split.workers(-(-N // nc))))
    dWt, db = parts[0]
    for dWt_k, db_k in parts[1:]:
        dWt += dWt_k
        if need_db:
            db += db_k
    dW = np.ascontiguousarray(dWt.T).reshape(W.shape)
    return dx, dW, db

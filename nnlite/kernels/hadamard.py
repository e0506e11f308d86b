"""Fast Walsh–Hadamard transform (unnormalised, Sylvester order), in place, batched over leading axes.

Structure of the jitted kernel (each row of length ``n = 2^p`` separately):

1. The row is cut into blocks of ``_BLOCK_BYTES`` (16 KiB: 4096 float32 or 2048 float64, L1-resident), and
   every stage with span < block size runs inside one block before moving on:

   * spans 1, 2, 4, 8 (the ones inside a SIMD register) by :func:`_lanes16`: 16 contiguous elements as one
     LLVM ``<16 x float>`` vector, each stage a lane permutation plus a multiply-add by a constant
     ``+-1`` vector (``v * sign + permute(v)``; on AVX2/AVX-512 one shuffle and one FMA per stage).
     Numba cannot express lane shuffles, and LLVM's auto-vectoriser turns the scalar 8/16-point butterfly
     into an interleaved load with many ``vpermt2ps`` (float32, ~13 Gop/s) or into gathers/scatters
     (float64, ~2.5 Gop/s), so this is a small ``numba.extending.intrinsic`` that emits the vector IR;
   * spans 16 ... block/2 by radix-8 passes (three stages per read/write of the block, 8 streams
     ``y[j + k h]``, the inner ``j`` loop contiguous and vectorised), called with literal spans
     (16, 128, 1024) so that after inlining LLVM sees constant trip counts (a runtime span of 8 or 16
     left the inner loop shorter than the vector loop and it ran scalar in the first kernel).

2. The stages with span >= block run over the whole row (L2-resident up to 2^16 float32), radix-8 first.

Why the loops look the way they do: indices are unsigned (``np.uint64``) or derived from ``range``;
a signed index that LLVM cannot prove non-negative carries Numba's wraparound ``select``, which blocks
vectorisation. No ``fastmath``: nothing here needs reassociation, and without it every grouping of
stages rounds exactly like the textbook stage-by-stage loop (spans 1, 2, 4, ... in order), which the
tests check bit for bit. ``_lanes16`` computes ``p - v`` as ``fma(v, -1, p)``: multiplication by
``+-1`` is exact, so this is the same single rounding as a subtraction.

Under ``NUMBA_DISABLE_JIT=1`` the intrinsic is replaced by a pure-Python 16-point butterfly with the
same arithmetic.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._checks import FLOAT_DTYPES

__all__ = ["fwht"]

_BLOCK_BYTES = 16384  # per in-cache block: 4096 float32 / 2048 float64 elements (must be <= 8192 elements)
_LANES = 16  # elements handled by one _lanes16 call (spans 1, 2, 4, 8)


def _lanes16_python(y, k):
    # Spans 1, 2, 4, 8 on y[k:k+16], stage by stage (fallback when the JIT is disabled).
    for s in (1, 2, 4, 8):
        for i in range(k, k + 16):
            if not (i - k) & s:
                a = y[i]
                b = y[i + s]
                y[i] = a + b
                y[i + s] = a - b


@intrinsic
def _lanes16_ir(typingctx, y, k):
    """Spans 1, 2, 4, 8 on ``y[k:k+16]`` as one 16-lane vector; the caller guarantees ``k + 16 <= len(y)``."""
    if not (
        isinstance(y, types.Array)
        and y.ndim == 1
        and y.dtype in (types.float32, types.float64)
        and isinstance(k, types.Integer)
    ):
        return None
    from llvmlite import ir

    sig = types.void(y, k)

    def codegen(context, builder, signature, args):
        aryty, kty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        ft = context.get_value_type(aryty.dtype)
        vt = ir.VectorType(ft, _LANES)
        i32v = ir.VectorType(ir.IntType(32), _LANES)
        align = aryty.dtype.bitwidth // 8
        kk = context.cast(builder, args[1], kty, types.intp)
        ptr = builder.bitcast(builder.gep(ary.data, [kk], inbounds=True), vt.as_pointer())
        suffix = "v16f32" if aryty.dtype.bitwidth == 32 else "v16f64"
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vt, [vt, vt, vt]), "llvm.fmuladd." + suffix
        )
        v = builder.load(ptr, align=align)
        for s in (1, 2, 4, 8):
            # lane i pairs with lane i ^ s: out[i] = partner + v[i] if bit s of i is clear, partner - v[i] if set
            partner = builder.shuffle_vector(v, v, ir.Constant(i32v, [i ^ s for i in range(_LANES)]))
            sign = ir.Constant(vt, [(-1.0 if i & s else 1.0) for i in range(_LANES)])
            v = builder.call(fmuladd, [v, sign, partner])
        builder.store(v, ptr, align=align)
        return context.get_dummy_value()

    return sig, codegen


_lanes16 = _lanes16_python if numba.config.DISABLE_JIT else _lanes16_ir


@numba.njit(cache=True, inline="always")
def _radix8(y, n, h):
    # Stages with spans h, 2h, 4h over y[:n]; n is a multiple of 8h.
    n = np.uint64(n)
    h = np.uint64(h)
    h2 = h + h
    h3 = h2 + h
    h4 = h3 + h
    h5 = h4 + h
    h6 = h5 + h
    h7 = h6 + h
    h8 = h7 + h
    blk = np.uint64(0)
    while blk < n:
        for j in range(blk, blk + h):
            a0 = y[j]
            a1 = y[j + h]
            a2 = y[j + h2]
            a3 = y[j + h3]
            a4 = y[j + h4]
            a5 = y[j + h5]
            a6 = y[j + h6]
            a7 = y[j + h7]
            b0 = a0 + a1
            b1 = a0 - a1
            b2 = a2 + a3
            b3 = a2 - a3
            b4 = a4 + a5
            b5 = a4 - a5
            b6 = a6 + a7
            b7 = a6 - a7
            c0 = b0 + b2
            c2 = b0 - b2
            c1 = b1 + b3
            c3 = b1 - b3
            c4 = b4 + b6
            c6 = b4 - b6
            c5 = b5 + b7
            c7 = b5 - b7
            y[j] = c0 + c4
            y[j + h] = c1 + c5
            y[j + h2] = c2 + c6
            y[j + h3] = c3 + c7
            y[j + h4] = c0 - c4
            y[j + h5] = c1 - c5
            y[j + h6] = c2 - c6
            y[j + h7] = c3 - c7
        blk += h8


@numba.njit(cache=True, inline="always")
def _radix4(y, n, h):
    # Stages with spans h, 2h over y[:n]; n is a multiple of 4h.
    n = np.uint64(n)
    h = np.uint64(h)
    h2 = h + h
    h3 = h2 + h
    h4 = h3 + h
    blk = np.uint64(0)
    while blk < n:
        for j in range(blk, blk + h):
            a0 = y[j]
            a1 = y[j + h]
            a2 = y[j + h2]
            a3 = y[j + h3]
            b0 = a0 + a1
            b1 = a0 - a1
            b2 = a2 + a3
            b3 = a2 - a3
            y[j] = b0 + b2
            y[j + h] = b1 + b3
            y[j + h2] = b0 - b2
            y[j + h3] = b1 - b3
        blk += h4


@numba.njit(cache=True, inline="always")
def _radix2(y, n, h):
    # Stage with span h over y[:n]; n is a multiple of 2h.
    n = np.uint64(n)
    h = np.uint64(h)
    h2 = h + h
    blk = np.uint64(0)
    while blk < n:
        for j in range(blk, blk + h):
            a0 = y[j]
            a1 = y[j + h]
            y[j] = a0 + a1
            y[j + h] = a0 - a1
        blk += h2


@numba.njit(cache=True, inline="always")
def _upto3(y, n, h):
    # The (at most three) stages with spans h, 2h, 4h that are < n; n is a power of two (or < h: nothing).
    if n >= 8 * h:
        _radix8(y, n, h)
    elif n == 4 * h:
        _radix4(y, n, h)
    elif n == 2 * h:
        _radix2(y, n, h)


@numba.njit(cache=True)
def _block(z, nb):
    # All stages of z[:nb], 16 <= nb <= 8192 a power of two; spans are literals so LLVM specialises each pass.
    for i in range(nb // _LANES):
        _lanes16(z, _LANES * i)
    _upto3(z, nb, 16)
    _upto3(z, nb, 128)
    _upto3(z, nb, 1024)


@numba.njit(cache=True)
def _large(y, n, h):
    # Stages with spans h, 2h, ... < n over the whole row, three (or two, or one) per pass.
    while h < n:
        if 8 * h <= n:
            _radix8(y, n, h)
            h *= 8
        elif 4 * h <= n:
            _radix4(y, n, h)
            h *= 4
        else:
            _radix2(y, n, h)
            h *= 2


@numba.njit(cache=True)
def _fwht_rows(x2):
    rows, n = x2.shape
    if n < _LANES:
        for r in range(rows):
            _large(x2[r], n, 1)
        return
    b = min(n, _BLOCK_BYTES // x2.itemsize)
    for r in range(rows):
        y = x2[r]
        for s in range(0, n, b):
            _block(y[s : s + b], b)
        _large(y, n, b)


@numba.njit(cache=True, parallel=True)
def _fwht_rows_parallel(x2, n_chunks):
    # Rows are independent: contiguous ranges of them, one per thread of Numba's pool (the same code per row).
    rows = x2.shape[0]
    for c in numba.prange(n_chunks):
        _fwht_rows(x2[rows * c // n_chunks : rows * (c + 1) // n_chunks])


#: Below this many elements a batch is transformed on one thread (a parallel region costs a few microseconds).
PARALLEL_MIN_ELEMENTS = 1 << 15


def fwht(x: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Unnormalised fast Walsh–Hadamard transform over the last axis, in place.

    Parameters
    ----------
    x : ndarray, shape (..., n), float32 or float64, C-contiguous and writeable
        ``n`` must be a power of two (``n = 1`` allowed); any leading batch shape (including none).

    Returns
    -------
    x : ndarray, shape (..., n)
        The same array, overwritten with its transform.

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 ndarray.
    ValueError
        If ``x`` is 0-d, not C-contiguous, read-only, or its last axis is not a power of two.

    Other Parameters
    ----------------
    threads : int, optional
        Threads of Numba's pool to split the rows across (default 1: the calling thread only; at most
        :func:`numba.get_num_threads` run at once). Batches under ``PARALLEL_MIN_ELEMENTS`` elements, or of one
        row, run on the calling thread. Every row is computed by the same code whatever the thread count, so the
        result does not depend on it. Opt-in because a parallel region waits for its slowest thread: on a
        machine whose other cores are busy, that wait is a scheduler time slice (milliseconds).

    Notes
    -----
    Each row becomes ``x @ H_n`` with the Sylvester Hadamard matrix ``H_1 = [1]``,
    ``H_{2m} = [[H_m, H_m], [H_m, -H_m]]`` (``scipy.linalg.hadamard(n)``). ``H_n`` is symmetric and
    ``H_n @ H_n = n I``, so applying ``fwht`` twice multiplies by ``n``. Cost ``n log2 n`` additions per row.
    The stages run in increasing span order with plain additions and subtractions, so the result is
    bit-for-bit that of the textbook loop ``for h in 1, 2, 4, ...: (a, b) <- (a + b, a - b)``.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension (the transformed last axis), got shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(f"x must be C-contiguous (fwht works in place), got strides {x.strides} for shape {x.shape}")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: fwht transforms in place")
    n = x.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"the last axis of x must have a power-of-two length, got {n} (shape {x.shape})")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if x.size == 0:
        return x
    x2 = x.reshape(-1, n)
    t = min(1 if threads is None else int(threads), x2.shape[0])
    if t > 1 and x.size >= PARALLEL_MIN_ELEMENTS and not numba.config.DISABLE_JIT:
        _fwht_rows_parallel(x2, t)
    else:
        _fwht_rows(x2)
    return x

"""Frozen copy of nnlite's first FWHT kernel (commit 2f8df92), kept only as the "before" column of
``benchmarks/bench_fwht.py``. Not part of the library; no validation (the benchmark passes valid input).

Original module docstring follows.

Fast Walsh–Hadamard transform (unnormalised, Sylvester order), in place, batched over leading axes.

Performance notes (why the loops look the way they do):

* Indices into the row are unsigned (``np.uint64``) or derived from ``range(0, m)``: a signed index that
  LLVM cannot prove non-negative carries Numba's negative-index wraparound ``select``, which blocks
  vectorisation of every loop below.
* The first three stages (butterfly spans 1, 2, 4) run as one hard-coded 8-point transform per contiguous
  8-element chunk; LLVM vectorises that loop as an interleaved group (load 8 vectors, shuffle, add/sub).
* Later stages run three at a time (radix-8 passes: 8 streams ``x[j + k h]``, inner ``j`` loop contiguous
  and vectorised), so a row is read and written once per three stages instead of once per stage; a radix-4
  or radix-2 pass finishes when fewer than three stages remain.
* A long row is first transformed in blocks of ``_BLOCK`` elements that stay in L1 (all stages with span
  < ``_BLOCK``), then the remaining large-span stages run over the whole row.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["fwht_v1"]

_BLOCK = 4096  # elements; 16 KiB of float32 / 32 KiB of float64


@numba.njit(cache=True)
def _first3(y, n):
    # Stages with span 1, 2, 4 as one 8-point butterfly per chunk; n is a multiple of 8.
    for i in range(n // 8):
        k = 8 * i
        a0 = y[k]
        a1 = y[k + 1]
        a2 = y[k + 2]
        a3 = y[k + 3]
        a4 = y[k + 4]
        a5 = y[k + 5]
        a6 = y[k + 6]
        a7 = y[k + 7]
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
        y[k] = c0 + c4
        y[k + 1] = c1 + c5
        y[k + 2] = c2 + c6
        y[k + 3] = c3 + c7
        y[k + 4] = c0 - c4
        y[k + 5] = c1 - c5
        y[k + 6] = c2 - c6
        y[k + 7] = c3 - c7


@numba.njit(cache=True)
def _pass8(y, n, h):
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


@numba.njit(cache=True)
def _pass4(y, n, h):
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


@numba.njit(cache=True)
def _pass2(y, n, h):
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


@numba.njit(cache=True)
def _stages(y, n, h, hend):
    # All stages with spans h, 2h, ... < hend, three (or two, or one) per pass.
    while h < hend:
        if 8 * h <= hend:
            _pass8(y, n, h)
            h *= 8
        elif 4 * h <= hend:
            _pass4(y, n, h)
            h *= 4
        else:
            _pass2(y, n, h)
            h *= 2


@numba.njit(cache=True)
def _fwht_rows(x2):
    rows, n = x2.shape
    if n < 8:
        for r in range(rows):
            _stages(x2[r], n, 1, n)
        return
    b = min(n, _BLOCK)
    for r in range(rows):
        y = x2[r]
        for s in range(0, n, b):
            z = y[s : s + b]
            _first3(z, b)
            _stages(z, b, 8, b)
        _stages(y, n, b, n)


def fwht_v1(x):
    """In-place FWHT of a C-contiguous float32/float64 array over its last axis (old kernel)."""
    _fwht_rows(x.reshape(-1, x.shape[-1]))
    return x

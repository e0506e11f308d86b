"""How the convolution algorithms split a batch over threads: the one place for their split and thread helpers.

im2col (:mod:`nnlite.backend.conv_im2col`) deals chunks of samples round-robin to groups; the FFT
(:mod:`nnlite.backend.conv_fft`) and the direct loops (:mod:`nnlite.backend.conv_direct`) cut the batch into one
slice per thread. Either way each group runs in one thread of :func:`nnlite.runtime.threads.parallel_map` with
one-thread BLAS (one barrier per call, not one per GEMM), in a fixed assignment, so the results do not depend on
which thread finishes first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..runtime.threads import blas_limit, blas_threads_now, parallel_map

#: A kernel used in place of ``W`` to send the error down (Feedback Alignment), or None for ``W`` itself.
Kernel = np.ndarray | None
#: What every convolution algorithm's backward pass returns: ``(dx or None, dW, db or None)``.
ConvGrads = tuple[np.ndarray | None, np.ndarray, np.ndarray | None]

__all__ = ["check_dout_shape", "groups", "one_thread_blas", "pairs", "run", "slices", "workers"]

_T = TypeVar("_T")
_R = TypeVar("_R")


def pairs(stride: Any, padding: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((sh, sw), (ph, pw))`` from an int or a pair each (already checked by the caller)."""
    (sh, sw), (ph, pw) = (p if isinstance(p, tuple) else (p, p) for p in (stride, padding))
    return (sh, sw), (ph, pw)


def workers(n: int) -> int:
    """Threads to spread ``n`` pieces of work over: the BLAS thread count in force
    (:func:`nnlite.runtime.threads.blas_threads_now`), at most ``n`` and the CPUs."""
    if n < 2:
        return 1
    return max(1, min(blas_threads_now(), n, os.cpu_count() or 1))


def one_thread_blas(active: bool = True) -> contextlib.AbstractContextManager:
    """One BLAS thread inside the block when ``active``: for the work around a :func:`run`, since a 2-thread
    OpenBLAS GEMM just before the pool leaves its worker spinning on a core one of the pool's threads needs
    (docs/design.md, "Kernels and their twins", the FFT convolution)."""
    return blas_limit(1) if active else contextlib.nullcontext()


def run(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(g) for g in items]``; with several items in a thread pool, each running one-thread BLAS.

    The threads are the parallelism: one BLAS thread each, one barrier per call instead of one per GEMM. On a
    loaded 2-core machine, two OpenBLAS threads per small GEMM stalled at every GEMM's barrier (2-thread
    chunked conv 3-10x slower than 1 thread); whole groups of chunks per thread do not.
    """
    if len(items) == 1:
        return [fn(items[0])]
    with blas_limit(1):
        return parallel_map(fn, items)


def groups(N: int, nc: int, n_workers: int) -> list[list[int]]:
    """Chunk starts (chunks of ``nc`` samples) dealt round-robin to ``n_workers`` groups."""
    starts = list(range(0, N, nc))
    n_workers = max(1, min(n_workers, len(starts)))
    return [starts[k::n_workers] for k in range(n_workers)]


def slices(N: int) -> list[tuple[int, int]]:
    """The batch cut into one slice ``(n0, n1)`` per BLAS thread (at most N)."""
    T = workers(N)
    edges = [N * k // T for k in range(T + 1)]
    return [(edges[k], edges[k + 1]) for k in range(T)]


def check_dout_shape(dout: object, shape: tuple[int, ...]) -> None:
    """ValueError unless ``dout`` has the forward output's ``shape`` (every backward path checks it first)."""
    if getattr(dout, "shape", None) != shape:
        raise ValueError(
            f"conv2d_backward: dout has shape {getattr(dout, 'shape', type(dout).__name__)}, but the forward "
            f"pass's output has shape {shape}"
        )

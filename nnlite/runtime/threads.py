"""BLAS thread limits that are cheap enough to set at every step.

``threadpoolctl.threadpool_limits`` inspects every loaded library each time it is entered, which costs a visible
fraction of a training step; a :class:`threadpoolctl.ThreadpoolController` made once and reused only sets the
limit (docs/design.md, "Kernels and their twins" has the figures). The controller knows the libraries loaded when it
was made (numpy's BLAS
is loaded with nnlite).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["blas_limit", "blas_threads_now", "controller", "parallel_map", "pools", "refresh"]

_CONTROLLER: Any = None
_POOL: ThreadPoolExecutor | None = None
_LOCAL = threading.local()
_T = TypeVar("_T")
_R = TypeVar("_R")


def controller() -> Any:
    """The process's one :class:`threadpoolctl.ThreadpoolController`, made on first use."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def refresh() -> None:
    """Forget the controller, so that the next one knows every library loaded by now (a matrix-product provider
    loaded after nnlite, :mod:`nnlite.backend.blas`), and apply the BLAS limit in force to the new libraries."""
    global _CONTROLLER
    old = _CONTROLLER
    _CONTROLLER = None
    if old is not None:
        libs = [lib for lib in old.lib_controllers if lib.user_api == "blas"]
        if libs:
            controller().limit(limits=max(lib.num_threads for lib in libs), user_api="blas")


def pools() -> dict[str, int]:
    """The thread count of every BLAS and OpenMP pool loaded in the process, by library file name: what a run at
    ``--threads N`` keeps at N (the BLAS ones; an OpenMP runtime a BLAS library brings follows it)."""
    from threadpoolctl import threadpool_info

    return {f"{os.path.basename(d['filepath'])} ({d['user_api']})": int(d["num_threads"]) for d in threadpool_info()}


@contextlib.contextmanager
def blas_limit(n: int) -> Iterator[None]:
    """Limit the BLAS libraries to ``n`` threads inside the block (restored on exit)."""
    with controller().limit(limits=n, user_api="blas"):
        yield


def blas_threads_now() -> int:
    """The BLAS thread count in force now (the largest over the loaded BLAS libraries; 1 when none); cheap enough
    to ask at every step."""
    libs = [lib for lib in controller().lib_controllers if lib.user_api == "blas"]
    return max((lib.num_threads for lib in libs), default=1)


def _as_worker(fn: Callable[[_T], _R], item: _T, blas: int | None = None) -> _R:
    _LOCAL.busy = True
    if blas is not None:  # oneMKL keeps a thread count per thread (OpenMP's): a pool thread takes its caller's
        for lib in controller().lib_controllers:
            if lib.internal_api == "mkl":
                lib.dynlib.MKL_Set_Num_Threads_Local(int(blas))
    try:
        return fn(item)
    finally:
        _LOCAL.busy = False


def parallel_map(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(item) for item in items]``, the items run on as many threads: the caller runs the first, the
    process's one pool the others.

    The caller sets the BLAS limit the items need (one thread each, :func:`blas_limit`; the limit is process-wide).
    Called from inside an item (nested: a sharded training step's convolution), it runs the items one after
    another in the calling thread, so the threads never exceed the items of the outermost call. An item's
    exception is raised here once every item has finished (none is left running).
    """
    if len(items) < 2 or getattr(_LOCAL, "busy", False):
        return [fn(item) for item in items]
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="nnlite")
    blas = blas_threads_now()
    futures = [_POOL.submit(_as_worker, fn, item, blas) for item in items[1:]]
    try:
        first = _as_worker(fn, items[0])
    finally:
        for f in futures:  # wait for all, so that no item outlives the call (they share the caller's buffers)
            f.exception()
    return [first, *(f.result() for f in futures)]

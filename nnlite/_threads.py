"""BLAS thread limits that are cheap enough to set at every step.

``threadpoolctl.threadpool_limits`` inspects every loaded library each time it is entered, which costs a visible
fraction of a training step; a :class:`threadpoolctl.ThreadpoolController` made once and reused only sets the
limit (docs/design.md §7 has the figures). The controller knows the libraries loaded when it was made (numpy's BLAS
is loaded with nnlite).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["blas_limit", "blas_threads_now", "controller"]

_CONTROLLER: Any = None


def controller() -> Any:
    """The process's one :class:`threadpoolctl.ThreadpoolController`, made on first use."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


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

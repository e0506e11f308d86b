"""``--threads auto``: the BLAS thread count chosen by measuring, at the start of training and again after long
epochs, instead of assuming the machine is quiet.

A threaded BLAS call is as slow as its slowest thread: with every core free, two threads halve a large GEMM, but
with one core busy (another job, a second run) the second thread waits for a scheduler time slice, and a 256x2
MLP's epoch was measured 3.8 times slower at 2 threads than at 1. So :class:`AutoThreads` times the network's
forward pass (evaluation mode: nothing in the network changes) on one mini-batch at 1 thread and at the BLAS
default, alternately, and keeps the default only when it is clearly faster; it measures again after every epoch
that lasted at least :data:`RECHECK_SECONDS` (the cost, a few forward passes, stays under a percent of such an
epoch), so a machine that becomes busy or quiet mid-run is followed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nnlite import Sequential

__all__ = ["RECHECK_SECONDS", "AutoThreads", "calibrate"]

#: Measure again after an epoch that lasted at least this long.
RECHECK_SECONDS = 2.0
#: More threads are kept only when they are at least this much faster (else one thread: never worse on a busy machine).
MARGIN = 0.9


def _blas_default() -> int:
    from threadpoolctl import threadpool_info

    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts) if counts else 1


def calibrate(
    net: Sequential, x: np.ndarray, *, many: int | None = None, rounds: int = 7
) -> tuple[int, dict[str, Any]]:
    """The faster BLAS thread count for ``net.forward(x, train=False)``: 1, or ``many`` (default: the BLAS
    default) when its median time is below ``MARGIN`` times one thread's. Returns the count and the medians."""
    from nnlite._threads import blas_limit

    many = _blas_default() if many is None else int(many)
    if many <= 1:
        return 1, {"threads": {1: None}}
    samples: dict[int, list[float]] = {1: [], many: []}
    for r in range(rounds + 1):
        for n in (1, many) if r % 2 else (many, 1):
            with blas_limit(n):
                t0 = time.perf_counter()
                net.forward(x, train=False)
                dt = time.perf_counter() - t0
            if r:  # the first round warms up (first calls allocate, wake threads)
                samples[n].append(dt)
    med = {n: float(np.median(v)) for n, v in samples.items()}
    choice = many if med[many] < MARGIN * med[1] else 1
    return choice, {"threads": med}


class AutoThreads:
    """The BLAS limit of ``--threads auto`` during one ``fit``: :meth:`start` calibrates and applies it,
    :meth:`after_epoch` re-checks after a long epoch, :meth:`stop` restores the BLAS default."""

    def __init__(self, net: Sequential, x: np.ndarray, *, report: bool = True) -> None:
        self.net, self.x, self.report = net, x, report
        self.threads: int | None = None
        self.history: list[dict[str, Any]] = []
        self._limiter: Any = None

    def _apply(self, n: int) -> None:
        from threadpoolctl import threadpool_limits

        if self._limiter is not None:
            self._limiter.restore_original_limits()
        self._limiter = threadpool_limits(limits=n, user_api="blas")
        self.threads = n

    def _measure(self, when: str) -> None:
        self.stop()  # measure from the BLAS default
        n, info = calibrate(self.net, self.x)
        self.history.append({"when": when, "chosen": n, "median_seconds": info["threads"]})
        changed = n != self.threads
        self._apply(n)
        if self.report and (when == "start" or changed):
            times = ", ".join(f"{k} thread{'s' * (k > 1)} {v * 1e3:.2f} ms" for k, v in info["threads"].items() if v)
            print(f"threads auto ({when}): {n} BLAS thread{'s' * (n > 1)} (forward pass: {times})", flush=True)

    def start(self) -> None:
        self._measure("start")

    def after_epoch(self, seconds: float, epoch: int) -> None:
        if seconds >= RECHECK_SECONDS:
            self._measure(f"after epoch {epoch}")

    def stop(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

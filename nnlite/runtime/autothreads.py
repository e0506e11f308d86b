"""``--threads auto``: the BLAS thread count chosen once, before the first epoch, from what the machine is doing,
instead of assuming the machine is quiet.

A threaded BLAS call is as slow as its slowest thread: with every core free, two threads halve a large GEMM, but
with one core busy (another job, a second run) the second thread waits for a scheduler time slice, and a whole
epoch can take several times longer at 2 threads than at 1. Timing a few forward passes does not see this (they
stay faster at 2 threads while the epochs are far slower; docs/measurements.md has the figures), so
:class:`AutoThreads` decides in two steps:

1. **Idle cores** (:func:`idle_cores`, from ``/proc/stat`` over 0.1 s, our own process idle meanwhile): never more
   threads than cores nobody else is using (at least one).
2. **Training steps** (:func:`calibrate`): where more than one thread is allowed, real training steps on a copy of
   the network, rule and optimizer (so nothing of the run changes), in rounds alternating 1 thread and the
   allowed count, and the larger count is kept only when its median round is clearly faster.

It decides once per run (0.1 s of idle-core reading and at most 48 steps on the copy), and the run keeps that count
to its end: 1 and 2 BLAS threads sum in another order and differ in the last bits, so a count that changed
between epochs would make the same seed give another run. ``nnlite train`` records the count in
``history.json`` (``blas_threads_chosen``) and ``--resume`` applies it again without measuring
(:meth:`AutoThreads.start` with ``chosen``), so a resumed run is the uninterrupted one, bit for bit.

An explicit ``--threads N`` (N > 1) is checked the same way (``AutoThreads(..., most=N)``): N threads are kept
unless fewer cores are idle or one thread is measured faster, so asking for two threads never gives a slower
step than one. Both never use more threads than the CPUs the process may run on (:func:`usable_cores`): two
OpenBLAS threads sharing one CPU took 192 ms a step where one thread took 9 (docs/measurements.md).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .blocks import BlockRunner
from .threads import blas_limit, blas_threads_now, controller

__all__ = ["MARGIN", "AutoThreads", "calibrate", "copied_step", "idle_cores", "usable_cores"]

#: More threads are kept only when they are at least this much faster (else one thread: never worse on a busy machine).
MARGIN = 0.9


def _cpu_jiffies() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(v), v[3] + v[4]  # all, idle + iowait


def idle_cores(window: float = 0.1) -> float | None:
    """Cores left idle by every other process during ``window`` seconds (this process sleeps meanwhile), from
    ``/proc/stat``; None where it cannot be read (not Linux)."""
    a = _cpu_jiffies()
    time.sleep(window)
    b = _cpu_jiffies()
    if a is None or b is None or b[0] <= a[0]:
        return None
    n = os.cpu_count() or 1
    return n * (b[1] - a[1]) / (b[0] - a[0])


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask: ``taskset``, a container's cpuset), or the machine's
    core count where the mask cannot be read."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def calibrate(
    step: Callable[[], Any], many: int, *, rounds: int = 3, steps: int = 6, margin: float = MARGIN
) -> tuple[int, dict[int, float]]:
    """The faster BLAS thread count for ``step()`` (one training step): 1, or ``many`` when its median round of
    ``steps`` calls is below ``margin`` times one thread's. Rounds alternate (after one warm-up round each)."""
    if many <= 1:
        return 1, {}
    samples: dict[int, list[float]] = {1: [], many: []}
    for r in range(rounds + 1):
        for n in (1, many) if r % 2 else (many, 1):
            with blas_limit(n):
                t0 = time.perf_counter()
                for _ in range(steps):
                    step()
                dt = (time.perf_counter() - t0) / steps
            if r:  # the first round warms up (first calls allocate, wake threads)
                samples[n].append(dt)
    med = {n: float(np.median(v)) for n, v in samples.items()}
    return (many if med[many] < margin * med[1] else 1), med


class AutoThreads:
    """The BLAS limit of ``--threads auto`` during one ``fit``: :meth:`start` decides it once and applies it (or
    applies a count recorded by an earlier part of the run), :meth:`stop` restores the BLAS default.

    ``make_step()`` returns a function running one training step on copies of the run's objects (see
    :func:`copied_step`). With ``most=N`` it checks an explicit ``--threads N`` instead: N threads unless fewer
    cores are idle or one thread is faster (no margin: N is what was asked for), said only when it falls back."""

    def __init__(
        self, make_step: Callable[[], Callable[[], Any]], *, report: bool = True, most: int | None = None
    ) -> None:
        self.make_step, self.report, self.most = make_step, report, most
        self.threads: int | None = None
        self.history: list[dict[str, Any]] = []
        self._limiter: Any = None

    def _apply(self, n: int) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        self._limiter = controller().limit(limits=n, user_api="blas")
        self.threads = n

    def _decide(self, when: str) -> None:
        self.stop()  # decide from the BLAS default
        default = min(self.most or blas_threads_now(), usable_cores())
        idle = idle_cores()
        allowed = default if idle is None else max(1, min(default, int(idle + 0.25)))
        med: dict[int, float] = {}
        n = 1
        if allowed > 1:
            n, med = calibrate(self.make_step(), allowed, margin=MARGIN if self.most is None else 1.0)
        self.history.append({"when": when, "chosen": n, "idle_cores": idle, "median_seconds": med})
        self._apply(n)
        asked = self.most is not None
        # auto is said once; an explicit count only when it is not what was asked
        say = n != self.most if asked else True
        if self.report and say:
            why = f"{idle:.1f} idle cores" if idle is not None else "idle cores unknown"
            if asked:
                why += f", {usable_cores()} usable"
            if med:
                why += "; a training step: " + ", ".join(
                    f"{k} thread{'s' * (k > 1)} {v * 1e3:.2f} ms" for k, v in med.items()
                )
            label = "auto" if self.most is None else f"{self.most} asked"
            print(f"threads {label} ({when}): {n} BLAS thread{'s' * (n > 1)} ({why})", flush=True)

    def start(self, chosen: int | None = None) -> int:
        """Decide the thread count and apply it until :meth:`stop`; with ``chosen`` (the count a run recorded,
        when it is resumed) apply that one without measuring. Returns the count."""
        if chosen is None:
            self._decide("start")
        else:
            self.stop()
            self.history.append({"when": "resumed", "chosen": int(chosen), "idle_cores": None, "median_seconds": {}})
            self._apply(int(chosen))
            if self.report:
                label = "auto" if self.most is None else f"{self.most} asked"
                n = int(chosen)
                print(f"threads {label} (resumed): {n} BLAS thread{'s' * (n > 1)} (as the run recorded)", flush=True)
        assert self.threads is not None
        return self.threads

    def stop(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None


def copied_step(
    net: Any, rule: Any, optimizer: Any, loss: Callable[..., Any], x: np.ndarray, y: np.ndarray
) -> Callable[[], None]:
    """A function running one training step as :func:`nnlite.fit` runs it (:func:`nnlite.training.step`: forward,
    loss, rule, update, through the same :func:`~nnlite.runtime.step.executor`) on copies of ``net``, ``rule``
    and ``optimizer``, on the batch ``(x, y)``: timing it changes nothing of the run."""
    from ..training.step import step as training_step

    net, rule = copy.deepcopy(net), copy.deepcopy(rule)
    optimizer = optimizer.fresh()  # the same settings, with its own state for the copied parameters
    blocks = BlockRunner()

    def step() -> None:  # fit()'s step
        training_step(net, rule, loss, optimizer, x, y, blocks=blocks)

    return step

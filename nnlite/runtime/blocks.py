"""Running a rule's independent block updates: one after the other, or concurrently where that is faster.

A rule whose blocks' updates do not depend on each other (the direct-feedback rules: DFA, LAFS, DRTP, sDFA) hands
them to the step's network as closures, one per block (:meth:`nnlite.Sequential.run_blocks`), with whether they may
run concurrently (``parallel=True``). The network runs them in turn; the executor :class:`ConcurrentBlocks`, which
:func:`nnlite.fit` runs an unsharded step through, has its :class:`BlockRunner` decide and time: the blocks dealt
(:func:`block_groups`) to as many threads as BLAS has at the time of the step, each with one BLAS thread, on
nnlite's one pool (:func:`~nnlite.runtime.threads.parallel_map`), instead of one block after the other with all the
BLAS threads, but only where that is faster: the first ``2 * TRIALS`` steps at a thread count alternate between the
two ways, timed, and the faster median is kept from then on (the parallel one only when at least ``1 - MARGIN``
faster). With one BLAS thread, or under a :class:`~nnlite.runtime.sharded.ShardedNetwork` (whose shards already use
the threads), the blocks run in turn. The results are the same bits either way. Nothing here imports a rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from ..network import Sequential
from .threads import blas_limit, blas_threads_now, parallel_map
from .view import NetworkView

__all__ = ["BlockRunner", "ConcurrentBlocks", "block_groups"]

_R = TypeVar("_R")


def block_groups(net: Sequential, workers: int) -> list[list[int]]:
    """The blocks dealt to ``workers`` threads so that their work is near-even: largest first, each to the least
    loaded group (a block's work counted as its weight's size times its output positions). Each group is in block
    order, the groups in order of their first block, and the deal depends only on the network (a step's results
    do not depend on the threads)."""
    costs = []
    for k in range(net.n_blocks):
        shape = net.block_shapes[k]
        positions = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        costs.append(net.weight_layer(k).params["W"].size * positions)
    groups: list[list[int]] = [[] for _ in range(max(1, min(workers, len(costs))))]
    load = [0] * len(groups)
    for k in sorted(range(len(costs)), key=lambda k: (-costs[k], k)):
        j = load.index(min(load))
        groups[j].append(k)
        load[j] += costs[k]
    return sorted(sorted(g) for g in groups)


class BlockRunner:
    """Runs one closure per block (:meth:`run`), in turn or concurrently, and keeps the timed trial of both ways
    per BLAS thread count (``trials``; ``settled`` once decided). One per rule (a copied rule copies it)."""

    #: Steps timed each way (alternately) before the faster is kept.
    TRIALS = 5
    #: The parallel way is kept only when its median is at least this much lower (small blocks time noisily).
    MARGIN = 0.9

    def __init__(self) -> None:
        self.trials: dict[int, dict[bool, list[float]]] = {}
        self.settled: dict[int, bool] = {}

    def run(self, net: Sequential, updates: Sequence[Callable[[], _R]]) -> list[_R]:
        """``[update() for update in updates]`` (``updates[k]`` is block k's of ``net``), run concurrently when
        BLAS has more than one thread and the trial says that it is faster."""
        workers = 1
        if len(updates) > 1:
            workers = min(len(updates), blas_threads_now())
        if workers > 1 and self.choose(workers):
            # The BLAS thread count is the budget: that many threads, each running single-threaded BLAS (two
            # levels of threads would oversubscribe the cores).
            groups = block_groups(net, workers)
            t0 = time.perf_counter()
            with blas_limit(1):
                done = parallel_map(lambda ks: [(k, updates[k]()) for k in ks], groups)
            self.record(workers, True, time.perf_counter() - t0)
            by_block = dict(pair for part in done for pair in part)
            return [by_block[k] for k in range(len(updates))]
        t0 = time.perf_counter()
        out = [update() for update in updates]
        if workers > 1 and workers not in self.settled:
            self.record(workers, False, time.perf_counter() - t0)
        return out

    def choose(self, workers: int) -> bool:
        """Whether this step runs the blocks in parallel: alternately while both ways are being timed (per BLAS
        thread count), then the way whose median was lower."""
        settled = self.settled.get(workers)
        if settled is not None:
            return settled
        trial = self.trials.setdefault(workers, {True: [], False: []})
        if len(trial[True]) < self.TRIALS or len(trial[False]) < self.TRIALS:
            return len(trial[True]) <= len(trial[False])
        self.settled[workers] = bool(np.median(trial[True]) < self.MARGIN * np.median(trial[False]))
        return self.settled[workers]

    def record(self, workers: int, parallel: bool, seconds: float) -> None:
        """Note one timed step of one way (until both ways have ``TRIALS``)."""
        trial = self.trials.setdefault(workers, {True: [], False: []})
        if len(trial[parallel]) < self.TRIALS:
            trial[parallel].append(seconds)


class ConcurrentBlocks(NetworkView):
    """``net`` (a :class:`~nnlite.runtime.view.NetworkView`) whose :meth:`run_blocks` runs a rule's independent
    block updates through ``runner`` (:class:`BlockRunner`: concurrently where the trial finds it faster) when the
    rule allows it (``concurrent``), else in turn."""

    def __init__(self, net: Sequential, runner: BlockRunner) -> None:
        super().__init__(net)
        self.runner = runner

    def run_blocks(self, updates: Sequence[Callable[[], _R]], *, concurrent: bool = False) -> list[_R]:
        if not concurrent:
            return self.net.run_blocks(updates)
        return self.runner.run(self.net, updates)

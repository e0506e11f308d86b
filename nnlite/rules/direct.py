"""What the direct-feedback rules share: one :class:`~nnlite.rules.feedback.DirectFeedback` of the output
vector to every hidden block, and block updates that do not depend on each other (so they may run in threads)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import SeedLike, as_bool
from .base import Grads, Rule, check_error
from .feedback import DirectFeedback

if TYPE_CHECKING:
    from ..network import Caches, Sequential
    from ..projections.base import Projection

__all__ = ["DirectRule", "block_groups", "local_errors", "local_losses"]


def local_errors(fb: DirectFeedback, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
    """LAFS's local errors ``e_k = (softmax(h_k @ B_k) - onehot(y)) / N``, one (N, C) array per hidden block.

    ``e_k`` is the error of the softmax cross-entropy of the readout ``h_k @ B_k``, so it is computed by
    :func:`nnlite.softmax_cross_entropy` itself.
    """
    from ..backend import softmax_cross_entropy

    if y is None:
        raise ValueError("local errors need the labels y")
    return [softmax_cross_entropy(fb.readout(k, caches.block_outputs[k]), y)[1] for k in range(len(fb.sizes))]


def local_losses(fb: DirectFeedback, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
    """LAFS's local losses ``L_k = CE(softmax(h_k @ B_k), y)`` (batch means), one float per hidden block."""
    from ..backend import softmax_cross_entropy

    return [softmax_cross_entropy(fb.readout(k, caches.block_outputs[k]), y)[0] for k in range(len(fb.sizes))]


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


class DirectRule(Rule):
    """Base of the rules whose hidden signals are fixed random projections ``g_k = v @ B_k.T`` of one vector
    (DFA, LAFS, DRTP, sDFA): a subclass says which ``v`` (:meth:`projected`).

    Parameters
    ----------
    projection : Projection, optional
        The ``B_k`` as one projection of ``v`` (:class:`~nnlite.rules.feedback.DirectFeedback`); default a
        Gaussian drawn from ``seed``.
    layout : {"unified", "independent"}
        Launay et al.'s one shared matrix (eq. 7–8) or Nøkland's independent blocks of rows.
    seed : int, Generator or None
    normalize : bool
        Launay et al.'s feedback normalisation (default) or unit-variance ``B_k`` (their "no norm" row); see
        :class:`~nnlite.rules.feedback.DirectFeedback`.
    parallel : bool
        Compute the blocks' updates concurrently (they do not depend on each other; BLAS releases the GIL):
        the blocks dealt (:func:`block_groups`) to as many threads as BLAS has at the time of the step, each with
        one BLAS thread, on nnlite's one thread pool (:func:`nnlite.runtime.threads.parallel_map`), instead of one block
        after the other with all the BLAS threads, but only where that is faster: the first ``2 * TRIALS``
        backward passes at a thread count alternate between the two ways, timed, and the faster median is kept
        from then on (the parallel one only when at least 10 % faster). With one BLAS thread, or inside a sharded
        step (whose shards already use the threads), it changes nothing. The gradients are the same bits either
        way. README's cost section has the measured figures.
    """

    def __init__(
        self,
        projection: Projection | None = None,
        layout: str = "unified",
        seed: SeedLike = None,
        parallel: bool = False,
        *,
        normalize: bool = True,
    ):
        self.feedback = DirectFeedback(projection, layout, seed, normalize)
        self._projection_arg = projection
        self.parallel = as_bool(parallel, "parallel")
        self._trials: dict[int, dict[bool, list[float]]] = {}
        self._settled: dict[int, bool] = {}

    # -- the feedback object's view ----------------------------------------------------------------------------
    @property
    def projection(self) -> Projection | None:
        """The projection (drawn at set-up when none was given)."""
        return self.feedback.projection

    @property
    def layout(self) -> str:
        return self.feedback.layout

    @property
    def seed(self) -> SeedLike:
        return self.feedback.seed

    def _setup(self, net: Sequential) -> None:
        self.feedback.setup(net)

    def feedback_matrix(self, net: Sequential, k: int) -> np.ndarray:
        """``B_k`` of shape (l_k, C), materialised (for tests and inspection)."""
        self.setup(net)
        return self.feedback.matrix(k)

    # -- readouts and local errors (LAFS's; DFA exposes them for alignment) ------------------------------------
    def has_local_errors(self, net: Sequential) -> bool:
        self.setup(net)
        return self.feedback.has_transpose

    def readout(self, net: Sequential, k: int, h: np.ndarray) -> np.ndarray:
        self.setup(net)
        return self.feedback.readout(k, h)

    def local_errors(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
        self.setup(net)
        return local_errors(self.feedback, net, caches, y)

    def local_losses(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
        """LAFS's local losses ``CE(softmax(h_k @ B_k), y)``, one float per hidden block."""
        self.setup(net)
        return local_losses(self.feedback, net, caches, y)

    # -- the step ----------------------------------------------------------------------------------------------
    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """The vector ``v`` (N, C) whose projections ``g_k = v @ B_k.T`` reach the hidden blocks (DFA: ``e``)."""
        raise NotImplementedError

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        """``g_k = v @ B_k.T`` for every hidden block from one projection of ``v = projected(net, e, y)``; every
        block's update from its own signal (the output block's from ``e``), no ``dx`` product."""
        e = check_error(net, caches, e, y)
        self.setup(net)
        g = self.feedback.signals(self.projected(net, e, y))
        return self._updates(net, caches, [*g, e]), g

    # -- the block updates -------------------------------------------------------------------------------------
    def _updates(self, net: Sequential, caches: Caches, g: list[np.ndarray]) -> Grads:
        """Every block's gradients from the signal at its output (``g[K-1] = e``), no ``dx`` product."""
        K = net.n_blocks

        def block(k: int) -> Grads:
            return net.backward_block(k, g[k], caches, need_dx=False, need_delta=False)[1]

        workers = 1
        if self.parallel and K > 1 and getattr(caches, "shards", None) is None:  # shards already use the cores
            from ..runtime.threads import blas_limit, blas_threads_now, parallel_map

            workers = min(K, blas_threads_now())
        if workers > 1 and self._choose_parallel(workers):
            # The BLAS thread count is the budget: that many threads, each running single-threaded BLAS (two
            # levels of threads would oversubscribe the cores).
            groups = block_groups(net, workers)
            t0 = time.perf_counter()
            with blas_limit(1):
                done = parallel_map(lambda ks: [(k, block(k)) for k in ks], groups)
            self._record(workers, True, time.perf_counter() - t0)
            by_block = dict(pair for part in done for pair in part)
            per_block = [by_block[k] for k in range(K)]
        else:
            t0 = time.perf_counter()
            per_block = [block(k) for k in range(K)]
            if workers > 1 and workers not in self._settled:
                self._record(workers, False, time.perf_counter() - t0)
        return [gr for b in per_block for gr in b]

    #: Backward passes timed each way (alternately) before ``parallel=True`` settles on the faster.
    TRIALS = 5
    #: The parallel way is kept only when its median is at least this much lower (small blocks time noisily).
    MARGIN = 0.9

    def _choose_parallel(self, workers: int) -> bool:
        """Whether this step runs the blocks in parallel: alternately while both ways are being timed (per BLAS
        thread count and network), then the way whose median was lower."""
        settled = self._settled.get(workers)
        if settled is not None:
            return settled
        trial = self._trials.setdefault(workers, {True: [], False: []})
        if len(trial[True]) < self.TRIALS or len(trial[False]) < self.TRIALS:
            return len(trial[True]) <= len(trial[False])
        self._settled[workers] = bool(np.median(trial[True]) < self.MARGIN * np.median(trial[False]))
        return self._settled[workers]

    def _record(self, workers: int, parallel: bool, seconds: float) -> None:
        trial = self._trials.setdefault(workers, {True: [], False: []})
        if len(trial[parallel]) < self.TRIALS:
            trial[parallel].append(seconds)

    def _repr_args(self) -> dict[str, Any]:
        args = {"projection": self._projection_arg, "layout": self.layout, "seed": self.seed, "parallel": self.parallel}
        if not self.feedback.normalize:
            args["normalize"] = False
        return args

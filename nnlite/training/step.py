"""One training step, the one definition: :func:`step` returns a :class:`Step` (docs/design.md, "One training step").

``fit``, ``--threads auto``'s timed steps (:func:`nnlite.runtime.autothreads.copied_step`), the sweep's
``--dry-run`` timer, ``benchmarks/step.py`` and the tests call it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend.lazy import defer, materialize
from ..runtime.step import executor
from . import state as training_state

if TYPE_CHECKING:
    from ..network import Caches, Sequential
    from ..optim import Optimizer
    from ..rules.base import Grads, Rule, RuleStep
    from ..runtime.blocks import BlockRunner

__all__ = ["Step", "step"]

#: A loss: ``loss(out, y) -> (batch-mean loss, e = dL/d(out))``.
Loss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass(eq=False)
class Step:
    """A training step on one batch: the forward pass, the loss, and the rule's :class:`~nnlite.rules.base.RuleStep`
    (gradients, the signal at every hidden feedback point, the rule's own pending change), bound to this step.

    :meth:`commit` applies the update (the optimizer's, then the rule's own change) once; whatever was computed in
    between (alignment on any batch) changes nothing of it. A step whose loss is not finite has no rule step
    (``finite`` is False), and its forward pass has been undone (the layers' buffers and generators).
    """

    net: Sequential
    rule: Rule
    optimizer: Optimizer | None
    loss: float
    out: np.ndarray
    e: np.ndarray
    x: np.ndarray
    y: np.ndarray
    caches: Caches
    rule_step: RuleStep | None

    @property
    def finite(self) -> bool:
        return self.rule_step is not None

    @property
    def grads(self) -> Grads:
        """The gradients as arrays (a dense weight gradient the update was to fold into its product is computed
        now: the update then uses it as an array)."""
        assert self.rule_step is not None, "a step whose loss is not finite has no gradients"
        return materialize(self.rule_step.grads)

    @property
    def signals(self) -> list[np.ndarray]:
        assert self.rule_step is not None, "a step whose loss is not finite has no signals"
        return self.rule_step.signals

    @property
    def correct(self) -> int:
        """How many samples of the batch the forward pass classified right."""
        return int((self.out.argmax(axis=1) == self.y).sum())

    def commit(self, net: Sequential | None = None) -> None:
        """``optimizer.step(net.params(), grads)`` and the rule's :meth:`~nnlite.rules.base.Rule.commit` of this
        step, once (a second call does nothing; a step with a non-finite loss commits nothing). ``net``: the
        executor the step ran on, when called inside it."""
        rs = self.rule_step
        if rs is None or rs.committed:
            return
        if self.optimizer is not None:
            self.optimizer.step(self.net.params(), rs.grads)
        self.rule.commit(self.net if net is None else net, rs)


def training_mode_state(net: Any) -> tuple[list[dict[str, np.ndarray]], list[tuple[Any, Any]]]:
    """What a training-mode forward pass changes besides its output: buffers (BatchNorm's running statistics) and
    the layers' generators (Dropout's); a few small vectors, copied before every step so that a NaN stop can
    undo it."""
    bufs = [{k: v.copy() for k, v in layer.buffers.items()} for layer in net.layers if getattr(layer, "buffers", None)]
    gens = [(g, g.bit_generator.state) for g in training_state.layer_generators(net).values()]
    return bufs, gens


def restore_training_mode_state(net: Any, state: tuple[list[dict[str, np.ndarray]], list[Any]]) -> None:
    bufs, gens = state
    for layer, saved in zip((l for l in net.layers if getattr(l, "buffers", None)), bufs):
        for k, v in saved.items():
            layer.buffers[k][...] = v
    for g, s in gens:
        g.bit_generator.state = s


def step(
    net: Sequential,
    rule: Rule,
    loss: Loss,
    optimizer: Optimizer | None,
    x: np.ndarray,
    y: np.ndarray,
    *,
    blocks: BlockRunner | None = None,
    commit: bool = True,
    inspect: Callable[[Sequential, Step], None] | None = None,
    timings: dict[str, float] | None = None,
    fold: bool = True,
) -> Step:
    """One training step of ``net`` by ``rule`` on the batch ``(x, y)``, as :func:`nnlite.fit` takes it.

    Inside :func:`nnlite.runtime.step.executor` (the executor the step runs through: row shards for a conv net,
    concurrent blocks with ``blocks``): ``out, caches = runner.forward(x)``; ``loss_value, e = loss(out, y)``;
    ``rule.step(runner, caches, e, y)``; then ``inspect(runner, step)`` (alignment: it reads the step, changes
    nothing) and, with ``commit``, :meth:`Step.commit` (``optimizer.step`` and the rule's own change).

    Parameters
    ----------
    net, rule, loss, optimizer
        As :func:`nnlite.fit` (``optimizer`` None: the rule's change only, no parameter update).
    x, y : ndarray
        One batch, checked by the caller (``fit`` checks the whole training set once).
    blocks : BlockRunner, optional
        One per run: the timed choice of running a rule's independent blocks concurrently.
    commit : bool
        Apply the update now (default); False returns the step uncommitted, for :meth:`Step.commit` later.
    inspect : callable, optional
        ``inspect(runner, step)`` before the update, inside the executor.
    fold : bool
        Fold the update into the weight-gradient products where the optimizer and the rule allow
        (:mod:`nnlite.backend.lazy`; default). The folded update sums in another order than "gradient, then
        update", so it equals the hand-written loop (``rule.gradients``, ``optimizer.step``, ``rule.after_step``) to
        rounding; with ``fold=False`` the step is that loop, bit for bit.
    timings : dict, optional
        Filled with the seconds of the phases inside the executor: ``forward`` (forward pass and loss),
        ``backward`` (the rule's step), ``update`` (the commit) and ``step`` (all three; the benchmarks' figures).

    Returns
    -------
    Step
        With ``finite`` False when the loss is NaN or infinite: nothing is updated and the forward pass is
        undone (the network is exactly as before the step).
    """
    before = training_mode_state(net)
    with executor(net, x.shape[0], blocks) as runner:
        t0 = time.perf_counter()
        out, caches = runner.forward(x, train=True)
        out = out.reshape(out.shape[0], -1)
        value, e = loss(out, y)
        if not math.isfinite(value):
            restore_training_mode_state(net, before)
            return Step(net, rule, optimizer, value, out, e, x, y, caches, None)
        t1 = time.perf_counter()
        fold = fold and bool(getattr(optimizer, "folds", False) and getattr(rule, "folds_updates", False))
        with defer(fold):  # dense weight gradients as products the update folds into its GEMM
            rule_step = rule.step(runner, caches, e, y)
        result = Step(net, rule, optimizer, value, out, e, x, y, caches, rule_step)
        t2 = time.perf_counter()
        if inspect is not None:
            inspect(runner, result)
        t3 = time.perf_counter()
        if commit:
            result.commit(runner)
        if timings is not None:
            t4 = time.perf_counter()
            timings.update(forward=t1 - t0, backward=t2 - t1, update=t4 - t3, step=t4 - t3 + t2 - t0)
    return result

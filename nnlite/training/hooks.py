"""What :func:`nnlite.fit` does around its steps, one hook each: checkpoints, alignment, the lr schedule, the
progress bar and the user's callback. A hook sees the run (:class:`Run`) at the start, at every step (before
the update: ``inspect``, which reads and changes nothing; after it: ``stepped``), at the end of every epoch and
at the end of training."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import alignment as _alignment
from . import state as training_state
from .history import History

if TYPE_CHECKING:
    from ..network import Sequential
    from ..optim import Optimizer, StepDecay
    from ..rules.base import Rule
    from .step import Loss, Step

__all__ = ["Alignment", "Callback", "Checkpoint", "Hook", "Progress", "Run", "Schedule"]


@dataclass(eq=False)
class Run:
    """A ``fit`` call's state: what it trains, the history so far, the epoch and the steps taken."""

    net: Sequential
    rule: Rule
    loss: Loss
    optimizer: Optimizer
    rng: np.random.Generator
    batch_size: int
    steps_per_epoch: int
    epochs: int
    hist: History
    epoch: int = 0
    step: int = 0
    done: int = 0
    #: Set by a hook at the start to end the run at once (a finished run resumed).
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Hook:
    """Base: every method does nothing."""

    def start(self, run: Run) -> None: ...
    def epoch_start(self, run: Run) -> None: ...
    def inspect(self, run: Run, net: Sequential, step: Step) -> None: ...
    def stepped(self, run: Run, step: Step) -> None: ...
    def epoch_end(self, run: Run, seen: int) -> None: ...
    def finish(self, run: Run) -> None: ...


class Checkpoint(Hook):
    """``<folder>/model.npz`` after every epoch (:mod:`nnlite.training.state`); with ``resume``, the run continues
    from it (restored at the start)."""

    def __init__(self, folder: str | os.PathLike, resume: bool, data: tuple[np.ndarray, np.ndarray], extra: dict):
        self.path = training_state.check_writable(folder) / training_state.CHECKPOINT_NAME
        self.resume, self.data, self.extra = resume, data, extra

    def start(self, run: Run) -> None:
        digest = training_state.data_digest(*self.data)
        seed = run.extra.get("seed")
        self.settings = training_state.settings(
            run.net, run.rule, run.loss, run.optimizer, run.batch_size, digest, seed
        )
        self.settings.update(self.extra)
        if self.resume:
            max_steps = run.extra.get("max_steps")
            saved, run.done, run.step = training_state.restore(
                self.path,
                run.net,
                run.rule,
                run.optimizer,
                run.rng,
                self.settings,
                epochs=run.epochs,
                steps_per_epoch=run.steps_per_epoch if max_steps is None else None,
            )
            run.hist = History(**saved)
            max_steps = run.extra.get("max_steps")
            run.finished = run.hist.stopped is not None or (max_steps is not None and run.step >= max_steps)

    def epoch_end(self, run: Run, seen: int) -> None:
        if seen or run.hist.stopped is not None:
            training_state.save(
                self.path,
                run.net,
                run.rule,
                run.optimizer,
                run.rng,
                run.hist,
                epoch=run.epoch,
                step=run.step,
                run_settings=self.settings,
            )


class Alignment(Hook):
    """Every ``every`` steps, the rule's alignment against BP on the step's batch, from the step's own signals
    (``"one-pass"``) or as Launay et al.'s code measures it (``"authors"``), into ``History.alignment``."""

    def __init__(self, every: int, mode: str) -> None:
        self.every, self.mode = every, mode

    def inspect(self, run: Run, net: Sequential, step: Step) -> None:
        if run.step % self.every:
            return
        if self.mode == "authors":
            a = _alignment.measure_as_run(net, run.rule, run.loss, step.x, step.y)
        else:
            a = _alignment.measure(net, run.rule, step.caches, step.e, step.y, step=step.rule_step)
        run.hist.alignment.append({"epoch": run.epoch, "step": run.step, **a.to_dict()})


class Schedule(Hook):
    """The optimizer's lr for each epoch from the lr it has at the start (:class:`nnlite.optim.StepDecay`), put
    back at the end."""

    def __init__(self, schedule: StepDecay) -> None:
        self.schedule = schedule

    def start(self, run: Run) -> None:
        self.lr0 = run.optimizer.lr

    def epoch_start(self, run: Run) -> None:
        run.optimizer.lr = self.schedule.lr(self.lr0, run.epoch)

    def finish(self, run: Run) -> None:
        run.optimizer.lr = self.lr0


class Progress(Hook):
    """A tqdm bar per epoch on standard error, when it is a terminal."""

    bar: Any = None

    def epoch_start(self, run: Run) -> None:
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            desc = f"epoch {run.epoch}/{run.epochs}"
            self.bar = tqdm(total=run.steps_per_epoch, desc=desc, leave=False, dynamic_ncols=True)

    def stepped(self, run: Run, step: Step) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{step.loss:.4f}", refresh=False)

    def epoch_end(self, run: Run, seen: int) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Callback(Hook):
    """``callback(history)`` after each epoch has been recorded (and checkpointed)."""

    def __init__(self, callback: Callable[[History], None]) -> None:
        self.callback = callback

    def epoch_end(self, run: Run, seen: int) -> None:
        if seen:
            self.callback(run.hist)

"""The one training loop, :func:`fit` (its :class:`~nnlite.training.history.History` is in ``history``)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import alignment as _alignment
from .._validation import SeedLike, as_generator, check_inputs, check_labels, positive_int
from ..data import batches
from ..runtime.blocks import BlockRunner
from ..runtime.heap import keep_freed_memory
from . import hooks as hk
from .history import History
from .hooks import Hook, Run
from .step import Loss, Step, step

if TYPE_CHECKING:
    from ..network import Sequential
    from ..optim import Optimizer, StepDecay
    from ..rules.base import Rule


def evaluate(net: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``net`` on ``(x, y)`` in evaluation mode."""
    total, correct = 0.0, 0
    for i in range(0, x.shape[0], batch_size):
        out, _ = net.forward(x[i : i + batch_size], train=False)
        out = out.reshape(out.shape[0], -1)
        l, _ = loss(out, y[i : i + batch_size])
        total += l * out.shape[0]
        correct += int((out.argmax(axis=1) == y[i : i + batch_size]).sum())
    return total / x.shape[0], correct / x.shape[0]


def _check_instances(net: Any, rule: Any, optimizer: Any) -> None:
    """A class where an instance belongs (``nn.DFA`` for ``nn.DFA(seed=1)``) is a TypeError that says so."""
    for what, value, example in (
        ("net", net, "nn.mlp([784, 256, 10])"),
        ("rule", rule, "nn.DFA(seed=1)"),
        ("optimizer", optimizer, "nn.SGD(0.01)"),
    ):
        if isinstance(value, type):
            raise TypeError(
                f"{what} must be an instance, got the class {value.__name__}: call it with its arguments, e.g. "
                f"{example}"
            )


def fit(
    net: Sequential,
    rule: Rule,
    loss: Loss,
    optimizer: Optimizer,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    epochs: int = 1,
    batch_size: int = 128,
    seed: SeedLike = None,
    progress: bool = True,
    alignment_every: int | None = None,
    max_steps: int | None = None,
    callback: Callable[[History], None] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    lr_schedule: StepDecay | None = None,
    alignment_mode: str = "one-pass",
    keep_memory: bool = True,
) -> History:
    """Train ``net`` with ``rule``.

    Parameters
    ----------
    net : Sequential
    rule : Rule
        Any registered rule: {rules}.
    loss : callable
        ``loss(out, y) -> (float, e)``, e.g. :func:`nnlite.softmax_cross_entropy`.
    optimizer : SGD, Adam or RMSprop
        A new one per network (a stateful optimizer refuses another network's parameters).
    train : tuple (x, y)
        x of shape ``(N, *net.input_shape)`` in the network's dtype, y integer labels of shape (N,), N >= 1.
    test : tuple (x, y), optional
    epochs, batch_size : int
    seed : int, Generator or None
        Seeds the order of the mini-batches.
    progress : bool
        A tqdm progress bar on standard error (only when it is a terminal).
    alignment_every : int, optional
        Every this many steps, measure the alignment of ``rule`` against BP on the current batch
        (:func:`nnlite.alignment.measure`) and record it in ``History.alignment``.
    max_steps : int, optional
        A positive integer: stop after this many steps in all (the last epoch is then partial and is still
        recorded).
    callback : callable, optional
        Called as ``callback(history)`` after each epoch has been recorded (and checkpointed).
    checkpoint_dir : path, optional
        At the end of every epoch, write ``<checkpoint_dir>/model.npz`` atomically: the network, the rule's state
        and the training state (optimizer, generators, history; :mod:`nnlite.training.state`). The folder is
        checked for writing before the first step. :func:`nnlite.load` reads the file as a model.
    resume : bool
        Continue from ``<checkpoint_dir>/model.npz`` (which must exist): ``net``, ``rule`` and ``optimizer`` must be
        built as for the interrupted run (same architecture, rule and seeds, optimizer settings, loss, batch size
        and training data; a difference is refused, naming it), and ``seed`` must be what it was. Training
        continues after the last finished epoch, and the result is bit-identical to an uninterrupted run at the
        same BLAS thread count. ``epochs`` may be larger than before, to train on.
    alignment_mode : {"one-pass", "authors"}
        How ``alignment_every`` measures: on the step's own training-mode pass (:func:`nnlite.alignment.measure`)
        or as Launay et al.'s code does, the rule's signals from an evaluation-mode pass and BP's from another
        training-mode pass (:func:`nnlite.alignment.measure_as_run`; the layers' generators and batch norm's
        statistics are put back, so training is the same either way).
    lr_schedule : StepDecay, optional
        The optimizer's lr for each epoch, from the lr it has when ``fit`` starts
        (:class:`nnlite.optim.StepDecay`: ``lr_0 * factor^m`` after ``m`` milestones); put back on return. A
        resumed run must be given the same schedule.
    keep_memory : bool
        Have the process keep the memory a step frees for the next (:func:`nnlite.keep_freed_memory`, called
        once before the first step), so that a step after the first takes no new pages: on ``cnn()`` at batch
        128 a step otherwise maps its large arrays anew and takes thousands of page faults. The setting is
        glibc's and process-wide, and stays in force after ``fit`` returns (the peak memory is the same; the
        process keeps it instead of giving it back between steps). False leaves malloc's settings alone.
        Results are the same bits either way.

    Returns
    -------
    History

    Raises
    ------
    KeyboardInterrupt
        Passed on as it comes; with ``checkpoint_dir``, the last finished epoch is in ``model.npz``.

    Notes
    -----
    Each epoch's steps are :func:`nnlite.training.step` (the one definition of a step: forward, loss, the rule's
    step, the update and the rule's own change, through :func:`nnlite.runtime.step.executor`); around them, one
    hook each (:mod:`nnlite.training.hooks`): the checkpoint, the alignment (measured from the step's own
    signals, before the update), the lr schedule, the progress bar and the callback.
    Training stops as soon as a loss is NaN or infinite, before that step's update, and the network is left
    exactly as it was before that step (BatchNorm's running statistics and Dropout's generators included);
    ``History.stopped`` says at which epoch and step.
    A network with BatchNorm over features (after a Dense layer) cannot train on a batch of one sample: a
    training set with ``N % batch_size == 1`` is refused before the first step (choose another batch size).
    """
    _check_instances(net, rule, optimizer)
    x, y = _check_split(net, train, "train")
    evaluation = None if test is None else _check_split(net, test, "test")
    _check_options(epochs, batch_size, max_steps, alignment_every, alignment_mode, resume, checkpoint_dir, keep_memory)
    _check_batchnorm_batches(net, x.shape[0], batch_size)
    if keep_memory:
        keep_freed_memory()
    name = getattr(rule, "name", type(rule).__name__.lower())
    per_epoch = math.ceil(x.shape[0] / batch_size)
    run = Run(net, rule, loss, optimizer, as_generator(seed), batch_size, per_epoch, epochs, History(rule=name))
    run.extra["max_steps"] = max_steps
    run.extra["seed"] = seed  # a resumed run's checkpoint must come from a run of this seed
    hooks: list[Hook] = []
    if checkpoint_dir is not None:
        schedule = {} if lr_schedule is None else {"lr_schedule": repr(lr_schedule)}
        hooks.append(hk.Checkpoint(checkpoint_dir, resume, (x, y), schedule))
    if lr_schedule is not None:
        hooks.append(hk.Schedule(lr_schedule))
    if alignment_every:
        hooks.append(hk.Alignment(alignment_every, alignment_mode))
    if progress:
        hooks.append(hk.Progress())
    if callback is not None:
        hooks.append(hk.Callback(callback))
    for h in hooks:
        h.start(run)
        if run.finished:
            return run.hist
    try:
        for epoch in range(run.done + 1, epochs + 1):
            run.epoch = epoch
            if _epoch(run, x, y, evaluation, hooks):
                break
    finally:
        for h in hooks:
            h.finish(run)
    return run.hist


def _epoch(run: Run, x: np.ndarray, y: np.ndarray, evaluation: Any, hooks: list[Hook]) -> bool:
    """One epoch of ``run``: its steps, its record in the history, the hooks; whether training ends here."""
    for h in hooks:
        h.epoch_start(run)
    inspecting = [h for h in hooks if type(h).inspect is not Hook.inspect]

    def inspect(net: Sequential, s: Step) -> None:
        for h in inspecting:
            h.inspect(run, net, s)

    blocks = run.extra.setdefault("blocks", BlockRunner())  # parallel DFA's timed choice, kept from step to step
    max_steps, hist = run.extra["max_steps"], run.hist
    t0 = time.perf_counter()
    loss_sum, correct, seen = 0.0, 0, 0
    for xb, yb in batches(x, y, run.batch_size, shuffle=True, rng=run.rng):
        assert yb is not None
        hook = inspect if inspecting else None
        s = step(run.net, run.rule, run.loss, run.optimizer, xb, yb, blocks=blocks, inspect=hook)
        if not s.finite:
            hist.stopped = {"epoch": run.epoch, "step": run.step + 1, "reason": f"loss is {s.loss}"}
            break
        run.step += 1
        loss_sum += s.loss * xb.shape[0]
        correct += s.correct
        seen += xb.shape[0]
        for h in hooks:
            h.stepped(run, s)
        del (
            s
        )  # the step's caches and gradients go before the next step allocates its own (as the memory policy expects)
        if max_steps is not None and run.step >= max_steps:
            break
    if seen:
        hist.epoch.append(run.epoch)
        hist.train_loss.append(loss_sum / seen)
        hist.train_acc.append(correct / seen)
        hist.seconds.append(time.perf_counter() - t0)
        if evaluation is not None:
            tl, ta = evaluate(run.net, run.loss, *evaluation)
            hist.test_loss.append(tl)
            hist.test_acc.append(ta)
    for h in hooks:
        h.epoch_end(run, seen)
    return hist.stopped is not None or (max_steps is not None and run.step >= max_steps)


def _check_options(epochs, batch_size, max_steps, alignment_every, alignment_mode, resume, checkpoint_dir, keep_memory):
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        positive_int(v, name)
    if max_steps is not None:
        positive_int(max_steps, "max_steps")
    if alignment_every is not None:
        positive_int(alignment_every, "alignment_every")
    if alignment_mode not in _alignment.ALIGNMENT_MODES:
        raise ValueError(f"alignment_mode must be one of {_alignment.ALIGNMENT_MODES}, got {alignment_mode!r}")
    if not isinstance(resume, (bool, np.bool_)):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir to resume from")
    if not isinstance(keep_memory, (bool, np.bool_)):
        raise TypeError(f"keep_memory must be True or False, got {keep_memory!r}")


def _check_batchnorm_batches(net, n, batch_size):
    """Refuse a training set whose last mini-batch would give a BatchNorm layer one value per feature."""
    from ..layers import BatchNorm

    last = n % batch_size
    if last == 0:
        return
    shape = tuple(net.input_shape)
    for i, layer in enumerate(net.layers):
        if isinstance(layer, BatchNorm) and last * math.prod(shape[1:]) < 2:
            raise ValueError(
                f"layer {i} ({layer!r}) cannot train on the last mini-batch of {n} samples in batches of "
                f"{batch_size}: it holds {last} sample, one value per feature; choose a batch size that does not "
                f"leave one sample over (e.g. {_batch_size_near(n, batch_size)})"
            )
        shape = tuple(layer.output_shape(shape))


def _batch_size_near(n, batch_size):
    for d in range(1, batch_size + 1):
        for b in (batch_size + d, batch_size - d):
            if 1 <= b and n % b != 1:
                return b
    return n


def _check_split(net, split, name):
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise TypeError(f"{name} must be a pair (x, y), got {type(split).__name__}")
    x, y = split
    check_inputs(x, n_features=math.prod(net.input_shape), ndim=1 + len(net.input_shape), name=f"{name} x")
    if x.shape[1:] != net.input_shape:
        raise ValueError(f"{name} x: expected samples of shape {net.input_shape}, got {x.shape[1:]}")
    if x.dtype != net.dtype:
        raise TypeError(f"{name} x is {x.dtype} but the network is {net.dtype}; convert it with .astype first")
    check_labels(y, net.n_outputs, n=x.shape[0], name=f"{name} labels")
    return x, np.asarray(y)


def _name_the_rules() -> None:
    from ..rules import registry

    names = ", ".join(f"{e.cls.__name__} (``{n}``)" for n, e in registry.RULES.items())
    if fit.__doc__:
        fit.__doc__ = fit.__doc__.replace("{rules}", names)


_name_the_rules()

"""The one training loop, :func:`fit` (its :class:`~nnlite.training.history.History` is in ``history``)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import alignment as _alignment
from .._validation import SeedLike, as_generator, check_inputs, check_labels, positive_int
from ..data import batches
from ..runtime.blocks import BlockRunner
from ..runtime.heap import keep_freed_memory
from ..runtime.step import executor
from . import state as training_state
from .history import History

if TYPE_CHECKING:
    from ..network import Sequential
    from ..optim import Optimizer, StepDecay
    from ..rules.base import Rule

#: A loss: ``loss(out, y) -> (batch-mean loss, e = dL/d(out))``.
Loss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


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


def _progress_bar(total, desc, enabled):
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)


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
        BP, FA, DFA, IFA, LAFS, uSF, brSF, frSF, KP, DRTP or sDFA.
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
    One step: ``out, caches = runner.forward(x)``; ``loss_value, e = loss(out, y)``;
    ``grads = rule.gradients(runner, caches, e, y)``; ``optimizer.step(net.params(), grads)``;
    ``rule.after_step(runner, grads)`` (KP's feedback update, brSF's redraw), all inside
    ``nnlite.runtime.step.executor(net, len(x))``, which yields the ``runner`` the rule takes as the same network:
    for a conv net a :class:`~nnlite.runtime.sharded.ShardedNetwork` (one row shard per BLAS thread in force, on
    one-thread BLAS each), else a :class:`~nnlite.runtime.blocks.ConcurrentBlocks` (``DFA(parallel=True)``'s
    blocks on threads where that was timed faster).
    Training stops as soon as a loss is NaN or infinite, before that step's update, and the network is left
    exactly as it was before that step (BatchNorm's running statistics and Dropout's generators included);
    ``History.stopped`` says at which epoch and step.
    A network with BatchNorm over features (after a Dense layer) cannot train on a batch of one sample: a
    training set with ``N % batch_size == 1`` is refused before the first step (choose another batch size).
    """
    _check_instances(net, rule, optimizer)
    x, y = _check_split(net, train, "train")
    if test is not None:
        xt, yt = _check_split(net, test, "test")
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
    _check_batchnorm_batches(net, x.shape[0], batch_size)
    if keep_memory:
        keep_freed_memory()
    rng = as_generator(seed)
    hist = History(rule=getattr(rule, "name", type(rule).__name__.lower()))
    params = net.params()
    step, done = 0, 0
    ckpt = None
    if checkpoint_dir is not None:
        ckpt = training_state.check_writable(checkpoint_dir) / training_state.CHECKPOINT_NAME
        digest = training_state.data_digest(x, y)
        run_settings = training_state.settings(net, rule, loss, optimizer, batch_size, digest, seed)
        if lr_schedule is not None:
            run_settings["lr_schedule"] = repr(lr_schedule)
        if resume:
            per_epoch = math.ceil(x.shape[0] / batch_size) if max_steps is None else None
            saved, done, step = training_state.restore(
                ckpt, net, rule, optimizer, rng, run_settings, epochs=epochs, steps_per_epoch=per_epoch
            )
            hist = History(**saved)
            if hist.stopped is not None or (max_steps is not None and step >= max_steps):
                return hist
    steps_per_epoch = math.ceil(x.shape[0] / batch_size)
    blocks = BlockRunner()  # parallel DFA's timed choice, kept from step to step
    lr0 = optimizer.lr if lr_schedule is not None else 0.0
    try:
        for epoch in range(done + 1, epochs + 1):
            if lr_schedule is not None:
                optimizer.lr = lr_schedule.lr(lr0, epoch)
            bar = _progress_bar(steps_per_epoch, f"epoch {epoch}/{epochs}", progress)
            t0 = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            for xb, yb_ in batches(x, y, batch_size, shuffle=True, rng=rng):
                assert yb_ is not None
                yb = yb_
                before = _training_mode_state(net)
                with executor(net, xb.shape[0], blocks) as runner:
                    out, caches = runner.forward(xb, train=True)
                    out2 = out.reshape(out.shape[0], -1)
                    lval, e = loss(out2, yb)
                    if not math.isfinite(lval):
                        _restore_training_mode_state(net, before)
                        hist.stopped = {"epoch": epoch, "step": step + 1, "reason": f"loss is {lval}"}
                        break
                    grads = rule.gradients(runner, caches, e, yb)
                    if alignment_every and step % alignment_every == 0:
                        if alignment_mode == "authors":
                            a = _alignment.measure_as_run(runner, rule, loss, xb, yb)
                        else:
                            a = _alignment.measure(runner, rule, caches, e, yb)
                        hist.alignment.append({"epoch": epoch, "step": step, **a.to_dict()})
                    optimizer.step(params, grads)
                    rule.after_step(runner, grads)
                step += 1
                n = xb.shape[0]
                loss_sum += lval * n
                correct += int((out2.argmax(axis=1) == yb).sum())
                seen += n
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{lval:.4f}", refresh=False)
                if max_steps is not None and step >= max_steps:
                    break
            seconds = time.perf_counter() - t0
            if bar is not None:
                bar.close()
            if seen:
                hist.epoch.append(epoch)
                hist.train_loss.append(loss_sum / seen)
                hist.train_acc.append(correct / seen)
                hist.seconds.append(seconds)
                if test is not None:
                    tl, ta = evaluate(net, loss, xt, yt)
                    hist.test_loss.append(tl)
                    hist.test_acc.append(ta)
            if ckpt is not None and (seen or hist.stopped is not None):
                training_state.save(
                    ckpt, net, rule, optimizer, rng, hist, epoch=epoch, step=step, run_settings=run_settings
                )
            if seen and callback is not None:
                callback(hist)
            if hist.stopped is not None or (max_steps is not None and step >= max_steps):
                break
    finally:
        if lr_schedule is not None:
            optimizer.lr = lr0
    return hist


def _training_mode_state(net):
    """What a training-mode forward pass changes besides its output: buffers (BatchNorm's running statistics) and
    the layers' generators (Dropout's); a few small vectors, copied at every step so that a NaN stop can undo it."""
    bufs = [{k: v.copy() for k, v in layer.buffers.items()} for layer in net.layers if getattr(layer, "buffers", None)]
    gens = [(g, g.bit_generator.state) for g in training_state.layer_generators(net).values()]
    return bufs, gens


def _restore_training_mode_state(net, state):
    bufs, gens = state
    for layer, saved in zip((l for l in net.layers if getattr(l, "buffers", None)), bufs):
        for k, v in saved.items():
            layer.buffers[k][...] = v
    for g, s in gens:
        g.bit_generator.state = s


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

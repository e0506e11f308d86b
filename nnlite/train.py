"""The one training loop, :func:`fit`, and its :class:`History`."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import alignment as _alignment
from ._validation import SeedLike, as_generator, check_inputs, check_labels, positive_int
from .checkpoint import write_json
from .data import batches

if TYPE_CHECKING:
    from .network import Sequential
    from .optim import Optimizer
    from .rules.base import Rule

#: A loss: ``loss(out, y) -> (batch-mean loss, e = dL/d(out))``.
Loss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass
class History:
    """What :func:`fit` measured, one entry per completed epoch.

    Attributes
    ----------
    epoch : list of int
    train_loss : list of float
        Mean of the batch losses over the epoch (training mode, weights changing during the epoch).
    train_acc : list of float
        Accuracy on the training batches as they were seen during the epoch (training mode).
    test_loss, test_acc : list of float
        On the test set, in evaluation mode, at the end of the epoch (empty without a test set).
    seconds : list of float
        Wall time of each epoch's training steps (evaluation excluded).
    alignment : list of dict
        With ``alignment_every=n``: every n steps, ``{"epoch", "step", **Alignment.to_dict()}`` on that batch.
    stopped : dict or None
        ``{"epoch", "step", "reason"}`` if training stopped early (a NaN or infinite loss).
    rule : str
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    alignment: list = field(default_factory=list)
    stopped: dict | None = None
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (NaN written as null)."""

        write_json(path, self.to_dict())


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
) -> History:
    """Train ``net`` with ``rule``.

    Parameters
    ----------
    net : Sequential
    rule : BP, FA, DFA, IFA or LAFS
    loss : callable
        ``loss(out, y) -> (float, e)``, e.g. :func:`nnlite.softmax_cross_entropy`.
    optimizer : SGD, Adam or RMSprop
    train : tuple (x, y)
        x of shape (N, *net.input_shape) in the network's dtype, y integer labels of shape (N,).
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
        Stop after this many steps in all (the last epoch is then partial and is still recorded).
    callback : callable, optional
        Called as ``callback(history)`` after each epoch has been recorded (e.g. to print a live table).

    Returns
    -------
    History

    Notes
    -----
    One step: ``out, caches = net.forward(x)``; ``loss_value, e = loss(out, y)``;
    ``grads = rule.gradients(net, caches, e, y)``; ``optimizer.step(net.params(), grads)``;
    ``rule.after_step(net, grads)`` (KP's feedback update, brSF's redraw).
    Training stops as soon as a loss is NaN or infinite, before that step's update; ``History.stopped`` says at
    which epoch and step.
    """
    x, y = _check_split(net, train, "train")
    if test is not None:
        xt, yt = _check_split(net, test, "test")
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        positive_int(v, name)
    if alignment_every is not None and (not isinstance(alignment_every, (int, np.integer)) or alignment_every < 1):
        raise ValueError(f"alignment_every must be a positive integer or None, got {alignment_every!r}")
    rng = as_generator(seed)
    hist = History(rule=getattr(rule, "name", type(rule).__name__.lower()))
    params = net.params()
    step = 0
    steps_per_epoch = math.ceil(x.shape[0] / batch_size)
    for epoch in range(1, epochs + 1):
        bar = _progress_bar(steps_per_epoch, f"epoch {epoch}/{epochs}", progress)
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb_ in batches(x, y, batch_size, shuffle=True, rng=rng):
            assert yb_ is not None
            yb = yb_
            out, caches = net.forward(xb, train=True)
            out2 = out.reshape(out.shape[0], -1)
            lval, e = loss(out2, yb)
            if not math.isfinite(lval):
                hist.stopped = {"epoch": epoch, "step": step + 1, "reason": f"loss is {lval}"}
                break
            grads = rule.gradients(net, caches, e, yb)
            if alignment_every and step % alignment_every == 0:
                a = _alignment.measure(net, rule, caches, e, yb)
                hist.alignment.append({"epoch": epoch, "step": step, **a.to_dict()})
            optimizer.step(params, grads)
            rule.after_step(net, grads)
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
            if callback is not None:
                callback(hist)
        if hist.stopped is not None or (max_steps is not None and step >= max_steps):
            break
    return hist


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

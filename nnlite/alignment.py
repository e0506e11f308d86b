"""Alignment: how close a rule's signals and updates are to BP's, from one forward pass (Launay et al. §2.2,
Gilmer et al. Fig. 1, and the weight angle of Lillicrap et al. for the FA family)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend.lazy import materialize
from .rules.base import Rule, RuleStep
from .rules.bp import BP

if TYPE_CHECKING:
    from .network import Caches, Sequential

__all__ = ["ALIGNMENT_MODES", "Alignment", "angle", "cosine", "cosine_per_sample", "measure", "measure_as_run"]

#: How alignment is measured: on one training-mode pass (``measure``) or as Launay et al.'s code does
#: (``measure_as_run``).
ALIGNMENT_MODES = ("one-pass", "authors")


def cosine_per_sample(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine between the rows of ``a`` and ``b`` (each flattened per sample), shape (N,).

    Rows where either vector is zero give NaN (the angle is undefined), and are left out of the statistics.
    Computed in float64 whatever the inputs (a statistic, not part of the training arithmetic).
    """
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (a * b).sum(axis=1) / (na * nb)
    c[(na == 0) | (nb == 0)] = np.nan
    return np.clip(c, -1.0, 1.0)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine between two arrays taken as flat vectors (NaN if either is zero)."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return math.nan
    return max(-1.0, min(1.0, float(a @ b) / (na * nb)))


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle in degrees between two arrays taken as flat vectors (NaN if either is zero)."""
    c = cosine(a, b)
    return math.nan if math.isnan(c) else math.degrees(math.acos(c))


def _stats(c: np.ndarray) -> tuple[float, float, float]:
    c = c[~np.isnan(c)]
    if c.size == 0:
        return math.nan, math.nan, math.nan
    return float(c.mean()), float(c.std()), float(np.degrees(np.arccos(c)).mean())


@dataclass
class Alignment:
    """Alignment of one rule against BP on one batch.

    :func:`measure` and :func:`measure_as_run` make one; each parameter is also the attribute of that name.

    Parameters
    ----------
    signal_cos, signal_cos_std, signal_angle : list of float
        Per hidden feedback point: mean and standard deviation over the batch of the per-sample cosine between
        the rule's ``g_k`` and BP's ``c_k``, and the mean per-sample angle in degrees.
    update_cos : list of float
        Per layer with parameters (the order of ``net.params()``): cosine between the rule's and BP's update of
        all that layer's parameters, taken as one vector.
    error_angle : list of float
        Rules with local errors (DFA, LAFS, DRTP, sDFA): per hidden block, the mean per-sample angle in degrees
        between the local error ``e_k`` and the output error ``e``.
    readout_acc : list of float
        Rules with local errors: per hidden block, the accuracy of the readout ``argmax(h_k @ B_k)``.
        Both stay empty when the projection cannot apply its transpose (the OPU).
    weight_angle : list of float
        The FA family (FA, uSF, brSF, frSF, KP): for blocks 1..K-1, the angle in degrees between ``W_k`` and the
        ``B_k`` used in its place, as flat vectors (Lillicrap et al.; biotorch's weight-alignment metric).
    readout_cos : list of float
        Rules with local errors: per hidden block, the mean over the batch of the per-sample cosine between the
        readout (``h_k @ B_k``; a local classifier's logits) and the network's output: how well the direct path
        ``B_k`` estimates the forward path from ``h_k`` (DKP's learned ``B_k``; Webster et al.'s
        ``cos_alignment/*_to_output``).

    Examples
    --------
    BP measured against itself: every cosine is 1.

    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> a = nn.alignment.measure(net, nn.BP(), caches, e, y)
    >>> [round(c, 6) for c in a.signal_cos], [round(c, 6) for c in a.update_cos]
    ([1.0, 1.0], [1.0, 1.0, 1.0])
    >>> sorted(a.to_dict())[:3]
    ['error_angle', 'readout_acc', 'readout_cos']
    """

    signal_cos: list[float] = field(default_factory=list)
    signal_cos_std: list[float] = field(default_factory=list)
    signal_angle: list[float] = field(default_factory=list)
    update_cos: list[float] = field(default_factory=list)
    error_angle: list[float] = field(default_factory=list)
    readout_acc: list[float] = field(default_factory=list)
    weight_angle: list[float] = field(default_factory=list)
    readout_cos: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    net: Sequential,
    rule: Rule,
    caches: Caches,
    e: np.ndarray,
    y: np.ndarray,
    *,
    reference: Rule | None = None,
    step: RuleStep | None = None,
) -> Alignment:
    """Alignment of ``rule`` against BP (or ``reference``) from one forward pass.

    Parameters
    ----------
    net : Sequential
    rule : Rule
    caches : Caches
        From ``net.forward(x, train=True)``.
    e : ndarray, shape (N, C)
        The output error of the loss.
    y : ndarray of int, shape (N,)
    reference : Rule, optional
        What to compare with (default BP).
    step : RuleStep, optional
        The rule's step on these caches (:meth:`Rule.step`, a training step's ``rule_step``): its gradients and
        signals are measured instead of computing them again.

    Returns
    -------
    Alignment

    Notes
    -----
    Measuring never changes the rule: a rule's step changes nothing until it is committed, and nothing here
    commits one, so a measurement on any batch at any moment leaves the next update as it was.
    """
    reference = BP() if reference is None else reference
    ref_grads, c = reference.gradients_and_signals(net, caches, e, y)
    return _against(net, rule, caches, e, y, ref_grads, c, step)


def measure_as_run(
    net: Sequential, rule: Rule, loss: Any, x: np.ndarray, y: np.ndarray, *, reference: Rule | None = None
) -> Alignment:
    """Alignment of ``rule`` against BP (or ``reference``) measured as Launay et al.'s code measures it.

    Their ``_end_epoch`` runs ``validate()`` first, which leaves the DFA network in evaluation mode, while the BP
    copy it is compared with stays in training mode: the rule's signals come from an evaluation-mode pass (batch
    norm's running statistics, no dropout), BP's from a training-mode pass with its own dropout masks and the
    batch's statistics. Batch norm and dropout then lower the measured cosine by themselves.

    Parameters
    ----------
    net : Sequential
    rule : Rule
    loss : callable
        ``loss(out, y) -> (float, e)``, the training loss (each pass gets its own ``e``).
    x : ndarray, shape ``(N, *net.input_shape)``
    y : ndarray of int, shape (N,)
    reference : Rule, optional
        What to compare with (default BP).

    Returns
    -------
    Alignment

    Notes
    -----
    ``c_k`` and BP's updates from ``net.forward(x, train=True)`` and its ``e``; ``g_k``, the rule's updates, local
    errors and readouts from ``net.forward(x, train=False)`` and its ``e``. The layers' generators and batch
    norm's running statistics are put back as they were before the training-mode pass, so measuring changes
    nothing of the training that follows. Without batch norm and dropout it equals :func:`measure`.
    """
    reference = BP() if reference is None else reference
    saved = _training_mode_state(net)
    try:
        out, caches = net.forward(x, train=True)  # BP's copy, in training mode
        _, e = loss(out.reshape(out.shape[0], -1), y)
        ref_grads, c = reference.gradients_and_signals(net, caches, e, y)
    finally:
        _restore(net, saved)
    out, caches = net.forward(x, train=False)  # the rule's network, left in evaluation mode by validate()
    _, e = loss(out.reshape(out.shape[0], -1), y)
    return _against(net, rule, caches, e, y, ref_grads, c)


def _training_mode_state(net: Sequential) -> tuple[list[dict[str, np.ndarray]], list[tuple[Any, Any]]]:
    """Batch norm's buffers and the layers' generators: what a training-mode pass changes besides its output."""
    bufs = [{k: v.copy() for k, v in (getattr(layer, "buffers", None) or {}).items()} for layer in net.layers]
    gens = [
        (g, g.bit_generator.state)
        for layer in net.layers
        if isinstance(g := getattr(layer, "rng", None), np.random.Generator)
    ]
    return bufs, gens


def _restore(net: Sequential, saved: tuple[list[dict[str, np.ndarray]], list[tuple[Any, Any]]]) -> None:
    bufs, gens = saved
    for layer, b in zip(net.layers, bufs):
        for k, v in b.items():
            getattr(layer, "buffers")[k][...] = v  # noqa: B009 (Layer declares no buffers)
    for g, state in gens:
        g.bit_generator.state = state


def _against(
    net: Sequential,
    rule: Rule,
    caches: Caches,
    e: np.ndarray,
    y: np.ndarray,
    ref_grads: list,
    c: list,
    step: RuleStep | None = None,
) -> Alignment:
    """The rule's signals and updates on ``caches`` (``step``'s when given) against the reference's ``c`` and
    ``ref_grads``."""
    if step is None:
        step = rule.step(net, caches, e, y)
    grads, g = materialize(step.grads), step.signals
    out = Alignment()
    for gk, ck in zip(g, c):
        m, s, a = _stats(cosine_per_sample(gk, ck))
        out.signal_cos.append(m)
        out.signal_cos_std.append(s)
        out.signal_angle.append(a)
    for gr, rr in zip(grads, ref_grads):
        keys = sorted(gr)
        out.update_cos.append(
            cosine(np.concatenate([gr[k].ravel() for k in keys]), np.concatenate([rr[k].ravel() for k in keys]))
        )
    if rule.has_local_errors(net):
        for k, e_k in enumerate(rule.local_errors(net, caches, y)):
            out.error_angle.append(_stats(cosine_per_sample(e_k, e.reshape(e.shape[0], -1)))[2])
            z = rule.readout(net, k, caches.block_outputs[k])
            out.readout_acc.append(float((z.argmax(axis=1) == y).mean()))
            out.readout_cos.append(_stats(cosine_per_sample(z, caches.block_outputs[-1]))[0])
    feedbacks = rule.weight_feedbacks(net)
    if feedbacks is not None:
        for k in range(1, net.n_blocks):
            B = feedbacks[k]
            if B is not None:
                out.weight_angle.append(angle(net.weight_layer(k).params["W"], B))
    return out

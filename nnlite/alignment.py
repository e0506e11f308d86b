"""Alignment: how close a rule's signals and updates are to BP's, from one forward pass (Launay et al. §2.2,
Gilmer et al. Fig. 1)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .rules.bp import BP


def cosine_per_sample(a, b):
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


def cosine(a, b):
    """Cosine between two arrays taken as flat vectors (NaN if either is zero)."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return math.nan
    return max(-1.0, min(1.0, float(a @ b) / (na * nb)))


def _stats(c):
    c = c[~np.isnan(c)]
    if c.size == 0:
        return math.nan, math.nan, math.nan
    return float(c.mean()), float(c.std()), float(np.degrees(np.arccos(c)).mean())


@dataclass
class Alignment:
    """Alignment of one rule against BP on one batch.

    Attributes
    ----------
    signal_cos, signal_cos_std, signal_angle : list of float
        Per hidden feedback point: mean and standard deviation over the batch of the per-sample cosine between
        the rule's ``g_k`` and BP's ``c_k``, and the mean per-sample angle in degrees.
    update_cos : list of float
        Per layer with parameters (the order of ``net.params()``): cosine between the rule's and BP's update of
        all that layer's parameters, taken as one vector.
    error_angle : list of float
        DFA and LAFS only: per hidden block, the mean per-sample angle in degrees between the local error ``e_k``
        and the output error ``e``.
    readout_acc : list of float
        DFA and LAFS only: per hidden block, the accuracy of the readout ``argmax(h_k @ B_k)``.
        Both stay empty when the projection cannot apply its transpose (the OPU).
    """

    signal_cos: list = field(default_factory=list)
    signal_cos_std: list = field(default_factory=list)
    signal_angle: list = field(default_factory=list)
    update_cos: list = field(default_factory=list)
    error_angle: list = field(default_factory=list)
    readout_acc: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


def measure(net, rule, caches, e, y, *, reference=None):
    """Alignment of ``rule`` against BP (or ``reference``) from one forward pass.

    Parameters
    ----------
    net : Sequential
    rule : BP, FA, DFA, IFA or LAFS
    caches : Caches
        From ``net.forward(x, train=True)``.
    e : ndarray, shape (N, C)
        The output error of the loss.
    y : ndarray of int, shape (N,)

    Returns
    -------
    Alignment
    """
    reference = BP() if reference is None else reference
    ref_grads, c = reference.gradients_and_signals(net, caches, e, y)
    grads, g = rule.gradients_and_signals(net, caches, e, y)
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
    return out

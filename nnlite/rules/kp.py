"""Kolen–Pollack learning (Kolen & Pollack 1994; Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, "Deep learning
without weight transport"): FA whose ``B_k`` learns with the same update as ``W_k``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import backend as dispatch
from .._validation import SeedLike, check_seed, finite_float
from ..backend.lazy import product_of
from .base import RuleStep
from .fa import FeedbackChain, given_feedbacks, initial_feedbacks, load_matrices
from .options import Option

if TYPE_CHECKING:
    from ..network import Sequential

__all__ = ["FEEDBACK_LEARNING", "KP"]

#: The options of a feedback that learns by SGD (KP's B_k, DKP's direct B_k): one run option each for both rules.
FEEDBACK_LEARNING = (
    Option("lr", "float", None, "learning rate of the feedback B_k (default: --lr)", "positive", "kp_lr", "lr"),
    Option(
        "weight_decay",
        "float",
        None,
        "weight decay of the B_k (default: --weight-decay)",
        "nonnegative",
        "kp_weight_decay",
        "weight_decay",
    ),
)


class KP(FeedbackChain):
    """Kolen–Pollack: FA whose feedback ``B_k`` (of ``W_k``'s shape) gets the same update as ``W_k`` and a weight
    decay, so that ``W_k`` and ``B_k`` converge to each other.

    Parameters
    ----------
    lr : float
        η, the learning rate of ``B_k`` (required: use the forward weights' learning rate).
    weight_decay : float
        λ >= 0, the decay of ``B_k`` (required; the forward weights get theirs from the optimizer, as in the paper).
    seed : int, Generator or None
        Seeds the initial ``B_k`` (drawn with ``W_k``'s scheme).
    feedbacks : list of ndarray, optional
        Explicit initial ``B_k`` (``None`` for block 0); they are copied, not updated in place.

    Notes
    -----
    The backward pass is FA's: ``delta_k = (delta_{k+1} @ B_{k+1}) * f'(a_k)``, ``ΔW_k = delta_k.T @ h_{k-1}``.
    After each step (:meth:`commit`), ``B_k <- (1 - ηλ) B_k - η ΔW_k``, computed as ``B_k <- B_k - η (ΔW_k
    + λ B_k)`` by the same kernel as SGD: with ``B_k = W_k`` at the start and SGD(lr η, weight decay λ) for the
    forward weights, ``B_k`` and ``W_k`` stay equal bit for bit and KP is BP at every step. ``B_k`` belongs to the
    rule, not to ``net.params()``; :meth:`state` holds it for checkpoints.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.KP(lr=1e-3, weight_decay=1e-4, seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    folds_updates = True

    name = "kp"
    options = FEEDBACK_LEARNING

    def __init__(
        self, lr: float, weight_decay: float, seed: SeedLike = None, feedbacks: list[np.ndarray | None] | None = None
    ):
        self.lr = finite_float(lr, "lr", minimum=0.0, strict=True)
        self.weight_decay = finite_float(weight_decay, "weight_decay", minimum=0.0)
        self.seed = check_seed(seed)
        self._given = given_feedbacks(feedbacks)
        self._B: list[np.ndarray | None] = []

    def _setup(self, net: Sequential) -> None:
        self._B = [
            None if B is None else np.array(B, copy=True) for B in initial_feedbacks(net, self.seed, self._given)
        ]

    def current_feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        return self._B

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        """``B_k <- B_k - η (ΔW_k + λ B_k)`` for every block k >= 1, with ``ΔW_k`` the step's own gradients."""
        self.setup(net)
        grads = step.grads
        slices = net.block_param_slices()
        for k in range(1, net.n_blocks):
            B = self._B[k]
            assert B is not None
            dW = grads[slices[k][0]]["W"]
            prod = product_of(grads, slices[k][0], "W")
            if prod is not None:  # the update W got, folded the same way: B_k keeps tracking W_k exactly
                prod.add_to(B, alpha=-self.lr, beta=1.0 - self.lr * self.weight_decay)
            else:
                dispatch.sgd_update(B, dW, None, lr=self.lr, weight_decay=self.weight_decay)

    def state(self) -> dict[str, np.ndarray]:
        return {f"B{k}": B for k, B in enumerate(self._B) if B is not None}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_matrices(self._B, state, "B", "KP")

    def __repr__(self) -> str:
        fb = "" if self._given is None else ", feedbacks=[...]"
        return f"KP(lr={self.lr!r}, weight_decay={self.weight_decay!r}, seed={self.seed!r}{fb})"

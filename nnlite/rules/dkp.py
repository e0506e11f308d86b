"""Direct Kolen–Pollack (Webster, Choi & Ahn 2021, "Learning the connections in direct feedback alignment"): DFA
whose direct feedback matrices ``B_k`` learn, Kolen–Pollack style, to estimate the forward path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend as dispatch
from .._validation import SeedLike, finite_float
from .base import RuleStep
from .direct import DirectRule
from .feedback import DirectFeedback
from .kp import FEEDBACK_LEARNING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..network import Caches, Sequential
    from ..projections.base import Projection

__all__ = ["DKP", "LearnedFeedback"]


class LearnedFeedback(DirectFeedback):
    """A :class:`~nnlite.rules.feedback.DirectFeedback` whose ``B_k = s_k M_k`` are dense matrices that learn:
    ``M_k`` start as the rows of the drawn projection that DFA would use (so an unchanged one is DFA's, bit for
    bit: one product ``v @ M.T`` for every block, then ``s_k``), each block with its own rows
    (``sum_k l_k C`` memory whatever the layout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.M = np.zeros((0, 0))
        self.rows: list[int] = []

    def setup(self, net: Sequential, n_points: int | None = None) -> None:
        super().setup(net, n_points)
        B = self.projection_.B  # type: ignore[attr-defined]  # a Gaussian (checked by DKP)
        self.M = np.ascontiguousarray(np.concatenate([B[o : o + n] for o, n in zip(self.offsets, self.sizes)]))
        self.rows = [sum(self.sizes[:k]) for k in range(len(self.sizes))]

    def block_rows(self, k: int) -> np.ndarray:
        """``M_k``, a view of the stacked matrix (l_k, C)."""
        r = self.rows[k]
        return self.M[r : r + self.sizes[k]]

    def signals(self, v: np.ndarray) -> list[np.ndarray]:
        N = v.shape[0]
        P = v.reshape(N, -1) @ self.M.T
        return [
            (P[:, r : r + n] * s).reshape((N, *shape))
            for r, n, s, shape in zip(self.rows, self.sizes, self.scales, self.shapes)
        ]

    def matrix(self, k: int) -> np.ndarray:
        return self.block_rows(k) * self.scales[k]

    @property
    def has_transpose(self) -> bool:
        return True

    def readout(self, k: int, h: np.ndarray) -> np.ndarray:
        return (h.reshape(h.shape[0], -1) @ self.block_rows(k)) * self.scales[k]


class DKP(DirectRule):
    """Direct Kolen–Pollack: DFA's ``g_k = e @ B_k.T``, with every ``B_k`` learning after each step from the same
    local quantities a direct forward connection from ``h_k`` to the output would learn from.

    Parameters
    ----------
    lr : float
        η_B >= 0, the learning rate of the ``B_k`` (0 keeps them fixed: DFA).
    weight_decay : float
        λ >= 0, their decay.
    projection : Gaussian, optional
        The initial ``B_k``, laid out as DFA's (``layout``, ``normalize``): DKP with ``lr = 0`` is DFA bit for bit.
        Only the dense Gaussian projection can learn; the structured ones (Fastfood, Sparse, OPU) are refused.
    layout, seed, parallel, normalize, error_scale, bp_points
        As for :class:`~nnlite.rules.direct.DirectRule` (DKP is a direct rule whose feedback,
        :class:`LearnedFeedback`, learns: its signals, readouts and local errors are DirectRule's).

    Notes
    -----
    In the paper's symbols (the authors' README, github.com/webstah/dkp-gist): ``δ_k = e ⊙ f'(a_k)`` at the output
    layer k, ``δ_{ℓ-1} = (δ_k B_ℓ) ⊙ f'(a_{ℓ-1})`` — DFA — and ``∇B_ℓ = -δ_k^T a_{ℓ-1}``, descended by the
    backward optimizer. In nnlite's layout (``B_k`` of shape (l_k, C), hidden block k's output ``h_k``,
    ``e = dL/d(logits)``)::

        g_k = e @ B_k.T                                  (DFA)
        ΔB_k = -η_B (h_k^T e + λ B_k)                     (after each step)

    ``h_k`` is hidden block k's output flattened (a conv block's whole (C, H, W) map, DFA's feedback point), ``e``
    the batch-mean error, the decay λ scaled by η_B as KP's; for the top hidden block ``B_k^T`` gets exactly
    ``W_K``'s update, so with the same decay ``B_{K-1}^T - W_K`` shrinks, as in KP. How this reads the authors'
    code (which error, the sign, the batch mean, Adam against SGD, the hook's place, the initial draw) and where
    it departs from it (no StepLR decay of η_B): docs/design.md, "The rules".

    ``B_k = s_k M_k`` is kept as the unscaled rows ``M_k`` of DFA's projection (``s_k`` DFA's scale) and applied
    as DFA applies them, one product ``e @ M.T`` for all blocks, then ``s_k`` — whence the bit-for-bit identity;
    the update is ``M_k <- M_k - η_B (h_k^T e / s_k + λ M_k)``. Every block learns its own ``B_k``: in the unified
    layout the blocks share rows only at the start (memory ``sum_k l_k C`` either way). The update needs ``h_k``
    and ``e``: :meth:`step` returns ``h_k^T e`` as the step's change and :meth:`commit` applies exactly that
    step's (a measurement on another batch in between changes nothing).
    :meth:`readout` is ``h_k @ B_k`` with the learned ``B_k``; alignment reports its cosine with the network's
    output (``readout_cos``), the alignment the authors log (``cos_alignment/*_to_output``).

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.DKP(lr=1e-2, weight_decay=1e-4, seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "dkp"
    feedback_class = LearnedFeedback
    feedback: LearnedFeedback
    options = FEEDBACK_LEARNING  # kp_lr, kp_weight_decay: η_B and λ below

    def __init__(
        self,
        lr: float,
        weight_decay: float,
        projection: Projection | None = None,
        layout: str = "unified",
        seed: SeedLike = None,
        parallel: bool = False,
        *,
        normalize: bool = True,
        error_scale: str = "mean",
        bp_points: Sequence[int] = (),
    ):
        super().__init__(
            projection, layout, seed, parallel, normalize=normalize, error_scale=error_scale, bp_points=bp_points
        )
        from ..projections import Gaussian

        if projection is not None and not isinstance(projection, Gaussian):
            raise ValueError(
                f"DKP learns its B_k as dense matrices: it needs the Gaussian projection, not "
                f"{type(projection).__name__} (the structured projections Fastfood, Sparse and OPU cannot learn)"
            )
        self.lr = finite_float(lr, "lr", minimum=0.0)
        self.weight_decay = finite_float(weight_decay, "weight_decay", minimum=0.0)

    # -- the step: DFA's, and the change of B_k it asks for ------------------------------------------------------
    def step(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> RuleStep:
        """DirectRule's step with the current ``B_k``; its change is ``h_k^T e`` per hidden block (see Notes)."""
        grads, g = DirectRule.gradients_and_signals(self, net, caches, e, y)
        N = e.shape[0]
        v = e.reshape(N, -1)
        change = [caches.block_outputs[k].reshape(N, -1).T @ v for k in range(len(g))]
        return RuleStep(grads, g, change)

    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """DFA's ``v = e``."""
        return e

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        """``B_k <- B_k - η_B (h_k^T e + λ B_k)`` with the step's own ``h_k^T e``."""
        self.setup(net)
        fb = self.feedback
        for k, G in enumerate(step.change):
            G = G * (1.0 / fb.scales[k])  # B_k = s_k M_k
            dispatch.sgd_update(fb.block_rows(k), G, None, lr=self.lr, weight_decay=self.weight_decay)

    # -- state --------------------------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """``{"M": M}``: the stacked unscaled ``M_k`` (``sum_k l_k`` rows, C columns)."""
        return {"M": self.feedback.M} if self.feedback.rows else {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        if set(state) != {"M"}:
            raise ValueError(f"DKP state must hold ['M'], got {sorted(state)}")
        M, mine = np.asarray(state["M"]), self.feedback.M
        if M.shape != mine.shape or M.dtype != mine.dtype:
            raise ValueError(f"DKP state M is {M.dtype} {M.shape}, expected {mine.dtype} {mine.shape}")
        mine[...] = M

    def _repr_args(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, **super()._repr_args()}

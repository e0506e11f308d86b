"""Direct Kolen–Pollack (Webster, Choi & Ahn 2021, "Learning the connections in direct feedback alignment"): DFA
whose direct feedback matrices ``B_k`` learn, Kolen–Pollack style, to estimate the forward path."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import backend as dispatch
from .._validation import SeedLike, finite_float
from .base import Grads, check_error
from .direct import DirectRule

if TYPE_CHECKING:
    from ..network import Caches, Sequential
    from ..projections.base import Projection

__all__ = ["DKP"]


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
    layout, seed, parallel, normalize
        As for :class:`~nnlite.rules.direct.DirectRule`.

    Notes
    -----
    In the paper's symbols (the authors' README, github.com/webstah/dkp-gist): ``δ_k = e ⊙ f'(a_k)`` at the output
    layer k, ``δ_{ℓ-1} = (δ_k B_ℓ) ⊙ f'(a_{ℓ-1})`` — DFA — and ``∇B_ℓ = -δ_k^T a_{ℓ-1}``, descended by the
    backward optimizer. In nnlite's layout (``B_k`` of shape (l_k, C), hidden block k's output ``h_k``,
    ``e = dL/d(logits)``)::

        g_k = e @ B_k.T                                  (DFA)
        ΔB_k = -η_B (h_k^T e + λ B_k)                     (after each step)

    The choices of this reading: (1) ``δ_k`` in ``∇B_ℓ`` is the *output* error (the README's k is the output
    layer), not a hidden block's delta, and ``a_{ℓ-1}`` is the hidden layer's output *after* its activation: the
    code's ``DFATrainingHook`` sits after the ReLU and computes ``grad_at_output.t().mm(layer_out_view)``, i.e.
    ``e^T h``. So ``B_k^T`` gets exactly the update of a linear map from ``h_k`` to the logits, and for the top
    hidden block (output block linear) it gets ``W_K``'s: with the same decay ``B_{K-1}^T - W_K`` shrinks, as in
    KP. (2) The sign: the code's gradient ``e^T h`` is descended, hence ``-η_B``. (3) ``e`` is the batch mean
    (``F.cross_entropy``'s), so ``h_k^T e`` sums the per-sample products with ``1/N``. (4) The decay is λ scaled by
    η_B, as KP's (:class:`~nnlite.rules.kp.KP`); the authors descend with Adam (lr 1e-4, weight decay 1e-6), nnlite
    with plain SGD. (5) A conv block's feedback point is its whole (C, H, W) output flattened, as DFA's, so
    ``h_k`` is flattened to (N, C H W) and nothing is contracted — the authors' ``B`` for a conv layer also has the
    feature map's full shape. nnlite's blocks end after their pooling, so that is where ``h_k`` is read (the
    authors' hook on their second conv layer precedes its max pooling). (6) The initial ``B_k`` are DFA's
    (Gaussian, variance ``1/(l_k C)``), not the authors' Kaiming-uniform draw.

    ``B_k = s_k M_k`` is kept as the unscaled rows ``M_k`` of DFA's projection (``s_k`` DFA's scale) and applied
    as DFA applies them, one product ``e @ M.T`` for all blocks, then ``s_k`` — whence the bit-for-bit identity;
    the update is ``M_k <- M_k - η_B (h_k^T e / s_k + λ M_k)``. Every block learns its own ``B_k``: in the unified
    layout the blocks share rows only at the start (memory ``sum_k l_k C`` either way). The update needs ``h_k``
    and ``e``: the first :meth:`gradients_and_signals` after each :meth:`after_step` (the step's own call, before
    any alignment measurement in :func:`nnlite.fit`) keeps ``h_k^T e``, and :meth:`after_step` applies it.
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
    ):
        super().__init__(projection, layout, seed, parallel, normalize=normalize)
        from ..projections import Gaussian

        if projection is not None and not isinstance(projection, Gaussian):
            raise ValueError(
                f"DKP learns its B_k as dense matrices: it needs the Gaussian projection, not "
                f"{type(projection).__name__} (the structured projections Fastfood, Sparse and OPU cannot learn)"
            )
        self.lr = finite_float(lr, "lr", minimum=0.0)
        self.weight_decay = finite_float(weight_decay, "weight_decay", minimum=0.0)
        self._M = np.zeros((0, 0))
        self._rows: list[int] = []
        self._pending: list[np.ndarray] | None = None

    def _setup(self, net: Sequential) -> None:
        super()._setup(net)
        fb = self.feedback
        B = fb.projection_.B  # type: ignore[attr-defined]  # a Gaussian (checked in __init__, drawn by setup)
        self._M = np.ascontiguousarray(np.concatenate([B[o : o + n] for o, n in zip(fb.offsets, fb.sizes)]))
        self._rows = [sum(fb.sizes[:k]) for k in range(len(fb.sizes))]
        self._pending = None

    def _block_rows(self, k: int) -> np.ndarray:
        """``M_k``, a view of the stacked matrix (l_k, C)."""
        r = self._rows[k]
        return self._M[r : r + self.feedback.sizes[k]]

    def feedback_matrix(self, net: Sequential, k: int) -> np.ndarray:
        """The current ``B_k = s_k M_k`` of shape (l_k, C), a copy."""
        self.setup(net)
        return self._block_rows(k) * self.feedback.scales[k]

    # -- the step ----------------------------------------------------------------------------------------------
    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        """DFA's step with the current ``B_k``; keeps ``h_k^T e`` for :meth:`after_step` (see Notes)."""
        e = check_error(net, caches, e, y)
        self.setup(net)
        fb, N = self.feedback, e.shape[0]
        v = e.reshape(N, -1)
        P = v @ self._M.T
        g = [
            (P[:, r : r + n] * s).reshape((N, *shape))
            for r, n, s, shape in zip(self._rows, fb.sizes, fb.scales, fb.shapes)
        ]
        if self._pending is None:
            self._pending = [caches.block_outputs[k].reshape(N, -1).T @ v for k in range(len(g))]
        return self._updates(net, caches, [*g, e]), g

    def after_step(self, net: Sequential, grads: Grads) -> None:
        """``B_k <- B_k - η_B (h_k^T e + λ B_k)`` with this step's ``h_k^T e``; a no-op when none is kept."""
        self.setup(net)
        pending, self._pending = self._pending, None
        if pending is None:
            return
        for k, G in enumerate(pending):
            G *= 1.0 / self.feedback.scales[k]  # B_k = s_k M_k
            dispatch.sgd_update(self._block_rows(k), G, None, lr=self.lr, weight_decay=self.weight_decay)

    # -- readouts and local errors with the learned B_k --------------------------------------------------------
    def readout(self, net: Sequential, k: int, h: np.ndarray) -> np.ndarray:
        """``h_k @ B_k`` of shape (N, C), with the current ``B_k``."""
        self.setup(net)
        return (h.reshape(h.shape[0], -1) @ self._block_rows(k)) * self.feedback.scales[k]

    def local_errors(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
        self.setup(net)
        return [
            dispatch.softmax_cross_entropy(self.readout(net, k, caches.block_outputs[k]), y)[1]
            for k in range(len(self._rows))
        ]

    def local_losses(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
        self.setup(net)
        return [
            dispatch.softmax_cross_entropy(self.readout(net, k, caches.block_outputs[k]), y)[0]
            for k in range(len(self._rows))
        ]

    # -- state --------------------------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """``{"M": M}``: the stacked unscaled ``M_k`` (``sum_k l_k`` rows, C columns)."""
        return {"M": self._M} if self._rows else {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        if set(state) != {"M"}:
            raise ValueError(f"DKP state must hold ['M'], got {sorted(state)}")
        M = np.asarray(state["M"])
        if M.shape != self._M.shape or M.dtype != self._M.dtype:
            raise ValueError(f"DKP state M is {M.dtype} {M.shape}, expected {self._M.dtype} {self._M.shape}")
        self._M[...] = M
        self._pending = None

    def _repr_args(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, **super()._repr_args()}

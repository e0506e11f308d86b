"""Feedback Alignment (Lillicrap et al. 2016)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import SeedLike, as_generator
from .base import Grads, Rule, reshape_output_error
from .bp import chain

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["FA"]


class FA(Rule):
    """Feedback Alignment: as BP, but each block's ``dx`` product uses a fixed random ``B_k`` of ``W_k``'s shape.

    Parameters
    ----------
    seed : int, Generator or None
        Seeds the feedback matrices, drawn at set-up with the same scheme as each ``W_k``
        (:meth:`Dense.new_feedback`, or a random kernel of the same shape for a convolution).
    feedbacks : list of ndarray, optional
        Explicit ``B_k`` per block (``None`` entries for the first block, whose ``dx`` is never computed).
        ``FA(feedbacks=[None] + [W_2, W_3, ...])`` gives exactly BP's gradients.

    Notes
    -----
    ``delta_k = (delta_{k+1} @ B_{k+1}) * f'(a_k)``, ``dW_k = delta_k.T @ h_{k-1}``.
    """

    name = "fa"

    def __init__(self, seed: SeedLike = None, feedbacks: list[np.ndarray | None] | None = None):
        self.seed = seed
        self._given = None if feedbacks is None else list(feedbacks)
        self._B: list[np.ndarray | None] | None = None

    def _setup(self, net: Sequential) -> None:
        shapes = [net.weight_layer(k).params["W"].shape for k in range(net.n_blocks)]
        if self._given is None:
            rng = as_generator(self.seed)
            self._B = [None] + [net.weight_layer(k).new_feedback(rng) for k in range(1, net.n_blocks)]
            return
        if len(self._given) != net.n_blocks:
            raise ValueError(f"feedbacks must list one entry per block ({net.n_blocks}), got {len(self._given)}")
        for k in range(1, net.n_blocks):
            B = self._given[k]
            if B is None or B.shape != shapes[k]:
                raise ValueError(f"feedback {k} must have shape {shapes[k]}, got {None if B is None else B.shape}")
        self._B = self._given

    def feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        """The fixed ``B_k`` of every block (``None`` for block 0), drawn at set-up."""
        self.setup(net)
        assert self._B is not None
        return self._B

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        return chain(net, caches, reshape_output_error(net, e), self.feedbacks(net))

    def __repr__(self) -> str:
        fb = "" if self._given is None else ", feedbacks=[...]"
        return f"FA(seed={self.seed!r}{fb})"

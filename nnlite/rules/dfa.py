"""Direct Feedback Alignment (Nøkland 2016), with Launay et al.'s unified feedback matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Grads, reshape_output_error
from .direct import DirectRule
from .feedback import LAYOUTS

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["DFA", "LAYOUTS"]


class DFA(DirectRule):
    """Direct Feedback Alignment: every hidden block gets ``g_k = e @ B_k.T`` straight from the output error.

    Parameters
    ----------
    projection : Projection, optional
        The ``B_k`` as one projection of the error (:class:`~nnlite.rules.feedback.DirectFeedback`); default a
        Gaussian drawn from ``seed``.
    layout : {"unified", "independent"}
        Launay et al.'s one shared matrix (eq. 7–8) or Nøkland's independent blocks of rows.
    seed : int, Generator or None
    parallel : bool
        Compute the blocks' updates concurrently in threads.

    Notes
    -----
    One projection of ``e`` per step gives every hidden signal; no block computes a ``dx`` product.
    ``delta_k = (e @ B_k.T) * f'(a_k)``, ``dW_k = delta_k.T @ h_{k-1}``; the output block gets ``e``.
    """

    name = "dfa"

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        self.setup(net)
        e = reshape_output_error(net, e)
        g = self.feedback.signals(e)
        return self._updates(net, caches, [*g, e]), g

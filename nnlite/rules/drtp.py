"""Direct Random Target Projection and sign-DFA (Frenkel, Lefebvre & Bol 2021): DFA of another vector than ``e``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Grads, reshape_output_error
from .direct import DirectRule

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["DRTP", "SDFA"]


class DRTP(DirectRule):
    """Direct random target projection: every hidden block gets the projected *target*,
    ``g_k = (-onehot(y) / N) @ B_k.T``, through DFA's ``B_k`` (same layouts and projections).

    Parameters
    ----------
    projection, layout, seed, parallel
        As for :class:`~nnlite.DFA`.

    Notes
    -----
    With ``e = (ŷ - onehot(y)) / N``, ``-onehot(y) / N`` is ``e``'s target part, so DRTP is DFA with ``e`` replaced
    by it (a test). The hidden signals need only the labels: a hidden block's update can be computed as soon as
    its own forward pass is done, before the output layer's forward pass finishes (no output error is waited for).
    The output block gets ``e``.
    """

    name = "drtp"

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        if y is None:
            raise ValueError("DRTP projects the targets: it needs the labels y")
        self.setup(net)
        e = reshape_output_error(net, e)
        N, C = e.shape[0], net.n_outputs
        t = np.zeros((N, C), dtype=e.dtype)
        t[np.arange(N), y] = -1.0 / N
        g = self.feedback.signals(t)
        return self._updates(net, caches, [*g, e]), g


class SDFA(DirectRule):
    """Sign-DFA: every hidden block gets the projected sign of the error, ``g_k = (sign(e) / N) @ B_k.T``.

    Parameters
    ----------
    projection, layout, seed, parallel
        As for :class:`~nnlite.DFA`.

    Notes
    -----
    ``e`` carries the batch's ``1/N``, which ``sign`` removes; it is put back so that the hidden updates stay on
    DFA's scale: sDFA is DFA with ``e := sign(e) / N`` (a test). The output block gets ``e``.
    """

    name = "sdfa"

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        self.setup(net)
        e = reshape_output_error(net, e)
        v = np.sign(e.reshape(e.shape[0], -1))
        v *= 1.0 / e.shape[0]
        g = self.feedback.signals(v)
        return self._updates(net, caches, [*g, e]), g

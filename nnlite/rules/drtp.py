"""Direct Random Target Projection and sign-DFA (Frenkel, Lefebvre & Bol 2021): DFA of another vector than ``e``.

Both take the parameters of :class:`~nnlite.rules.direct.DirectRule` (``projection``, ``layout``, ``seed``,
``parallel``, ``normalize``, ``error_scale``: ``"sum"`` projects N times the vector below, i.e. without its
``1/N``) and use DFA's ``B_k``; the output block gets ``e``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .direct import DirectRule

if TYPE_CHECKING:
    from ..network import Sequential

__all__ = ["DRTP", "SDFA"]


class DRTP(DirectRule):
    """Direct random target projection: every hidden block gets the projected *target*,
    ``g_k = (-onehot(y) / N) @ B_k.T``.

    Notes
    -----
    With ``e = (ŷ - onehot(y)) / N``, ``-onehot(y) / N`` is ``e``'s target part, so DRTP is DFA with ``e`` replaced
    by it (a test). The hidden signals need only the labels: a hidden block's update can be computed as soon as
    its own forward pass is done, before the output layer's forward pass finishes (no output error is waited for).
    """

    name = "drtp"
    needs_labels = True

    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if y is None:
            raise ValueError("DRTP projects the targets: it needs the labels y")
        N, C = e.shape[0], net.n_outputs
        if y.size and (int(y.min()) < 0 or int(y.max()) >= C):
            raise ValueError(f"labels y must be in [0, {C}), got min {int(y.min())} and max {int(y.max())}")
        t = np.zeros((N, C), dtype=e.dtype)
        t[np.arange(N), y] = -1.0 / N
        return t


class SDFA(DirectRule):
    """Sign-DFA: every hidden block gets the projected sign of the error, ``g_k = (sign(e) / N) @ B_k.T``.

    Notes
    -----
    ``e`` carries the batch's ``1/N``, which ``sign`` removes; it is put back so that the hidden updates stay on
    DFA's scale: sDFA is DFA with ``e := sign(e) / N`` (a test).
    """

    name = "sdfa"

    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        v = np.sign(e.reshape(e.shape[0], -1))
        v *= 1.0 / e.shape[0]
        return v

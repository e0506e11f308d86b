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

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.DRTP(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
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

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.SDFA(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "sdfa"

    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        v = np.sign(e.reshape(e.shape[0], -1))
        v *= 1.0 / e.shape[0]
        return v

"""Direct Feedback Alignment (Nøkland 2016), with Launay et al.'s unified feedback matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .direct import DirectRule
from .feedback import LAYOUTS

if TYPE_CHECKING:
    from ..network import Sequential

__all__ = ["DFA", "LAYOUTS"]


class DFA(DirectRule):
    r"""Direct Feedback Alignment: every hidden block gets ``g_k = e @ B_k.T`` straight from the output error.

    Parameters (``projection``, ``layout``, ``seed``, ``parallel``, ``normalize``, ``error_scale``) as for
    :class:`~nnlite.rules.direct.DirectRule`.

    Notes
    -----
    One projection of ``e`` per step gives every hidden signal; no block computes a ``dx`` product:

    .. math::

        \delta_k = (s\, e B_k^\top) \odot f'(a_k), \qquad \Delta W_k \propto -\delta_k^\top h_{k-1},

    with :math:`s = 1` (``error_scale="mean"``) or :math:`s = N` (``"sum"``: Launay et al.'s code,
    ``softmax(out) - onehot(y)`` per sample, summed over the batch by :math:`\Delta W_k`); the output block gets
    :math:`e` either way.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.DFA(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "dfa"
    in_compare = True

    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        return e

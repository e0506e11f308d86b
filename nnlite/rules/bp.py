"""Backpropagation, and the block-by-block chain that BP and the FA family share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Grads, Rule, check_error

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["BP", "chain"]


def chain(
    net: Sequential, caches: Caches, e: np.ndarray, feedbacks: list[np.ndarray | None] | None = None
) -> tuple[Grads, list[np.ndarray]]:
    """Send ``e`` down the network block by block, each block passing ``dx`` to the one below.

    Parameters
    ----------
    net : Sequential
    caches : Caches
    e : ndarray, shape ``(N, *output_shape)``
        ``dL/d(output)``.
    feedbacks : list, optional
        Per block, the matrix used in place of the weight in its ``dx`` product (None: the weight itself).

    Returns
    -------
    grads : list of dict (matching ``net.params()``)
    signals : list of ndarray, shape ``(N, *block_shape)``
        The signal arriving at every hidden feedback point.

    Notes
    -----
    ``delta_k = (delta_{k+1} @ M_{k+1}) * f'(a_k)`` with ``M = W`` (BP) or ``M = B`` (FA); block 0 computes no
    ``dx``.
    """
    K = net.n_blocks
    per_block: list[Grads] = [[] for _ in range(K)]
    signals: list[np.ndarray] = [e] * (K - 1)
    g = e
    for k in range(K - 1, -1, -1):
        if k < K - 1:
            signals[k] = g
        fb = None if feedbacks is None else feedbacks[k]
        dx, grads, _ = net.backward_block(k, g, caches, feedback=fb, need_dx=(k > 0), need_delta=False)
        per_block[k] = grads
        if dx is not None:
            g = dx
    return [gr for block in per_block for gr in block], signals


class BP(Rule):
    r"""Backpropagation: every block sends ``dx = delta @ W`` down to the block below.

    Notes
    -----
    :math:`c_k = \partial L / \partial h_k` is the true gradient at every feedback point:

    .. math::

        \delta_k = (\delta_{k+1} W_{k+1}) \odot f'(a_k), \qquad \frac{\partial L}{\partial W_k} = \delta_k^\top h_{k-1}.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.BP().gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    folds_updates = True

    name = "bp"
    family = "chain"
    in_compare = True

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        return chain(net, caches, check_error(net, caches, e, y))

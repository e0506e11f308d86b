"""Backpropagation."""

from __future__ import annotations


def _flatten_grads(per_block):
    return [g for block in per_block for g in block]


def chain(net, caches, e, feedbacks=None, *, collect=False):
    """Send ``e`` down the network block by block, each block passing ``dx`` to the one below.

    Parameters
    ----------
    net : Sequential
    caches : Caches
    e : ndarray, shape (N, C)
        ``dL/d(output)``.
    feedbacks : list, optional
        Per block, the matrix used in place of the weight in its ``dx`` product (None: the weight itself).
    collect : bool
        Also return the signal arriving at every hidden feedback point.

    Returns
    -------
    grads : list of dict (matching ``net.params()``)
    signals : list of ndarray, shape (N, *block_shape) — only with ``collect``
    """
    K = net.n_blocks
    per_block = [None] * K
    signals = [None] * (K - 1)
    g = e
    for k in range(K - 1, -1, -1):
        if k < K - 1:
            signals[k] = g
        fb = None if feedbacks is None else feedbacks[k]
        dx, grads, _ = net.backward_block(k, g, caches, feedback=fb, need_dx=(k > 0))
        per_block[k] = grads
        g = dx
    grads = _flatten_grads(per_block)
    return (grads, signals) if collect else grads


def reshape_output_error(net, e):
    """``e`` as the network's output shape (it is (N, C) for every builder here)."""
    shape = (e.shape[0],) + net.block_shapes[-1]
    return e if e.shape == shape else e.reshape(shape)


class BP:
    """Backpropagation: every block sends ``dx = delta @ W`` down to the block below.

    Notes
    -----
    ``c_{K-1} = dL/dh_{K-1}`` is the true gradient at every feedback point.
    """

    name = "bp"

    def gradients(self, net, caches, e, y=None):
        """Gradients of every parameter, a list of dicts matching ``net.params()``."""
        return chain(net, caches, reshape_output_error(net, e))

    def signals(self, net, caches, e, y=None):
        """The signal ``c_k = dL/dh_k`` at every hidden feedback point, shape (N, *block_shape)."""
        return self.gradients_and_signals(net, caches, e, y)[1]

    def gradients_and_signals(self, net, caches, e, y=None):
        """Both, from one backward pass."""
        return chain(net, caches, reshape_output_error(net, e), collect=True)

    def __repr__(self):
        return "BP()"

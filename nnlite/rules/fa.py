"""Feedback Alignment (Lillicrap et al. 2016)."""

from __future__ import annotations

import numpy as np

from .bp import chain, reshape_output_error


def as_generator(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class FA:
    """Feedback Alignment: as BP, but each block's ``dx`` product uses a fixed random ``B_k`` of ``W_k``'s shape.

    Parameters
    ----------
    seed : int, Generator or None
        Seeds the feedback matrices, drawn on first use with the same scheme as each ``W_k``
        (:meth:`Dense.new_feedback`, or a random kernel of the same shape for a convolution).
    feedbacks : list of ndarray, optional
        Explicit ``B_k`` per block (``None`` entries for the first block, whose ``dx`` is never computed).
        ``FA(feedbacks=[None] + [W_2, W_3, ...])`` gives exactly BP's gradients.

    Notes
    -----
    ``delta_k = (delta_{k+1} @ B_{k+1}) * f'(a_k)``, ``dW_k = delta_k.T @ h_{k-1}``.
    """

    name = "fa"

    def __init__(self, seed=None, feedbacks=None):
        self.seed = seed
        self._B = list(feedbacks) if feedbacks is not None else None
        self._key = None

    def feedbacks(self, net):
        """The fixed ``B_k`` of every block (``None`` for block 0), drawn once per network shape."""
        key = tuple(net.weight_layer(k).params["W"].shape for k in range(net.n_blocks))
        if self._B is None:
            rng = as_generator(self.seed)
            self._B = [None] + [net.weight_layer(k).new_feedback(rng) for k in range(1, net.n_blocks)]
            self._key = key
        elif self._key is None:
            self._key = key
            for k in range(1, net.n_blocks):
                if self._B[k] is None or self._B[k].shape != key[k]:
                    raise ValueError(
                        f"feedback {k} must have shape {key[k]}, got {None if self._B[k] is None else self._B[k].shape}"
                    )
        if key != self._key:
            raise ValueError(f"this FA rule was set up for weights {self._key}, not {key}; use a new FA per network")
        return self._B

    def gradients(self, net, caches, e, y=None):
        return chain(net, caches, reshape_output_error(net, e), self.feedbacks(net))

    def signals(self, net, caches, e, y=None):
        return self.gradients_and_signals(net, caches, e, y)[1]

    def gradients_and_signals(self, net, caches, e, y=None):
        return chain(net, caches, reshape_output_error(net, e), self.feedbacks(net), collect=True)

    def __repr__(self):
        return f"FA(seed={self.seed!r})"

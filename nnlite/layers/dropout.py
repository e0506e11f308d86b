"""Inverted dropout (:mod:`nnlite.ops.dropout`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import SeedLike, as_generator
from ..ops import dropout as _dropout
from .base import Layer, Passthrough, check_grad, check_input

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: in training mode each unit is kept with probability ``1 - p`` and scaled by
    ``1/(1-p)``; in evaluation mode the identity.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, Generator or None
        Seeds the layer's Generator, which draws a new mask at every training-mode forward pass.

    Notes
    -----
    The mask is kept in the cache, so backward and ``carry`` (IFA) apply the same mask and scale. When dropout is
    the identity (evaluation mode, or ``p == 0``) the cache is the input's shape and dtype
    (:class:`~nnlite.layers.base.Passthrough`) instead.
    """

    def __init__(self, p: float, seed: SeedLike = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"p must be a number, got {p!r}")
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed if isinstance(seed, (int, np.integer)) or seed is None else None
        self.rng = as_generator(seed)

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "Dropout")
        out, mask = _dropout.dropout_forward(x, self.p, self.rng, train)
        return out, (Passthrough(x.shape, x.dtype) if mask is None else mask)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, cache.shape, cache.dtype, "Dropout.backward")
        return (_dropout.dropout_backward(dout, cache) if isinstance(cache, np.ndarray) else dout), {}

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        return v * cache if isinstance(cache, np.ndarray) else v

    def config(self) -> dict[str, Any]:
        return {"p": self.p, "seed": None if self.seed is None else int(self.seed)}

    def __repr__(self):
        return f"Dropout({self.p})"

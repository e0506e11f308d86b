"""Inverted dropout (:mod:`nnlite.ops.dropout`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validation import SeedLike, as_generator
from ..ops import dropout as _dropout
from .base import Layer, LayerSpec, Passthrough, check_grad, check_input

__all__ = ["ChannelMask", "Dropout"]


class ChannelMask(NamedTuple):
    """The training-mode cache of channel dropout: the (N, C, 1, ...) mask and the input's (and output's) shape."""

    mask: np.ndarray
    shape: tuple[int, ...]


class Dropout(Layer):
    """Inverted dropout: in training mode each unit is kept with probability ``1 - p`` and scaled by
    ``1/(1-p)``; in evaluation mode the identity.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, Generator or None
        Seeds the layer's Generator, which draws a new mask at every training-mode forward pass.
    channels : bool
        Drop whole channels of an (N, C, H, W) input (PyTorch's ``Dropout2d``): one draw per sample and channel, a
        mask of shape (N, C, 1, 1) scaled by ``1/(1-p)``. False (default): one draw per element.

    Notes
    -----
    The mask is kept in the cache (with ``channels``, in a :class:`ChannelMask` with the input's shape), so backward
    and ``carry`` (IFA) apply the same mask and scale. When dropout is the identity (evaluation mode, or ``p == 0``)
    the cache is the input's shape and dtype (:class:`~nnlite.layers.base.Passthrough`) instead.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> layer, x = nn.Dropout(0.5, seed=0), np.ones((2, 4), np.float32)
    >>> out, _ = layer.forward(x, train=False)  # evaluation: the identity
    >>> bool((out == x).all())
    True
    >>> out, _ = layer.forward(x, train=True)  # training: kept units scaled by 1/(1-p)
    >>> sorted(set(out.ravel().tolist()))
    [0.0, 2.0]
    """

    spec = LayerSpec("dropout", {"p": "p", "channels": "channels"})

    def __init__(self, p: float, seed: SeedLike = None, channels: bool = False) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"p must be a number, got {p!r}")
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        if not isinstance(channels, (bool, np.bool_)):
            raise TypeError(f"channels must be True or False, got {channels!r}")
        self.p = p
        self.channels = bool(channels)
        self.seed = seed if isinstance(seed, (int, np.integer)) or seed is None else None
        self.rng = as_generator(seed)

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "Dropout")
        out, mask = _dropout.dropout_forward(x, self.p, self.rng, train, channels=self.channels)
        if mask is None:
            return out, Passthrough(x.shape, x.dtype)
        return out, (ChannelMask(mask, x.shape) if self.channels else mask)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if isinstance(cache, Passthrough):
            check_grad(dout, cache.shape, cache.dtype, "Dropout.backward")
            return dout, {}
        mask, shape = (cache, cache.shape) if isinstance(cache, np.ndarray) else cache
        check_grad(dout, shape, mask.dtype, "Dropout.backward")
        return _dropout.dropout_backward(dout, mask, shape), {}

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        if isinstance(cache, Passthrough):
            return v
        return v * (cache if isinstance(cache, np.ndarray) else cache.mask)

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"p": self.p, "seed": None if self.seed is None else int(self.seed)}
        if self.channels:  # only when set: the configs (and checkpoints) of element dropout stay as they were
            config["channels"] = True
        return config

    def __repr__(self):
        return f"Dropout({self.p}, channels=True)" if self.channels else f"Dropout({self.p})"

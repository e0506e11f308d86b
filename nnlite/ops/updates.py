"""Optimizer updates of one parameter array, in place, as NumPy expressions (the twins of the fused kernels in
:mod:`nnlite.kernels.fused`; :mod:`nnlite.optim` calls them through :mod:`nnlite.backend`).

Scalars are Python floats, so float32 arrays stay float32.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adam_step", "rmsprop_step", "sgd_step"]


def sgd_step(
    p: np.ndarray,
    g: np.ndarray,
    v: np.ndarray | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One SGD update of ``p`` (and the momentum buffer ``v``) in place.

    Notes
    -----
    ``g' = g + wd p``; without momentum ``p <- p - lr g'``; with momentum ``v <- mu v + g'`` and
    ``p <- p - lr v`` (Nesterov: ``p <- p - lr (g' + mu v)``).
    """
    g = g + weight_decay * p if weight_decay else g
    if momentum:
        if v is None:
            raise ValueError("momentum > 0 needs the momentum buffer v")
        v *= momentum
        v += g
        p -= lr * (g + momentum * v) if nesterov else lr * v
    else:
        p -= lr * g


def adam_step(
    p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, lr_t: float, beta1: float, beta2: float, eps: float
) -> None:
    """One Adam update of ``p``, ``m`` and ``v`` in place.

    Notes
    -----
    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``; ``p <- p - lr_t m / (sqrt(v) + eps)`` with the
    bias-corrected step ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``.
    """
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    p -= lr_t * m / (np.sqrt(v) + eps)


def rmsprop_step(p: np.ndarray, g: np.ndarray, s: np.ndarray, *, lr: float, rho: float, eps: float) -> None:
    """One RMSprop update of ``p`` and ``s`` in place.

    Notes
    -----
    ``s <- rho s + (1-rho) g^2``; ``p <- p - lr g / (sqrt(s) + eps)``.
    """
    s *= rho
    s += (1 - rho) * (g * g)
    p -= lr * g / (np.sqrt(s) + eps)

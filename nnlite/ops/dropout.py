"""Inverted dropout with a mask drawn from a ``numpy.random.Generator``.

Shapes: any; the mask has x's shape and dtype.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_grad

__all__ = ["dropout_mask", "dropout_forward", "dropout_backward"]


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """The scaled keep-mask of inverted dropout.

    Parameters
    ----------
    shape : tuple
    p : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    mask : ndarray of ``shape`` and ``dtype``
        ``1/(1-p)`` where a unit is kept (probability ``1-p``), 0 where it is dropped.

    Notes
    -----
    ``E[mask] = (1-p) * 1/(1-p) = 1``, so ``E[x * mask] = x``: no rescaling is needed at evaluation.
    """
    keep = rng.random(shape, dtype=dtype) >= p
    mask = keep.astype(dtype)
    mask *= 1.0 / (1.0 - float(p))
    return mask


def dropout_forward(
    x: np.ndarray,
    p: float,
    rng: np.random.Generator,
    train: bool = True,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout.

    Parameters
    ----------
    x : ndarray, any shape
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator
        Draws the mask (training mode only, and only when ``mask`` is not given).
    train : bool
        In evaluation mode (or with ``p == 0``) dropout is the identity.
    mask : ndarray, optional
        A fixed mask of x's shape (tests).

    Returns
    -------
    out : ndarray, x's shape and dtype
    cache : ndarray or None
        The mask (None when dropout is the identity).

    Notes
    -----
    ``out = x * m`` with ``m = [u >= p] / (1 - p)``, ``u ~ U[0, 1)``.
    """
    if not train or (p == 0 and mask is None):
        return x, None
    if mask is None:
        mask = dropout_mask(x.shape, p, rng, x.dtype)
    elif mask.shape != x.shape:
        raise ValueError(f"mask must have x's shape {x.shape}, got {mask.shape}")
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """``dx = dout * m`` (the identity when the forward pass was)."""
    mask = cache
    if mask is None:
        return dout
    check_grad(dout, mask.shape, mask.dtype, "dropout_backward")
    return dout * mask

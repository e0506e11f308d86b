"""Inverted dropout with a mask drawn from a ``numpy.random.Generator``.

Shapes: any; the mask has x's shape and dtype, or, dropping whole channels of x (N, C, ...), the shape
(N, C, 1, ...) (PyTorch's ``Dropout2d``), broadcast over each channel.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_grad

__all__ = ["channel_shape", "dropout_backward", "dropout_forward", "dropout_mask"]


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


def channel_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The mask shape ``(N, C, 1, ...)`` that drops whole channels of an input of ``shape`` (N, C, ...)."""
    if len(shape) < 3:
        raise ValueError(f"dropping whole channels needs an input of shape (N, C, H, ...), got {tuple(shape)}")
    return (shape[0], shape[1]) + (1,) * (len(shape) - 2)


def dropout_forward(
    x: np.ndarray,
    p: float,
    rng: np.random.Generator,
    train: bool = True,
    mask: np.ndarray | None = None,
    *,
    channels: bool = False,
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
        A fixed mask of the mask's shape (tests).
    channels : bool
        Drop whole channels: one draw per ``(n, c)``, the mask of shape :func:`channel_shape` (x of 3 or more
        dimensions). False: one draw per element.

    Returns
    -------
    out : ndarray, x's shape and dtype
    cache : ndarray or None
        The mask (None when dropout is the identity).

    Notes
    -----
    ``out = x * m`` with ``m = [u >= p] / (1 - p)``, ``u ~ U[0, 1)``; with ``channels``,
    ``out[n, c, ...] = x[n, c, ...] * m[n, c]``.
    """
    shape = channel_shape(x.shape) if channels else x.shape
    if not train or (p == 0 and mask is None):
        return x, None
    if mask is None:
        mask = dropout_mask(shape, p, rng, x.dtype)
    elif mask.shape != shape:
        raise ValueError(f"mask must have the shape {shape}, got {mask.shape}")
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``dx = dout * m`` (the identity when the forward pass was); ``shape`` is the forward output's, when the mask
    drops whole channels (default: the mask's)."""
    mask = cache
    if mask is None:
        return dout
    check_grad(dout, mask.shape if shape is None else shape, mask.dtype, "dropout_backward")
    return dout * mask

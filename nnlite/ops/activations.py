"""Elementwise activations: forward ``(out, cache)`` and backward ``dx = dout * f'(.)``.

Every function keeps the dtype of its input. Caches hold what the derivative needs: the output for tanh, sigmoid
and ReLU (``f'`` is a function of ``f``), the input for leaky ReLU (a negative slope changes the output's sign) and
for the absolute value.

These are the readable equations and the NumPy twins of the fused kernels (:mod:`nnlite.kernels.fused`); the
layers call them through :mod:`nnlite.backend`, which picks the fused kernel when the arrays allow.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_grad


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y = tanh(x)``; cache ``y``."""
    y = np.tanh(x)
    return y, y


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dx = dout * (1 - y**2)``."""
    y = cache
    check_grad(dout, y.shape, y.dtype, "tanh_backward")
    return dout * (1 - y * y)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y = 1 / (1 + exp(-x))``, computed without overflow; cache ``y``."""
    # 0.5 * (1 + tanh(x / 2)) is the logistic function and never overflows.
    y = np.tanh(x * 0.5)
    y += 1
    y *= 0.5
    return y, y


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dx = dout * y * (1 - y)``."""
    y = cache
    check_grad(dout, y.shape, y.dtype, "sigmoid_backward")
    return dout * (y * (1 - y))


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y = max(x, 0)``; cache ``y``."""
    y = np.maximum(x, 0)
    return y, y


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dx = dout * [y > 0]``."""
    y = cache
    check_grad(dout, y.shape, y.dtype, "relu_backward")
    return np.where(y > 0, dout, 0).astype(dout.dtype, copy=False)


def leaky_relu_forward(x: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """``y = x`` where ``x > 0``, ``slope * x`` elsewhere (any slope, negative ones included); cache ``x``."""
    slope = float(slope)
    y = np.where(x > 0, x, x * slope).astype(x.dtype, copy=False)
    return y, x


def leaky_relu_backward(dout: np.ndarray, cache: np.ndarray, slope: float) -> np.ndarray:
    """``dx = dout`` where ``x > 0``, ``slope * dout`` elsewhere."""
    x = cache
    check_grad(dout, x.shape, x.dtype, "leaky_relu_backward")
    slope = float(slope)
    return np.where(x > 0, dout, dout * slope).astype(dout.dtype, copy=False)


def abs_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y = |x|``; cache ``x``."""
    return np.abs(x), x


def abs_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dx = dout * sign(x)`` (0 at 0)."""
    x = cache
    check_grad(dout, x.shape, x.dtype, "abs_backward")
    return dout * np.sign(x)


def identity_forward(x: np.ndarray) -> tuple[np.ndarray, None]:
    """``y = x``."""
    return x, None


def identity_backward(dout: np.ndarray, cache: None) -> np.ndarray:
    """``dx = dout``."""
    return dout

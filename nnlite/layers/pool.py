"""Pooling (:mod:`nnlite.ops.pool`, run by :mod:`nnlite.backend.pool`) and flattening: the shape-changing layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_pair
from ..backend import pool as _backend
from ..ops import pool as _pool
from .base import Layer, LayerSpec, Passthrough, check_grad, check_image, check_input, check_sample_image, compact

__all__ = ["AvgPool2d", "Flatten", "MaxPool2d"]


class _Pool2d(Layer):
    """What max and average pooling share.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window (KH, KW); an int gives a square window.
    stride : int, (int, int) or None
        The step between windows (SH, SW); None (default) gives the window size: windows that do not overlap.
    """

    rows_independent = True

    _name = "Pool2d"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", 1)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        C, H, W = check_sample_image(input_shape, self._name)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if kh > H or kw > W:
            raise ValueError(f"{self._name} window {self.kernel_size} does not fit an input of {H}x{W}")
        return (C, (H - kh) // sh + 1, (W - kw) // sw + 1)

    def config(self) -> dict[str, Any]:
        return {"kernel_size": compact(self.kernel_size), "stride": compact(self.stride)}

    def __repr__(self):
        return f"{self._name}(kernel_size={compact(self.kernel_size)}, stride={compact(self.stride)})"


class MaxPool2d(_Pool2d):
    """Max pooling over ``KH x KW`` windows, no padding; ``stride`` defaults to the window size.

    ``carry`` (IFA) picks the values of ``v`` at the forward pass's winners: the Jacobian of the pooling at the
    forward input, which is a selection, applied to ``v``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, cache = nn.MaxPool2d(2).forward(x)
    >>> out
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """

    spec = LayerSpec("maxpool2d", {"kernel": "kernel_size", "stride": "stride"}, input="image")

    _name = "MaxPool2d"

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_image(x, self._name)
        return _backend.maxpool2d_forward(x, *self.kernel_size, self.stride)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, *_pool.pool_output_of(cache), "MaxPool2d.backward")
        return _backend.maxpool2d_backward(dout, cache), {}

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        return _pool.maxpool2d_carry(v, cache)


class AvgPool2d(_Pool2d):
    """Average pooling over ``KH x KW`` windows, no padding; ``stride`` defaults to the window size.

    ``carry`` (IFA) averages ``v`` the same way (the pooling is linear).

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, cache = nn.AvgPool2d(2).forward(x)
    >>> out
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    """

    spec = LayerSpec("avgpool2d", {"kernel": "kernel_size", "stride": "stride"}, input="image")

    _name = "AvgPool2d"

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_image(x, self._name)
        return _backend.avgpool2d_forward(x, *self.kernel_size, self.stride)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, *_pool.pool_output_of(cache), "AvgPool2d.backward")
        return _backend.avgpool2d_backward(dout, cache), {}

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        return _backend.avgpool2d_carry(v, cache)


class Flatten(Layer):
    """``(N, ...) -> (N, prod(...))`` (a reshape; a view when the input is contiguous). ``carry`` reshapes too.

    The cache is the input's shape and dtype (:class:`~nnlite.layers.base.Passthrough`): ``backward`` takes a
    ``dout`` of exactly the output's shape (N, prod(...)), not any array with as many elements.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> out, cache = nn.Flatten().forward(np.ones((2, 8, 4, 4), np.float32))
    >>> out.shape
    (2, 128)
    """

    spec = LayerSpec("flatten")

    rows_independent = True

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "Flatten")
        if x.ndim < 2:
            raise ValueError(f"Flatten expects an array of shape (N, ...), got {x.shape}")
        return x.reshape(x.shape[0], -1), Passthrough(x.shape, x.dtype)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        shape = cache.shape
        check_grad(dout, (shape[0], math.prod(shape[1:])), cache.dtype, "Flatten.backward")
        return dout.reshape(shape), {}

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        return v.reshape(v.shape[0], -1)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(math.prod(input_shape)),)

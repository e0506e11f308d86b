"""The checks the ops share: a window sweep's geometry (pairs of ints, output sizes; also the kernels' wrappers'),
and the one check every backward op makes: the incoming gradient matches what its forward pass produced.

A gradient of another shape would otherwise be broadcast (``dout`` of shape (N, 1) for (N, D)), reshaped, or
sliced by a chunked loop (5 samples of ``dout`` for a 3-sample cache), and a gradient of another dtype would
silently promote the step. The check is O(1): it reads shapes and dtypes, never the values.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_pair", "check_grad", "conv_output_shape", "output_size"]


def check_grad(dout: Any, shape: tuple[int, ...], dtype: Any, who: str, name: str = "dout") -> None:
    """Raise unless ``dout`` is an ndarray of exactly ``shape`` and ``dtype`` (the forward pass's output).

    Raises
    ------
    TypeError
        Not a NumPy array, or of another dtype (both dtypes named).
    ValueError
        Another shape (both shapes named).
    """
    if not isinstance(dout, np.ndarray):
        raise TypeError(f"{who}: {name} must be a numpy array, got {type(dout).__name__}")
    shape = tuple(shape)
    if dout.shape != shape:
        raise ValueError(
            f"{who}: {name} has shape {dout.shape}, but the forward pass's output (the cache's) has shape {shape}"
        )
    if dout.dtype != dtype:
        raise TypeError(f"{who}: {name} is {dout.dtype}, but the forward pass's output is {np.dtype(dtype)}")


def as_pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """Return ``value`` as a pair of Python ints, each ``>= minimum``.

    Accepts an int (used for both axes) or a sequence of two ints. Booleans are refused.
    """
    if isinstance(value, (numbers.Integral,)) and not isinstance(value, (bool, np.bool_)):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if pair[0] < minimum or pair[1] < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def output_size(size: int, k: int, s: int, p: int, axis: str) -> int:
    """Number of windows of length ``k`` with stride ``s`` over ``size + 2p`` positions."""
    if k > size + 2 * p:
        raise ValueError(
            f"kernel size {k} along {axis} does not fit the input of size {size} "
            f"with padding {p} (padded size {size + 2 * p})"
        )
    return (size + 2 * p - k) // s + 1


def conv_output_shape(
    H: int, W: int, kh: int, kw: int, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0
) -> tuple[int, int]:
    """Spatial output shape of a convolution or pooling window sweep.

    Parameters
    ----------
    H, W : int
        Input height and width.
    kh, kw : int
        Kernel height and width (>= 1).
    stride : int or (int, int)
        Step between windows (>= 1).
    padding : int or (int, int)
        Zero padding added on both sides of each axis (>= 0).

    Returns
    -------
    (OH, OW) : tuple of int

    Raises
    ------
    ValueError
        If the kernel does not fit inside the padded input, or a parameter is out of range.

    Notes
    -----
    ``OH = floor((H + 2 ph - KH) / sh) + 1`` and likewise for ``OW``.
    """
    kh_, kw_ = as_pair((kh, kw), "kernel size", 1)
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    H_, W_ = as_pair((H, W), "input size (H, W)", 0)
    return output_size(H_, kh_, sh, ph, "H"), output_size(W_, kw_, sw, pw, "W")

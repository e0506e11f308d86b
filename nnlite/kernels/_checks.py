"""Input validation shared by the public kernel wrappers.

The jitted bodies in this package only compute; every check on shapes, dtypes, contiguity and
integer parameters happens here, in plain Python, before any compiled code runs.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


def check_float_array(x: Any, name: str, ndim: int | None = None, min_ndim: int | None = None) -> None:
    """Raise unless ``x`` is a C-contiguous float32/float64 ndarray of the required rank."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous (pass numpy.ascontiguousarray({name})), "
            f"got strides {x.strides} for shape {x.shape}"
        )


def check_shape4(shape: Any, name: str) -> tuple[int, int, int, int]:
    """Return ``shape`` as a 4-tuple of non-negative ints (an NCHW shape)."""
    try:
        shp = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of 4 ints (N, C, H, W), got {shape!r}") from None
    if len(shp) != 4 or any(s < 0 for s in shp):
        raise ValueError(f"{name} must be 4 non-negative ints (N, C, H, W), got {shape!r}")
    return (shp[0], shp[1], shp[2], shp[3])


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

"""Input validation shared by the public kernel wrappers.

The jitted bodies in this package only compute; every check on shapes, dtypes, contiguity and
integer parameters happens here, in plain Python, before any compiled code runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops._checks import as_pair, conv_output_shape, output_size

__all__ = ["FLOAT_DTYPES", "as_pair", "check_float_array", "check_shape4", "conv_output_shape", "output_size"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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

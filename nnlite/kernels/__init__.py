"""Numba-jitted hot loops of nnlite, each behind a validating wrapper, each with a NumPy twin in
:mod:`nnlite.kernels.reference`.

Importing this package compiles nothing: every kernel is compiled (or loaded from Numba's on-disk cache)
on its first call.
"""

from ._checks import conv_output_shape
from .conv import col2im, im2col
from .hadamard import fwht
from .layout import from_spatial_major, to_spatial_major
from .pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2x2_backward,
    maxpool2x2_forward,
    maxpool2x2_winners,
)
from .ternary import ternarize

__all__ = [
    "conv_output_shape",
    "im2col",
    "col2im",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "maxpool2x2_forward",
    "maxpool2x2_backward",
    "maxpool2x2_winners",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "fwht",
    "ternarize",
    "to_spatial_major",
    "from_spatial_major",
]

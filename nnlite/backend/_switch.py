"""The switch every backend choice reads: fused (Numba) kernels on or off, and when an array may take one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

__all__ = ["can_fuse", "fused_kernels", "fused_on"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ENABLED = True


@contextlib.contextmanager
def fused_kernels(enabled: bool) -> Iterator[None]:
    """Turn every Numba path on or off inside a ``with`` block (process-wide; restored on exit): the fused
    elementwise kernels, pooling, and the convolution's im2col chunks, FFT and direct loops (off, a convolution
    runs :mod:`nnlite.ops.conv`)."""
    global _ENABLED
    saved, _ENABLED = _ENABLED, bool(enabled)
    try:
        yield
    finally:
        _ENABLED = saved


def fused_on() -> bool:
    """True unless a :func:`fused_kernels` ``(False)`` block is in force."""
    return _ENABLED


def can_fuse(*arrays: object) -> bool:
    """True when fused kernels are on and every argument is a C-contiguous float32/float64 ndarray of the first
    one's shape and dtype."""
    a0 = arrays[0]
    if not _ENABLED or not isinstance(a0, np.ndarray) or a0.dtype not in _FLOATS or not a0.flags.c_contiguous:
        return False
    for a in arrays[1:]:
        if not isinstance(a, np.ndarray) or a.dtype != a0.dtype or a.shape != a0.shape or not a.flags.c_contiguous:
            return False
    return True

"""The one check every backward op makes: the incoming gradient matches what its forward pass produced.

A gradient of another shape would otherwise be broadcast (``dout`` of shape (N, 1) for (N, D)), reshaped, or
sliced by a chunked loop (5 samples of ``dout`` for a 3-sample cache), and a gradient of another dtype would
silently promote the step. The check is O(1): it reads shapes and dtypes, never the values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_grad"]


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

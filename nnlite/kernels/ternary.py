"""Ternarisation of a real array to {-1, 0, +1} (the input stage of the optical projection)."""

from __future__ import annotations

import math
import numbers

import numba
import numpy as np

from ._checks import check_float_array

__all__ = ["ternarize"]


@numba.njit(cache=True)
def _ternarize(x, t, out):
    for k in range(x.size):
        v = x[k]
        if v > t:
            out[k] = 1
        elif v < -t:
            out[k] = -1
        else:
            out[k] = 0


def ternarize(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Map each entry to +1 above ``threshold``, -1 below ``-threshold``, 0 otherwise.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64, C-contiguous
    threshold : float
        ``t >= 0``. It is rounded to ``x``'s dtype before comparing, so float32 input is compared with a
        float32 threshold. With ``t = 0`` exact zeros (and NaNs) map to 0.

    Returns
    -------
    q : ndarray, shape of ``x``, int8, entries in {-1, 0, 1}

    Notes
    -----
    ``q = [x > t] - [x < -t]``.
    """
    check_float_array(x, "x")
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, (bool, np.bool_)):
        raise TypeError(f"threshold must be a real number, got {threshold!r}")
    if not float(threshold) >= 0.0 or not math.isfinite(float(threshold)):
        raise ValueError(f"threshold must be finite and >= 0, got {threshold!r}")
    t = x.dtype.type(threshold)
    out = np.empty(x.shape, dtype=np.int8)
    _ternarize(x.reshape(-1), t, out.reshape(-1))
    return out

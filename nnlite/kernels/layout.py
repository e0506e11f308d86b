"""Layout moves of the FFT convolution (:mod:`nnlite.backend.conv_fft`): NCHW images to the spatial-first
(H, W, N, C) layout its transforms run on, and back, cropping and adding the bias on the way.

Both are transposes of an (N*C, H*W) matrix. These loops read one sample's (C, H*W) plane while writing its
(H*W, C) rows, both within cache, where NumPy's strided copy of the whole transpose was slower (the kernel suite,
``python -m benchmarks step --only kernels``, times each against its twin in :mod:`nnlite.kernels.reference`).
"""

from __future__ import annotations

import numba
import numpy as np

from ._checks import check_float_array

__all__ = ["from_spatial_major", "to_spatial_major"]


@numba.njit(cache=True, nogil=True)
def _to_spatial_major(x, out):
    N, C, H, W = x.shape
    for n in range(N):
        for h in range(H):
            for w in range(W):
                dst = out[h, w, n]
                for c in range(C):
                    dst[c] = x[n, c, h, w]


@numba.njit(cache=True, nogil=True)
def _from_spatial_major(y, b, out):
    # reads y[i, j, n, :] front to back, writes into one sample's (F, OH, OW) block, which stays in cache
    N, F, OH, OW = out.shape
    for n in range(N):
        dst = out[n]
        for i in range(OH):
            for j in range(OW):
                src = y[i, j, n]
                for f in range(F):
                    dst[f, i, j] = src[f] + b[f]


def to_spatial_major(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``out[h, w, n, c] = x[n, c, h, w]``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    out : ndarray, shape (H, W, N, C), dtype of ``x``, C-contiguous, optional
        Written in full and returned.
    """
    check_float_array(x, "x", ndim=4)
    N, C, H, W = x.shape
    if out is None:
        out = np.empty((H, W, N, C), dtype=x.dtype)
    elif out.shape != (H, W, N, C) or out.dtype != x.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {x.dtype} array of shape {(H, W, N, C)}")
    if x.size:
        _to_spatial_major(x, out)
    return out


def from_spatial_major(
    y: np.ndarray, OH: int, OW: int, bias: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """``out[n, f, i, j] = y[i, j, n, f] (+ bias[f])`` for ``i < OH``, ``j < OW`` (a crop of ``y``'s grid).

    Parameters
    ----------
    y : ndarray, shape (A, B, N, F) with A >= OH and B >= OW, float32 or float64
    OH, OW : int
    bias : ndarray, shape (F,), dtype of ``y``, optional
    out : ndarray, shape (N, F, OH, OW), dtype of ``y``, optional
        Written in full and returned.
    """
    check_float_array(y, "y", ndim=4)
    A, B, N, F = y.shape
    if not (0 <= OH <= A and 0 <= OW <= B):
        raise ValueError(f"the crop ({OH}, {OW}) does not fit the grid ({A}, {B})")
    if out is None:
        out = np.empty((N, F, OH, OW), dtype=y.dtype)
    elif out.shape != (N, F, OH, OW) or out.dtype != y.dtype:
        raise ValueError(f"out must be a {y.dtype} array of shape {(N, F, OH, OW)}")
    if out.size == 0:
        return out
    if bias is None:
        bias = np.zeros(F, dtype=y.dtype)
    elif bias.shape != (F,) or bias.dtype != y.dtype:
        raise ValueError(f"bias must be a {y.dtype} array of shape {(F,)}")
    _from_spatial_major(y, bias, out)
    return out

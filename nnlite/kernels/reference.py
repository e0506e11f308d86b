"""Plain NumPy twins of the jitted kernels: same names, same signatures, same results.

(The fused elementwise kernels of :mod:`nnlite.kernels.fused` have their twins in :mod:`nnlite.ops`, whose
equations they compute; so do im2col, col2im and pooling, whose NumPy forms :mod:`nnlite.ops` runs when the
fused kernels are off, and which this module names as the kernels are named.) They exist to be read and to hold
the kernels to account in tests; they do no input validation beyond what the computation needs, and are not
meant to be fast.
"""

from __future__ import annotations

import numpy as np

from ..ops.conv import col2im, im2col
from ..ops.pool import avgpool2d as avgpool2d_forward
from ..ops.pool import avgpool2d_grad as avgpool2d_backward
from ..ops.pool import maxpool2d as maxpool2d_forward
from ..ops.pool import maxpool2d_grad, maxpool2x2_winners

__all__ = [
    "im2col",
    "col2im",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "maxpool2x2_forward",
    "maxpool2x2_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "fwht",
    "ternarize",
    "to_spatial_major",
    "from_spatial_major",
]


def maxpool2d_backward(
    dout: np.ndarray,
    argmax: np.ndarray,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.maxpool2d_backward`: add each window's gradient at its winner."""
    return maxpool2d_grad(dout, argmax, x_shape)


def maxpool2x2_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`nnlite.kernels.maxpool2x2_forward`: :func:`maxpool2d_forward` at 2x2/stride 2, the winner
    as its place in the window (``2 * row + column``)."""
    out, argmax = maxpool2d_forward(x, 2, 2)
    W = x.shape[3]
    return out, (2 * (argmax // W % 2) + argmax % W % 2).astype(np.uint8)


def maxpool2x2_backward(dout: np.ndarray, code: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.maxpool2x2_backward`: :func:`maxpool2d_backward` with the winners' flat
    indices rebuilt from their places."""
    return maxpool2d_grad(dout, maxpool2x2_winners(code, x_shape[3]), x_shape)


def fwht(x: np.ndarray) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.fwht`: ``x @ scipy.linalg.hadamard(n)``, written back into ``x``."""
    from scipy.linalg import hadamard

    n = x.shape[-1]
    x[...] = x @ hadamard(n).astype(x.dtype)
    return x


def ternarize(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.ternarize`."""
    t = x.dtype.type(threshold)
    return ((x > t).astype(np.int8) - (x < -t).astype(np.int8)).astype(np.int8)


def to_spatial_major(x: np.ndarray) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.layout.to_spatial_major`: (N, C, H, W) -> (H, W, N, C)."""
    return np.ascontiguousarray(x.transpose(2, 3, 0, 1))


def from_spatial_major(y: np.ndarray, OH: int, OW: int, bias: np.ndarray | None = None) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.layout.from_spatial_major`: the (OH, OW) crop of (A, B, N, F) as
    (N, F, OH, OW), plus the bias (zero when None, as the kernel adds it)."""
    b = np.zeros(y.shape[3], dtype=y.dtype) if bias is None else bias
    return np.ascontiguousarray(y[:OH, :OW].transpose(2, 3, 0, 1)) + b.reshape(1, -1, 1, 1)

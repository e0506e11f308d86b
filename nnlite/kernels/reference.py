"""Plain NumPy twins of the jitted kernels: same names, same signatures, same results.

(The fused elementwise kernels of :mod:`nnlite.kernels.fused` have their twins in :mod:`nnlite.ops`, whose
equations they compute.) They exist to be read and to hold the kernels to account in tests; they do no input
validation beyond what the computation needs, and are not meant to be fast.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import as_pair, conv_output_shape

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


def im2col(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0
) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.im2col`: ``(C*KH*KW, N*OH*OW)`` columns of the padded windows."""
    N, C, H, W = x.shape
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    OH, OW = conv_output_shape(H, W, kh, kw, (sh, sw), (ph, pw))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((C, kh, kw, N, OH, OW), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i : i + sh * (OH - 1) + 1 : sh, j : j + sw * (OW - 1) + 1 : sw]  # (N, C, OH, OW)
            cols[:, i, j] = patch.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * OH * OW)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.col2im`: scatter-add the columns back, drop the padding."""
    N, C, H, W = x_shape
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    OH, OW = conv_output_shape(H, W, kh, kw, (sh, sw), (ph, pw))
    c6 = cols.reshape(C, kh, kw, N, OH, OW)
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + sh * (OH - 1) + 1 : sh, j : j + sw * (OW - 1) + 1 : sw] += c6[:, i, j].transpose(
                1, 0, 2, 3
            )
    return np.ascontiguousarray(dxp[:, :, ph : ph + H, pw : pw + W])


def _windows(x, kh, kw, sh, sw):
    # (N, C, OH, OW, KH*KW) view-copy of the pooling windows
    N, C, H, W = x.shape
    OH, OW = conv_output_shape(H, W, kh, kw, (sh, sw), 0)
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :OH, :OW]
    return win.reshape(N, C, OH, OW, kh * kw), OH, OW


def maxpool2d_forward(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`nnlite.kernels.maxpool2d_forward` (argmax: flat index ``h*W + w`` in the plane)."""
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    W = x.shape[3]
    win, OH, OW = _windows(x, kh, kw, sh, sw)
    k = win.argmax(axis=-1)
    out = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]
    h = np.arange(OH)[:, None] * sh + k // kw
    w = np.arange(OW)[None, :] * sw + k % kw
    return np.ascontiguousarray(out), (h * W + w).astype(np.int64)


def maxpool2d_backward(
    dout: np.ndarray,
    argmax: np.ndarray,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.maxpool2d_backward`: add each window's gradient at its winner."""
    N, C, H, W = x_shape
    dx = np.zeros((N * C, H * W), dtype=dout.dtype)
    rows = np.repeat(np.arange(N * C), argmax[0, 0].size) if argmax.size else np.zeros(0, np.int64)
    np.add.at(dx, (rows, argmax.reshape(-1)), dout.reshape(-1))
    return dx.reshape(N, C, H, W)


def maxpool2x2_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`nnlite.kernels.maxpool2x2_forward`: :func:`maxpool2d_forward` at 2x2/stride 2, the winner
    as its place in the window (``2 * row + column``)."""
    out, argmax = maxpool2d_forward(x, 2, 2)
    W = x.shape[3]
    return out, (2 * (argmax // W % 2) + argmax % W % 2).astype(np.uint8)


def maxpool2x2_backward(dout: np.ndarray, code: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.maxpool2x2_backward`: :func:`maxpool2d_backward` with the winners' flat
    indices rebuilt from their places."""
    OH, OW = code.shape[2:]
    k = code.astype(np.int64)
    argmax = (2 * np.arange(OH)[:, None] + k // 2) * x_shape[3] + 2 * np.arange(OW)[None, :] + k % 2
    return maxpool2d_backward(dout, argmax, x_shape, 2, 2)


def avgpool2d_forward(x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] | None = None) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.avgpool2d_forward`."""
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    win, OH, OW = _windows(x, kh, kw, sh, sw)
    return (win.sum(axis=-1) / (kh * kw)).astype(x.dtype)


def avgpool2d_backward(
    dout: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """Twin of :func:`nnlite.kernels.avgpool2d_backward`."""
    N, C, H, W = x_shape
    sh, sw = as_pair((kh, kw) if stride is None else stride, "stride", 1)
    OH, OW = dout.shape[2], dout.shape[3]
    g = dout / dout.dtype.type(kh * kw)
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * (OH - 1) + 1 : sh, j : j + sw * (OW - 1) + 1 : sw] += g
    return dx


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

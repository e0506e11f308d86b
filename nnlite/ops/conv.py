"""2-D convolution (cross-correlation, as in every deep-learning library): forward and hand-derived backward,
as im2col and three GEMMs over the whole batch.

Shapes: x (N, C, H, W), W (F, C, KH, KW), b (F,), out (N, F, OH, OW) with
``OH = (H + 2*padding - KH) // stride + 1`` and ``OW`` likewise; ``P = OH*OW`` positions per image.
``cols = im2col(x)`` has shape (C*KH*KW, N*P) (rows ordered (C, KH, KW) like ``W``'s last three axes, columns
(n, OH, OW)); ``W2 = W.reshape(F, C*KH*KW)``; ``D2`` is ``dout`` laid out as (F, N*P). Then

    forward   out = W2 @ cols                       (F, CK) @ (CK, N*P)
    dW            = D2 @ cols.T                     (F, N*P) @ (N*P, CK)
    dx            = col2im(K2.T @ D2)               K = W (BP) or the feedback kernel B (FA)

This module is the readable maths, in NumPy only, and the twin of :mod:`nnlite.backend.conv`, which runs the same
three GEMMs chunk by chunk and over threads with the Numba im2col (or by FFT, or direct loops), and runs this module
when the fused kernels are off.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_pair, check_grad, conv_output_shape

__all__ = ["ConvCache", "col2im", "conv2d_backward", "conv2d_forward", "conv2d_output_shape", "im2col"]


def conv2d_output_shape(
    H: int, W: int, KH: int, KW: int, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0
) -> tuple[int, int]:
    """``(OH, OW)`` of a convolution; ValueError if the kernel does not fit the padded input."""
    return conv_output_shape(H, W, KH, KW, stride, padding)


class ConvCache(NamedTuple):
    """The forward cache of :func:`conv2d_forward`: the input and the geometry (no columns)."""

    x: np.ndarray
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    KH: int
    KW: int


def im2col(
    x: np.ndarray, kh: int, kw: int, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0
) -> np.ndarray:
    """``(C*KH*KW, N*OH*OW)`` columns of the padded windows of ``x`` (N, C, H, W), rows ordered (C, KH, KW),
    columns (n, OH, OW); any layout (the twin of :func:`nnlite.kernels.im2col`)."""
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
    """The adjoint of :func:`im2col`: scatter-add the columns back into (N, C, H, W), drop the padding (the twin of
    :func:`nnlite.kernels.col2im`)."""
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


def conv2d_forward(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> tuple[np.ndarray, tuple]:
    """Convolution by im2col and one GEMM.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    W : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), or None
    stride, padding : int or (int, int)

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW)
    cache : ConvCache ``(x, stride, padding, KH, KW)``

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, y*stride + i, q*stride + j]``.
    """
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    OH, OW = conv2d_output_shape(H, Wd, KH, KW, stride, padding)
    cols = im2col(x, KH, KW, stride, padding)  # (CK, N*P)
    out = (W.reshape(F, -1) @ cols).reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    if b is not None:
        out = out + b.reshape(1, F, 1, 1)
    return np.ascontiguousarray(out), ConvCache(x, stride, padding, KH, KW)


def conv2d_backward(
    dout: np.ndarray,
    cache: tuple,
    W: np.ndarray,
    *,
    feedback: np.ndarray | None = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the convolution.

    Parameters
    ----------
    dout : ndarray, shape (N, F, OH, OW)
    cache : tuple from :func:`conv2d_forward`
    W : ndarray, shape (F, C, KH, KW)
    feedback : ndarray, shape (F, C, KH, KW), optional
        Kernel used in place of ``W`` to send the error down (Feedback Alignment).
    need_dx, need_db : bool
        Skip ``dx`` (its GEMM and the col2im) / ``db``.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None
    dW : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,), or None

    Notes
    -----
    ``dW[f, c, i, j] = sum_{n, y, q} dout[n, f, y, q] * xpad[n, c, y*stride + i, q*stride + j]`` = ``D2 @ cols.T``;
    ``db[f] = sum_{n, y, q} dout[n, f, y, q]``; ``dx = col2im(K2.T @ D2)``: every input pixel collects
    ``K[f, c, i, j] * dout[n, f, y, q]`` from each output position whose window covers it.
    """
    x, stride, padding, KH, KW = cache
    F = W.shape[0]
    OH, OW = conv2d_output_shape(x.shape[2], x.shape[3], KH, KW, stride, padding)
    check_grad(dout, (x.shape[0], F, OH, OW), np.result_type(x.dtype, W.dtype), "conv2d_backward")
    cols = im2col(x, KH, KW, stride, padding)
    D2 = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, -1)  # (F, N*P)
    dW = (D2 @ cols.T).reshape(W.shape)
    db = D2.sum(axis=1) if need_db else None
    dx = None
    if need_dx:
        K2 = (W if feedback is None else feedback).reshape(F, -1)
        dx = col2im(K2.T @ D2, x.shape, KH, KW, stride, padding)
    return dx, dW, db

"""2-D convolution (cross-correlation, as in every deep-learning library): forward and hand-derived backward.

Shapes: x (N, C, H, W), W (F, C, KH, KW), b (F,), out (N, F, OH, OW) with
``OH = (H + 2*padding - KH) // stride + 1`` and ``OW`` likewise. ``P = OH*OW`` positions per image.

The patches are unfolded by :func:`nnlite.kernels.im2col` into ``cols`` of shape
(C*KH*KW, N*P) (rows ordered (C, KH, KW) like ``W``'s last three axes, columns ordered (N, OH, OW)), so that
the forward pass, ``dW`` and the columns of ``dx`` are each one GEMM (BLAS) on plain 2-D matrices:

    forward  A   = W2 @ cols             (F, C*KH*KW) @ (C*KH*KW, N*P) -> (F, N*P)
    dW           = (cols @ D2.T).T       (C*KH*KW, N*P) @ (N*P, F)     -> (F, C*KH*KW)
    dx       dcols = W2.T @ D2, dx = col2im(dcols)

with ``W2 = W.reshape(F, -1)`` and ``D2`` the output gradient laid out as (F, N*P). The only copies besides
the columns are the (N, F, P) <-> (F, N*P) transpositions of output-sized arrays.
"""
from __future__ import annotations

import numpy as np

from ..kernels import col2im, conv_output_shape, im2col

__all__ = ["conv2d_forward", "conv2d_backward", "conv2d_output_shape"]


def conv2d_output_shape(H, W, KH, KW, stride=1, padding=0):
    """``(OH, OW)`` of a convolution; ValueError if the kernel does not fit the padded input."""
    return conv_output_shape(H, W, KH, KW, stride, padding)


def conv2d_forward(x, W, b=None, stride=1, padding=0):
    """Convolution by im2col and one GEMM.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    W : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), or None
    stride : int
    padding : int
        Zero padding on every side.

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW), C-contiguous, x's dtype
    cache : tuple
        ``(x_shape, cols, stride, padding, KH, KW)`` with ``cols`` of shape (C*KH*KW, N*OH*OW).

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, y*stride + i, q*stride + j]``,
    computed as ``W.reshape(F, -1) @ cols`` then transposed from (F, N, P) to (N, F, P) while the bias is added.
    """
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    cols = im2col(np.ascontiguousarray(x), KH, KW, stride, padding)
    OH, OW = conv2d_output_shape(H, Wd, KH, KW, stride, padding)
    a = W.reshape(F, -1) @ cols                                   # (F, N*P): the one GEMM
    out = np.empty((N, F, OH, OW), dtype=a.dtype)
    src = a.reshape(F, N, OH * OW).transpose(1, 0, 2)
    if b is None:
        out.reshape(N, F, OH * OW)[...] = src
    else:
        np.add(src, b.reshape(1, F, 1), out=out.reshape(N, F, OH * OW))
    return out, (x.shape, cols, stride, padding, KH, KW)


def conv2d_backward(dout, cache, W, *, feedback=None, need_dx=True, need_db=True):
    """Gradients of the convolution.

    Parameters
    ----------
    dout : ndarray, shape (N, F, OH, OW)
        ``dL/dout``.
    cache : tuple
        From :func:`conv2d_forward`.
    W : ndarray, shape (F, C, KH, KW)
    feedback : ndarray, shape (F, C, KH, KW), optional
        Kernel used in place of ``W`` to send the error down (Feedback Alignment).
    need_dx : bool
        When False the ``dx`` product and the col2im are skipped and ``dx`` is None.
    need_db : bool
        When False (no bias) ``db`` is None.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None
    dW : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,), or None

    Notes
    -----
    With ``D2[f, (n, y, q)] = dout[n, f, y, q]``:
    ``dW[f, c, i, j] = sum_{n, y, q} dout[n, f, y, q] * xpad[n, c, y*stride + i, q*stride + j]``
    = ``D2 @ cols.T`` (computed as ``(cols @ D2.T).T``);
    ``db[f] = sum_{n, y, q} dout[n, f, y, q]``;
    ``dx = col2im(K.reshape(F, -1).T @ D2)`` with ``K = W`` (BP) or ``K = feedback`` (FA): every input pixel
    collects ``K[f, c, i, j] * dout[n, f, y, q]`` from each output position whose window covers it.
    """
    x_shape, cols, stride, padding, KH, KW = cache
    F = W.shape[0]
    N = dout.shape[0]
    D2 = np.ascontiguousarray(dout.reshape(N, F, -1).transpose(1, 0, 2)).reshape(F, -1)   # (F, N*P)
    # (cols @ D2.T).T rather than D2 @ cols.T: the same product, but OpenBLAS splits the long (C*KH*KW) side
    # of this orientation well; the other one ran 5-6x slower on 2 threads (64 filters, 64x16x16 input).
    dW = np.ascontiguousarray((cols @ D2.T).T).reshape(W.shape)
    db = D2.sum(axis=1) if need_db else None
    dx = None
    if need_dx:
        K = W if feedback is None else feedback
        dcols = K.reshape(F, -1).T @ D2                                                    # (C*KH*KW, N*P)
        dx = col2im(dcols, x_shape, KH, KW, stride, padding)
    return dx, dW, db

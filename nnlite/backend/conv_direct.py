"""The direct stride-1 convolution for few input channels: the batch cut into one slice per BLAS thread, each
through the loops of :mod:`nnlite.kernels.conv_direct` (why and when: that module, and docs/design.md, "Kernels and
their twins").
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..kernels.conv_direct import direct_forward, direct_grad_w, direct_grad_x
from ..ops._checks import as_pair, conv_output_shape
from ._split import ConvGrads, Kernel, check_dout_shape, run, slices

__all__ = ["DIRECT_CHANNELS", "DirectCache", "conv2d_direct_backward", "conv2d_direct_forward"]

#: "auto" takes the direct loops for stride-1 3x3 convolutions of one dtype with at most this many input
#: channels (grey and RGB images; docs/design.md, "Kernels and their twins" has the timings behind it: with more
#: channels, or other
#: kernel sizes, im2col's GEMMs were as fast or faster).
DIRECT_CHANNELS = 3


class DirectCache(NamedTuple):
    """The forward cache of the direct path: the input itself (not copied) and the padding."""

    x: np.ndarray
    padding: tuple[int, int]
    KH: int
    KW: int


def conv2d_direct_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None, padding: int | tuple[int, int] = 0
) -> tuple[np.ndarray, DirectCache]:
    """Stride-1 convolution by direct loops (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), C-contiguous
    W : ndarray, shape (F, C, KH, KW), x's dtype
    b : ndarray, shape (F,), or None
    padding : int or (int, int)

    Returns
    -------
    out : ndarray, shape (N, F, OH, OW), C-contiguous, x's dtype
    cache : DirectCache
    """
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    ph, pw = as_pair(padding, "padding", 0)
    OH, OW = conv_output_shape(H, Wd, KH, KW, 1, (ph, pw))
    out = np.empty((N, F, OH, OW), dtype=x.dtype)
    bias = np.zeros(F, dtype=x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    Wc = np.ascontiguousarray(W)

    def work(sl):
        n0, n1 = sl
        direct_forward(x[n0:n1], Wc, bias, ph, pw, out[n0:n1])

    run(work, slices(N))
    return out, DirectCache(x, (ph, pw), KH, KW)


def conv2d_direct_backward(
    dout: np.ndarray,
    cache: DirectCache,
    W: np.ndarray,
    feedback: Kernel = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> ConvGrads:
    """Gradients of :func:`conv2d_direct_forward` (the arguments and results of
    :func:`nnlite.backend.conv.conv2d_backward`)."""
    x, (ph, pw), KH, KW = cache
    F = W.shape[0]
    N, C, H, Wd = x.shape
    OH, OW = H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1
    check_dout_shape(dout, (N, F, OH, OW))
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    K = np.ascontiguousarray(W if feedback is None else feedback, dtype=x.dtype) if need_dx else None
    dx = np.empty((N, C, H, Wd), dtype=x.dtype) if need_dx else None

    def work(sl):
        n0, n1 = sl
        dW = np.zeros((F, C, KH, KW), dtype=x.dtype)
        db = np.zeros(F, dtype=x.dtype)
        direct_grad_w(x[n0:n1], dout[n0:n1], ph, pw, dW, db)
        if dx is not None and K is not None:
            direct_grad_x(dout[n0:n1], K, ph, pw, dx[n0:n1])
        return dW, db

    parts = run(work, slices(N))
    dW, db = parts[0]
    for dW_k, db_k in parts[1:]:  # in slice order
        dW += dW_k
        db += db_k
    return dx, dW, (db if need_db else None)

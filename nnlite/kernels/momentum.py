"""The second half of a momentum update folded into a product: ``v`` already holds ``mu v + A^T B`` (one GEMM with
``beta = mu`` wrote it, :mod:`nnlite.backend.lazy`); one pass adds the weight decay and moves the parameter."""

from __future__ import annotations

import numba
import numpy as np

from ._checks import check_float_array

__all__ = ["momentum_apply"]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _momentum_apply(p, v, lr, wd):
    for i in range(p.size):
        vi = v[i] + wd * p[i]
        v[i] = vi
        p[i] -= lr * vi


def momentum_apply(p: np.ndarray, v: np.ndarray, *, lr: float, weight_decay: float = 0.0) -> None:
    """``v <- v + wd p``; ``p <- p - lr v``, in place, in one pass over C-contiguous ``p`` and ``v`` of one shape and
    float dtype (:func:`nnlite.kernels.fused.sgd_step`'s momentum update once ``v`` holds ``mu v + g``)."""
    check_float_array(p, "p")
    check_float_array(v, "v")
    if v.shape != p.shape or v.dtype != p.dtype or not (p.flags.c_contiguous and v.flags.c_contiguous):
        raise ValueError(f"p and v must be C-contiguous arrays of one shape and dtype, got {p.shape} and {v.shape}")
    t = p.dtype.type
    _momentum_apply(p.reshape(-1), v.reshape(-1), t(lr), t(weight_decay))

"""Helpers of the kernel tests (tests/test_kernels_*.py): the sizes drawn (smaller without JIT), the dtypes,
machine epsilon, and the image-batch draw the strategies share."""

import numba
import numpy as np
from hypothesis import strategies as st

NOJIT = bool(numba.config.DISABLE_JIT)
MAX_NC = 2 if NOJIT else 4  # batch and channel sizes drawn up to this
MAX_HW = 7 if NOJIT else 12  # spatial sizes drawn up to this
DTYPES = [np.float32, np.float64]


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _draw_nchw(draw):
    """(seed, dtype, (N, C, H, W)) drawn in this order: the part every image-batch strategy below shares."""
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    N = draw(st.integers(1, MAX_NC))
    C = draw(st.integers(1, MAX_NC))
    H = draw(st.integers(1, MAX_HW))
    W = draw(st.integers(1, MAX_HW))
    return seed, dtype, (N, C, H, W)

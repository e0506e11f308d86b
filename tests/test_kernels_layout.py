"""The layout kernels of the FFT convolution (nnlite.kernels.layout) equal their NumPy twins exactly (they only
move numbers, and add the bias once), and refuse buffers of the wrong shape or dtype."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite.kernels import layout
from nnlite.kernels import reference as R


@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_layout_kernels_equal_their_twins(N, C, H, W, f64):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(N * 1000 + C * 100 + H * 10 + W)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    np.testing.assert_array_equal(layout.to_spatial_major(x), R.to_spatial_major(x))
    y = rng.standard_normal((H + 2, W + 1, N, C)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    np.testing.assert_array_equal(layout.from_spatial_major(y, H, W, b), R.from_spatial_major(y, H, W, b))
    np.testing.assert_array_equal(layout.from_spatial_major(y, H, W), R.from_spatial_major(y, H, W))


def test_layout_kernels_refuse_bad_buffers():
    x = np.zeros((2, 3, 4, 5), np.float32)
    with pytest.raises(ValueError, match="shape"):
        layout.to_spatial_major(x, out=np.empty((2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        layout.from_spatial_major(np.zeros((4, 5, 2, 3), np.float32), 5, 5)
    with pytest.raises(ValueError, match="bias"):
        layout.from_spatial_major(np.zeros((4, 5, 2, 3), np.float32), 4, 5, bias=np.zeros(3, np.float64))

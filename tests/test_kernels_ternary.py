"""nnlite.kernels.ternary: ternarize equals its NumPy twin, thresholds and zeros included.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from kernel_helpers import DTYPES

from nnlite import kernels as K
from nnlite.kernels import reference as R

# ------------------------------------------------------------------------------------------ ternarize


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(DTYPES),
    st.sampled_from([(), (7,), (3, 5), (2, 3, 4)]),
    st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]),
)
def test_ternarize_equals_twin(seed, dtype, shape, threshold):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size:
        # put values exactly on the thresholds and exact zeros in
        flat = x.reshape(-1)
        flat[::3] = dtype(threshold)
        flat[1::5] = -dtype(threshold)
        flat[2::7] = 0.0
    q = K.ternarize(x, threshold)
    assert q.dtype == np.int8 and q.shape == x.shape
    np.testing.assert_array_equal(q, R.ternarize(x, threshold))
    t = dtype(threshold)
    np.testing.assert_array_equal(q == 1, x > t)
    np.testing.assert_array_equal(q == -1, x < -t)
    np.testing.assert_array_equal(q == 0, np.abs(x) <= t)


def test_ternarize_zero_threshold_keeps_zeros():
    x = np.array([-0.0, 0.0, 1e-30, -1e-30, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(K.ternarize(x, 0.0), [0, 0, 1, -1, 1])

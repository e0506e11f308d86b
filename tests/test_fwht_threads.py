"""The FWHT split across threads: every row is transformed by the same code, so the result is bit for bit the
single-thread one (and the textbook loop's) at every size, thread count and row count, odd splits included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import kernels as K
from nnlite.kernels import hadamard

DTYPES = [np.float32, np.float64]


def _textbook(x):
    y = x.astype(np.float64 if x.dtype == np.float64 else np.float32).copy()
    n, h = y.shape[-1], 1
    while h < n:
        y = y.reshape(*y.shape[:-1], n // (2 * h), 2, h)
        a, b = y[..., 0, :].copy(), y[..., 1, :].copy()
        y[..., 0, :], y[..., 1, :] = a + b, a - b
        y = y.reshape(*y.shape[:-3], n)
        h *= 2
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log2n", [4, 10, 12, 13, 16])
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threaded_fwht_is_bit_exact(dtype, log2n, threads):
    n = 2**log2n
    rows = max(3, hadamard.PARALLEL_MIN_ELEMENTS // n + 5)  # large enough to take the parallel path
    x = np.random.default_rng(log2n).standard_normal((rows, n)).astype(dtype)
    one = K.fwht(x.copy(), threads=1)
    many = K.fwht(x.copy(), threads=threads)
    np.testing.assert_array_equal(many, one)
    np.testing.assert_array_equal(one, _textbook(x))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(0, 12), st.integers(1, 5), st.sampled_from(DTYPES))
def test_threaded_fwht_any_split(rows, log2n, threads, dtype):
    # rows not divisible by the thread count, fewer rows than threads, one row: all the same result
    x = np.random.default_rng(rows * 100 + log2n).standard_normal((rows, 2**log2n)).astype(dtype)
    big = np.repeat(x, max(1, hadamard.PARALLEL_MIN_ELEMENTS // x.size + 1), axis=0)  # past the threshold too
    for a in (x, big):
        np.testing.assert_array_equal(K.fwht(a.copy(), threads=threads), K.fwht(a.copy(), threads=1))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_fwht_threads_is_checked(bad):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        K.fwht(np.zeros((2, 8), np.float32), threads=bad)

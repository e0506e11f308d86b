"""nnlite.kernels.hadamard: the fast Walsh-Hadamard transform equals its NumPy twin and the textbook loop bit
for bit, H_n H_n = n I, it stays inside its array, and the pure-Python 16-lane fallback.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st
from kernel_helpers import DTYPES, NOJIT, _eps

from nnlite import kernels as K
from nnlite.kernels import reference as R

MAX_LOG2N = 12  # fwht sizes 1 ... 2^12 in both modes (rows kept few without JIT)


# ----------------------------------------------------------------------------------------------- fwht


@st.composite
def fwht_cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    log2n = draw(st.integers(0, MAX_LOG2N))
    max_rows = 2 if (NOJIT and log2n > 8) else 6
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 3), (1, 2, 1)]))
    while batch and math.prod(batch) > max_rows:
        batch = batch[1:]
    integer_valued = draw(st.booleans())
    rng = np.random.default_rng(seed)
    shape = batch + (2**log2n,)
    if integer_valued:
        x = rng.integers(-3, 4, size=shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    return x, integer_valued


@given(fwht_cases())
def test_fwht_equals_twin(case):
    x, integer_valued = case
    n = x.shape[-1]
    y = x.copy()
    out = K.fwht(y)
    assert out is y and y.dtype == x.dtype and y.shape == x.shape
    expected = R.fwht(x.copy())
    if integer_valued:
        # every partial sum is an integer below 3n <= 2^14: exact in both dtypes, whatever the order
        np.testing.assert_array_equal(y, expected)
    else:
        # each of log2 n stages rounds once at magnitudes <= 2^s max|x|: total error <= 2 eps n max|x|,
        # and the BLAS twin's own error is of the same order
        tol = 4 * _eps(x.dtype) * n * float(np.abs(x).max())
        np.testing.assert_allclose(y, expected, rtol=0, atol=tol)
    # and the twin is what its docstring says (Sylvester order, scipy.linalg.hadamard)
    np.testing.assert_allclose(
        expected,
        x.astype(np.float64) @ scipy.linalg.hadamard(n),
        rtol=0,
        atol=4 * _eps(x.dtype) * n * float(np.abs(x).max()) + 0.0,
    )


@given(fwht_cases())
def test_fwht_twice_is_n_times_identity(case):
    x, _ = case
    n = x.shape[-1]
    y = K.fwht(K.fwht(x.copy()))
    tol = 8 * _eps(x.dtype) * n * n * float(np.abs(x).max())
    np.testing.assert_allclose(y, n * x, rtol=0, atol=tol)


def test_fwht_known_values():
    x = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    np.testing.assert_array_equal(K.fwht(x), [1.0, 1.0, 1.0, 1.0])
    x = np.array([[0.0, 1.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]], dtype=np.float64)
    np.testing.assert_array_equal(K.fwht(x), [[1.0, -1.0, 1.0, -1.0], [3.0, 3.0, 3.0, 3.0]])
    # each unit vector e_k maps to row k of H_n, at a size that uses every pass (blocks of 4096 + top stages)
    n = 2**13 if not NOJIT else 2**9
    H = scipy.linalg.hadamard(n)
    for k in (0, 1, 7, n // 2 + 3, n - 1):
        e = np.zeros(n, dtype=np.float32)
        e[k] = 1.0
        np.testing.assert_array_equal(K.fwht(e), H[k].astype(np.float32))
    one = np.array([2.5], dtype=np.float32)
    np.testing.assert_array_equal(K.fwht(one), [2.5])
    empty = np.zeros((0, 8), dtype=np.float32)
    assert K.fwht(empty) is empty


def _fwht_textbook(x):
    """Stage-by-stage radix-2 FWHT in NumPy, spans 1, 2, 4, ... in order: (a, b) <- (a + b, a - b)."""
    x = np.array(x, copy=True)
    n = x.shape[-1]
    h = 1
    while h < n:
        v = x.reshape(-1, n // (2 * h), 2, h)
        a = v[:, :, 0, :].copy()
        b = v[:, :, 1, :].copy()
        v[:, :, 0, :] = a + b
        v[:, :, 1, :] = a - b
        h *= 2
    return x


# JIT: every size up to 2^16, so the in-L1 blocks (4096 float32 / 2048 float64 elements) and every
# radix of the large-span passes after them are exercised; without JIT the loops are pure Python.
FWHT_EXACT_MAX_LOG2N = 10 if NOJIT else 16


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log2n", range(FWHT_EXACT_MAX_LOG2N + 1))
def test_fwht_bit_exact_vs_textbook_every_size(dtype, log2n):
    # The kernel regroups stages (16-lane vector butterflies, radix-8/4/2 passes, blocks) but keeps the
    # span order and plain add/sub rounding, so on arbitrary (non-integer) floats it must equal the
    # textbook loop bit for bit. Any wrong lane pairing, sign or skipped/duplicated stage breaks this.
    n = 2**log2n
    rows = 1 if (NOJIT and log2n > 8) else 3
    x = np.random.default_rng(1000 + log2n).standard_normal((rows, n)).astype(dtype)
    y = K.fwht(x.copy())
    np.testing.assert_array_equal(y, _fwht_textbook(x))


@given(st.integers(0, 2**32 - 1), st.sampled_from(DTYPES), st.integers(0, FWHT_EXACT_MAX_LOG2N), st.integers(0, 64))
def test_fwht_stays_inside_its_array(seed, dtype, log2n, pad):
    # x is a C-contiguous window into a bigger buffer: the vector loads/stores must not touch the guard
    # elements around it, and the window itself must come out transformed.
    n = 2**log2n
    rows = 1 if (NOJIT and log2n > 8) else 2
    rng = np.random.default_rng(seed)
    buf = rng.standard_normal(rows * n + 2 * pad).astype(dtype)
    before = buf.copy()
    x = buf[pad : pad + rows * n].reshape(rows, n)
    assert x.flags.c_contiguous
    K.fwht(x)
    np.testing.assert_array_equal(buf[:pad], before[:pad])
    np.testing.assert_array_equal(buf[pad + rows * n :], before[pad + rows * n :])
    np.testing.assert_array_equal(x, _fwht_textbook(before[pad : pad + rows * n].reshape(rows, n)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_fwht_lanes16_python_fallback(dtype):
    # the pure-Python 16-point butterfly used when NUMBA_DISABLE_JIT=1 (tested here in both modes)
    from nnlite.kernels import hadamard

    x = np.random.default_rng(7).standard_normal(48).astype(dtype)
    y = x.copy()
    hadamard._lanes16_python(y, 16)
    np.testing.assert_array_equal(y[:16], x[:16])
    np.testing.assert_array_equal(y[32:], x[32:])
    np.testing.assert_array_equal(y[16:32], _fwht_textbook(x[16:32]))

"""The 2x2/stride-2 max pooling kernels (one byte per winner): equal to their NumPy twins and to the general
kernel, NaN and ties included, through the layer (backward and IFA's carry) too, and strict about their input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnlite as nn
import nnlite.kernels as K
from nnlite.kernels import reference as R
from nnlite.ops import pool as ops_pool


def _tricky(seed, dtype, shape):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([np.nan, 0.5, -1.0, 2.0, 0.0, -0.0], dtype=dtype), size=shape)  # NaNs, ties, ±0
    return np.where(rng.random(shape) < 0.4, rng.standard_normal(shape).astype(dtype), x), rng


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9)),
)
def test_maxpool2x2_equals_its_twin_and_the_general_kernel(seed, dtype, shape):
    x, rng = _tricky(seed, dtype, shape)
    out, code = K.maxpool2x2_forward(x)
    out_r, code_r = R.maxpool2x2_forward(x)
    assert out.dtype == x.dtype and code.dtype == np.uint8 and code.shape == out.shape
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(code, code_r)
    out_g, arg_g = K.maxpool2d_forward(x, 2, 2)  # the general kernel's winners, as flat indices
    np.testing.assert_array_equal(out, out_g)
    W = shape[3]
    OH, OW = out.shape[2:]
    flat = (2 * np.arange(OH)[:, None] + code // 2) * W + 2 * np.arange(OW)[None, :] + code % 2
    np.testing.assert_array_equal(flat, arg_g)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = K.maxpool2x2_backward(dout, code, x.shape)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dx, R.maxpool2x2_backward(dout, code, x.shape))
    np.testing.assert_array_equal(dx, K.maxpool2d_backward(dout, arg_g, x.shape, 2, 2))  # no overlap: exact


@given(st.integers(0, 2**32 - 1), st.sampled_from([(2, 3, 6, 6), (1, 2, 5, 7)]))
def test_maxpool_layer_takes_the_2x2_kernel_with_the_same_backward_and_carry(seed, shape):
    x, rng = _tricky(seed, np.float64, shape)
    fast = nn.MaxPool2d(2)
    out, cache = fast.forward(x)
    assert cache[0].dtype == np.uint8  # the one-byte winners
    out_g, arg_g = K.maxpool2d_forward(x, 2, 2)
    gcache = (arg_g, *cache[1:])  # the same cache with the general kernel's winners
    np.testing.assert_array_equal(out, out_g)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_array_equal(fast.backward(dout, cache)[0], ops_pool.maxpool2d_backward_op(dout, gcache))
    v = rng.standard_normal(shape)
    np.testing.assert_array_equal(fast.carry(v, cache), ops_pool.maxpool2d_carry(v, gcache))


def test_maxpool2x2_refuses_what_it_cannot_pool():
    x = np.zeros((1, 1, 4, 4), np.float32)
    out, code = K.maxpool2x2_forward(x)
    d = np.zeros_like(out)
    cases = [
        (lambda: K.maxpool2x2_forward(np.zeros((1, 1, 1, 4), np.float32)), ValueError, "does not fit"),
        (lambda: K.maxpool2x2_forward(np.zeros((1, 4, 4), np.float32)), ValueError, "4 dimensions"),
        (lambda: K.maxpool2x2_forward(np.zeros((1, 1, 4, 4), np.int32)), TypeError, "float"),
        (lambda: K.maxpool2x2_backward(d, code.astype(np.int64), x.shape), TypeError, "uint8"),
        (lambda: K.maxpool2x2_backward(d, code[:, :, :1], x.shape), TypeError, "uint8 array"),
        (lambda: K.maxpool2x2_backward(d, np.full_like(code, 4), x.shape), ValueError, r"\[0, 3\], got up to 4"),
        (lambda: K.maxpool2x2_backward(d[:, :, :1], code, x.shape), ValueError, "dout must have shape"),
        (lambda: K.maxpool2x2_winners(code.astype(np.int64), 4), TypeError, "uint8"),
        (lambda: K.maxpool2x2_winners(code, 3), ValueError, "width must be an int of at least 2 \\* 2"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()

"""nnlite.kernels.pool: max and average pooling equal their NumPy twins (ties to the first, overlapping windows
adding their gradients), average pooling is adjoint, and the 2x2/stride-2 fast path equals the general kernel.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from kernel_helpers import _draw_nchw, _eps

from nnlite import kernels as K
from nnlite.kernels import reference as R


@st.composite
def pool_cases(draw):
    """(x, kh, kw, stride) with stride possibly smaller than the kernel (overlapping windows)."""
    seed, dtype, (N, C, H, W) = _draw_nchw(draw)
    kh = draw(st.integers(1, H))
    kw = draw(st.integers(1, W))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    rng = np.random.default_rng(seed)
    # Integer-valued inputs in a small range make ties in max pooling common (ties must go to the first).
    if draw(st.booleans()):
        x = rng.integers(-2, 3, size=(N, C, H, W)).astype(dtype)
    else:
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
    return x, kh, kw, stride


# -------------------------------------------------------------------------------------------- pooling


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_maxpool_equals_twin(case, seed):
    x, kh, kw, stride = case
    out, arg = K.maxpool2d_forward(x, kh, kw, stride)
    out_r, arg_r = R.maxpool2d_forward(x, kh, kw, stride)
    assert out.dtype == x.dtype and arg.dtype == np.int64
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(arg, arg_r)
    # the winner is the value it points at
    N, C, H, W = x.shape
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(N, C, H * W), arg.reshape(N, C, -1), axis=2), out.reshape(N, C, -1)
    )
    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
    dx = K.maxpool2d_backward(dout, arg, x.shape, kh, kw, stride)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    dx_r = R.maxpool2d_backward(dout, arg, x.shape, kh, kw, stride)
    # overlapping windows may add their gradients in another order: bound by the number of windows
    overlap = math.ceil(kh / (stride or kh if isinstance(stride, int) or stride is None else stride[0])) * math.ceil(
        kw / (stride or kw if isinstance(stride, int) or stride is None else stride[1])
    )
    np.testing.assert_allclose(dx, dx_r, rtol=0, atol=2 * overlap * _eps(x.dtype) * float(np.abs(dout).max()))
    # total gradient is conserved: every window passes all of its gradient to one input
    assert (
        abs(float(dx.sum(dtype=np.float64)) - float(dout.sum(dtype=np.float64)))
        <= 4 * overlap * _eps(x.dtype) * float(np.abs(dout).sum(dtype=np.float64)) + 1e-300
    )


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_avgpool_equals_twin_and_is_adjoint(case, seed):
    x, kh, kw, stride = case
    out = K.avgpool2d_forward(x, kh, kw, stride)
    assert out.dtype == x.dtype
    tol = 4 * kh * kw * _eps(x.dtype) * float(np.abs(x).max() + 1.0)
    np.testing.assert_allclose(out, R.avgpool2d_forward(x, kh, kw, stride), rtol=0, atol=tol)
    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
    dx = K.avgpool2d_backward(dout, x.shape, kh, kw, stride)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    gtol = 4 * kh * kw * _eps(x.dtype) * float(np.abs(dout).max() + 1.0)
    np.testing.assert_allclose(dx, R.avgpool2d_backward(dout, x.shape, kh, kw, stride), rtol=0, atol=gtol)
    # <avgpool(x), dout> == <x, avgpool_backward(dout)>
    lhs = float(np.dot(out.astype(np.float64).ravel(), dout.astype(np.float64).ravel()))
    rhs = float(np.dot(x.astype(np.float64).ravel(), dx.astype(np.float64).ravel()))
    assert abs(lhs - rhs) <= 8 * kh * kw * _eps(x.dtype) * (float(np.abs(x).sum()) * float(np.abs(dout).max()) + 1)


def test_maxpool_overlapping_windows_add_gradients():
    # 1x1x3x3 with the maximum in the centre: all four overlapping 2x2 windows (stride 1) pick it.
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    x[0, 0, 1, 1] = 5.0
    out, arg = K.maxpool2d_forward(x, 2, 2, 1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 5.0, dtype=np.float32))
    np.testing.assert_array_equal(arg, np.full((1, 1, 2, 2), 4))
    dx = K.maxpool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=np.float32), arg, x.shape, 2, 2, 1)
    expected = np.zeros((1, 1, 3, 3), dtype=np.float32)
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(dx, expected)
    # ties go to the first element in row-major window order
    _, arg = K.maxpool2d_forward(np.ones((1, 1, 2, 2), dtype=np.float64), 2, 2)
    assert arg.item() == 0


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9)),
)
def test_maxpool_2x2_fast_path_equals_the_general_kernel(seed, dtype, shape):
    # the cnn's 2x2/stride-2 pooling has its own kernel: same winners (first NaN, else first maximum), same values
    from nnlite.kernels import pool as P

    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([np.nan, 0.5, -1.0, 2.0], dtype=dtype), size=shape)  # NaNs and ties everywhere
    x = np.where(rng.random(shape) < 0.5, rng.standard_normal(shape).astype(dtype), x)
    N, C, H, W = shape
    o1 = np.empty((N, C, (H - 2) // 2 + 1, (W - 2) // 2 + 1), dtype)
    a1 = np.empty(o1.shape, np.int64)
    P._maxpool_fwd(x, 2, 2, 2, 2, o1, a1)  # the general loop
    out, arg = K.maxpool2d_forward(x, 2, 2)  # takes the fast path
    np.testing.assert_array_equal(out, o1)
    np.testing.assert_array_equal(arg, a1)

"""nnlite.kernels.conv: im2col and col2im equal their NumPy twins, col2im is the adjoint of im2col, the
stride-1 same-width fast path, out= buffers, and conv_output_shape.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_helpers import _draw_nchw, _eps

from nnlite import kernels as K
from nnlite.kernels import reference as R


@st.composite
def conv_cases(draw):
    """(x, kh, kw, stride, padding) with the kernel fitting the padded input."""
    seed, dtype, (N, C, H, W) = _draw_nchw(draw)
    as_ints = draw(st.booleans())  # stride/padding given as plain ints (both axes) or as pairs
    ph = draw(st.integers(0, 3))
    pw = ph if as_ints else draw(st.integers(0, 3))
    sh = draw(st.integers(1, 4))
    sw = sh if as_ints else draw(st.integers(1, 4))
    kh = draw(st.integers(1, H + 2 * ph))
    kw = draw(st.integers(1, W + 2 * pw))
    stride, padding = (sh, ph) if as_ints else ((sh, sw), (ph, pw))
    x = np.random.default_rng(seed).standard_normal((N, C, H, W)).astype(dtype)
    return x, kh, kw, stride, padding


# --------------------------------------------------------------------------------------------- im2col


@given(conv_cases())
def test_im2col_equals_twin(case):
    x, kh, kw, stride, padding = case
    cols = K.im2col(x, kh, kw, stride, padding)
    OH, OW = K.conv_output_shape(x.shape[2], x.shape[3], kh, kw, stride, padding)
    assert cols.dtype == x.dtype
    assert cols.shape == (x.shape[1] * kh * kw, x.shape[0] * OH * OW)
    np.testing.assert_array_equal(cols, R.im2col(x, kh, kw, stride, padding))  # pure copies: exact


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_col2im_equals_twin_and_is_adjoint(case, seed):
    x, kh, kw, stride, padding = case
    cols = K.im2col(x, kh, kw, stride, padding)
    c = np.random.default_rng(seed).standard_normal(cols.shape).astype(x.dtype)
    dx = K.col2im(c, x.shape, kh, kw, stride, padding)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    # Both add the overlapping taps of each pixel in the same (i, j) order: the results agree exactly.
    np.testing.assert_array_equal(dx, R.col2im(c, x.shape, kh, kw, stride, padding))
    # <im2col(x), c> == <x, col2im(c)>, computed in float64 from the kernels' outputs.
    lhs = float(np.dot(cols.astype(np.float64).ravel(), c.astype(np.float64).ravel()))
    rhs = float(np.dot(x.astype(np.float64).ravel(), dx.astype(np.float64).ravel()))
    scale = float(np.abs(cols).astype(np.float64).ravel() @ np.abs(c).astype(np.float64).ravel()) + 1.0
    assert abs(lhs - rhs) <= 4 * _eps(x.dtype) * kh * kw * scale


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_im2col_col2im_out_buffers(case, seed):
    # out= is filled with garbage first: the kernels must overwrite every entry (col2im zeroes before adding).
    x, kh, kw, stride, padding = case
    cols = K.im2col(x, kh, kw, stride, padding)
    buf = np.full(cols.shape, np.nan, dtype=x.dtype)
    assert K.im2col(x, kh, kw, stride, padding, out=buf) is buf
    np.testing.assert_array_equal(buf, cols)
    c = np.random.default_rng(seed).standard_normal(cols.shape).astype(x.dtype)
    dx = np.full(x.shape, np.nan, dtype=x.dtype)
    assert K.col2im(c, x.shape, kh, kw, stride, padding, out=dx) is dx
    np.testing.assert_array_equal(dx, K.col2im(c, x.shape, kh, kw, stride, padding))


@st.composite
def same_width_cases(draw):
    """Stride-1 cases with OW == W (odd kw, pw = (kw - 1) / 2): the plane-shift fast path of im2col.
    Kernels may be wider / taller than the input, and ph may be >= kh (whole rows of padding)."""
    seed, dtype, (N, C, H, W) = _draw_nchw(draw)
    kw = 2 * draw(st.integers(0, W + 1)) + 1
    pw = (kw - 1) // 2
    ph = draw(st.integers(0, 6))
    kh = draw(st.integers(1, H + 2 * ph))
    x = np.random.default_rng(seed).standard_normal((N, C, H, W)).astype(dtype)
    return x, kh, kw, (ph, pw)


@given(same_width_cases())
def test_im2col_stride1_same_width_fast_path_equals_twin(case):
    x, kh, kw, padding = case
    ref = R.im2col(x, kh, kw, 1, padding)
    assert ref.shape[1] % (x.shape[0] * x.shape[3]) == 0  # OW == W: the fast path is the one taken
    buf = np.full(ref.shape, np.nan, dtype=x.dtype)  # every cell must be written (zeros included)
    assert K.im2col(x, kh, kw, 1, padding, out=buf) is buf
    np.testing.assert_array_equal(buf, ref)
    np.testing.assert_array_equal(K.im2col(x, kh, kw, (1, 1), padding), ref)


def test_im2col_fast_path_borders_on_known_input():
    # 1x1x3x3 ramp, 3x3 kernel, padding 1: tap (0, 0) reads x shifted down-right, with zeros on the top row
    # and the left column (where the flat shifted copy would otherwise carry the previous row's last value).
    x = np.arange(1.0, 10.0, dtype=np.float32).reshape(1, 1, 3, 3)
    cols = K.im2col(x, 3, 3, 1, 1, out=np.full((9, 9), np.nan, dtype=np.float32))
    np.testing.assert_array_equal(cols[0].reshape(3, 3), [[0, 0, 0], [0, 1, 2], [0, 4, 5]])
    np.testing.assert_array_equal(cols[4].reshape(3, 3), x[0, 0])
    np.testing.assert_array_equal(cols[8].reshape(3, 3), [[5, 6, 0], [8, 9, 0], [0, 0, 0]])


def test_out_buffers_refuse_wrong_shape_dtype_layout_and_overlap():
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"shape \(4, 9\)"):
        K.im2col(x, 2, 2, out=np.empty((4, 8), np.float32))
    with pytest.raises(TypeError, match="float32"):
        K.im2col(x, 2, 2, out=np.empty((4, 9), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.im2col(x, 2, 2, out=np.empty((9, 4), np.float32).T)
    ro = np.empty((4, 9), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        K.im2col(x, 2, 2, out=ro)
    c = np.ones((4, 9), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        K.col2im(c, (1, 1, 4, 4), 2, 2, out=c.reshape(-1)[:16].reshape(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"shape \(1, 1, 4, 4\)"):
        K.col2im(c, (1, 1, 4, 4), 2, 2, out=np.empty((1, 1, 4, 5), np.float32))


def test_im2col_known_values_and_conv_as_one_gemm():
    # A 1x1x3x3 image of 1..9, 2x2 kernel, stride 1, padding 0: the four windows, column by column.
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    cols = K.im2col(x, 2, 2, 1, 0)
    np.testing.assert_array_equal(
        cols, np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], dtype=np.float32)
    )
    # The documented forward: one GEMM with W.reshape(F, C*KH*KW) gives the direct convolution.
    rng = np.random.default_rng(0)
    N, C, H, Wd, F, k, s, p = 2, 3, 6, 5, 4, 3, 2, 1
    x = rng.standard_normal((N, C, H, Wd))
    Wt = rng.standard_normal((F, C, k, k))
    OH, OW = K.conv_output_shape(H, Wd, k, k, s, p)
    out = (Wt.reshape(F, -1) @ K.im2col(x, k, k, s, p)).reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    direct = np.zeros((N, F, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            direct[:, :, oh, ow] = np.einsum("ncij,fcij->nf", xp[:, :, oh * s : oh * s + k, ow * s : ow * s + k], Wt)
    np.testing.assert_allclose(out, direct, rtol=1e-12, atol=1e-12)


def test_conv_output_shape():
    assert K.conv_output_shape(32, 32, 5, 5, 1, 2) == (32, 32)
    assert K.conv_output_shape(7, 6, 3, 2, (2, 1), (0, 1)) == (3, 7)
    assert K.conv_output_shape(1, 1, 3, 3, 1, 1) == (1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        K.conv_output_shape(4, 4, 5, 3, 1, 0)
    with pytest.raises(ValueError, match="stride"):
        K.conv_output_shape(4, 4, 3, 3, 0, 0)
    with pytest.raises(ValueError, match="padding"):
        K.conv_output_shape(4, 4, 3, 3, 1, -1)

"""nnlite.kernels: every jitted kernel equals its NumPy twin, plus the algebraic properties that pin them
down (adjointness of im2col/col2im, H_n H_n = n I, ...), and clear errors on bad input.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import math

import numba
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

from nnlite import kernels as K
from nnlite.kernels import reference as R

NOJIT = bool(numba.config.DISABLE_JIT)
MAX_NC = 2 if NOJIT else 4  # batch and channel sizes drawn up to this
MAX_HW = 7 if NOJIT else 12  # spatial sizes drawn up to this
MAX_LOG2N = 12  # fwht sizes 1 ... 2^12 in both modes (rows kept few without JIT)
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


# ---------------------------------------------------------------------------------------- bad input


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: K.im2col(_f32(2, 3, 4), 2, 2), ValueError, "4 dimensions"),
        (lambda: K.im2col(np.zeros((1, 1, 4, 4), dtype=np.int64), 2, 2), TypeError, "float32 or float64"),
        (lambda: K.im2col(_f32(1, 1, 4, 8)[..., ::2], 2, 2), ValueError, "C-contiguous"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 5, 2), ValueError, "does not fit"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2, 2, stride=0), ValueError, "stride"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2, 2, padding=(1, 2, 3)), TypeError, "padding"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2.0, 2), TypeError, "kernel size"),
        (lambda: K.im2col([[[[1.0]]]], 1, 1), TypeError, "ndarray"),
        (lambda: K.col2im(_f32(4, 8), (1, 1, 4, 4), 2, 2), ValueError, r"\(4, 9\)"),
        (lambda: K.col2im(_f32(4, 9), (1, 1, 4), 2, 2), ValueError, "x_shape"),
        (lambda: K.maxpool2d_forward(_f32(1, 1, 2, 2), 3, 3), ValueError, "does not fit"),
        (lambda: K.maxpool2d_forward(_f32(1, 2, 2), 1, 1), ValueError, "4 dimensions"),
        (
            lambda: K.maxpool2d_backward(_f32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int32), (1, 1, 2, 2), 2, 2),
            TypeError,
            "int64",
        ),
        (
            lambda: K.maxpool2d_backward(_f32(1, 1, 1, 1), np.full((1, 1, 1, 1), 4), (1, 1, 2, 2), 2, 2),
            ValueError,
            "argmax entries",
        ),
        (lambda: K.avgpool2d_backward(_f32(1, 1, 2, 2), (1, 1, 2, 2), 2, 2), ValueError, "dout must have shape"),
        (lambda: K.avgpool2d_forward(np.zeros((1, 1, 2, 2), dtype=np.float16), 2, 2), TypeError, "float16"),
        (lambda: K.fwht(_f32(3, 6)), ValueError, "power-of-two"),
        (lambda: K.fwht(_f32(3, 0)), ValueError, "power-of-two"),
        (lambda: K.fwht(np.float32(1.0)), TypeError, "ndarray"),
        (lambda: K.fwht(np.zeros((), dtype=np.float32)), ValueError, "at least 1 dimension"),
        (lambda: K.fwht(np.zeros(8, dtype=np.int32)), TypeError, "float32 or float64"),
        (lambda: K.fwht(_f32(8, 4).T), ValueError, "C-contiguous"),
        (lambda: K.ternarize(_f32(3), -0.5), ValueError, ">= 0"),
        (lambda: K.ternarize(_f32(3), float("nan")), ValueError, ">= 0"),
        (lambda: K.ternarize(np.zeros(3, dtype=np.int8), 0.5), TypeError, "float32 or float64"),
        (lambda: K.ternarize(_f32(4, 4)[:, ::2], 0.5), ValueError, "C-contiguous"),
    ],
)
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_fwht_refuses_read_only():
    x = _f32(4)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        K.fwht(x)


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

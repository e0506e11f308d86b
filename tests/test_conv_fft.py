"""The FFT convolution (nnlite.backend.conv_fft) against its twin, the im2col maths of nnlite.ops.conv, and the
choice between the two (nnlite.backend.conv.conv2d_algorithm, Conv2d(algorithm=...)).

The FFT computes the same sums in another order (through the frequency domain), so the two agree to rounding:
1e-10 of the result's scale in float64, 2e-5 in float32 (the twin's own float32 error is of that order).
"""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st

from nnlite.backend import conv as conv_exec
from nnlite.backend import conv_fft
from nnlite.layers import Conv2d
from nnlite.ops import conv as twin
from nnlite.runtime.threads import blas_limit

TOL = {np.float64: 1e-10, np.float32: 2e-5}


@st.composite
def fft_cases(draw):
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    H = draw(st.integers(max(1, kh - 2 * ph), kh + 8))
    W = draw(st.integers(max(1, kw - 2 * pw), kw + 8))
    N, C, F = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return N, C, F, H, W, (kh, kw), (ph, pw), dtype, draw(st.integers(0, 2**31 - 1))


def _data(N, C, F, H, W, k, padding, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    Wt = rng.standard_normal((F, C, *k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    B = rng.standard_normal((F, C, *k)).astype(dtype)
    OH, OW = H + 2 * padding[0] - k[0] + 1, W + 2 * padding[1] - k[1] + 1
    dout = rng.standard_normal((N, F, OH, OW)).astype(dtype)
    return x, Wt, b, B, dout


def _close(a, ref, dtype):
    assert a.dtype == ref.dtype == np.dtype(dtype)
    assert a.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max()))
    assert float(np.abs(a - ref).max()) <= TOL[dtype] * scale


@given(fft_cases())
def test_fft_forward_and_backward_equal_the_twin(case):
    N, C, F, H, W, k, padding, dtype, seed = case
    x, Wt, b, B, dout = _data(*case)
    out, cache = conv_fft.conv2d_fft_forward(x, Wt, b, padding)
    ref, rcache = twin.conv2d_forward(x, Wt, b, 1, padding)
    _close(out, ref, dtype)
    for feedback in (None, B):  # BP, and FA's feedback kernel in the dx product
        dx, dW, db = conv_fft.conv2d_fft_backward(dout, cache, Wt, feedback=feedback)
        rdx, rdW, rdb = twin.conv2d_backward(dout, rcache, Wt, feedback=feedback)
        _close(dx, rdx, dtype)
        _close(dW, rdW, dtype)
        _close(db, rdb, dtype)
    dx, dW2, db = conv_fft.conv2d_fft_backward(dout, cache, Wt, need_dx=False, need_db=False)
    assert dx is None and db is None
    np.testing.assert_array_equal(dW2, dW)  # skipping dx and db changes nothing in dW


@given(fft_cases())
def test_executor_dispatches_fft_and_its_cache(case):
    N, C, F, H, W, k, padding, dtype, seed = case
    x, Wt, b, B, dout = _data(*case)
    out, cache = conv_exec.conv2d_forward(x, Wt, b, 1, padding, algorithm="fft")
    assert isinstance(cache, conv_fft.FFTCache)
    mine = conv_exec.conv2d_backward(dout, cache, Wt, feedback=B)
    ref_out, ref_cache = conv_exec.conv2d_forward(x, Wt, b, 1, padding, algorithm="im2col")
    assert not isinstance(ref_cache, conv_fft.FFTCache)
    _close(out, ref_out, dtype)
    for a, r in zip(mine, conv_exec.conv2d_backward(dout, ref_cache, Wt, feedback=B)):
        _close(a, r, dtype)


def test_float32_stays_float32_everywhere():
    x, Wt, b, B, dout = _data(3, 4, 5, 9, 7, (5, 3), (2, 1), np.float32, 0)
    out, cache = conv_fft.conv2d_fft_forward(x, Wt, b, (2, 1))
    assert out.dtype == np.float32
    assert all(X.dtype == np.complex64 for _, _, X in cache.parts)
    dx, dW, db = conv_fft.conv2d_fft_backward(dout, cache, Wt)
    assert dx.dtype == dW.dtype == db.dtype == np.float32


def test_two_threads_split_the_batch_deterministically():
    x, Wt, b, B, dout = _data(7, 6, 5, 10, 10, (5, 5), (2, 2), np.float32, 1)
    with blas_limit(1):
        one = conv_fft.conv2d_fft_backward(dout, conv_fft.conv2d_fft_forward(x, Wt, b, 2)[1], Wt)
    with blas_limit(2):
        out, cache = conv_fft.conv2d_fft_forward(x, Wt, b, 2)
        assert [(n0, n1) for n0, n1, _ in cache.parts] == [(0, 3), (3, 7)]
        two = conv_fft.conv2d_fft_backward(dout, cache, Wt)
        again = conv_fft.conv2d_fft_backward(dout, conv_fft.conv2d_fft_forward(x, Wt, b, 2)[1], Wt)
    for a, r, s in zip(two, one, again):
        np.testing.assert_array_equal(a, s)  # the same thread count gives the same bits
        _close(a, r, np.float32)  # and another one the same values to rounding (dW's sum order differs)
    # dx is per sample: the split cannot change it at all
    np.testing.assert_array_equal(two[0], one[0])


def test_cache_holds_the_input_spectra_only():
    N, C, H, W = 6, 8, 16, 16
    x, Wt, b, B, dout = _data(N, C, 4, H, W, (5, 5), (2, 2), np.float32, 2)
    _, cache = conv_fft.conv2d_fft_forward(x, Wt, b, 2)
    L1, L2 = conv_fft.fft_grid(H, W, 2, 2)
    Q = L1 * (L2 // 2 + 1)
    assert (L1, L2) == (20, 20)
    held = sum(X.nbytes for _, _, X in cache.parts)
    assert held == 2 * Q * x.nbytes // (H * W)  # complex Q x N x C: 1.7x the input here, nothing else
    assert cache.x is x  # the input itself, not a copy


def test_conv2d_layer_fft_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    layer = Conv2d(3, 4, (3, 5), padding=(1, 2), dtype=np.float64, rng=0, algorithm="fft")
    check_layer_gradients(layer, rng.standard_normal((2, 3, 6, 7)), rng)


def test_auto_takes_the_fft_where_the_model_finds_it_faster_only():
    pick = conv_exec.conv2d_algorithm
    assert pick(64, 16, 16, 64, 5, 5, 1, 2) == "fft"  # the convolution
    assert pick(32, 16, 16, 64, 5, 5, 1, 2) == "fft"  # launay-table4's second block on CIFAR
    assert pick(64, 16, 16, 64, 5, 5, 2, 2) == "im2col"  # strided: no FFT
    assert pick(64, 16, 16, 64, 5, 5, 1, 2, np.float32, np.float64) == "im2col"  # mixed dtypes
    assert pick(3, 32, 32, 64, 5, 5, 1, 2) == "im2col"  # 3 input channels: the transforms dominate
    for C, H, F in [(32, 14, 32), (32, 7, 64), (64, 16, 64), (4, 28, 32)]:  # cnn()'s 3x3 blocks and more
        assert pick(C, H, H, F, 3, 3, 1, 1) == "im2col"
    for C in (1, 2, 3):  # a first 3x3 layer on grey or RGB images: the direct loops
        assert pick(C, 28, 28, 32, 3, 3, 1, 1) == "direct"
    assert pick(1, 28, 28, 32, 3, 3, 2, 1) == "im2col"  # strided: no direct loops
    assert pick(1, 28, 28, 32, 3, 3, 1, 1, np.float32, np.float64) == "im2col"  # mixed dtypes
    assert pick(1, 28, 28, 32, 5, 5, 1, 2) != "direct"  # 5x5: im2col was faster
    layer = Conv2d(64, 64, 5, padding=2, rng=0)
    assert layer.algorithm == "auto" and "algorithm" not in layer.config()
    x = np.zeros((2, 64, 16, 16), np.float32)
    assert isinstance(layer.forward(x)[1], conv_fft.FFTCache)
    assert not isinstance(Conv2d(64, 64, 5, stride=2, padding=2, rng=0).forward(x)[1], conv_fft.FFTCache)


def test_bad_algorithm_arguments_are_refused():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        Conv2d(2, 2, 3, algorithm="winograd")
    with pytest.raises(ValueError, match="stride 1 only"):
        Conv2d(2, 2, 3, stride=2, algorithm="fft")
    x = np.zeros((1, 2, 5, 5), np.float32)
    W = np.zeros((2, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="stride 1 only"):
        conv_exec.conv2d_forward(x, W, None, 2, 0, algorithm="fft")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        conv_exec.conv2d_forward(x, W, None, 1, 0, algorithm=None)
    with pytest.raises(TypeError, match="one dtype"):
        conv_exec.conv2d_forward(x, W.astype(np.float64), None, 1, 0, algorithm="fft")
    _, cache = conv_exec.conv2d_forward(x, W, None, 1, 1, algorithm="fft")
    with pytest.raises(ValueError, match="dout has shape"):
        conv_exec.conv2d_backward(np.zeros((1, 2, 4, 4), np.float32), cache, W)


def test_a_thread_limit_set_before_the_fft_loads_scipy_still_holds():
    """``--threads 1`` limits the BLAS libraries loaded at the start; the FFT path then imports scipy.fft, which
    loads scipy's own OpenBLAS at its default thread count. The convolution must still run one thread."""
    code = """
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
import nnlite
from nnlite.backend import _split
n_libs = len(threadpool_info())
threadpool_limits(limits=1, user_api="blas")  # what the CLI does at the start of a run
layer = nnlite.Conv2d(8, 8, 5, padding=2, algorithm="fft", rng=0)
out, cache = layer.forward(np.ones((4, 8, 6, 6), np.float32))
layer.backward(np.ones_like(out), cache)
assert len(threadpool_info()) > n_libs, "scipy.fft loaded no BLAS library: this test tests nothing"
print(len(cache.parts), _split.workers(128), nnlite.runtime.threads._POOL is None)
"""
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_NUM_THREADS")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "1", "True"]

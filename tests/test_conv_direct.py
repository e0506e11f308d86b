"""The direct convolution loops (nnlite.kernels.conv_direct) against their twin, the im2col maths of
nnlite.ops.conv; the executor's dispatch to them; and their place in Conv2d and cnn().

The loops add the same terms in another order, so the two agree to rounding: 1e-10 of the result's scale in
float64, 2e-5 in float32.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_conv_fft import TOL, _data

import nnlite as nn
from nnlite.backend import conv as conv_exec
from nnlite.backend import conv_direct
from nnlite.layers import Conv2d
from nnlite.ops import conv as twin
from nnlite.runtime.threads import blas_limit


@st.composite
def direct_cases(draw):
    square3 = draw(st.booleans())  # the unrolled 3x3 loops, or the general ones
    kh, kw = (3, 3) if square3 else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    H = draw(st.integers(max(1, kh - 2 * ph), kh + 8))
    W = draw(st.integers(max(1, kw - 2 * pw), kw + 8))
    N, C, F = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return N, C, F, H, W, (kh, kw), (ph, pw), dtype, draw(st.integers(0, 2**31 - 1))


def _close(a, ref, dtype):
    assert a.dtype == ref.dtype == np.dtype(dtype) and a.shape == ref.shape
    assert float(np.abs(a - ref).max()) <= TOL[dtype] * max(1.0, float(np.abs(ref).max()))


@given(direct_cases(), st.sampled_from([1, 2]))
def test_direct_forward_and_backward_equal_the_twin(case, threads):
    N, C, F, H, W, k, padding, dtype, seed = case
    x, Wt, b, B, dout = _data(*case)
    with blas_limit(threads):  # 2: the batch in two slices, dW's halves added in slice order
        out, cache = conv_direct.conv2d_direct_forward(x, Wt, b, padding)
        ref, rcache = twin.conv2d_forward(x, Wt, b, 1, padding)
        _close(out, ref, dtype)
        for feedback in (None, B):  # BP, and FA's feedback kernel in the dx product
            mine = conv_direct.conv2d_direct_backward(dout, cache, Wt, feedback=feedback)
            for a, r in zip(mine, twin.conv2d_backward(dout, rcache, Wt, feedback=feedback)):
                _close(a, r, dtype)
        dx, dW2, db = conv_direct.conv2d_direct_backward(dout, cache, Wt, need_dx=False, need_db=False)
    assert dx is None and db is None
    np.testing.assert_array_equal(dW2, mine[1])  # skipping dx and db changes nothing in dW
    nb_out, _ = conv_direct.conv2d_direct_forward(x, Wt, None, padding)
    _close(nb_out + b.reshape(1, -1, 1, 1), ref, dtype)  # no bias: the same planes without b


@given(direct_cases())
def test_executor_dispatches_direct_and_its_cache(case):
    N, C, F, H, W, k, padding, dtype, seed = case
    x, Wt, b, B, dout = _data(*case)
    out, cache = conv_exec.conv2d_forward(x, Wt, b, 1, padding, algorithm="direct")
    assert isinstance(cache, conv_direct.DirectCache) and cache.x is x  # the input itself, not a copy
    ref_out, ref_cache = conv_exec.conv2d_forward(x, Wt, b, 1, padding, algorithm="im2col")
    _close(out, ref_out, dtype)
    mine = conv_exec.conv2d_backward(dout, cache, Wt, feedback=B)
    for a, r in zip(mine, conv_exec.conv2d_backward(dout, ref_cache, Wt, feedback=B)):
        _close(a, r, dtype)


def test_direct_refuses_what_it_cannot_do():
    x = np.zeros((2, 1, 6, 6), np.float32)
    Wt = np.zeros((3, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="direct convolution is for stride 1 only"):
        conv_exec.conv2d_forward(x, Wt, None, 2, 1, algorithm="direct")
    with pytest.raises(TypeError, match="direct convolution needs x and W of one dtype"):
        conv_exec.conv2d_forward(x, Wt.astype(np.float64), None, 1, 1, algorithm="direct")
    with pytest.raises(ValueError, match="stride 1 only"):
        Conv2d(1, 3, 3, stride=2, algorithm="direct")
    out, cache = conv_exec.conv2d_forward(x, Wt, None, 1, 1, algorithm="direct")
    with pytest.raises(ValueError, match="dout has shape"):
        conv_exec.conv2d_backward(np.zeros((2, 3, 5, 6), np.float32), cache, Wt)
    for bad in (0, True, 1.5):  # chunk is checked whichever algorithm runs
        with pytest.raises(ValueError, match="chunk"):
            conv_exec.conv2d_forward(x, Wt, None, 1, 1, chunk=bad, algorithm="direct")


def test_cnn_first_layer_takes_the_direct_loops_the_others_im2col():
    net = nn.cnn((1, 12, 12), 10, channels=(4, 6), kernel_size=3, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 1, 12, 12)).astype(np.float32)
    _, caches = net.forward(x)
    convs = [i for i, layer in enumerate(net.layers) if isinstance(layer, Conv2d)]
    assert isinstance(caches[convs[0]], conv_direct.DirectCache)
    assert not isinstance(caches[convs[1]], conv_direct.DirectCache)  # 4 input channels: im2col
    out, cache = conv_direct.conv2d_direct_forward(x, net.layers[0].W, net.layers[0].b, 1)
    assert out.dtype == np.float32
    assert all(
        g.dtype == np.float32 for g in conv_direct.conv2d_direct_backward(np.ones_like(out), cache, net.layers[0].W)
    )

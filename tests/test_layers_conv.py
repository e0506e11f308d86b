"""The Conv2d layer (nnlite.layers.conv) and its executor (nnlite.backend.conv): forward against plain
loops, backward with feedback and without dx, IFA's carry, chunks and threads equal to one chunk, float32
against float64.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``
(gradcheck.check_layer_gradients)."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients, rel_error
from hypothesis import given
from hypothesis import strategies as st

from nnlite.layers import Conv2d


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * padding), kh + 4))
    W = draw(st.integers(max(1, kw - 2 * padding), kw + 4))
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return N, C, F, H, W, (kh, kw), stride, padding, draw(st.integers(0, 2**31 - 1))


def naive_conv(x, W, b, stride, padding):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH, OW = (H + 2 * padding - kh) // stride + 1, (Wd + 2 * padding - kw) // stride + 1
    out = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            for y in range(OH):
                for q in range(OW):
                    win = xp[n, :, y * stride : y * stride + kh, q * stride : q * stride + kw]
                    out[n, f, y, q] = (win * W[f]).sum() + (0.0 if b is None else b[f])
    return out


# -- convolution -------------------------------------------------------------------------------------------------
@given(conv_cases())
def test_conv2d_forward_matches_loops_and_backward_matches_finite_differences(case):
    N, C, F, H, W, k, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2d(C, F, k, stride, padding, dtype=np.float64, rng=rng)
    layer.params["b"][...] = rng.standard_normal(F)
    x = rng.standard_normal((N, C, H, W))
    out, _ = layer.forward(x)
    assert out.shape == (N,) + layer.output_shape((C, H, W))
    assert rel_error(out, naive_conv(x, layer.W, layer.b, stride, padding)) < 1e-12
    check_layer_gradients(layer, x, rng)


@given(conv_cases())
def test_conv2d_feedback_and_need_dx(case):
    N, C, F, H, W, k, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2d(C, F, k, stride, padding, dtype=np.float64, rng=rng)
    x = rng.standard_normal((N, C, H, W))
    out, cache = layer.forward(x)
    R = rng.standard_normal(out.shape)
    dx, g = layer.backward(R, cache)
    dx_fb, g_fb = layer.backward(R, cache, feedback=layer.W.copy())
    np.testing.assert_array_equal(dx_fb, dx)  # FA with B = W is BP
    B = layer.new_feedback(rng)
    assert B.shape == layer.W.shape and not np.array_equal(B, layer.W)
    dx_B, g_B = layer.backward(R, cache, feedback=B)
    twin = Conv2d(C, F, k, stride, padding, dtype=np.float64)
    twin.params["W"][...] = B
    dx_twin, _ = twin.backward(R, twin.forward(x)[1])
    assert rel_error(dx_B, dx_twin) < 1e-12  # dx uses B in place of W ...
    np.testing.assert_array_equal(g_B["W"], g["W"])  # ... and nothing else changes
    none_dx, g_none = layer.backward(R, cache, need_dx=False)
    assert none_dx is None
    np.testing.assert_array_equal(g_none["W"], g["W"])
    np.testing.assert_array_equal(g_none["b"], g["b"])
    # carry (IFA): the convolution without bias, same stride and padding
    v = rng.standard_normal(x.shape)
    assert rel_error(layer.carry(v, cache), naive_conv(v, layer.W, None, stride, padding)) < 1e-12


def test_conv2d_without_bias_and_feedback_scheme():
    layer = Conv2d(3, 8, (3, 5), padding=(1, 2), bias=False, init="he", rng=0)
    assert set(layer.params) == {"W"} and layer.W.shape == (8, 3, 3, 5)
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 7)).astype(np.float32)
    out, cache = layer.forward(x)
    assert out.shape == (2, 8, 6, 7)
    _, g = layer.backward(np.ones_like(out), cache)
    assert set(g) == {"W"}
    B = np.stack([Conv2d(64, 64, 5, rng=s).new_feedback(s) for s in range(3)])
    # He scheme with fan_in = C*KH*KW = 1600: std sqrt(2/1600)
    assert abs(B.std() - np.sqrt(2 / 1600)) < 0.02 * np.sqrt(2 / 1600)


def _conv_all(layer, x, R, B, v):
    """Every output of a Conv2d: forward, BP/FA/no-dx backward, IFA carry."""
    out, cache = layer.forward(x)
    dx, g = layer.backward(R, cache)
    dx_B, g_B = layer.backward(R, cache, feedback=B)
    none_dx, g_none = layer.backward(R, cache, need_dx=False)
    assert none_dx is None
    return [out, dx, dx_B, layer.carry(v, cache)] + [d[k] for d in (g, g_B, g_none) for k in sorted(d)]


FLOATS = [np.float64, np.float32]


@given(conv_cases(), st.integers(1, 5), st.data())
def test_conv_executor_equals_the_ops_twin(case, N, data):
    # nnlite.backend.conv (chunks, threads, buffers) computes nnlite.ops.conv's full-batch maths
    from nnlite.backend import conv as conv_exec
    from nnlite.backend import conv_im2col
    from nnlite.ops import conv as conv_ops

    _, C, F, H, W, k, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    # a float32 bias is added after the product instead of as a tap (its dtype is not W's)
    Wt, b = rng.standard_normal((F, C, *k)), rng.standard_normal(F).astype(data.draw(st.sampled_from(FLOATS)))
    B = rng.standard_normal(Wt.shape)
    chunk = data.draw(st.sampled_from([None, 1, N]))
    saved = conv_im2col.PER_SAMPLE_OUTPUTS  # 0: every forward per sample; 10**9: per chunk unless a chunk is one
    conv_im2col.PER_SAMPLE_OUTPUTS = data.draw(st.sampled_from([0, 10**9]))
    try:
        out, cache = conv_exec.conv2d_forward(x, Wt, b, stride, padding, chunk=chunk)
    finally:
        conv_im2col.PER_SAMPLE_OUTPUTS = saved
    out_t, cache_t = conv_ops.conv2d_forward(x, Wt, b, stride, padding)
    assert out.dtype == out_t.dtype == np.float64 and rel_error(out, out_t) < 1e-12
    dout = rng.standard_normal(out.shape)
    for fb in (None, B):
        got = conv_exec.conv2d_backward(dout, cache, Wt, feedback=fb)
        want = conv_ops.conv2d_backward(dout, cache_t, Wt, feedback=fb)
        for a, w in zip(got, want):
            assert a.shape == w.shape and rel_error(a, w) < 1e-12


@given(conv_cases(), st.integers(2, 7), st.data())
def test_conv2d_chunks_equal_one_chunk(case, N, data):
    # Several chunks (the last one partial whenever chunk does not divide N) give the one-chunk results:
    # forward, dx (W and feedback B), dW, db, carry; only the order of the sums over samples differs.
    _, C, F, H, W, k, stride, padding, seed = case
    chunk = data.draw(st.integers(1, N - 1))
    rng = np.random.default_rng(seed)
    layer = Conv2d(C, F, k, stride, padding, bias=data.draw(st.booleans()), dtype=np.float64, rng=rng)
    if layer.b is not None:
        layer.params["b"][...] = rng.standard_normal(F)
    x = rng.standard_normal((N, C, H, W))
    R = rng.standard_normal((N, F) + layer.output_shape((C, H, W))[1:])
    B, v = layer.new_feedback(rng), rng.standard_normal(x.shape)
    layer.chunk = N  # one chunk: the whole batch
    whole = _conv_all(layer, x, R, B, v)
    layer.chunk = chunk
    chunked = _conv_all(layer, x, R, B, v)
    assert [a.shape for a in chunked] == [a.shape for a in whole]
    for a, b in zip(chunked, whole):
        assert rel_error(a, b) < 1e-12
    assert rel_error(chunked[0], naive_conv(x, layer.W, layer.b, stride, padding)) < 1e-12


@pytest.mark.parametrize("chunk", [1, 2, 3, None])
def test_conv2d_chunks_float32_threads_and_cache(chunk, monkeypatch):
    # N = 7: chunks of 3 are 3, 3, 1 (the last one takes the one-sample path), of 2 are 2, 2, 2, 1.
    import nnlite.backend._split as split

    rng = np.random.default_rng(0)
    layer = Conv2d(3, 5, 3, 1, 1, rng=rng)
    layer.params["b"][...] = rng.standard_normal(5).astype(np.float32)
    x = rng.standard_normal((7, 3, 6, 5)).astype(np.float32)
    R = rng.standard_normal((7, 5, 6, 5)).astype(np.float32)
    B, v = layer.new_feedback(rng), rng.standard_normal(x.shape).astype(np.float32)
    wide = Conv2d(3, 5, 3, 1, 1, dtype=np.float64)  # the float64 reference: the same weights, widened exactly
    for k in layer.params:
        wide.params[k][...] = layer.params[k]
    whole = _conv_all(wide, x.astype(np.float64), R.astype(np.float64), B.astype(np.float64), v.astype(np.float64))
    layer.chunk = chunk
    seq = _conv_all(layer, x, R, B, v)
    for a, b in zip(seq, whole):
        assert a.dtype == np.float32
        assert rel_error(a, b) < 1e-5
    # the cache keeps x (the same array when contiguous), never the 25x larger columns
    _, cache = layer.forward(x)
    assert cache[0] is x
    assert sum(a.nbytes for a in cache if isinstance(a, np.ndarray)) == x.nbytes
    # chunks dealt to 2 threads (forced, whatever the CPU count): same values, and the same bits every time
    monkeypatch.setattr(split, "workers", lambda n: min(2, n))
    threaded = _conv_all(layer, x, R, B, v)
    for a, b in zip(threaded, seq):
        assert a.dtype == np.float32
        assert rel_error(a, b) < 1e-6
    for a, b in zip(_conv_all(layer, x, R, B, v), threaded):
        np.testing.assert_array_equal(a, b)


def test_conv2d_chunk_validation_and_size():
    import nnlite.backend.conv as conv_ops

    layer = Conv2d(2, 3, 3, rng=0)
    x = np.zeros((2, 2, 4, 4), np.float32)
    for bad in (0, -1, 1.5, True):
        layer.chunk = bad
        with pytest.raises(ValueError, match="chunk"):
            layer.forward(x)
    # cols_c = C*KH*KW x n_c*P: 64*25 x 256 float32 = 1.6 MB per sample
    assert conv_ops.conv2d_chunk_size(64, 5, 5, 256, 4, target_bytes=4 << 20) == 2
    assert conv_ops.conv2d_chunk_size(64, 5, 5, 256, 4, target_bytes=1) == 1
    assert conv_ops.conv2d_chunk_size(3, 5, 5, 1024, 4, target_bytes=3 << 20) == 10

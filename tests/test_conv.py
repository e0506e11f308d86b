"""Conv2d, MaxPool2d, AvgPool2d, Flatten, BatchNorm, Dropout and the cnn() builder.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``;
forward passes against plain loops; float32 stays float32; running statistics, dropout masks, checkpoints and
input validation are checked one by one.
"""

import numpy as np
import pytest
from gradcheck import numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st

import nnlite
from nnlite.layers import AvgPool2d, BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d
from nnlite.ops.dropout import dropout_backward, dropout_forward

TOL = 1e-6


def check_layer_gradients(layer, x, rng, train=True):
    """Compare ``layer.backward`` with finite differences of ``sum(forward(x) * R)`` for x and every param."""
    out, cache = layer.forward(x, train)
    R = rng.standard_normal(out.shape)

    def loss():
        return float((layer.forward(x, train)[0] * R).sum())

    dx, grads = layer.backward(R, cache)
    assert rel_error(dx, numerical_gradient(loss, x)) < TOL
    assert set(grads) == set(layer.params or {})
    for name, p in (layer.params or {}).items():
        assert grads[name].shape == p.shape
        assert rel_error(grads[name], numerical_gradient(loss, p)) < TOL, name


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


@given(conv_cases(), st.integers(1, 5), st.data())
def test_conv_executor_equals_the_ops_twin(case, N, data):
    # nnlite.kernels.conv_exec (chunks, threads, buffers) computes nnlite.ops.conv's full-batch maths
    from nnlite.kernels import conv_exec
    from nnlite.ops import conv as conv_ops

    _, C, F, H, W, k, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    Wt, b = rng.standard_normal((F, C, *k)), rng.standard_normal(F)
    B = rng.standard_normal(Wt.shape)
    chunk = data.draw(st.sampled_from([None, 1, N]))
    out, cache = conv_exec.conv2d_forward(x, Wt, b, stride, padding, chunk=chunk)
    out_t, cache_t = conv_ops.conv2d_forward(x, Wt, b, stride, padding)
    assert rel_error(out, out_t) < 1e-12
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
    import nnlite.kernels.conv_exec as conv_ops

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
    monkeypatch.setattr(conv_ops, "_workers", lambda n: min(2, n))
    threaded = _conv_all(layer, x, R, B, v)
    for a, b in zip(threaded, seq):
        assert a.dtype == np.float32
        assert rel_error(a, b) < 1e-6
    for a, b in zip(_conv_all(layer, x, R, B, v), threaded):
        np.testing.assert_array_equal(a, b)


def test_conv2d_chunk_validation_and_size():
    import nnlite.kernels.conv_exec as conv_ops

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


# -- pooling, flatten ---------------------------------------------------------------------------------------------
@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    H, W = draw(st.integers(kh, kh + 5)), draw(st.integers(kw, kw + 5))
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W, (kh, kw), stride, draw(st.integers(0, 2**31 - 1))


@given(pool_cases(), st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pooling_backward_matches_finite_differences(case, cls):
    N, C, H, W, k, stride, seed = case
    rng = np.random.default_rng(seed)
    layer = cls(k, stride)
    x = rng.standard_normal((N, C, H, W))
    out, cache = layer.forward(x)
    assert out.shape == (N,) + layer.output_shape((C, H, W))
    check_layer_gradients(layer, x, rng)
    # forward against plain loops, and carry (IFA) is the adjoint of backward
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    red = np.max if cls is MaxPool2d else np.mean
    ref = np.array(
        [
            [
                [
                    [red(x[n, c, y * sh : y * sh + kh, q * sw : q * sw + kw]) for q in range(out.shape[3])]
                    for y in range(out.shape[2])
                ]
                for c in range(C)
            ]
            for n in range(N)
        ]
    )
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    v, u = rng.standard_normal(x.shape), rng.standard_normal(out.shape)
    cv = layer.carry(v, cache)
    assert cv.shape == out.shape
    assert abs((cv * u).sum() - (v * layer.backward(u, cache)[0]).sum()) < 1e-10 * (1 + np.abs(v).sum())
    np.testing.assert_allclose(layer.carry(x, cache), out, rtol=1e-12, atol=1e-12)


def test_flatten():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    f = Flatten()
    out, cache = f.forward(x)
    assert out.shape == (2, 12) and f.output_shape((3, 2, 2)) == (12,)
    dx, g = f.backward(out * 2, cache)
    assert g == {} and dx.shape == x.shape
    np.testing.assert_array_equal(dx, x * 2)
    np.testing.assert_array_equal(f.carry(x, cache), out)


# -- batch norm ----------------------------------------------------------------------------------------------------
@given(
    st.integers(3, 6),
    st.integers(1, 4),
    st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.integers(0, 2**31 - 1),
)
def test_batchnorm_train_backward_matches_finite_differences(N, D, hw, seed):
    # N >= 3: with two values per feature xhat is always +-1 and the output does not depend on x (up to eps),
    # so the gradient is ~1e-5 and a relative error measures only the rounding of the finite differences.
    rng = np.random.default_rng(seed)
    layer = BatchNorm(D, dtype=np.float64)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, D)
    layer.params["beta"][...] = rng.standard_normal(D)
    shape = (N, D) if hw is None else (N, D) + hw
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.standard_normal()
    out, _ = layer.forward(x, train=True)
    axes = (0,) if hw is None else (0, 2, 3)
    bs = (1, D) if hw is None else (1, D, 1, 1)
    ref = (x - x.mean(axis=axes).reshape(bs)) / np.sqrt(x.var(axis=axes).reshape(bs) + layer.eps)
    ref = ref * layer.params["gamma"].reshape(bs) + layer.params["beta"].reshape(bs)
    assert rel_error(out, ref) < 1e-12
    check_layer_gradients(layer, x, rng, train=True)


@pytest.mark.parametrize("shape", [(64, 3), (16, 3, 4, 5)])
def test_batchnorm_eval_uses_running_statistics_which_converge(shape):
    rng = np.random.default_rng(0)
    layer = BatchNorm(3, momentum=0.1)
    mu = np.array([1.0, -2.0, 0.5])
    sd = np.array([0.5, 2.0, 3.0])
    bs = (1, 3) if len(shape) == 2 else (1, 3, 1, 1)
    for _ in range(200):
        x = (rng.standard_normal(shape) * sd.reshape(bs) + mu.reshape(bs)).astype(np.float32)
        layer.forward(x, train=True)
    assert np.all(np.abs(layer.buffers["running_mean"] - mu) < 0.1 * sd)
    np.testing.assert_allclose(layer.buffers["running_var"], sd**2, rtol=0.15)
    layer.params["gamma"][...] = [1.0, 2.0, 3.0]
    x = (rng.standard_normal(shape) * 5 + 7).astype(np.float32)  # far from the running statistics
    out, cache = layer.forward(x, train=False)
    rm, rv = (layer.buffers[k].reshape(bs) for k in ("running_mean", "running_var"))
    ref = (x - rm) / np.sqrt(rv + layer.eps) * layer.params["gamma"].reshape(bs)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    before = {k: v.copy() for k, v in layer.buffers.items()}
    layer.forward(x, train=False)
    for k in before:
        np.testing.assert_array_equal(layer.buffers[k], before[k])  # eval does not touch them
    # eval backward: the statistics are constants
    R = rng.standard_normal(out.shape).astype(np.float32)
    dx, g = layer.backward(R, cache)
    np.testing.assert_allclose(dx, R * layer.params["gamma"].reshape(bs) / np.sqrt(rv + layer.eps), rtol=1e-5)
    assert np.abs(layer.forward(x, train=True)[0].mean(axis=(0,) if len(shape) == 2 else (0, 2, 3))).max() < 1e-4


# -- dropout --------------------------------------------------------------------------------------------------------
@given(st.floats(0.0, 0.9), st.integers(0, 2**31 - 1))
def test_dropout_fixed_mask_backward_matches_finite_differences(p, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 2, 3, 4))
    out, mask = dropout_forward(x, p, rng, train=True)
    if p == 0:
        assert mask is None and out is x
        return
    assert set(np.unique(mask)) <= {0.0, 1.0 / (1.0 - p)}
    R = rng.standard_normal(x.shape)
    g = numerical_gradient(lambda: float((dropout_forward(x, p, None, mask=mask)[0] * R).sum()), x)
    assert rel_error(dropout_backward(R, mask), g) < TOL


def test_dropout_layer_mask_expectation_eval_and_seed():
    x = np.full((200, 50, 10), 3.0, dtype=np.float32)
    layer = Dropout(0.3, seed=5)
    out, mask = layer.forward(x, train=True)
    assert out.dtype == np.float32
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 3.0) < 0.03  # E[out] = x
    np.testing.assert_allclose(out[out != 0], 3.0 / 0.7, rtol=1e-6)
    dx, g = layer.backward(np.ones_like(x), mask)
    np.testing.assert_array_equal(dx, mask)
    v = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.carry(v, mask), v * mask)
    ev, cache = layer.forward(x, train=False)
    assert ev is x and layer.backward(v, cache)[0] is v and layer.carry(v, cache) is v
    a = Dropout(0.5, seed=1).forward(x, train=True)[1]
    b = Dropout(0.5, seed=1).forward(x, train=True)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(layer.forward(x)[1], layer.forward(x)[1])  # a new mask every step


# -- dtypes ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv2d(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 6)),
        (lambda: MaxPool2d(2), (2, 3, 6, 6)),
        (lambda: AvgPool2d(3, 2), (2, 3, 7, 7)),
        (lambda: Flatten(), (2, 3, 4, 4)),
        (lambda: BatchNorm(3), (4, 3, 5, 5)),
        (lambda: BatchNorm(3), (8, 3)),
        (lambda: Dropout(0.5, seed=0), (4, 3, 5, 5)),
    ],
)
def test_float32_in_float32_out(make, shape):
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for train in (True, False):
        out, cache = layer.forward(x, train)
        assert out.dtype == np.float32
        dout = np.ones_like(out)
        if layer.is_weight:
            dx, g = layer.backward(dout, cache, feedback=layer.new_feedback(1))
        else:
            dx, g = layer.backward(dout, cache)
        assert dx.dtype == np.float32 and dx.shape == x.shape
        assert all(v.dtype == np.float32 for v in g.values())
        assert set(g) == set(layer.params or {})
        assert layer.carry(x, cache).dtype == np.float32
    for v in list((layer.params or {}).values()) + list(getattr(layer, "buffers", {}).values()):
        assert v.dtype == np.float32


# -- the builder, checkpoints, blocks ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, flat", [((1, 28, 28), 64 * 3 * 3), ((3, 32, 32), 64 * 4 * 4)])
def test_cnn_fits_mnist_and_cifar_shapes(shape, flat):
    net = nnlite.cnn(shape, 10, batch_norm=True, dropout=0.1, seed=0)
    assert net.n_blocks == 4
    assert net.layer_shapes[-2] == (flat,) and net.block_shapes[-1] == (10,)
    # params(): per block, the weight layer then its batch norm
    names = [tuple(sorted(p)) for p in net.params()]
    assert names == [("W", "b"), ("beta", "gamma")] * 3 + [("W", "b")]
    assert net.block_param_slices() == [[0, 1], [2, 3], [4, 5], [6]]
    out, _ = net.forward(np.zeros((2,) + shape, np.float32))
    assert out.shape == (2, 10) and out.dtype == np.float32


def test_checkpoint_round_trip_with_batchnorm(tmp_path):
    rng = np.random.default_rng(0)
    net = nnlite.cnn((1, 12, 12), 4, channels=(4, 6, 5), kernel_size=3, batch_norm=True, dropout=0.2, seed=3)
    x = rng.standard_normal((16, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    opt = nnlite.SGD(0.1)
    for _ in range(3):
        out, caches = net.forward(x, train=True)
        _, e = nnlite.softmax_cross_entropy(out, y)
        opt.step(net.params(), nnlite.BP().gradients(net, caches, e, y))
    bn = net.layers[1]
    assert not np.allclose(bn.buffers["running_mean"], 0)  # the running statistics moved
    path = tmp_path / "cnn.npz"
    nnlite.save(net, path)
    net2 = nnlite.load(path)
    assert [type(l) for l in net2.layers] == [type(l) for l in net.layers]
    np.testing.assert_array_equal(net2.layers[1].buffers["running_var"], bn.buffers["running_var"])
    np.testing.assert_array_equal(net2.predict(x), net.predict(x))
    assert repr(net2) == repr(net)


def test_bad_inputs_raise_clear_errors():
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(TypeError):
        conv.forward(np.zeros((2, 3, 5, 5), np.int64))
    with pytest.raises(ValueError, match="does not fit"):
        Conv2d(3, 4, 5).forward(np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="feedback"):
        out, cache = conv.forward(np.zeros((1, 3, 5, 5), np.float32))
        conv.backward(out, cache, feedback=np.zeros((4, 3, 2, 2), np.float32))
    for bad in (
        dict(c_in=0, c_out=2, kernel_size=3),
        dict(c_in=2, c_out=2, kernel_size=0),
        dict(c_in=2, c_out=2, kernel_size=3, stride=0),
        dict(c_in=2, c_out=2, kernel_size=3, padding=-1),
        dict(c_in=2, c_out=2, kernel_size=3, init="nope"),
    ):
        with pytest.raises(ValueError):
            Conv2d(**bad)
    with pytest.raises(TypeError):
        Conv2d(2, 2, 2.5)
    with pytest.raises(ValueError, match="does not fit"):
        MaxPool2d(3).output_shape((1, 2, 2))
    with pytest.raises(ValueError):
        MaxPool2d(0)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        BatchNorm(4).forward(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="more than one value"):
        BatchNorm(4).forward(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError):
        BatchNorm(4, momentum=0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="too small"):
        nnlite.cnn((1, 4, 4))
    with pytest.raises(ValueError, match="odd"):
        nnlite.cnn(kernel_size=4)
    net = nnlite.cnn((1, 8, 8), 3, channels=(2, 2, 2), kernel_size=3)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        net.forward(np.zeros((2, 1, 9, 8), np.float32))

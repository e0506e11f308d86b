"""The backend's one choice (nnlite.backend): with the fused kernels off every op runs its NumPy twin in nnlite.ops,
and a training step gives the same outputs, gradients and weights; every layer takes any NumPy layout."""

import math

import numpy as np
import pytest

import nnlite as nn
from nnlite import backend, kernels
from nnlite.backend import conv as backend_conv
from nnlite.network import Sequential


def _pooling_net(dtype, seed):
    # the general max-pooling kernel (3x3 windows at stride 2), average pooling, batch norm, channel dropout. No
    # bias before the batch norm: its gradient is 0 but for rounding, which Adam's step would scale up to lr.
    rng = np.random.default_rng(seed)
    return Sequential(
        [
            nn.Conv2d(3, 4, 3, padding=1, bias=False, dtype=dtype, rng=rng, algorithm="direct"),
            nn.BatchNorm(4, dtype=dtype),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.25, seed=seed, channels=True),
            nn.Conv2d(4, 6, 5, padding=2, dtype=dtype, rng=rng, algorithm="fft"),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Dense(6 * 2 * 2, 5, dtype=dtype, rng=rng),
        ],
        input_shape=(3, 9, 9),
    )


def _cnn(dtype, seed):
    net = nn.cnn((3, 12, 12), n_classes=5, channels=(4, 6, 6), dropout=0.25, dtype=dtype, seed=seed)
    convs = [layer for layer in net.layers if isinstance(layer, nn.Conv2d)]
    for layer, algorithm in zip(convs, ("direct", "fft", "im2col")):  # each algorithm once
        layer.algorithm = algorithm
    return net


def _mlp(dtype, seed):
    return nn.mlp([20, 16, 12, 5], activation="tanh", dtype=dtype, seed=seed, dropout=0.2)


def _train(build, x, y, fused, steps=3):
    """Outputs, losses, gradients and weights of ``steps`` BP steps with SGD + momentum, then Adam, then RMSprop
    (every optimizer's update), from the weights ``build()`` draws."""
    net = build()
    seen = []
    with backend.fused_kernels(fused):
        for opt in [nn.SGD(0.05, momentum=0.9), nn.Adam(1e-2), nn.RMSprop(1e-2)][:steps]:
            out, caches = net.forward(x)
            loss, e = nn.softmax_cross_entropy(out, y)
            grads = nn.BP().gradients(net, caches, e, y)
            opt.step(net.params(), grads)
            seen += [out, np.asarray(loss, dtype=out.dtype)] + [g for gs in grads for g in gs.values()]
        seen += [p.copy() for ps in net.params() for p in ps.values()]
    return seen


def _longest_sum(x_shape, net):
    # the most terms any one sum of the step adds up: a batch-wide dW or db, or a layer's dot product
    n = x_shape[0]
    longest = n
    for layer in net.layers:
        if isinstance(layer, (nn.Conv2d, nn.Dense)):
            fan_in = layer.W[0].size
            longest = max(longest, fan_in, n * fan_in)
    return longest


@pytest.mark.parametrize("build,x_shape", [(_mlp, (16, 20)), (_cnn, (8, 3, 12, 12)), (_pooling_net, (6, 3, 9, 9))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_step_with_fused_kernels_off_matches_the_fused_step(build, x_shape, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    y = rng.integers(0, 5, x_shape[0])
    fast = _train(lambda: build(dtype, 7), x, y, True)
    slow = _train(lambda: build(dtype, 7), x, y, False)
    # float64: rounding only. float32: each value is a sum of at most K terms (K from the network's shapes),
    # whose rounding differs by at most K * eps of the terms' scale between two orders of summation
    K = _longest_sum(x_shape, build(dtype, 7))
    tol = 1e-10 if dtype == np.float64 else K * float(np.finfo(np.float32).eps)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == dtype
        scale = max(float(np.abs(b).max()), 1.0)
        assert float(np.abs(a - b).max()) <= tol * scale


def _refuse(*args, **kwargs):
    raise AssertionError("a Numba path ran with the fused kernels off")


@pytest.mark.parametrize("build,x_shape", [(_cnn, (4, 3, 12, 12)), (_pooling_net, (3, 3, 9, 9))])
def test_fused_kernels_off_runs_no_numba_kernel(build, x_shape, monkeypatch):
    net = build(np.float64, 0)
    x = np.random.default_rng(0).standard_normal(x_shape)
    y = np.arange(x_shape[0]) % 5
    for name in kernels.__all__:
        monkeypatch.setattr(kernels, name, _refuse)
    for name in ("tanh_grad", "sigmoid_grad", "relu_grad", "softmax_xent", "column_sums", "sgd_step"):
        monkeypatch.setattr(kernels.fused, name, _refuse)
    for name in ("im2col_forward", "im2col_backward", "conv2d_fft_forward", "conv2d_direct_forward"):
        monkeypatch.setattr(backend_conv, name, _refuse)
    with backend.fused_kernels(False):
        out, caches = net.forward(x)
        loss, e = nn.softmax_cross_entropy(out, y)
        grads = nn.BP().gradients(net, caches, e, y)
        nn.SGD(0.1, momentum=0.9).step(net.params(), grads)
        nn.IFA(seed=0).gradients(net, net.forward(x)[1], e, y)  # the carries too
    assert math.isfinite(loss)


# -- every layer takes any layout ---------------------------------------------------------------------------------
def _layouts(a):
    """``a`` as a Fortran-order copy and as a view with negative strides (both equal to ``a``)."""
    flipped = np.ascontiguousarray(a[::-1, ..., ::-1])[::-1, ..., ::-1]
    assert flipped.strides[0] < 0 and np.array_equal(flipped, a)
    return {"fortran": np.asfortranarray(a), "negative strides": flipped}


LAYERS = {
    "Dense": (lambda: nn.Dense(6, 4, dtype=np.float64, rng=0), (5, 6)),
    "Conv2d im2col": (lambda: nn.Conv2d(4, 3, 3, 2, 1, dtype=np.float64, rng=0), (3, 4, 7, 6)),
    "Conv2d fft": (lambda: nn.Conv2d(4, 3, 5, 1, 2, dtype=np.float64, rng=0, algorithm="fft"), (3, 4, 7, 6)),
    "Conv2d direct": (lambda: nn.Conv2d(2, 3, 3, 1, 1, dtype=np.float64, rng=0, algorithm="direct"), (3, 2, 7, 6)),
    "MaxPool2d 2x2": (lambda: nn.MaxPool2d(2), (3, 4, 6, 6)),
    "MaxPool2d 3/2": (lambda: nn.MaxPool2d(3, stride=2), (3, 4, 7, 7)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (3, 4, 6, 6)),
    "Flatten": (lambda: nn.Flatten(), (3, 4, 2, 2)),
    "BatchNorm 2d": (lambda: nn.BatchNorm(5, dtype=np.float64), (6, 5)),
    "BatchNorm 4d": (lambda: nn.BatchNorm(4, dtype=np.float64), (3, 4, 5, 5)),
    "Dropout": (lambda: nn.Dropout(0.5, seed=0), (5, 6)),
    "Dropout channels": (lambda: nn.Dropout(0.5, seed=0, channels=True), (3, 4, 5, 5)),
    "Tanh": (lambda: nn.Tanh(), (5, 6)),
    "Sigmoid": (lambda: nn.Sigmoid(), (5, 6)),
    "ReLU": (lambda: nn.ReLU(), (3, 4, 5, 5)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (5, 6)),
    "Abs": (lambda: nn.Abs(), (5, 6)),
    "Identity": (lambda: nn.Identity(), (5, 6)),
}


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_takes_any_layout(name, fused):
    make, shape = LAYERS[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    with backend.fused_kernels(fused):
        layer = make()
        out, cache = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dx, grads = layer.backward(dout, cache)
        for how, xl in _layouts(x).items():
            layer = make()  # a fresh layer: the same draws (dropout) and the same running statistics
            out_l, cache_l = layer.forward(xl)
            np.testing.assert_allclose(out_l, out, rtol=1e-12, atol=1e-14, err_msg=how)
            dx_l, grads_l = layer.backward(_layouts(dout)[how], cache_l)
            np.testing.assert_allclose(dx_l, dx, rtol=1e-12, atol=1e-14, err_msg=how)
            for k in grads:
                np.testing.assert_allclose(grads_l[k], grads[k], rtol=1e-12, atol=1e-14, err_msg=f"{how} {k}")

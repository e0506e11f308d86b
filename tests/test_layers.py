"""The layers (nnlite.layers): initialisation, float32 in and out, the activation-name table."""

import math

import numpy as np
import pytest

import nnlite as nn
from nnlite.layers import activation_factory, canonical_activation, init_weight


@pytest.mark.parametrize(
    "init,var", [("he", 2 / 500), ("lecun", 1 / 500), ("glorot", 2 / (500 + 300)), ("uniform", 1 / (3 * 500))]
)
def test_init_variances(init, var):
    W = init_weight((300, 500), 500, 300, init, np.random.default_rng(0), np.float32)
    n = W.size
    # the sample variance's relative std is at most sqrt(2/(n-1)) for these laws; allow 5 of it
    assert abs(W.var() / var - 1) < 5 * math.sqrt(2 / (n - 1))
    assert W.dtype == np.float32


def test_layers_keep_float32():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    for layer in [nn.Dense(6, 6), nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.LeakyReLU(-0.5), nn.Abs(), nn.Identity()]:
        out, cache = layer.forward(x, True)
        dx, grads = layer.backward(np.ones_like(out), cache)
        assert out.dtype == dx.dtype == np.float32, layer
        assert all(g.dtype == np.float32 for g in grads.values())


def test_leaky_relu_slope_from_name():
    net = nn.mlp([3, 4, 2], "leaky_relu:-0.5", seed=0)
    assert net.layers[1].slope == -0.5


@pytest.mark.parametrize(
    "text,canon",
    [
        ("tanh", "tanh"),
        ("ReLU", "relu"),
        ("Leaky-ReLU:-0.50", "leaky_relu:-0.5"),
        ("lrelu", "leaky_relu"),
        ("leaky_relu", "leaky_relu"),
        (" abs ", "abs"),
    ],
)
def test_canonical_activation_names(text, canon):
    assert canonical_activation(text) == canon


@pytest.mark.parametrize(
    "bad,msg",
    [
        ("swish", "unknown activation"),
        ("tanh:2", "takes no argument"),
        ("leaky_relu:x", "finite numeric slope"),
        ("leaky_relu:nan", "finite"),
    ],
)
def test_bad_activation_names_are_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        canonical_activation(bad)


def test_activation_factory_builds_new_layers_with_the_parsed_slope():
    make = activation_factory("leaky_relu:-0.5")
    a, b = make(), make()
    assert a is not b and a.slope == b.slope == -0.5
    assert activation_factory("leaky_relu")().slope == 0.01
    with pytest.raises(TypeError, match="not a Layer instance"):
        activation_factory(nn.Tanh())


# -- "uniform": PyTorch's default for nn.Linear and nn.Conv2d, weights and biases ------------------------------------
@pytest.mark.parametrize(
    "make,fan_in",
    [
        (lambda seed: nn.Dense(400, 300, init="uniform", rng=seed), 400),
        (lambda seed: nn.Conv2d(16, 300, 5, init="uniform", rng=seed), 16 * 25),
    ],
)
def test_uniform_init_draws_weights_and_biases_like_pytorch(make, fan_in):
    layer = make(0)
    a = 1 / math.sqrt(fan_in)
    W, b = layer.W, layer.b
    assert W.dtype == b.dtype == np.float32
    assert np.abs(W).max() <= np.float32(a) and np.abs(b).max() <= np.float32(a)
    # U(-a, a) has variance a^2 / 3 = 1 / (3 fan_in); the sample variance's relative std is at most sqrt(2/(n-1))
    assert abs(W.var() / (a * a / 3) - 1) < 5 * math.sqrt(2 / (W.size - 1))
    assert np.count_nonzero(b) == b.size and abs(float(b.mean())) < 5 * a / math.sqrt(3 * b.size)
    assert np.abs(b).max() > a / 2  # spread over the interval, not a scaled-down draw
    again = make(0)  # same seed, same bits, the bias drawn after the weight from the same generator
    np.testing.assert_array_equal(again.W, W)
    np.testing.assert_array_equal(again.b, b)
    assert not np.array_equal(make(1).b, b)


def test_uniform_init_keeps_the_bias_after_a_checkpoint(tmp_path):
    net = nn.mlp([5, 4, 3], init="uniform", seed=0)
    assert all(np.count_nonzero(p["b"]) == p["b"].size for p in net.params())
    nn.save(net, tmp_path / "m.npz")
    back = nn.load(tmp_path / "m.npz")
    for p, q in zip(net.params(), back.params()):
        for k in p:
            np.testing.assert_array_equal(p[k], q[k])
    assert [layer.init for layer in back.layers if layer.is_weight] == ["uniform", "uniform"]


def test_other_inits_keep_a_zero_bias():
    for init in ("he", "glorot", "lecun", "zeros"):
        assert not np.any(nn.Dense(4, 3, init=init, rng=0).b)

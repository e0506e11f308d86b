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

"""Layers, Sequential (blocks, feedback points, input checks) and the mlp builder; optimizers."""

import math

import numpy as np
import pytest
from gradcheck import numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

import nnlite as nn
from nnlite.layers import init_weight


def test_mlp_structure_blocks_and_feedback_points():
    net = nn.mlp([784, 800, 800, 800, 10], "tanh", seed=0)
    assert [type(l).__name__ for l in net.layers] == ["Dense", "Tanh"] * 3 + ["Dense"]
    assert net.blocks == [(0, 2), (2, 4), (4, 6), (6, 7)]
    assert net.feedback_sizes == [800, 800, 800] and net.n_outputs == 10
    assert [tuple(p["W"].shape) for p in net.params()] == [(800, 784), (800, 800), (800, 800), (10, 800)]
    assert all(p["W"].dtype == np.float32 and p["b"].dtype == np.float32 for p in net.params())


@pytest.mark.parametrize(
    "init,var", [("he", 2 / 500), ("lecun", 1 / 500), ("glorot", 2 / (500 + 300)), ("uniform", 1 / (3 * 500))]
)
def test_init_variances(init, var):
    W = init_weight((300, 500), 500, 300, init, np.random.default_rng(0), np.float32)
    n = W.size
    # the sample variance's relative std is at most sqrt(2/(n-1)) for these laws; allow 5 of it
    assert abs(W.var() / var - 1) < 5 * math.sqrt(2 / (n - 1))
    assert W.dtype == np.float32


def test_same_seed_same_weights():
    a, b, c = (nn.mlp([5, 7, 3], seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(p["W"], q["W"]) for p, q in zip(a.params(), b.params()))
    assert not np.array_equal(a.params()[0]["W"], c.params()[0]["W"])


@given(
    seed=seeds(),
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    activation=st.sampled_from(["tanh", "sigmoid", "leaky_relu:-0.5", "identity"]),
)
def test_bp_gradients_match_finite_differences_of_the_network_loss(seed, sizes, activation):
    rng = np.random.default_rng(seed)
    net = nn.mlp(sizes, activation, dtype=np.float64, seed=rng)
    for p in net.params():
        p["b"][...] = rng.standard_normal(p["b"].shape)
    x = rng.standard_normal((3, sizes[0]))
    y = rng.integers(0, sizes[-1], 3)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    grads = nn.BP().gradients(net, caches, e, y)

    def f():
        return nn.softmax_cross_entropy(net.forward(x)[0], y)[0]

    for p, g in zip(net.params(), grads):
        for k in p:
            assert rel_error(g[k], numerical_gradient(f, p[k])) < 1e-6


def test_layers_keep_float32():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    for layer in [nn.Dense(6, 6), nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.LeakyReLU(-0.5), nn.Abs(), nn.Identity()]:
        out, cache = layer.forward(x, True)
        dx, grads = layer.backward(np.ones_like(out), cache)
        assert out.dtype == dx.dtype == np.float32, layer
        assert all(g.dtype == np.float32 for g in grads.values())


def test_float64_network_stays_float64():
    net = nn.mlp([3, 4, 2], dtype=np.float64, seed=0)
    out, _ = net.forward(np.zeros((2, 3)))
    assert out.dtype == np.float64


def test_bad_inputs_are_clear_errors():
    net = nn.mlp([4, 5, 3], seed=0)
    with pytest.raises(ValueError, match=r"\(N, 4\).*\(2, 5\)"):
        net.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        net.forward(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(TypeError, match="floating point"):
        net.forward(np.zeros((2, 4), np.int64))
    with pytest.raises(TypeError, match="float64 does not match"):
        net.forward(np.zeros((2, 4), np.float64))
    with pytest.raises(ValueError, match="empty batch"):
        net.forward(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="init must be one of"):
        nn.Dense(3, 4, init="xavier")
    with pytest.raises(ValueError, match="d_out must be a positive integer"):
        nn.Dense(3, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Dense(3, 4, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown activation"):
        nn.mlp([3, 4, 2], "swish")
    with pytest.raises(ValueError, match="input_shape is required"):
        nn.Sequential([nn.Tanh(), nn.Dense(3, 2)])


def test_leaky_relu_slope_from_name():
    net = nn.mlp([3, 4, 2], "leaky_relu:-0.5", seed=0)
    assert net.layers[1].slope == -0.5


# -- optimizers ---------------------------------------------------------------------------------------------------
def _quadratic_problem(dtype=np.float32):
    rng = np.random.default_rng(0)
    target = rng.standard_normal((3, 4)).astype(dtype)
    params = [{"W": np.zeros((3, 4), dtype), "b": np.zeros(3, dtype)}]
    return target, params


@pytest.mark.parametrize(
    "opt",
    [
        nn.SGD(0.1),
        nn.SGD(0.05, momentum=0.9),
        nn.SGD(0.05, momentum=0.9, nesterov=True),
        nn.Adam(0.05),
        nn.RMSprop(0.01),
    ],
)
def test_optimizers_minimise_a_quadratic_and_keep_float32(opt):
    target, params = _quadratic_problem()
    for _ in range(500):
        grads = [{"W": params[0]["W"] - target, "b": params[0]["b"] - 1}]
        opt.step(params, grads)
    assert params[0]["W"].dtype == np.float32 and params[0]["b"].dtype == np.float32
    np.testing.assert_allclose(params[0]["W"], target, atol=2e-2)
    np.testing.assert_allclose(params[0]["b"], 1, atol=2e-2)


def test_sgd_momentum_matches_its_equations():
    p = [{"W": np.array([1.0])}]
    opt = nn.SGD(0.1, momentum=0.5, weight_decay=0.1)
    opt.step(p, [{"W": np.array([2.0])}])  # g=2+0.1*1=2.1, v=2.1, p=1-0.21
    np.testing.assert_allclose(p[0]["W"], [0.79])
    opt.step(p, [{"W": np.array([1.0])}])  # g=1+0.079, v=0.5*2.1+1.079=2.129, p=0.79-0.2129
    np.testing.assert_allclose(p[0]["W"], [0.79 - 0.2129])


def test_adam_first_step_is_lr_times_sign():
    p = [{"W": np.array([0.0, 0.0], np.float32)}]
    nn.Adam(0.01).step(p, [{"W": np.array([3.0, -0.5], np.float32)}])
    np.testing.assert_allclose(p[0]["W"], [-0.01, 0.01], rtol=1e-5)


def test_optimizer_rejects_mismatched_grads():
    with pytest.raises(ValueError, match="shape"):
        nn.SGD(0.1).step([{"W": np.zeros(3)}], [{"W": np.zeros(4)}])
    with pytest.raises(ValueError, match="lr must be positive"):
        nn.SGD(-1)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(0.1, nesterov=True)

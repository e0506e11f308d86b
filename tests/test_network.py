"""Sequential (blocks, feedback points, input checks) and the mlp builder."""

import numpy as np
import pytest
from gradcheck import numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

import nnlite as nn


def test_mlp_structure_blocks_and_feedback_points():
    net = nn.mlp([784, 800, 800, 800, 10], "tanh", seed=0)
    assert [type(l).__name__ for l in net.layers] == ["Dense", "Tanh"] * 3 + ["Dense"]
    assert net.blocks == [(0, 2), (2, 4), (4, 6), (6, 7)]
    assert net.feedback_sizes == [800, 800, 800] and net.n_outputs == 10
    assert [tuple(p["W"].shape) for p in net.params()] == [(800, 784), (800, 800), (800, 800), (10, 800)]
    assert all(p["W"].dtype == np.float32 and p["b"].dtype == np.float32 for p in net.params())


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

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


# -- the gradient-mask bottleneck ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_rule",
    [
        lambda: nn.BP(),
        lambda: nn.FA(seed=1),
        lambda: nn.DFA(seed=1),
        lambda: nn.IFA(seed=1),
        lambda: nn.KP(lr=0.05, weight_decay=0.0, seed=1),
        lambda: nn.LAFS(seed=1),
    ],
)
def test_bottleneck_keeps_frozen_units_bit_identical_and_trains_the_others(make_rule, digits):
    net = nn.mlp([64, 40, 30, 10], "tanh", seed=0)
    frozen = net.bottleneck(1, trainable=7, seed=3)
    assert len(frozen) == 30 - 7 and net.frozen_units == {1: list(frozen)}
    W0, b0 = net.weight_layer(1).W.copy(), net.weight_layer(1).b.copy()
    others = [net.weight_layer(k).W.copy() for k in (0, 2)]
    nn.fit(
        net,
        make_rule(),
        nn.softmax_cross_entropy,
        nn.Adam(1e-2),
        (digits.x_train[:256], digits.y_train[:256]),
        epochs=2,
        batch_size=32,
        seed=0,
        progress=False,
    )
    W, b = net.weight_layer(1).W, net.weight_layer(1).b
    np.testing.assert_array_equal(W[frozen], W0[frozen])  # the masked weights never moved
    np.testing.assert_array_equal(b[frozen], b0[frozen])
    live = np.setdiff1d(np.arange(30), frozen)
    assert (np.abs(W[live] - W0[live]).max(axis=1) > 0).all()  # every trainable unit did train
    assert all(not np.array_equal(net.weight_layer(k).W, w) for k, w in zip((0, 2), others))


def test_bottleneck_on_a_conv_block_freezes_filters_and_survives_a_checkpoint(tmp_path):
    net = nn.cnn((1, 8, 8), 3, channels=(4, 5), batch_norm=True, seed=0)
    frozen = net.bottleneck(0, trainable=1, seed=0)
    params0 = [{k: v.copy() for k, v in p.items()} for p in net.params()]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 16)
    nn.fit(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1), (x, y), epochs=3, batch_size=8, seed=0, progress=False)
    W, W0 = net.params()[0]["W"], params0[0]["W"]
    np.testing.assert_array_equal(W[frozen], W0[frozen])
    g, g0 = net.params()[1]["gamma"], params0[1]["gamma"]  # the block's batch norm: frozen channels too
    np.testing.assert_array_equal(g[frozen], g0[frozen])
    assert not np.array_equal(np.delete(W, frozen, axis=0), np.delete(W0, frozen, axis=0))
    nn.save(net, tmp_path / "m.npz")
    assert nn.load(tmp_path / "m.npz").frozen_units == net.frozen_units


def test_bottleneck_refuses_bad_arguments():
    net = nn.mlp([5, 4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="at most 4"):
        net.bottleneck(0, trainable=5)
    with pytest.raises(ValueError, match="hidden block"):
        net.bottleneck(2, trainable=1)  # the output block
    with pytest.raises(ValueError, match="trainable"):
        net.bottleneck(0, trainable=-1)
    assert net.bottleneck(0, trainable=4).size == 0 and net.frozen_units == {}

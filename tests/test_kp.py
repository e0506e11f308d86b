"""Kolen–Pollack (nnlite.rules.kp): KP from B_k = W_k is BP at every step; from random B_k the W-B angle falls."""

import numpy as np
import pytest
from fitting import fashion_accuracy, train_step

import nnlite as nn
from nnlite.alignment import measure


def _data(n=32, d=9, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, c, n)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_kp_started_at_w_with_matching_sgd_is_bp_for_20_steps(model):
    eta, lam = 0.05, 1e-2
    make = (
        (lambda: nn.mlp([9, 8, 7, 4], "tanh", seed=0))
        if model == "mlp"
        else (lambda: nn.cnn((1, 8, 8), 4, channels=(3, 4), seed=0))
    )
    net_bp, net_kp = make(), make()
    kp = nn.KP(
        lr=eta,
        weight_decay=lam,
        feedbacks=[None] + [net_kp.weight_layer(k).W.copy() for k in range(1, net_kp.n_blocks)],
    )
    opt_bp, opt_kp = nn.SGD(eta, weight_decay=lam), nn.SGD(eta, weight_decay=lam)
    rng = np.random.default_rng(1)
    for t in range(20):
        x = rng.standard_normal((16, *net_bp.input_shape)).astype(np.float32)
        y = rng.integers(0, 4, 16)
        g_bp = train_step(net_bp, nn.BP(), opt_bp, x, y)
        g_kp = train_step(net_kp, kp, opt_kp, x, y)
        assert all(np.array_equal(a[k], b[k]) for a, b in zip(g_bp, g_kp) for k in a), t
        for k in range(1, net_kp.n_blocks):  # B_k tracks W_k exactly
            np.testing.assert_array_equal(kp.weight_feedbacks(net_kp)[k], net_kp.weight_layer(k).W)
    for p, q in zip(net_bp.params(), net_kp.params()):
        assert all(np.array_equal(p[k], q[k]) for k in p)


def test_kp_weight_angle_shrinks_from_random_feedback():
    # W_k and B_k get the same update and the same decay, so W_k - B_k = (1 - lr wd)^t (W_k(0) - B_k(0)):
    # the random part of B_k fades and the W-B angle falls towards 0
    x, y = _data(n=256, d=20, c=5)
    angles = {}
    for name, make in [("kp", lambda: nn.KP(lr=0.1, weight_decay=0.1, seed=3)), ("fa", lambda: nn.FA(seed=3))]:
        net, rule, opt = nn.mlp([20, 30, 30, 5], "tanh", seed=0), make(), nn.SGD(0.1, weight_decay=0.1)
        rng = np.random.default_rng(0)
        seen = []
        for t in range(301):
            if t % 100 == 0:
                out, caches = net.forward(x[:64])
                _, e = nn.softmax_cross_entropy(out, y[:64])
                seen.append(measure(net, rule, caches, e, y[:64]).weight_angle)
            idx = rng.integers(0, 256, 32)
            train_step(net, rule, opt, x[idx], y[idx])
        angles[name] = np.array(seen)  # (checkpoints, hidden blocks 1..K-1)
    kp, fa = angles["kp"], angles["fa"]
    assert kp.shape == (4, 2)
    assert (kp[0] > 60).all(), kp[0]  # random B_k start far from W_k
    assert (np.diff(kp, axis=0) < 0).all(), kp  # and the angle falls at every checkpoint
    assert (kp[-1] < kp[0] - 25).all(), kp
    assert (kp[-1] < fa[-1] - 5).all(), (kp[-1], fa[-1])  # FA aligns W to a fixed B too, more slowly


def test_kp_needs_its_learning_rate_and_decay_and_checks_them():
    with pytest.raises(TypeError):
        nn.KP()  # both are required
    with pytest.raises(ValueError, match="lr"):
        nn.KP(lr=0.0, weight_decay=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        nn.KP(lr=0.1, weight_decay=-1.0)
    assert repr(nn.KP(lr=0.1, weight_decay=0.001, seed=2)) == "KP(lr=0.1, weight_decay=0.001, seed=2)"


def test_kp_state_round_trip_resumes_bit_for_bit():
    x, y = _data()
    net_a, net_b = nn.mlp([9, 8, 7, 4], "tanh", seed=0), nn.mlp([9, 8, 7, 4], "tanh", seed=0)
    a, opt_a = nn.KP(lr=0.1, weight_decay=1e-3, seed=5), nn.SGD(0.1)
    for _ in range(3):
        train_step(net_a, a, opt_a, x, y)
    b = nn.KP(lr=0.1, weight_decay=1e-3, seed=77)
    for p, q in zip(net_b.params(), net_a.params()):
        for k in p:
            p[k][...] = q[k]
    b.setup(net_b)
    b.load_state(a.state())
    g_a, g_b = train_step(net_a, a, nn.SGD(0.1), x, y), train_step(net_b, b, nn.SGD(0.1), x, y)
    assert all(np.array_equal(u[k], v[k]) for u, v in zip(g_a, g_b) for k in u)
    with pytest.raises(ValueError, match="state must hold"):
        b.load_state({"B1": a.state()["B1"]})


def test_kp_learns_fashion_mnist(fashion_mnist):
    # 3x256 tanh, one epoch on 10 000 images, Adam for the forward weights; measured 80.7 %
    acc = fashion_accuracy(fashion_mnist, nn.KP(lr=1e-3, weight_decay=1e-4, seed=1), nn.Adam(1e-3), hidden=(256,) * 3)
    assert acc >= 0.78, acc

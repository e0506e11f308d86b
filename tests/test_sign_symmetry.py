"""Sign-concordant feedback (nnlite.rules.sign_symmetry): uSF, brSF, frSF on dense and conv nets."""

import numpy as np
import pytest
from fitting import fashion_accuracy, fit_quietly

import nnlite as nn


def _step_parts(net, seed=0, n=16):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *net.input_shape)).astype(net.dtype)
    y = rng.integers(0, net.n_outputs, n)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    return caches, e, y


def _grads_equal(a, b):
    return all(np.array_equal(u[k], v[k]) for u, v in zip(a, b) for k in u)


def test_usf_with_plus_minus_c_weights_and_scale_c_is_bp():
    # every W_k entry is +-c and scale = c: B_k = c sign(W_k) = W_k, so uSF's backward pass is BP's, bit for bit
    c = 0.125  # a power of two: c * sign(W) == W exactly
    net = nn.mlp([7, 6, 5, 4], "tanh", seed=0, dtype=np.float64)
    for p in net.params():
        if p["W"].ndim == 2:
            p["W"][...] = c * np.sign(p["W"])
    caches, e, y = _step_parts(net)
    rule = nn.USF(scale=c)
    assert _grads_equal(rule.gradients(net, caches, e, y), nn.BP().gradients(net, caches, e, y))
    # with the default (Glorot) scale the signals differ from BP's only in size: same direction, cos 1
    g, s = nn.USF().gradients_and_signals(net, caches, e, y)
    _, c_bp = nn.BP().gradients_and_signals(net, caches, e, y)
    assert not _grads_equal(g, nn.BP().gradients(net, caches, e, y))
    np.testing.assert_allclose(s[-1] / np.linalg.norm(s[-1]), c_bp[-1] / np.linalg.norm(c_bp[-1]), atol=1e-12)


def test_usf_default_scale_is_xiaos_and_none_is_plain_sign():
    net = nn.mlp([7, 6, 5, 4], "tanh", seed=0)
    B = nn.USF().weight_feedbacks(net)
    W2 = net.weight_layer(1).params["W"]
    np.testing.assert_allclose(B[1], np.sqrt(2 / (6 + 5)) * np.sign(W2), rtol=1e-6)
    np.testing.assert_array_equal(nn.USF(scale=None).weight_feedbacks(net)[2], np.sign(net.weight_layer(2).W))
    assert B[0] is None and B[1].dtype == np.float32
    for bad in ("xavier", -1.0, 0.0, float("nan")):
        with pytest.raises((ValueError, TypeError)):
            nn.USF(scale=bad)


def _train_steps(net, rule, steps=5, lr=0.05):
    opt = nn.SGD(lr)
    feedbacks = []
    for t in range(steps):
        caches, e, y = _step_parts(net, seed=t)
        grads = rule.gradients(net, caches, e, y)
        feedbacks.append([None if B is None else B.copy() for B in rule.weight_feedbacks(net)])
        opt.step(net.params(), grads)
        rule.after_step(net, grads)
    return feedbacks


@pytest.mark.parametrize("make", [lambda: nn.FRSF(seed=3), lambda: nn.BRSF(seed=3), lambda: nn.USF()])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_sign_of_feedback_is_the_sign_of_the_weights_at_every_step(make, model):
    net = nn.mlp([7, 6, 5, 4], "tanh", seed=0) if model == "mlp" else nn.cnn((1, 8, 8), 3, channels=(3, 4), seed=0)
    rule, opt = make(), nn.SGD(0.5)
    flips = 0
    for t in range(4):
        caches, e, y = _step_parts(net, seed=t)
        grads = rule.gradients(net, caches, e, y)
        for k in range(1, net.n_blocks):
            B, W = rule.weight_feedbacks(net)[k], net.weight_layer(k).params["W"]
            assert B.shape == W.shape and B.dtype == W.dtype == np.float32
            np.testing.assert_array_equal(np.sign(B), np.sign(W))
        before = [np.sign(net.weight_layer(k).params["W"]) for k in range(net.n_blocks)]
        opt.step(net.params(), grads)
        rule.after_step(net, grads)
        flips += sum(int((np.sign(net.weight_layer(k).params["W"]) != before[k]).sum()) for k in range(net.n_blocks))
    assert flips > 0  # the weights did change sign along the way, so following them was tested


def test_frsf_magnitudes_are_fixed_and_brsf_magnitudes_are_redrawn_every_step():
    net_f, net_b = nn.mlp([7, 6, 5, 4], "tanh", seed=0), nn.mlp([7, 6, 5, 4], "tanh", seed=0)
    f, b = nn.FRSF(seed=3), nn.BRSF(seed=3)
    fb_f, fb_b = _train_steps(net_f, f, steps=4), _train_steps(net_b, b, steps=4)
    for t in range(1, 4):
        for k in (1, 2):
            np.testing.assert_array_equal(np.abs(fb_f[t][k]), np.abs(fb_f[0][k]))  # |B| = |M|, drawn once
            assert not np.array_equal(np.abs(fb_b[t][k]), np.abs(fb_b[t - 1][k]))  # a new |M| every step
    # |B_k| follows the drawn magnitudes: frSF's |B| is |M|, and |M| has W's initialisation scale (He: 2/fan_in)
    M = f.magnitudes(net_f)[2]
    np.testing.assert_array_equal(np.abs(f.weight_feedbacks(net_f)[2]), M)
    assert (M >= 0).all() and abs(float(np.mean(M**2)) - 2 / 5) < 0.5 * 2 / 5


def test_brsf_is_reproducible_from_its_seed_and_its_state_restores_the_stream():
    runs = []
    for _ in range(2):
        net, rule = nn.mlp([7, 6, 5, 4], "tanh", seed=0), nn.BRSF(seed=11)
        _train_steps(net, rule, steps=3)
        runs.append([p["W"].copy() for p in net.params()])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    net, rule = nn.mlp([7, 6, 5, 4], "tanh", seed=0), nn.BRSF(seed=11)
    _train_steps(net, rule, steps=2)
    saved = {k: np.array(v, copy=True) for k, v in rule.state().items()}
    nxt = _train_steps(net, rule, steps=1)[0]
    other = nn.BRSF(seed=99)
    other.setup(net)
    other.load_state(saved)
    assert all(np.array_equal(a, b) for a, b in zip(other.magnitudes(net)[1:], [np.abs(B) for B in nxt[1:]]))


# -- learning on Fashion-MNIST (Debian's files) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,opt",
    [
        (lambda: nn.USF(), lambda: nn.Adam(1e-3)),
        (lambda: nn.BRSF(seed=1), lambda: nn.Adam(5e-4)),
        (lambda: nn.FRSF(seed=1), lambda: nn.Adam(1e-3)),
    ],
)
def test_sign_symmetric_rules_learn_fashion_mnist(fashion_mnist, make, opt):
    # 3x256 tanh, one epoch on 10 000 images; measured 80.2 % (uSF), 80.4 % (brSF), 79.5 % (frSF)
    acc = fashion_accuracy(fashion_mnist, make(), opt(), hidden=(256, 256, 256))
    assert acc >= 0.78, acc


def test_usf_and_frsf_train_a_cnn_better_than_fa_and_dfa(fashion_mnist_images):
    # The peers' central finding (Sanfiz & Akrout 2021): sign-concordant feedback closes most of the gap that FA
    # and DFA leave on convolutional nets. cnn(), two epochs on 10 000 images, the same SGD for every rule.
    d = fashion_mnist_images
    train, test = (d.x_train[:10000], d.y_train[:10000]), (d.x_test[:2000], d.y_test[:2000])
    acc = {}
    for name, make in [
        ("fa", lambda: nn.FA(seed=1)),
        ("dfa", lambda: nn.DFA(seed=1)),
        ("usf", lambda: nn.USF()),
        ("frsf", lambda: nn.FRSF(seed=1)),
    ]:
        h = fit_quietly(
            nn.cnn((1, 28, 28), 10, seed=0), make(), nn.SGD(0.02, momentum=0.9), train, test, epochs=2, batch_size=64
        )
        acc[name] = h.test_acc[-1]
    # measured: FA 81.2 %, DFA 79.9 %, uSF 84.3 %, frSF 84.3 %
    for sign_rule in ("usf", "frsf"):
        assert acc[sign_rule] > max(acc["fa"], acc["dfa"]) + 0.01, acc

"""PEPITA (nnlite.rules.pepita): the updates of a modulated second forward pass, against a hand computation in plain
NumPy; the hidden updates do the learning; the modulated pass draws nothing; a run resumes bit for bit."""

import json

import numpy as np
import pytest
from fitting import fit_quietly, train_step

import nnlite as nn
from nnlite.alignment import measure


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def test_the_updates_equal_a_hand_computation():
    # 5 -> 4 -> 3 -> 2, tanh, input dropout and dropout in every hidden block, float64: everything by hand below
    net = nn.mlp([5, 4, 3, 2], "tanh", dtype=np.float64, seed=3, dropout=0.3, input_dropout=0.2)
    rng = np.random.default_rng(0)
    for p in net.params():
        p["b"][...] = rng.standard_normal(p["b"].shape) * 0.1
    x, y = rng.standard_normal((8, 5)), np.array([0, 1, 1, 0, 1, 0, 0, 1])
    rule = nn.PEPITA(f_scale=0.5, seed=1)
    F = rule.input_projection(net)
    assert F.shape == (5, 2)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    grads, signals = rule.gradients_and_signals(net, caches, e, y)

    masks = [c for layer, c in zip(net.layers, caches) if isinstance(layer, nn.Dropout)]  # input, block 0, block 1
    Ws = [(p["W"], p["b"]) for p in net.params()]

    def forward(x0):
        hs, h = [], x0 * masks[0]
        for k, (W, b) in enumerate(Ws):
            a = h @ W.T + b
            h = np.tanh(a * masks[k + 1]) if k < 2 else a
            hs.append(h)
        return hs

    N = x.shape[0]
    hs = forward(x)
    np.testing.assert_allclose(hs[-1], out, rtol=1e-13)
    err = _softmax(hs[-1]) - np.eye(2)[y]  # the paper's e, per sample
    x_err = x + err @ F.T  # h^err_0 = x + F e
    hs_err = forward(x_err)
    inputs_err = [x_err * masks[0], hs_err[0], hs_err[1]]
    want = []
    for k in range(2):
        d = hs[k] - hs_err[k]  # (h_k - h^err_k), the mean over the batch below
        want.append({"W": d.T @ inputs_err[k] / N, "b": d.mean(axis=0)})
        np.testing.assert_allclose(signals[k], d / N, rtol=1e-12, atol=1e-15)
    want.append({"W": err.T @ inputs_err[2] / N, "b": err.mean(axis=0)})  # the output layer: e ⊗ h^err_{L-1}
    assert len(grads) == 3
    for k, (g, w) in enumerate(zip(grads, want)):
        for name in ("W", "b"):
            assert np.abs(w[name]).max() > 0
            np.testing.assert_allclose(g[name], w[name], rtol=1e-12, atol=1e-15, err_msg=f"{k}.{name}")


def test_the_projection_has_the_authors_scale():
    net = nn.mlp([784, 16, 10], seed=0)
    F = nn.PEPITA(seed=0).input_projection(net)
    bound = 0.05 * np.sqrt(6 / 784)  # 0.05 * U(-sqrt(6/d), sqrt(6/d)), GiorgiaD/PEPITA
    assert F.shape == (784, 10) and F.dtype == np.float32
    assert np.abs(F).max() <= bound
    assert abs(F.std() / (bound / np.sqrt(3)) - 1) < 0.05 and abs(F.mean()) < 0.05 * bound
    F2 = nn.PEPITA(f_scale=0.5, seed=0).input_projection(nn.mlp([784, 16, 10], seed=0))
    np.testing.assert_allclose(F2, 10 * F, rtol=1e-6)


def test_the_modulated_pass_draws_nothing_and_changes_nothing():
    net = nn.mlp([6, 5, 4, 3], "relu", seed=0, dropout=0.5, input_dropout=0.2)
    x, y = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32), np.arange(16) % 3
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    gens = [json.dumps(layer.rng.bit_generator.state) for layer in net.layers if isinstance(layer, nn.Dropout)]
    rule = nn.PEPITA(seed=2)
    a = rule.gradients(net, caches, e, y)
    measure(net, rule, caches, e, y)
    b = rule.gradients(net, caches, e, y)
    assert gens == [json.dumps(layer.rng.bit_generator.state) for layer in net.layers if isinstance(layer, nn.Dropout)]
    assert all(np.array_equal(u[k], v[k]) for u, v in zip(a, b) for k in u)


def test_frozen_units_get_no_update():
    net = nn.mlp([6, 5, 4, 3], "tanh", seed=0)
    frozen = net.bottleneck(0, 2, seed=1)
    x, y = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32), np.arange(16) % 3
    out, caches = net.forward(x)
    grads = nn.PEPITA(seed=2).gradients(net, caches, nn.softmax_cross_entropy(out, y)[1], y)
    assert not grads[0]["W"][frozen].any() and not grads[0]["b"][frozen].any()
    assert np.abs(np.delete(grads[0]["W"], frozen, axis=0)).min() > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_array_keeps_the_network_dtype(dtype):
    net = nn.mlp([6, 5, 4, 3], "relu", dtype=dtype, seed=0, dropout=0.2)
    x, y = np.random.default_rng(1).standard_normal((16, 6)).astype(dtype), np.arange(16) % 3
    rule = nn.PEPITA(seed=0)
    out, caches = net.forward(x)
    grads, signals = rule.gradients_and_signals(net, caches, nn.softmax_cross_entropy(out, y)[1], y)
    assert all(g.dtype == dtype for gr in grads for g in gr.values()) and all(s.dtype == dtype for s in signals)
    assert rule.state()["F0"].dtype == dtype


def test_the_state_holds_the_projection_and_resumes_bit_for_bit():
    net_a, net_b = nn.mlp([6, 5, 4, 3], seed=0), nn.mlp([6, 5, 4, 3], seed=0)
    x, y = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32), np.arange(16) % 3
    a, b = nn.PEPITA(seed=5), nn.PEPITA(seed=6)
    b.setup(net_b)
    assert not np.array_equal(a.input_projection(net_a), b.input_projection(net_b))
    b.load_state(a.state())
    g_a, g_b = train_step(net_a, a, nn.SGD(0.1), x, y), train_step(net_b, b, nn.SGD(0.1), x, y)
    assert all(np.array_equal(u[k], v[k]) for u, v in zip(g_a, g_b) for k in u)
    with pytest.raises(ValueError, match="state must hold"):
        b.load_state({})


def test_bad_arguments_and_networks_are_refused_naming_them():
    for bad, err in [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("0.05", TypeError)]:
        with pytest.raises(err, match="f_scale"):
            nn.PEPITA(f_scale=bad)
    with pytest.raises(ValueError, match="seed"):
        nn.PEPITA(seed=-2)
    with pytest.raises(ValueError, match=r"PEPITA is defined for dense networks only: block 0 starts with Conv2d"):
        nn.PEPITA(seed=0).setup(nn.cnn((1, 8, 8), 3, channels=(2,), seed=0))
    with pytest.raises(ValueError, match=r"block 0 holds BatchNorm"):
        nn.PEPITA(seed=0).setup(nn.mlp([4, 3, 3, 2], batch_norm=True, seed=0))
    assert repr(nn.PEPITA(f_scale=0.1, seed=3)) == "PEPITA(f_scale=0.1, seed=3)"


class HiddenFrozen(nn.BP):
    """The baseline: BP's output-layer update, no update of the hidden layers (random features)."""

    name = "hidden_frozen"

    def gradients_and_signals(self, net, caches, e, y=None):
        grads, signals = super().gradients_and_signals(net, caches, e, y)
        return [{k: np.zeros_like(v) for k, v in g.items()} for g in grads[:-1]] + grads[-1:], signals


def test_the_hidden_updates_do_the_learning(digits):
    # 64 -> 16 -> 10 ReLU on digits, 10 epochs, over three weight seeds: measured mean test accuracy 0.81 for PEPITA
    # (F scaled by 0.5: with 64 inputs the default 0.05 moves the hidden layer too little in 10 epochs), 0.41 with
    # the hidden layer frozen, 0.46 with PEPITA's hidden updates negated, 0.87 for BP
    acc = {}
    for name, make in [("pepita", lambda: nn.PEPITA(f_scale=0.5, seed=1)), ("frozen", HiddenFrozen)]:
        runs = []
        for seed in range(3):
            net = nn.mlp([64, 16, 10], "relu", seed=seed)
            hist = fit_quietly(
                net,
                make(),
                nn.SGD(0.01, momentum=0.9),
                (digits.x_train, digits.y_train),
                (digits.x_test, digits.y_test),
                epochs=10,
                batch_size=64,
            )
            runs.append(hist.test_acc[-1])
        acc[name] = float(np.mean(runs))
    assert acc["pepita"] > acc["frozen"] + 0.2, acc


def test_pepita_learns_fashion_mnist(fashion_mnist):
    # The paper's network choices: ReLU hidden layers, 10 % dropout (the same mask in both passes), SGD with momentum
    # 0.9 and lr 0.01, batches of 64 (GiorgiaD/PEPITA's tutorial). 3x256, one epoch on 10 000 images, seed 0:
    # measured 73.9 % test accuracy (74.9 % without dropout; BP 82.2 % with the same settings); the threshold sits
    # 3.9 points below, far above chance (10 %). In one epoch the hidden layers move little under F's default
    # scale (BP training the output layer alone, on the random ReLU features, reached 73.2 %): that the hidden
    # updates learn is test_the_hidden_updates_do_the_learning's. The paper reports 100-epoch figures on MNIST,
    # CIFAR-10 and CIFAR-100, none on Fashion-MNIST. Alignment: the hidden signals' cosine with BP's measured
    # 0.049-0.050 on 256 test images after the epoch.
    d = fashion_mnist
    net = nn.mlp([784, 256, 256, 256, 10], "relu", seed=0, dropout=0.1)
    rule = nn.PEPITA(seed=1)
    hist = fit_quietly(
        net,
        rule,
        nn.SGD(0.01, momentum=0.9),
        (d.x_train[:10000], d.y_train[:10000]),
        (d.x_test, d.y_test),
        batch_size=64,
    )
    assert hist.test_acc[-1] >= 0.70, hist.test_acc
    out, caches = net.forward(d.x_test[:256])
    a = measure(net, rule, caches, nn.softmax_cross_entropy(out, d.y_test[:256])[1], d.y_test[:256])
    assert len(a.signal_cos) == 3 and all(c > 0.02 for c in a.signal_cos), a.signal_cos


def test_a_flatten_prefix_modulates_the_images_as_the_flat_input():
    dense = nn.mlp([16, 5, 3], "tanh", seed=0)
    flat = nn.Sequential([nn.Flatten(), *dense.layers], input_shape=(1, 4, 4))
    x, y = np.random.default_rng(1).random((6, 1, 4, 4)).astype(np.float32), np.arange(6) % 3
    got = []
    for net, xb in ((dense, x.reshape(6, 16)), (flat, x)):
        out, caches = net.forward(xb)
        got.append(nn.PEPITA(seed=2).gradients(net, caches, nn.softmax_cross_entropy(out, y)[1], y))
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(*got) for k in a)

"""Difference target propagation (nnlite.rules.dtp): DTP and DDTP. Exact inverses carry the targets as the inverse
network would, the top target with a unit step is BP, the local and feedback updates are the gradients of their
losses, the feedback mappings learn, and a run resumes bit for bit."""

import json

import numpy as np
import pytest
from fitting import fit_quietly, train_step
from gradcheck import numerical_gradient, rel_error

import nnlite as nn
from nnlite.alignment import measure

RULES = [nn.DTP, nn.DDTP]


def _batch(net, n=16, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, net.input_shape[0])).astype(net.dtype)
    y = rng.integers(0, classes, n)
    out, caches = net.forward(x)
    return x, y, caches, nn.softmax_cross_entropy(out, y)[1]


def _linear_net_with_exact_inverses(rule, d=5, depth=3, seed=0):
    """An invertible linear network (square hidden layers, identity activation, biases) in float64, and ``rule``'s
    feedback mappings set to the exact inverses: ``g_k(h) = W_k^{-1} (h - b_k)``."""
    net = nn.mlp([d] * (depth + 1) + [3], "identity", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for k in range(net.n_blocks):
        layer = net.weight_layer(k)
        layer.b[...] = rng.standard_normal(layer.b.shape)
        if k < depth:
            layer.W[...] += 2.0 * np.eye(d)  # well conditioned
    for k, pair in enumerate(rule.mappings(net)):
        if pair is not None:
            W, b = net.weight_layer(k).W, net.weight_layer(k).b
            pair[0][...] = np.linalg.inv(W)
            pair[1][...] = -np.linalg.solve(W, b)
    return net


@pytest.mark.parametrize("cls", RULES)
def test_exact_inverses_give_the_inverse_propagated_target_differences(cls):
    rule = cls(target_step=0.7, noise=0.3, seed=0)
    net = _linear_net_with_exact_inverses(rule)
    x, y, caches, e = _batch(net)
    N, K = x.shape[0], net.n_blocks
    # the top target: a step of 0.7 along the per-sample gradient, dL/dh_T = e @ W_out for a linear output layer
    want = [-0.7 * N * (e @ net.weight_layer(K - 1).W)]
    for k in range(K - 2, 0, -1):  # the inverse network: ĥ_{k-1} - h_{k-1} = W_k^{-1} (ĥ_k - h_k)
        want.append(np.linalg.solve(net.weight_layer(k).W, want[-1].T).T)
    want = want[::-1]
    got = rule.target_differences(net, caches, e)
    assert len(got) == K - 1
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * np.abs(b).max(), err_msg=str(k))
    signals = rule.signals(net, caches, e, y)
    for s, b in zip(signals, want):
        np.testing.assert_allclose(s, -b / N, rtol=1e-12, atol=1e-13 * np.abs(b).max() / N)
    # exact inverses rebuild every corruption: both reconstruction losses vanish, and so do their gradients
    for loss, dV, dc in rule.reconstructions(net, caches, rng=3):
        assert loss < 1e-20 and np.abs(dV).max() < 1e-10 and np.abs(dc).max() < 1e-10


@pytest.mark.parametrize("cls", RULES)
def test_a_unit_target_step_trains_the_top_hidden_block_as_bp(cls):
    # the local loss (1/2N) sum ||h_T - ĥ_T||^2 with ĥ_T = h_T - N dL/dh_T has the gradient dL/dh_T at h_T
    net = nn.mlp([6, 5, 4, 4, 3], "tanh", seed=0)
    x, y, caches, e = _batch(net, n=16)  # a power of 2: the factors N and 1/N are exact
    g_rule, s_rule = cls(target_step=1.0, seed=2).gradients_and_signals(net, caches, e, y)
    g_bp, s_bp = nn.BP().gradients_and_signals(net, caches, e, y)
    np.testing.assert_array_equal(s_rule[-1], s_bp[-1])
    for j in net.block_param_slices()[-2] + net.block_param_slices()[-1]:
        for name in g_bp[j]:
            np.testing.assert_array_equal(g_rule[j][name], g_bp[j][name])
    # the lower blocks follow their own targets, not BP
    assert not np.allclose(g_rule[0]["W"], g_bp[0]["W"])


@pytest.mark.parametrize("cls", RULES)
def test_each_hidden_block_gets_the_gradient_of_its_own_local_loss(cls):
    # L_k = (1/2N) sum_n ||f_k(h_{k-1}) - ĥ_k||^2 by central differences, the targets held fixed, in float64
    net = nn.mlp([5, 4, 4, 3, 3], "tanh", dtype=np.float64, seed=1)
    rule = cls(target_step=0.5, seed=1)
    x, y, caches, e = _batch(net, n=8)
    h = caches.block_outputs
    targets = [hk + d for hk, d in zip(h, rule.target_differences(net, caches, e))]
    grads = rule.gradients(net, caches, e, y)
    inputs = [x] + list(h[:-1])
    for k, tk in enumerate(targets):
        layer, act = net.weight_layer(k), net.layers[net.blocks[k][0] + 1]

        def local_loss(k=k, tk=tk, layer=layer, act=act):
            out = act.forward(layer.forward(inputs[k])[0])[0]
            return 0.5 * float(((out - tk) ** 2).sum()) / x.shape[0]

        j = net.block_param_slices()[k][0]
        for name in ("W", "b"):
            assert rel_error(grads[j][name], numerical_gradient(local_loss, layer.params[name])) < 1e-7, (k, name)


@pytest.mark.parametrize("cls", RULES)
def test_the_feedback_update_is_the_gradient_of_the_reconstruction_loss(cls):
    net = nn.mlp([5, 4, 4, 3, 3], "tanh", dtype=np.float64, seed=2)
    rule = cls(noise=0.2, seed=2)
    x, y, caches, e = _batch(net, n=8)
    analytic = rule.reconstructions(net, caches, rng=7)
    assert len(analytic) == net.n_blocks - 2
    for k, pair in enumerate(rule.mappings(net)):
        if pair is None:
            continue
        for arr, want in zip(pair, analytic[k - 1][1:]):

            def loss(k=k):
                return rule.reconstructions(net, caches, rng=7)[k - 1][0]  # the same noise every call

            assert rel_error(want, numerical_gradient(loss, arr)) < 1e-7, k


@pytest.mark.parametrize("cls", RULES)
def test_after_step_applies_the_feedback_update_of_its_own_step_only(cls):
    net = nn.mlp([6, 5, 4, 4, 3], "tanh", seed=0)
    x, y, caches, e = _batch(net)
    rule, twin = cls(feedback_lr=0.1, seed=4), cls(feedback_lr=0.1, seed=4)
    before = [(V.copy(), c.copy()) for V, c in filter(None, rule.mappings(net))]
    stream = json.dumps(rule.state()["rng"].item())
    grads = rule.gradients(net, caches, e, y)
    twin_grads = twin.gradients(net, caches, e, y)
    # measuring alignment between the step's gradients and its after_step changes nothing of the rule
    for _ in range(2):
        measure(net, rule, caches, e, y)
    assert json.dumps(rule.state()["rng"].item()) == stream
    rule.after_step(net, grads)
    twin.after_step(net, twin_grads)
    for (V0, c0), (V1, c1), (V2, c2) in zip(before, filter(None, rule.mappings(net)), filter(None, twin.mappings(net))):
        np.testing.assert_array_equal(V1, V2)
        np.testing.assert_array_equal(c1, c2)
        assert (V1 != V0).any() and (c1 != c0).any()
    assert json.dumps(rule.state()["rng"].item()) != stream  # the noise stream moved past the step's draws
    with pytest.raises(ValueError, match="needs the gradients this rule returned"):
        rule.after_step(net, [dict(g) for g in grads])


@pytest.mark.parametrize("cls", RULES)
def test_the_reconstruction_loss_falls_over_training(cls, digits):
    net = nn.mlp([64, 32, 32, 32, 10], "tanh", seed=0)
    rule, opt = cls(seed=1), nn.SGD(0.05, momentum=0.9)
    probe = net.forward(digits.x_test[:200])[1]
    first = [loss for loss, _, _ in rule.reconstructions(net, probe, rng=0)]
    fit_quietly(net, rule, opt, (digits.x_train, digits.y_train), epochs=2)
    probe = net.forward(digits.x_test[:200])[1]
    last = [loss for loss, _, _ in rule.reconstructions(net, probe, rng=0)]
    assert len(first) == 2
    assert all(b < RECONSTRUCTION_FALL[cls] * a for a, b in zip(first, last)), (first, last)


#: Measured after 2 epochs on digits (1 437 samples): DTP's two losses fell to 0.14 and 0.17 of their start,
#: DDTP's to 0.58 and 0.41.
RECONSTRUCTION_FALL = {nn.DTP: 0.3, nn.DDTP: 0.75}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", RULES)
def test_every_array_keeps_the_network_dtype(cls, dtype):
    net = nn.mlp([6, 5, 4, 4, 3], "relu", dtype=dtype, seed=0, dropout=0.2)
    rule, opt = cls(seed=0), nn.SGD(0.1)
    x, y, _, _ = _batch(net)
    for _ in range(2):
        out, caches = net.forward(x)
        _, e = nn.softmax_cross_entropy(out, y)
        grads, signals = rule.gradients_and_signals(net, caches, e, y)
        opt.step(net.params(), grads)
        rule.after_step(net, grads)
    assert all(g.dtype == dtype for gr in grads for g in gr.values())
    assert all(s.dtype == dtype for s in signals)
    assert all(a.dtype == dtype for k, a in rule.state().items() if k != "rng")
    assert all(loss == loss and dV.dtype == dtype for loss, dV, _ in rule.reconstructions(net, caches, rng=1))


@pytest.mark.parametrize("cls", RULES)
def test_the_state_resumes_the_feedback_and_the_noise_bit_for_bit(cls):
    net_a, net_b = nn.mlp([6, 5, 4, 4, 3], seed=0), nn.mlp([6, 5, 4, 4, 3], seed=0)
    x, y, _, _ = _batch(net_a)
    a = cls(seed=5)
    for _ in range(3):
        train_step(net_a, a, nn.SGD(0.1), x, y)
    b = cls(seed=77)
    for p, q in zip(net_b.params(), net_a.params()):
        for k in p:
            p[k][...] = q[k]
    b.setup(net_b)
    b.load_state(a.state())
    for _ in range(2):
        g_a, g_b = train_step(net_a, a, nn.SGD(0.1), x, y), train_step(net_b, b, nn.SGD(0.1), x, y)
        assert all(np.array_equal(u[k], v[k]) for u, v in zip(g_a, g_b) for k in u)
    for k, v in a.state().items():
        np.testing.assert_array_equal(b.state()[k], v)
    with pytest.raises(ValueError, match="noise generator 'rng'"):
        b.load_state({k: v for k, v in a.state().items() if k != "rng"})
    with pytest.raises(ValueError, match="state must hold"):
        b.load_state({k: v for k, v in a.state().items() if k != "V1"})


@pytest.mark.parametrize("cls", RULES)
def test_fit_resumes_an_interrupted_run_bit_for_bit(cls, digits, tmp_path):
    train, test = (digits.x_train[:300], digits.y_train[:300]), (digits.x_test[:100], digits.y_test[:100])
    kw = dict(epochs=3, batch_size=32, seed=5, alignment_every=4)

    def build():
        return nn.mlp([64, 32, 32, 10], "relu", seed=1, dropout=0.2, input_dropout=0.1), cls(seed=3)

    def stop_after_1(hist):
        if hist.epoch[-1] == 1:
            raise KeyboardInterrupt

    net, rule = build()
    fit_quietly(net, rule, nn.Adam(1e-3), train, test, **kw)
    want = [v.copy() for p in net.params() for v in p.values()], rule.state()
    net, rule = build()
    with pytest.raises(KeyboardInterrupt):
        fit_quietly(net, rule, nn.Adam(1e-3), train, test, checkpoint_dir=tmp_path, callback=stop_after_1, **kw)
    net, rule = build()
    fit_quietly(net, rule, nn.Adam(1e-3), train, test, checkpoint_dir=tmp_path, resume=True, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(want[0], [v for p in net.params() for v in p.values()]))
    assert sorted(rule.state()) == sorted(want[1])
    for k, v in want[1].items():
        np.testing.assert_array_equal(rule.state()[k], v, err_msg=k)


def test_bad_arguments_are_refused_naming_them():
    for kw, err in [
        ({"feedback_lr": 0.0}, ValueError),
        ({"feedback_lr": "0.1"}, TypeError),
        ({"noise": -0.1}, ValueError),
        ({"noise": float("inf")}, ValueError),
        ({"target_step": 0}, ValueError),
        ({"target_step": float("nan")}, ValueError),
    ]:
        for cls in RULES:
            with pytest.raises(err, match=next(iter(kw))):
                cls(**kw)
    with pytest.raises(ValueError, match="seed"):
        nn.DTP(seed=-1)
    assert repr(nn.DDTP(seed=2)) == "DDTP(feedback_lr=0.01, noise=0.1, target_step=1.0, seed=2)"


@pytest.mark.parametrize("cls", RULES)
def test_networks_that_are_not_dense_mlps_are_refused_naming_the_block(cls):
    with pytest.raises(ValueError, match=r"dense networks only: block 0 starts with Conv2d"):
        cls(seed=0).setup(nn.cnn((1, 8, 8), 3, channels=(2,), seed=0))
    with pytest.raises(ValueError, match=r"block 0 holds BatchNorm"):
        cls(seed=0).setup(nn.mlp([4, 3, 3, 2], batch_norm=True, seed=0))
    with pytest.raises(ValueError, match="at least one hidden block"):
        cls(seed=0).setup(nn.mlp([4, 2], seed=0))


#: Per rule: the test accuracy and the lower blocks' signal cosine with BP (on 256 test images after the epoch)
#: that the learning test asks for. Measured (3x256 tanh, Adam 1e-3, one epoch on 10 000 images, batch 32, seed 0):
#: DTP 80.8 % and cosines 0.36, 0.42; DDTP 79.3 % and 0.34, 0.59; the cosines start at 0.00 (random feedback);
#: BP 80.4 %. One epoch does not tell the lower blocks apart (BP training only the top hidden and the output
#: blocks reached 80.0 %), so the test also asks that the learned feedback carry BP's direction down to them; the
#: thresholds sit 3 points and about 0.15 below what was measured, far above chance (10 %, cosine 0). Meulemans et
#: al. 2020 report their Fashion-MNIST errors (Table 1) after 100 epochs of a 5x256 tanh network under Adam, at the
#: best validation epoch: not comparable with one epoch.
LEARNING = {nn.DTP: (0.77, 0.2), nn.DDTP: (0.76, 0.2)}


@pytest.mark.parametrize("cls", RULES)
def test_dtp_learns_fashion_mnist_and_its_feedback_aligns(cls, fashion_mnist):
    d, rule = fashion_mnist, cls(seed=1)
    net = nn.mlp([784, 256, 256, 256, 10], "tanh", seed=0)
    hist = fit_quietly(net, rule, nn.Adam(1e-3), (d.x_train[:10000], d.y_train[:10000]), (d.x_test, d.y_test))
    threshold, cos = LEARNING[cls]
    out, caches = net.forward(d.x_test[:256])
    _, e = nn.softmax_cross_entropy(out, d.y_test[:256])
    a = measure(net, rule, caches, e, d.y_test[:256])
    assert hist.test_acc[-1] >= threshold, hist.test_acc
    assert all(c > cos for c in a.signal_cos[:2]), a.signal_cos
    assert a.signal_cos[2] > 0.999  # the top hidden block's target is a gradient step: BP's direction


def test_run_options_reach_the_rules_and_are_refused_for_the_others(capsys, tmp_path, cli_one_blas_thread):
    from cli_helpers import _run, _small

    from nnlite.config import ConfigError, RunConfig
    from nnlite.config.builders import build_rule

    net = nn.mlp([64, 8, 8, 10], seed=0)
    config = RunConfig(rule="ddtp", dtp_feedback_lr=0.2, dtp_noise=0.3, dtp_target_step=0.5)
    assert repr(build_rule(config, net, "ddtp", {"feedback": 4})) == (
        "DDTP(feedback_lr=0.2, noise=0.3, target_step=0.5, seed=4)"
    )
    assert repr(build_rule(RunConfig(rule="dtp"), net, "dtp", {"feedback": 4})) == repr(nn.DTP(seed=4))
    assert repr(build_rule(RunConfig(rule="pepita", pepita_scale=0.1), net, "pepita", {"feedback": 4})) == (
        "PEPITA(f_scale=0.1, seed=4)"
    )
    with pytest.raises(
        ConfigError, match=r"'dtp_noise' \(--dtp-noise\) applies to dtp, ddtp, not 'rule' \(--rule\) bp"
    ):
        RunConfig(rule="bp", dtp_noise=0.3)
    with pytest.raises(
        ConfigError, match=r"'pepita_scale' \(--pepita-scale\) applies to pepita, not 'rule' \(--rule\) dtp"
    ):
        RunConfig(rule="dtp", pepita_scale=0.3)
    code, _, err = _run(["train", "--rule", "fa", "--dtp-target-step", "0.5", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "--dtp-target-step applies to dtp, ddtp, not --rule fa" in err.splitlines()[-1]
    code, out, err = _run(_small(tmp_path, "--rule", "dtp", "--dtp-noise", "0.2", name="dtp", epochs=1), capsys)
    assert code == 0, err
    # compare gives every rule the same options, so an option for some rules goes with those rules only
    argv = ["compare", "--rules", "dtp,ddtp", "--dtp-noise", "0.2", "--train-size", "320", "--epochs", "1"]
    code, out, err = _run([*argv, "--no-progress", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    assert {line.split()[0] for line in out.splitlines() if line.split()[:1] in (["dtp"], ["ddtp"])} == {"dtp", "ddtp"}

"""The knobs the authors' runs need (issue 22, item 1): each pinned to its equation."""

import numpy as np
import pytest
from rule_cases import maker, registered

import nnlite as nn
from nnlite.config import ConfigError, RunConfig
from nnlite.config.builders import build_rule
from nnlite.rules import registry

# -- the hidden signal's batch scale: error_scale="sum" --------------------------------------------------------

SCALED = ["dfa", "lafs", "drtp", "sdfa", "ifa"]


def _two_sgd_steps(net, rule, x, y, hidden_lr, out_lr, steps=3):
    """Plain SGD with one lr for the hidden blocks' parameters and another for the output block's."""
    slices = net.block_param_slices()
    out_idx = set(slices[-1])
    for _ in range(steps):
        out, caches = net.forward(x)
        _, e = nn.softmax_cross_entropy(out, y)
        grads = rule.gradients(net, caches, e, y)
        params = net.params()
        hid = [i for i in range(len(params)) if i not in out_idx]
        nn.SGD(hidden_lr).step([params[i] for i in hid], [grads[i] for i in hid])
        nn.SGD(out_lr).step([params[i] for i in sorted(out_idx)], [grads[i] for i in sorted(out_idx)])
    return [v.copy() for p in net.params() for v in p.values()]


@pytest.mark.parametrize("name", SCALED)
def test_summed_error_equals_mean_error_with_hidden_lr_times_n(name):
    rng = np.random.default_rng(0)
    N = 16  # a power of two: the scaling is exact
    x, y = rng.standard_normal((N, 8)).astype(np.float32), rng.integers(0, 3, N)
    summed = _two_sgd_steps(
        nn.mlp([8, 7, 6, 5, 3], seed=0), registry.make(name, seed=1, error_scale="sum"), x, y, 0.05, 0.05
    )
    mean = _two_sgd_steps(nn.mlp([8, 7, 6, 5, 3], seed=0), registry.make(name, seed=1), x, y, 0.05 * N, 0.05)
    for a, b in zip(summed, mean):
        assert a.dtype == np.float32
        assert np.array_equal(a, b)  # bit for bit: N and lr N are exact


@pytest.mark.parametrize("name", SCALED)
def test_summed_error_scales_hidden_gradients_by_n_and_keeps_the_output_block(name):
    rng = np.random.default_rng(1)
    N = 8
    net = nn.mlp([8, 7, 6, 3], seed=0)
    x, y = rng.standard_normal((N, 8)).astype(np.float32), rng.integers(0, 3, N)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    gs = registry.make(name, seed=1, error_scale="sum").gradients(net, caches, e, y)
    gm = registry.make(name, seed=1).gradients(net, caches, e, y)
    out_idx = set(net.block_param_slices()[-1])
    for i, (a, b) in enumerate(zip(gs, gm)):
        for k in a:
            assert a[k].dtype == np.float32
            want = b[k] if i in out_idx else b[k] * np.float32(N)
            assert np.array_equal(a[k], want), (i, k)


@pytest.mark.parametrize("name", SCALED)
def test_error_scale_repr_round_trips_and_is_checked(name):
    cls = registry.info(name).cls
    rule = cls(seed=3, error_scale="sum")
    assert "error_scale='sum'" in repr(rule)
    assert "error_scale" not in repr(cls(seed=3))
    assert repr(eval(repr(rule), vars(nn))) == repr(rule)
    with pytest.raises(ValueError, match="error_scale"):
        cls(error_scale="total")


def test_error_scale_config_field_applies_to_the_direct_rules_and_ifa():
    # DKP is a direct rule whose feedback learns: it keeps error_scale too (tests/test_dkp.py)
    assert {r for r, i in registry.RULES.items() if i.error_scale} == {*SCALED, "dkp"}
    cfg = RunConfig(rule="dfa", error_scale="sum")
    assert "error_scale='sum'" in repr(build_rule(cfg, nn.mlp([4, 3, 2]), "dfa", {"feedback": 0}))
    with pytest.raises(ConfigError, match=r"'error_scale' \(--error-scale\) applies to dfa"):
        RunConfig(rule="bp", error_scale="sum")


# -- Nøkland's loss: binary cross-entropy without 1/N ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_sum_is_n_times_bce(dtype):
    from nnlite.config.builders import loss_of

    rng = np.random.default_rng(2)
    for N in (1, 8, 13):
        z, y = (3 * rng.standard_normal((N, 5))).astype(dtype), rng.integers(0, 5, N)
        loss, e = nn.binary_cross_entropy(z, y)
        loss_s, e_s = loss_of("bce_sum")(z, y)
        assert loss_of("bce_sum") is nn.binary_cross_entropy_sum
        assert e_s.dtype == dtype
        np.testing.assert_allclose(loss_s, N * loss, rtol=1e-12)
        np.testing.assert_allclose(e_s, N * e, rtol=1e-6 if dtype == np.float32 else 1e-12)
        p = 1 / (1 + np.exp(-z.astype(np.float64)))
        np.testing.assert_allclose(e_s, p - np.eye(5)[y], rtol=1e-5, atol=1e-6)  # e = sigmoid(z) - onehot(y)
    assert RunConfig(loss="bce_sum").loss == "bce_sum"


# -- the learning-rate schedule: step decay at given epochs ---------------------------------------------------


def test_step_decay_lr_in_force_at_each_epoch(digits):
    sched = nn.StepDecay([3, 1], 0.5)
    assert sched.epochs == (1, 3)
    assert [sched.lr(0.4, t) for t in range(1, 6)] == [0.4, 0.2, 0.2, 0.1, 0.1]
    assert nn.StepDecay((50, 75)).lr(1.0, 50) == 1.0 and nn.StepDecay((50, 75)).lr(1.0, 51) == 0.1
    net, opt, seen = nn.mlp([64, 16, 10], seed=0), nn.SGD(0.4), []
    train = (digits.x_train[:64], digits.y_train[:64])
    nn.fit(
        net,
        nn.DFA(seed=1),
        nn.softmax_cross_entropy,
        opt,
        train,
        epochs=5,
        batch_size=32,
        progress=False,
        lr_schedule=sched,
        callback=lambda h: seen.append(opt.lr),
    )
    assert seen == [0.4, 0.2, 0.2, 0.1, 0.1]
    assert opt.lr == 0.4  # put back
    for bad in ([0], [1.5], "50", [True]):
        with pytest.raises((TypeError, ValueError)):
            nn.StepDecay(bad)
    with pytest.raises(ValueError, match="factor"):
        nn.StepDecay([1], 0.0)


def test_step_decay_resumes_across_a_boundary_bit_identically(digits, tmp_path):
    train = (digits.x_train[:200], digits.y_train[:200])
    kw = dict(epochs=4, batch_size=50, seed=2, progress=False, lr_schedule=nn.StepDecay([2], 0.1))

    def make():
        return nn.mlp([64, 32, 10], seed=1), nn.DFA(seed=3), nn.SGD(0.05, momentum=0.9)

    net, rule, opt = make()
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, **kw)
    want = [v.copy() for p in net.params() for v in p.values()]

    def stop(h):
        if h.epoch[-1] == 2:
            raise KeyboardInterrupt

    net, rule, opt = make()
    with pytest.raises(KeyboardInterrupt):
        nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, checkpoint_dir=tmp_path, callback=stop, **kw)
    assert opt.lr == 0.05
    net, rule, opt = make()
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, checkpoint_dir=tmp_path, resume=True, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(want, [v for p in net.params() for v in p.values()]))
    net, rule, opt = make()  # another schedule is another run
    with pytest.raises(ValueError, match="lr_schedule"):
        nn.fit(
            net,
            rule,
            nn.softmax_cross_entropy,
            opt,
            train,
            checkpoint_dir=tmp_path,
            resume=True,
            **{**kw, "lr_schedule": nn.StepDecay([3])},
        )


def test_lr_decay_config_fields():
    from nnlite.config.builders import lr_schedule_of

    cfg = RunConfig(lr_decay_epochs=[75, 50])
    assert cfg.lr_decay_epochs == (50, 75)
    assert repr(lr_schedule_of(cfg)) == "StepDecay(epochs=[50, 75], factor=0.1)"
    assert lr_schedule_of(RunConfig()) is None
    with pytest.raises(ConfigError, match="lr_decay_factor"):
        RunConfig(lr_decay_factor=0.5)
    with pytest.raises(ConfigError, match="lr_decay_epochs"):
        RunConfig(lr_decay_epochs=[0])


# -- fixed input normalisation constants ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_per_channel_per_feature_and_flat_images(dtype):
    rng = np.random.default_rng(3)
    x = rng.random((5, 3, 4, 4)).astype(dtype)
    mean, std = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]
    got = nn.data.normalize(x, mean, std)
    m, s = np.array(mean, dtype).reshape(1, 3, 1, 1), np.array(std, dtype).reshape(1, 3, 1, 1)
    assert got.dtype == dtype and np.array_equal(got, (x - m) / s)
    flat = nn.data.normalize(x.reshape(5, -1), mean, std, channels=3)  # channel-major flat images
    assert np.array_equal(flat, got.reshape(5, -1))
    assert np.array_equal(nn.data.normalize(x, [0.5], [2.0]), (x - dtype(0.5)) / dtype(2.0))
    per_feature = rng.random(48)
    assert np.allclose(
        nn.data.normalize(x.reshape(5, -1), per_feature, per_feature + 1),
        (x.reshape(5, -1) - per_feature) / (per_feature + 1),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match=r"mean has 2 values; expected 1 \(all\), 3 \(per channel\) or 48"):
        nn.data.normalize(x, [0.1, 0.2], [1.0, 1.0])
    with pytest.raises(ValueError, match="std must be finite and positive"):
        nn.data.normalize(x, [0.1], [0.0])


def test_input_normalisation_config_fields(digits):
    from nnlite.config.builders import load_data

    ds = load_data(RunConfig(input_mean=[0.25], input_std=[0.5]))[0]
    assert ds.x_train.dtype == np.float32
    assert np.array_equal(ds.x_train, (digits.x_train - np.float32(0.25)) / np.float32(0.5))
    with pytest.raises(ConfigError, match=r"'input_mean' \(--input-mean\): mean has 3 values"):
        load_data(RunConfig(input_mean=[0.1, 0.2, 0.3], input_std=[1, 1, 1]))
    with pytest.raises(ConfigError, match=r"'input_std' \(--input-std\): std must be finite and positive"):
        load_data(RunConfig(input_mean=[0.1], input_std=[-1]))
    with pytest.raises(ConfigError, match="go together"):
        RunConfig(input_mean=[0.1])


# -- zero initialisation (Nøkland's DFA nets) -----------------------------------------------------------------


def test_dfa_trains_from_zero_weights_and_bp_cannot(digits):
    train, test = (digits.x_train, digits.y_train), (digits.x_test, digits.y_test)
    kw = dict(epochs=3, batch_size=32, seed=0, progress=False)
    net = nn.mlp([64, 32, 32, 10], "tanh", init="zeros", seed=0)
    assert all(not p["W"].any() and not p["b"].any() for p in net.params())
    hist = nn.fit(net, nn.DFA(seed=1), nn.softmax_cross_entropy, nn.SGD(0.1, momentum=0.9), train, test, **kw)
    assert hist.test_acc[-1] > 0.8
    assert all(p["W"].any() for p in net.params())
    net = nn.mlp([64, 32, 32, 10], "tanh", init="zeros", seed=0)
    nn.fit(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1, momentum=0.9), train, test, **kw)
    assert not any(p["W"].any() for p in net.params())  # BP's hidden signals pass through W = 0: nothing moves


# -- the bottleneck as a fixed random mask on individual weights -----------------------------------------------


@pytest.mark.parametrize("name", registered())
def test_weight_bottleneck_keeps_exactly_the_masked_weights(name):
    rng = np.random.default_rng(4)
    net = nn.mlp([8, 7, 6, 5, 3], seed=0)
    masks = net.weight_bottleneck(1, 0.5, seed=2)
    assert set(masks) == {"W", "b"} and masks["W"].dtype == np.float32
    assert 0 < masks["W"].sum() < masks["W"].size
    before = [{k: v.copy() for k, v in p.items()} for p in net.params()]
    rule, opt = maker(name)(), nn.SGD(0.1, momentum=0.9)
    x, y = rng.standard_normal((16, 8)).astype(np.float32), rng.integers(0, 3, 16)
    for _ in range(3):
        out, caches = net.forward(x)
        _, e = nn.softmax_cross_entropy(out, y)
        grads = rule.gradients(net, caches, e, y)
        opt.step(net.params(), grads)
        rule.after_step(net, grads)
    rule.close()
    j = net.block_param_slices()[1][0]  # block 1's weight layer
    for k, m in masks.items():
        now, was = net.params()[j][k], before[j][k]
        assert np.array_equal(now[m == 0], was[m == 0]), k  # bit for bit
        assert (now[m == 1] != was[m == 1]).all(), k
    for i in net.block_param_slices()[0]:
        assert (net.params()[i]["W"] != before[i]["W"]).any()


def test_weight_bottleneck_config_and_keep_probability():
    from nnlite.config.builders import build_net

    masks = nn.mlp([20, 400, 3], seed=0).weight_bottleneck(0, 0.25, seed=1)
    assert abs(masks["W"].mean() - 0.25) < 0.01
    ds = nn.data.load("digits")
    net = build_net(
        RunConfig(hidden=[32, 32], bottleneck=[1, 8], bottleneck_mode="weights"), ds, {"weights": 0, "mask": 3}
    )
    assert set(net.weight_masks) == {1} and not net.grad_masks
    np.testing.assert_allclose(net.weight_masks[1]["W"].mean(), 8 / 32, atol=0.05)
    with pytest.raises(ConfigError, match="bottleneck_mode"):
        RunConfig(bottleneck_mode="weights")
    with pytest.raises(ValueError, match="keep"):
        nn.mlp([4, 3, 2]).weight_bottleneck(0, 1.5)


# -- alignment measured as the authors' code measures it -------------------------------------------------------


def _state(net):
    bufs = [{k: v.copy() for k, v in (getattr(l, "buffers", None) or {}).items()} for l in net.layers]
    gens = [l.rng.bit_generator.state for l in net.layers if getattr(l, "rng", None) is not None]
    return bufs, gens


@pytest.mark.parametrize("name", ["dfa", "fa"])
def test_authors_alignment_is_eval_for_the_rule_and_train_for_bp(name):
    from nnlite.alignment import cosine_per_sample, measure_as_run

    rng = np.random.default_rng(5)
    net = nn.mlp([6, 8, 8, 3], "tanh", seed=0, dropout=0.3, batch_norm=True)
    x, y = rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    for _ in range(3):  # running statistics away from their initial values
        net.forward(rng.standard_normal((16, 6)).astype(np.float32))
    rule = registry.make(name, seed=1)
    before = _state(net)
    # by hand: BP on a training-mode pass, then the state put back; the rule on an evaluation-mode pass
    out, caches = net.forward(x, train=True)
    _, e = nn.softmax_cross_entropy(out, y)
    bp_grads, c = nn.BP().gradients_and_signals(net, caches, e, y)
    for layer, b in zip(net.layers, before[0]):
        for k, v in b.items():
            layer.buffers[k][...] = v
    for layer, s in zip([l for l in net.layers if getattr(l, "rng", None) is not None], before[1]):
        layer.rng.bit_generator.state = s
    out_r, caches_r = net.forward(x, train=False)
    _, e_r = nn.softmax_cross_entropy(out_r, y)
    grads, g = rule.gradients_and_signals(net, caches_r, e_r, y)
    want = [float(np.nanmean(cosine_per_sample(gk, ck))) for gk, ck in zip(g, c)]

    got = measure_as_run(net, rule, nn.softmax_cross_entropy, x, y)
    assert got.signal_cos == pytest.approx(want, rel=1e-12)
    want_upd = [
        nn.alignment.cosine(
            np.concatenate([a[k].ravel() for k in sorted(a)]), np.concatenate([b[k].ravel() for k in sorted(a)])
        )
        for a, b in zip(grads, bp_grads)
    ]
    assert got.update_cos == pytest.approx(want_upd, rel=1e-12)
    after = _state(net)  # generators and running statistics left exactly as before
    assert after[1] == before[1]
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(after[0], before[0]) for k in a)
    out, caches = net.forward(x, train=True)
    _, e = nn.softmax_cross_entropy(out, y)
    one_pass = nn.alignment.measure(net, rule, caches, e, y)
    assert not np.allclose(one_pass.signal_cos, got.signal_cos)


@pytest.mark.parametrize("name", ["dfa", "lafs", "fa", "ifa"])
def test_authors_alignment_equals_one_pass_without_bn_and_dropout(name):
    from nnlite.alignment import measure, measure_as_run

    rng = np.random.default_rng(6)
    net = nn.mlp([6, 8, 8, 3], "tanh", seed=0)
    x, y = rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    rule = registry.make(name, seed=1)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    assert (
        measure_as_run(net, rule, nn.softmax_cross_entropy, x, y).to_dict()
        == measure(net, rule, caches, e, y).to_dict()
    )


def test_fit_and_config_take_the_alignment_mode(digits):
    train = (digits.x_train[:128], digits.y_train[:128])
    hists, weights = [], []
    for mode in ("one-pass", "authors"):
        net = nn.mlp([64, 16, 10], seed=0, dropout=0.2, batch_norm=True)
        hists.append(
            nn.fit(
                net,
                nn.DFA(seed=1),
                nn.softmax_cross_entropy,
                nn.SGD(0.1),
                train,
                epochs=1,
                batch_size=32,
                seed=0,
                progress=False,
                alignment_every=2,
                alignment_mode=mode,
            )
        )
        weights.append([v.copy() for p in net.params() for v in p.values()])
    assert all(np.array_equal(a, b) for a, b in zip(*weights))  # measuring never changes training
    assert hists[0].alignment[0]["signal_cos"] != hists[1].alignment[0]["signal_cos"]
    with pytest.raises(ValueError, match="alignment_mode"):
        nn.fit(nn.mlp([64, 10]), nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1), train, alignment_mode="eval")
    assert RunConfig(alignment_mode="authors").alignment_mode == "authors"

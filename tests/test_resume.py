"""Interrupted training resumes bit-identically (fit(checkpoint_dir=, resume=True)) and a NaN stop leaves the
network as it was (fit's arguments: tests/test_fit_arguments.py)."""

import json

import numpy as np
import pytest

import nnlite as nn
from nnlite.training import state as training_state


class Interrupt:
    """A callback that raises KeyboardInterrupt after epoch ``k``, as Ctrl-C between two epochs would."""

    def __init__(self, k):
        self.k = k

    def __call__(self, hist):
        if hist.epoch[-1] == self.k:
            raise KeyboardInterrupt


def _digits_images(d):
    x = d.x_train.reshape(-1, 1, 8, 8)
    xt = d.x_test.reshape(-1, 1, 8, 8)
    return (x[:300], d.y_train[:300]), (xt[:100], d.y_test[:100])


def _build(model, rule_name):
    if model == "mlp":
        net = nn.mlp([64, 32, 32, 10], "relu", seed=1, dropout=0.2, input_dropout=0.1, batch_norm=True)
    else:
        net = nn.cnn(
            (1, 8, 8), 10, activation="relu", channels=(4, 6), kernel_size=3, batch_norm=True, dropout=0.2, seed=1
        )
    rules = {
        "bp": lambda: nn.BP(),
        "dfa": lambda: nn.DFA(seed=3),
        "kp": lambda: nn.rules.KP(lr=0.01, weight_decay=0.001, seed=3),
        "brsf": lambda: nn.rules.BRSF(seed=3),
    }
    return net, rules[rule_name](), nn.optim.Adam(1e-3) if rule_name != "kp" else nn.optim.SGD(0.05, momentum=0.9)


def _arrays(net, rule, opt):
    out = {}
    for i, layer in enumerate(net.layers):
        for group in ("params", "buffers"):
            for k, v in (getattr(layer, group, None) or {}).items():
                out[f"{i}.{group}.{k}"] = v.copy()
        g = getattr(layer, "rng", None)
        if g is not None:
            out[f"{i}.rng"] = np.array(json.dumps(g.bit_generator.state))
    out.update({f"rule.{k}": np.array(v, copy=True) for k, v in rule.state().items()})
    out.update({f"opt.{k}": np.array(v, copy=True) for k, v in opt.state_arrays().items()})
    return out


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_name", ["bp", "dfa", "kp", "brsf"])
def test_resume_after_an_interrupt_is_bit_identical(digits, tmp_path, model, rule_name):
    train, test = ((digits.x_train[:300], digits.y_train[:300]), (digits.x_test[:100], digits.y_test[:100]))
    if model == "cnn":
        train, test = _digits_images(digits)
    kw = dict(epochs=4, batch_size=32, seed=5, progress=False, alignment_every=4)

    net, rule, opt = _build(model, rule_name)
    ref = nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, test, **kw)
    want = _arrays(net, rule, opt)

    net, rule, opt = _build(model, rule_name)
    with pytest.raises(KeyboardInterrupt):
        nn.fit(
            net, rule, nn.softmax_cross_entropy, opt, train, test, checkpoint_dir=tmp_path, callback=Interrupt(2), **kw
        )
    # what was on disk after epoch 2 is a loadable model
    assert isinstance(nn.load(tmp_path / "model.npz"), nn.Sequential)

    net, rule, opt = _build(model, rule_name)  # a new process would build everything afresh
    got = nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, test, checkpoint_dir=tmp_path, resume=True, **kw)
    have = _arrays(net, rule, opt)
    assert sorted(have) == sorted(want)
    for k in want:
        assert have[k].dtype == want[k].dtype, k
        np.testing.assert_array_equal(have[k], want[k], err_msg=k)
    assert got.to_dict() | {"seconds": None} == ref.to_dict() | {"seconds": None}


def test_every_epoch_boundary_is_a_resume_point(digits, tmp_path):
    train = (digits.x_train[:200], digits.y_train[:200])
    kw = dict(epochs=3, batch_size=50, seed=2, progress=False)
    net, rule, opt = _build("mlp", "dfa")
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, **kw)
    want = _arrays(net, rule, opt)
    for k in (1, 2, 3):
        d = tmp_path / str(k)
        net, rule, opt = _build("mlp", "dfa")
        with pytest.raises(KeyboardInterrupt):
            nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, checkpoint_dir=d, callback=Interrupt(k), **kw)
        net, rule, opt = _build("mlp", "dfa")
        h = nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, checkpoint_dir=d, resume=True, **kw)
        assert h.epoch == [1, 2, 3]
        have = _arrays(net, rule, opt)
        for name in want:
            np.testing.assert_array_equal(have[name], want[name], err_msg=f"interrupted after {k}: {name}")


def test_an_interrupt_inside_an_epoch_keeps_the_last_finished_one(digits, tmp_path):
    train = (digits.x_train[:256], digits.y_train[:256])
    net, rule, opt = _build("mlp", "bp")
    calls = []

    def loss(out, y):
        calls.append(1)
        if len(calls) == 12:  # in epoch 3 of 5 steps each
            raise KeyboardInterrupt
        return nn.softmax_cross_entropy(out, y)

    with pytest.raises(KeyboardInterrupt):
        nn.fit(net, rule, loss, opt, train, epochs=4, batch_size=64, seed=0, progress=False, checkpoint_dir=tmp_path)
    with np.load(tmp_path / "model.npz") as f:
        state = json.loads(str(f["extra.train.state"]))
    assert state["epoch"] == 2 and state["step"] == 8 and state["history"]["epoch"] == [1, 2]


def test_resume_refuses_another_run(digits, tmp_path):
    train = (digits.x_train[:200], digits.y_train[:200])
    kw = dict(epochs=2, batch_size=50, seed=2, progress=False, checkpoint_dir=tmp_path)
    net, rule, opt = _build("mlp", "bp")
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, **kw)
    net, rule, _ = _build("mlp", "bp")
    with pytest.raises(ValueError, match=r"another run \(optimizer"):
        nn.fit(net, rule, nn.softmax_cross_entropy, nn.optim.Adam(1e-2), train, resume=True, **kw)
    net, rule, opt = _build("mlp", "bp")
    with pytest.raises(ValueError, match=r"another run \(data"):
        nn.fit(net, rule, nn.softmax_cross_entropy, opt, (train[0][:199], train[1][:199]), resume=True, **kw)
    net, _, opt = _build("mlp", "bp")
    with pytest.raises(ValueError, match=r"rule: 'BP\(\)' in the checkpoint, \"DFA"):
        nn.fit(net, nn.DFA(seed=1), nn.softmax_cross_entropy, opt, train, resume=True, **kw)
    net, rule, opt = _build("mlp", "bp")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        nn.fit(
            net, rule, nn.softmax_cross_entropy, opt, train, **{**kw, "checkpoint_dir": tmp_path / "none"}, resume=True
        )
    with pytest.raises(ValueError, match="needs the checkpoint_dir"):
        nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, epochs=1, progress=False, resume=True)


def test_resume_refuses_an_unseeded_direct_rule(digits, tmp_path):
    train = (digits.x_train[:100], digits.y_train[:100])
    kw = dict(epochs=1, batch_size=50, seed=2, progress=False, checkpoint_dir=tmp_path)
    net = nn.mlp([64, 16, 10], seed=0)
    nn.fit(net, nn.DFA(), nn.softmax_cross_entropy, nn.optim.SGD(0.1), train, **kw)
    net = nn.mlp([64, 16, 10], seed=0)
    with pytest.raises(ValueError, match="cannot resume exactly"):
        nn.fit(net, nn.DFA(), nn.softmax_cross_entropy, nn.optim.SGD(0.1), train, resume=True, **{**kw, "epochs": 2})


def test_resume_may_train_on_for_more_epochs(digits, tmp_path):
    train = (digits.x_train[:200], digits.y_train[:200])
    kw = dict(batch_size=50, seed=2, progress=False)
    net, rule, opt = _build("mlp", "kp")
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, epochs=3, **kw)
    want = _arrays(net, rule, opt)
    net, rule, opt = _build("mlp", "kp")
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, epochs=1, checkpoint_dir=tmp_path, **kw)
    net, rule, opt = _build("mlp", "kp")
    h = nn.fit(net, rule, nn.softmax_cross_entropy, opt, train, epochs=3, checkpoint_dir=tmp_path, resume=True, **kw)
    assert h.epoch == [1, 2, 3]
    have = _arrays(net, rule, opt)
    for name in want:
        np.testing.assert_array_equal(have[name], want[name], err_msg=name)


def test_an_unwritable_checkpoint_dir_is_refused_before_training(digits, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    net, rule, opt = _build("mlp", "bp")
    w0 = net.layers[1].params["W"].copy()
    with pytest.raises(ValueError, match="not a folder"):
        nn.fit(
            net,
            rule,
            nn.softmax_cross_entropy,
            opt,
            (digits.x_train, digits.y_train),
            progress=False,
            checkpoint_dir=blocker,
        )
    np.testing.assert_array_equal(net.layers[1].params["W"], w0)


def test_writable_check_names_the_folder(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(training_state.tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match=f"cannot write into {tmp_path}: Permission denied"):
        training_state.check_writable(tmp_path)


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(digits, tmp_path, monkeypatch):
    train = (digits.x_train[:200], digits.y_train[:200])
    net, rule, opt = _build("mlp", "bp")
    nn.fit(
        net,
        rule,
        nn.softmax_cross_entropy,
        opt,
        train,
        epochs=1,
        batch_size=50,
        seed=0,
        progress=False,
        checkpoint_dir=tmp_path,
    )
    before = (tmp_path / "model.npz").read_bytes()
    import nnlite.training.io as ck

    real_fdopen = ck.os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __getattr__(self, n):
            return getattr(self.f, n)

    monkeypatch.setattr(ck.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    net, rule, opt = _build("mlp", "bp")
    with pytest.raises(OSError, match="No space"):
        nn.fit(
            net,
            rule,
            nn.softmax_cross_entropy,
            opt,
            train,
            epochs=2,
            batch_size=50,
            seed=0,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    assert (tmp_path / "model.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left behind


# -- a NaN stop leaves the network as it was before the failing step ------------------------------------------------
def test_a_nan_stop_restores_batchnorm_statistics_and_generators(digits):
    net = nn.Sequential(
        [nn.Dense(64, 32, rng=0), nn.BatchNorm(32), nn.ReLU(), nn.Dropout(0.3, seed=4), nn.Dense(32, 10, rng=1)]
    )
    train = (digits.x_train[:512], digits.y_train[:512])
    seen = {}

    def snapshot(hist):
        pass

    class Watch(nn.optim.SGD):
        def step(self, params, grads):
            super().step(params, grads)
            seen["bn"] = {k: v.copy() for k, v in net.layers[1].buffers.items()}
            seen["rng"] = net.layers[3].rng.bit_generator.state

    h = nn.fit(
        net, nn.BP(), nn.softmax_cross_entropy, Watch(1e20), train, epochs=3, batch_size=64, seed=0, progress=False
    )
    assert h.stopped is not None and h.stopped["step"] >= 2
    for k, v in seen["bn"].items():
        np.testing.assert_array_equal(net.layers[1].buffers[k], v)
    assert net.layers[3].rng.bit_generator.state == seen["rng"]

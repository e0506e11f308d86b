"""fit/History, checkpoints, NaN stop, alignment measurements, and BP learning on real data."""

import json
import os

import numpy as np
import pytest

import nnlite as nn
from nnlite.alignment import measure


@pytest.fixture(scope="module")
def digits():
    return nn.data.load("digits")


def test_bp_learns_digits(digits):
    d = digits
    net = nn.mlp([64, 256, 256, 10], "tanh", seed=0)
    h = nn.fit(
        net,
        nn.BP(),
        nn.softmax_cross_entropy,
        nn.SGD(0.05, momentum=0.9),
        (d.x_train, d.y_train),
        (d.x_test, d.y_test),
        epochs=10,
        batch_size=32,
        seed=0,
        progress=False,
    )
    assert h.test_acc[-1] >= 0.95
    assert h.epoch == list(range(1, 11)) and len(h.seconds) == 10 and h.stopped is None
    assert h.train_loss[-1] < h.train_loss[0]


def test_bp_learns_fashion_mnist_in_one_epoch():
    d = nn.data.load("fashion-mnist", download=False, standardize=True)
    net = nn.mlp([784, 256, 256, 256, 10], "tanh", seed=0)
    h = nn.fit(
        net,
        nn.BP(),
        nn.softmax_cross_entropy,
        nn.Adam(3e-4),
        (d.x_train[:10000], d.y_train[:10000]),
        (d.x_test, d.y_test),
        epochs=1,
        batch_size=32,
        seed=0,
        progress=False,
    )
    assert h.test_acc[-1] >= 0.80


def test_nan_loss_stops_training_and_says_where(digits):
    d = digits
    net = nn.mlp([64, 32, 10], "relu", seed=0)
    h = nn.fit(
        net,
        nn.BP(),
        nn.mean_squared_error,
        nn.SGD(1e6),
        (d.x_train, d.y_train),
        epochs=5,
        batch_size=32,
        seed=0,
        progress=False,
    )
    assert h.stopped is not None
    assert h.stopped["epoch"] == 1 and 1 < h.stopped["step"] <= 45
    assert "nan" in h.stopped["reason"].lower() or "inf" in h.stopped["reason"].lower()
    assert len(h.epoch) <= 1


def test_fit_rejects_bad_data(digits):
    d = digits
    net = nn.mlp([64, 16, 10], seed=0)
    args = (net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1))
    with pytest.raises(ValueError, match="expected 64 features, got 63"):
        nn.fit(*args, (d.x_train[:, :63], d.y_train), progress=False)
    bad = d.x_train.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        nn.fit(*args, (bad, d.y_train), progress=False)
    y = d.y_train.copy()
    y[3] = 12
    with pytest.raises(ValueError, match=r"\[0, 10\), got max 12"):
        nn.fit(*args, (d.x_train, y), progress=False)
    with pytest.raises(TypeError, match="floating-point"):
        nn.fit(*args, ((d.x_train * 16).astype(np.int64), d.y_train), progress=False)
    with pytest.raises(TypeError, match="float64"):
        nn.fit(*args, (d.x_train.astype(np.float64), d.y_train), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        nn.fit(*args, (d.x_train, d.y_train), batch_size=0, progress=False)


def test_checkpoint_round_trip(tmp_path, digits):
    net = nn.mlp([64, 20, 15, 10], "leaky_relu:-0.5", init="glorot", seed=3)
    path = tmp_path / "m.npz"
    nn.save(net, path)
    back = nn.load(path)
    assert [type(l) for l in back.layers] == [type(l) for l in net.layers]
    for p, q in zip(net.params(), back.params()):
        for k in p:
            assert np.array_equal(p[k], q[k]) and p[k].dtype == q[k].dtype
    np.testing.assert_array_equal(net.predict(digits.x_test), back.predict(digits.x_test))
    assert not any(n.startswith(".tmp") for n in os.listdir(tmp_path))


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    net = nn.mlp([4, 3, 2], seed=0)
    path = tmp_path / "m.npz"
    nn.save(net, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        nn.save(nn.mlp([4, 3, 2], seed=1), path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["m.npz"]  # and no temporary file is left


def test_checkpoint_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __spec__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        nn.load(path)


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    net = nn.mlp([10, 12, 11, 4], "tanh", seed=seed, dtype=np.float64)
    x = rng.standard_normal((n, 10))
    y = rng.integers(0, 4, n)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    return net, caches, e, y


def test_bp_is_perfectly_aligned_with_itself():
    net, caches, e, y = _batch()
    a = measure(net, nn.BP(), caches, e, y)
    np.testing.assert_allclose(a.signal_cos, 1.0, rtol=1e-12)
    np.testing.assert_allclose(a.signal_cos_std, 0.0, atol=1e-7)
    np.testing.assert_allclose(a.update_cos, 1.0, rtol=1e-12)


def test_negated_signal_gives_minus_one():
    class NegBP(nn.BP):
        def gradients_and_signals(self, net, caches, e, y=None):
            g, s = super().gradients_and_signals(net, caches, -e, y)
            return g, s

    net, caches, e, y = _batch()
    a = measure(net, NegBP(), caches, e, y)
    np.testing.assert_allclose(a.signal_cos, -1.0, rtol=1e-12)
    np.testing.assert_allclose(a.signal_angle, 180.0, rtol=1e-6)
    np.testing.assert_allclose(a.update_cos, -1.0, rtol=1e-12)


def test_dfa_alignment_reports_local_errors_and_readouts():
    net, caches, e, y = _batch()
    a = measure(net, nn.DFA(seed=0), caches, e, y)
    assert len(a.signal_cos) == 2 and len(a.update_cos) == 3
    assert a.update_cos[-1] == pytest.approx(1.0)  # the output block gets e under every rule
    assert all(-1 <= c <= 1 for c in a.signal_cos)
    assert len(a.error_angle) == 2 and all(0 <= v <= 180 for v in a.error_angle)
    assert len(a.readout_acc) == 2 and all(0 <= v <= 1 for v in a.readout_acc)
    assert measure(net, nn.FA(seed=0), caches, e, y).error_angle == []


def test_dfa_aligns_during_training_and_history_records_it(digits):
    d = digits
    net = nn.mlp([64, 128, 128, 10], "tanh", seed=0)
    h = nn.fit(
        net,
        nn.DFA(seed=0),
        nn.softmax_cross_entropy,
        nn.SGD(0.05, momentum=0.9),
        (d.x_train, d.y_train),
        epochs=20,
        batch_size=32,
        seed=0,
        progress=False,
        alignment_every=60,
    )
    steps = [r["step"] for r in h.alignment]
    assert steps == list(range(0, 20 * 45, 60))
    first = np.array(h.alignment[0]["signal_cos"])
    late = np.mean([r["signal_cos"] for r in h.alignment[-4:]], axis=0)
    # DFA's signals start unrelated to BP's and align as training goes (Nøkland; Launay et al. §2.2)
    assert np.all(np.abs(first) < 0.2)
    assert np.all(late > first + 0.05) and late[-1] > 0.2, (first, late)


def test_history_json(tmp_path, digits):
    d = digits
    net = nn.mlp([64, 16, 10], seed=0)
    seen = []
    h = nn.fit(
        net,
        nn.BP(),
        nn.softmax_cross_entropy,
        nn.SGD(0.1),
        (d.x_train, d.y_train),
        (d.x_test, d.y_test),
        epochs=2,
        progress=False,
        callback=lambda hist: seen.append(list(hist.test_acc)),
    )
    assert seen == [h.test_acc[:1], h.test_acc]  # called after each epoch, with that epoch recorded
    h.to_json(tmp_path / "h.json")
    back = json.loads((tmp_path / "h.json").read_text())
    assert back["test_acc"] == h.test_acc and back["rule"] == "bp"

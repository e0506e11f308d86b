"""fit and History: learning on real data, the NaN stop, bad data, alignment recorded during training."""

import json

import numpy as np
import pytest
from fitting import fashion_accuracy, fit_quietly

import nnlite as nn


def test_bp_learns_digits(digits):
    d = digits
    net = nn.mlp([64, 256, 256, 10], "tanh", seed=0)
    h = fit_quietly(net, nn.BP(), nn.SGD(0.05, momentum=0.9), (d.x_train, d.y_train), (d.x_test, d.y_test), epochs=10)
    assert h.test_acc[-1] >= 0.95
    assert h.epoch == list(range(1, 11)) and len(h.seconds) == 10 and h.stopped is None
    assert h.train_loss[-1] < h.train_loss[0]


def test_bp_learns_fashion_mnist_in_one_epoch(fashion_mnist):
    assert fashion_accuracy(fashion_mnist, nn.BP(), nn.Adam(3e-4), hidden=(256, 256, 256)) >= 0.80


def test_nan_loss_stops_training_and_says_where(digits):
    d = digits
    net = nn.mlp([64, 32, 10], "relu", seed=0)
    h = fit_quietly(net, nn.BP(), nn.SGD(1e6), (d.x_train, d.y_train), loss=nn.mean_squared_error, epochs=5)
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


def test_dfa_aligns_during_training_and_history_records_it(digits):
    d = digits
    net = nn.mlp([64, 128, 128, 10], "tanh", seed=0)
    h = fit_quietly(
        net, nn.DFA(seed=0), nn.SGD(0.05, momentum=0.9), (d.x_train, d.y_train), epochs=20, alignment_every=60
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

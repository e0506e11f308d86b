"""Checkpoints (nnlite.checkpoint): round trip, atomic writes, no pickle."""

import os

import numpy as np
import pytest

import nnlite as nn


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

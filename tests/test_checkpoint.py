"""Checkpoints (nnlite.training.checkpoint): round trip, atomic writes, no pickle."""

import os
import stat

import numpy as np
import pytest
from fitting import train_step

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


def test_checkpoint_with_rule_state_resumes_kp_and_brsf_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)

    def step(net, rule, opt):
        return train_step(net, rule, opt, x, y)

    for make in (lambda: nn.KP(lr=0.1, weight_decay=0.01, seed=3), lambda: nn.BRSF(seed=3), lambda: nn.FA(seed=3)):
        net, rule = nn.mlp([6, 5, 4, 3], "tanh", seed=0), make()
        for _ in range(3):
            step(net, rule, nn.SGD(0.1))
        nn.save(net, tmp_path / "m.npz", rule=rule)
        other = make()
        back = nn.load(tmp_path / "m.npz", rule=other)
        for _ in range(2):  # the two continue bit for bit
            ga, gb = step(net, rule, nn.SGD(0.1)), step(back, other, nn.SGD(0.1))
            assert all(np.array_equal(u[k], v[k]) for u, v in zip(ga, gb) for k in u), rule
    with pytest.raises(ValueError, match="not of a KP"):
        nn.load(tmp_path / "m.npz", rule=nn.KP(lr=0.1, weight_decay=0.0))
    nn.save(net, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="no rule state"):
        nn.load(tmp_path / "plain.npz", rule=nn.FA(seed=1))


def test_save_never_replaces_a_special_file_and_writes_through_links(tmp_path):
    net = nn.mlp([4, 3, 2], seed=0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        nn.save(net, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match="a folder"):
        nn.save(net, tmp_path / "dir.npz")
    target = tmp_path / "real.npz"
    nn.save(net, target)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    nn.save(nn.mlp([4, 3, 2], seed=1), link)
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link stays, its target is replaced
    np.testing.assert_array_equal(nn.load(target).params()[0]["W"], nn.mlp([4, 3, 2], seed=1).params()[0]["W"])


def test_save_keeps_the_old_mode_and_honours_the_umask(tmp_path):
    net = nn.mlp([4, 3, 2], seed=0)
    path = tmp_path / "m.npz"
    old = os.umask(0o022)
    try:
        nn.save(net, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # not mkstemp's 0600
        os.chmod(path, 0o640)
        nn.save(net, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # an overwrite keeps the file's mode
    finally:
        os.umask(old)


def test_load_draws_no_weights_it_then_overwrites(tmp_path, monkeypatch):
    import nnlite.layers.base as base

    net = nn.Sequential([nn.Dense(20, 30, init="glorot"), nn.Tanh(), nn.Dense(30, 5, init="lecun")])
    nn.save(net, tmp_path / "m.npz")
    drawn = []
    real = base.init_weight

    def spy(shape, fan_in, fan_out, init, *a, **k):
        drawn.append(init)
        return real(shape, fan_in, fan_out, init, *a, **k)

    monkeypatch.setattr(base, "init_weight", spy)
    loaded = nn.load(tmp_path / "m.npz")
    assert drawn and set(drawn) == {"zeros"}
    assert [loaded.layers[i].init for i in (0, 2)] == ["glorot", "lecun"]  # the scheme is kept for new_feedback
    np.testing.assert_array_equal(loaded.layers[0].params["W"], net.layers[0].params["W"])


def test_layers_are_named_by_their_declared_spec_and_older_class_names_still_load(tmp_path):
    import json

    net = nn.cnn(input_shape=(1, 8, 8), n_classes=3, channels=(4,), seed=0, dropout=0.1, batch_norm=True)
    path = tmp_path / "c.npz"
    nn.save(net, path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    spec = json.loads(str(arrays["__spec__"]))
    types = [entry["type"] for entry in spec["layers"]]
    assert types == [type(layer).spec.name for layer in net.layers]  # "conv2d", "batchnorm", "tanh", ...
    assert "conv2d" in types and "dense" in types
    for entry, layer in zip(spec["layers"], net.layers):  # a checkpoint of an older nnlite: class names
        entry["type"] = type(layer).__name__
    arrays["__spec__"] = np.array(json.dumps(spec))
    np.savez(tmp_path / "old.npz", **arrays)
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    a, b = nn.load(path).predict(x), nn.load(tmp_path / "old.npz").predict(x)
    assert np.array_equal(a, b) and np.array_equal(a, net.predict(x))

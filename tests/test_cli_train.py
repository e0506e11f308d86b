"""The ``nnlite train`` command (nnlite.cli.train): the default run learns and writes readable files, and every
option reaches the run, the network or the checkpoint.

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import REPO, _is_png, _run, _small

import nnlite
from nnlite import cli

# BLAS limited to one thread for the whole module, and every test in its own folder (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


# ---------------------------------------------------------------------------------------------------------------
# The default run


def test_default_train_in_process(tmp_path, monkeypatch, capsys):
    """`nnlite train` with no arguments: exit 0, >= 95 % on digits, and its three files in runs/<timestamp>."""
    monkeypatch.chdir(tmp_path)
    saved = {}
    real_save = nnlite.training.checkpoint.save

    def spy_save(net, path, **kw):  # fit saves the network (with rule and training state) every epoch
        saved["net"] = net
        real_save(net, path, **kw)

    monkeypatch.setattr(nnlite.training.checkpoint, "save", spy_save)
    code, out, err = _run(["train"], capsys)
    assert code == 0, err
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    doc = json.loads((run / "history.json").read_text())
    hist, cfg = doc["history"], doc["config"]
    assert cfg["rule"] == "bp" and cfg["dataset"] == "digits" and cfg["model"] == "mlp"
    assert len(hist["test_acc"]) == cfg["epochs"] == cli.DEFAULT_EPOCHS
    assert doc["final_test_acc"] == hist["test_acc"][-1] >= 0.95
    assert f"final test accuracy: {hist['test_acc'][-1]:.4f}" in out
    # the per-epoch table has one row per epoch
    rows = [l.split() for l in out.splitlines() if l.strip() and l.split()[0].isdigit() and len(l.split()) == 5]
    assert [int(r[0]) for r in rows] == hist["epoch"]
    assert _is_png(run / "curves.png")
    # the checkpoint reproduces the trained network exactly
    ds = nnlite.data.load("digits")
    loaded = nnlite.load(run / "model.npz")
    pred = loaded.predict(ds.x_test)
    np.testing.assert_array_equal(pred, saved["net"].predict(ds.x_test))
    assert float((pred.argmax(axis=1) == ds.y_test).mean()) == hist["test_acc"][-1]


def test_default_train_subprocess(tmp_path):
    """`python -m nnlite train --out DIR` in a fresh process (the console entry point's code path)."""
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    out = tmp_path / "run"
    p = subprocess.run(
        [sys.executable, "-m", "nnlite", "train", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads((out / "history.json").read_text())
    assert doc["history"]["test_acc"][-1] >= 0.95
    assert "final test accuracy" in p.stdout
    assert _is_png(out / "curves.png")
    net = nnlite.load(out / "model.npz")
    ds = nnlite.data.load("digits")
    acc = float((net.predict(ds.x_test).argmax(axis=1) == ds.y_test).mean())
    assert acc == doc["history"]["test_acc"][-1]


# ---------------------------------------------------------------------------------------------------------------
# Options


@pytest.mark.parametrize("rule", ["usf", "brsf", "frsf", "kp", "drtp", "sdfa"])
def test_every_new_rule_trains_and_records_its_repr(rule, tmp_path, capsys):
    code, _, err = _run(_small(tmp_path, "--rule", rule, "--align-every", "5", epochs=1), capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert doc["config"]["rule"] == rule and doc["history"]["rule"] == rule
    al = doc["history"]["alignment"]
    assert len(al) == 2 and all(len(a["signal_cos"]) == 2 for a in al)
    # the FA family records the W-B angle, the direct family its local errors
    assert (len(al[0]["weight_angle"]) == 2) == (rule in ("usf", "brsf", "frsf", "kp"))
    assert (len(al[0]["error_angle"]) == 2) == (rule in ("drtp", "sdfa"))


def test_no_normalize_and_bottleneck_reach_the_run(tmp_path, capsys):
    code, _, err = _run(_small(tmp_path, "--rule", "dfa", "--no-normalize", "--bottleneck", "1:10", epochs=1), capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert "normalize=False" in doc["config"]["rule_repr"]
    net = nnlite.load(tmp_path / "run" / "model.npz")
    assert list(net.frozen_units) == [1] and len(net.frozen_units[1]) == 256 - 10


def test_mlp_dropout_input_dropout_and_batch_norm_reach_the_network(tmp_path, capsys):
    argv = _small(tmp_path, "--dropout", "0.1", "--input-dropout", "0.2", "--batch-norm", epochs=1)
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    net = nnlite.load(tmp_path / "run" / "model.npz")
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds[0] == "Dropout" and net.layers[0].p == 0.2
    assert kinds.count("BatchNorm") == 2 and kinds.count("Dropout") == 3


def test_dataset_can_be_an_npz_file_of_ones_own(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "own.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (96, 1, 8, 8), dtype=np.uint8),
        y_train=rng.integers(0, 3, 96),
        x_test=rng.integers(0, 255, (20, 1, 8, 8), dtype=np.uint8),
        y_test=rng.integers(0, 3, 20),
    )
    code, _, err = _run(
        ["train", "--dataset", str(path), "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run")], capsys
    )
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert doc["config"]["n_train"] == 96 and doc["config"]["n_classes"] == 3
    code, _, err = _run(["train", "--dataset", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "r2")], capsys)
    assert code == 1 and "missing.npz" in err


def test_kp_flags_reach_the_rule(tmp_path, capsys):
    code, _, err = _run(
        _small(tmp_path, "--rule", "kp", "--kp-lr", "0.03", "--kp-weight-decay", "0.002", epochs=1), capsys
    )
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert "KP(lr=0.03, weight_decay=0.002" in doc["config"]["rule_repr"]
    code, _, err = _run(_small(tmp_path, "--rule", "kp", "--lr", "0.07", name="run2", epochs=1), capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "run2" / "history.json").read_text())
    assert "KP(lr=0.07, weight_decay=0.0" in doc["config"]["rule_repr"]  # defaults: the rule's lr, --weight-decay


def test_dfa_records_alignment_every_n_steps(tmp_path, capsys):
    code, out, err = _run(_small(tmp_path, "--rule", "dfa", "--align-every", "5"), capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    al = doc["history"]["alignment"]
    assert [a["step"] for a in al] == [0, 5, 10, 15]  # 2 epochs x 10 steps
    assert [a["epoch"] for a in al] == [1, 1, 2, 2]
    for a in al:
        assert len(a["signal_cos"]) == 2
        assert all(-1 <= c <= 1 for c in a["signal_cos"])
        assert a["signal_cos"] != [1.0, 1.0]  # DFA's signal is not BP's
        assert len(a["readout_acc"]) == 2  # DFA also reports its readouts
    assert "cos h1" in out and "cos h2" in out
    assert doc["config"]["rule"] == "dfa" and "DFA(" in doc["config"]["rule_repr"]


def test_bp_alignment_with_itself_is_one(tmp_path, capsys):
    code, _, err = _run(_small(tmp_path, "--align-every", "3"), capsys)
    assert code == 0, err
    al = json.loads((tmp_path / "run" / "history.json").read_text())["history"]["alignment"]
    assert len(al) == 7  # steps 0, 3, ..., 18
    np.testing.assert_allclose([a["signal_cos"] for a in al], 1.0, atol=1e-6)


def test_train_size_uses_the_first_n_samples(tmp_path, capsys):
    # 100 samples, batch 32: 4 steps per epoch, so alignment every step gives steps 0..3 then 4..7
    code, _, err = _run(_small(tmp_path, "--align-every", "1", train_size=100), capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert doc["config"]["n_train"] == 100
    assert [a["step"] for a in doc["history"]["alignment"]] == list(range(8))
    code, _, err = _run(["train", "--train-size", "100000", "--out", str(tmp_path / "big")], capsys)
    assert code == 2 and "100000" in err and "1437" in err


def test_same_seed_same_run_and_other_seed_differs(tmp_path, capsys):
    runs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert _run(_small(tmp_path, "--seed", seed, name=name), capsys)[0] == 0
        runs.append(json.loads((tmp_path / name / "history.json").read_text())["history"])
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


@pytest.mark.parametrize("projection", ["gaussian", "fastfood", "sparse", "opu"])
def test_projection_back_ends(tmp_path, capsys, projection):
    extra = ["--sparsity", "2"] if projection == "sparse" else []
    code, _, err = _run(_small(tmp_path, "--rule", "dfa", "--projection", projection, *extra), capsys)
    assert code == 0, err
    cfg = json.loads((tmp_path / "run" / "history.json").read_text())["config"]
    cls = {"gaussian": "Gaussian", "fastfood": "Fastfood", "sparse": "Sparse", "opu": "OPU"}[projection]
    assert f"projection={cls}(" in cfg["rule_repr"]
    assert "n_in=10" in cfg["rule_repr"] and "n_out=256" in cfg["rule_repr"]  # unified: l_max = 256


def test_independent_layout_projection_has_sum_of_sizes(tmp_path, capsys):
    code, _, err = _run(
        _small(tmp_path, "--rule", "lafs", "--layout", "independent", "--projection", "fastfood", "--hidden", "64,32"),
        capsys,
    )
    assert code == 0, err
    cfg = json.loads((tmp_path / "run" / "history.json").read_text())["config"]
    assert "n_out=96" in cfg["rule_repr"] and "layout='independent'" in cfg["rule_repr"]


def test_activation_dtype_and_hidden_reach_the_checkpoint(tmp_path, capsys):
    code, _, err = _run(
        _small(
            tmp_path,
            "--activation",
            "leaky_relu:-0.5",
            "--dtype",
            "float64",
            "--hidden",
            "32x2,16",
            "--optimizer",
            "adam",
            "--loss",
            "mse",
        ),
        capsys,
    )
    assert code == 0, err
    net = nnlite.load(tmp_path / "run" / "model.npz")
    assert [p["W"].shape for p in net.params()] == [(32, 64), (32, 32), (16, 32), (10, 16)]
    assert all(v.dtype == np.float64 for p in net.params() for v in p.values())
    slopes = [l.slope for l in net.layers if isinstance(l, nnlite.LeakyReLU)]
    assert slopes == [-0.5, -0.5, -0.5]
    cfg = json.loads((tmp_path / "run" / "history.json").read_text())["config"]
    assert cfg["lr"] == cli.DEFAULT_LR["adam"] and cfg["momentum"] is None


def test_cnn_model(tmp_path, capsys):
    code, _, err = _run(_small(tmp_path, "--model", "cnn", "--channels", "4,4", train_size=64, epochs=1), capsys)
    assert code == 0, err
    net = nnlite.load(tmp_path / "run" / "model.npz")
    assert net.input_shape == (1, 8, 8)
    assert [p["W"].shape[0] for p in net.params() if p["W"].ndim == 4] == [4, 4]


def test_cnn_records_the_channels_and_kernel_size_it_used(tmp_path, capsys):
    """Without --channels/--kernel-size the run records nnlite.cnn's defaults, the ones the checkpoint has."""
    defaults = inspect.signature(nnlite.cnn).parameters
    channels, kernel = list(defaults["channels"].default), defaults["kernel_size"].default
    code, out, err = _run(
        ["train", "--model", "cnn", "--train-size", "64", "--epochs", "1", "--no-progress", "--out", str(tmp_path)],
        capsys,
    )
    assert code == 0, err
    cfg = json.loads((tmp_path / "history.json").read_text())["config"]
    assert cfg["channels"] == channels and cfg["kernel_size"] == kernel
    convs = [p["W"].shape for p in nnlite.load(tmp_path / "model.npz").params() if p["W"].ndim == 4]
    assert [s[0] for s in convs] == channels and {s[2:] for s in convs} == {(kernel, kernel)}
    assert any(l.split()[:1] == ["channels"] and l.endswith(str(channels)) for l in out.splitlines())
    assert any(l.split() == ["kernel_size", str(kernel)] for l in out.splitlines())


def test_help_shows_the_cnn_defaults_of_nnlite_cnn(capsys):
    defaults = inspect.signature(nnlite.cnn).parameters
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert f"nnlite.cnn's, {','.join(map(str, defaults['channels'].default))})" in flat
    assert f"nnlite.cnn's, {defaults['kernel_size'].default})" in flat

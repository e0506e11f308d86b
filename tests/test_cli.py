"""The ``nnlite`` command: defaults that learn, files that are written and readable, errors that are clear.

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import nnlite
from nnlite import cli
from nnlite.cli import bench as cli_bench

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own folder, so a run that should have failed cannot leave runs/ in the repo."""
    monkeypatch.chdir(tmp_path)


def _is_png(path):
    data = Path(path).read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _small(tmp_path, *extra, name="run", train_size=320, epochs=2):
    """A quick run: by default 320 training samples (10 steps of 32), 2 epochs."""
    size, n = str(train_size), str(epochs)
    return ["train", "--train-size", size, "--epochs", n, "--no-progress", "--out", str(tmp_path / name), *extra]


# ---------------------------------------------------------------------------------------------------------------
# The default run


def test_default_train_in_process(tmp_path, monkeypatch, capsys):
    """`nnlite train` with no arguments: exit 0, >= 95 % on digits, and its three files in runs/<timestamp>."""
    monkeypatch.chdir(tmp_path)
    saved = {}
    real_save = nnlite.checkpoint.save

    def spy_save(net, path, **kw):  # fit saves the network (with rule and training state) every epoch
        saved["net"] = net
        real_save(net, path, **kw)

    monkeypatch.setattr(nnlite.checkpoint, "save", spy_save)
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


# ---------------------------------------------------------------------------------------------------------------
# compare


def test_compare_writes_table_json_and_pngs(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, err = _run(
        [
            "compare",
            "--rules",
            "bp,dfa",
            "--epochs",
            "1",
            "--no-progress",
            "--lr",
            "bp=0.05,dfa=0.02",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    doc = json.loads((out / "compare.json").read_text())
    assert list(doc["rules"]) == ["bp", "dfa"]
    assert doc["rules"]["bp"]["lr"] == 0.05 and doc["rules"]["dfa"]["lr"] == 0.02
    np.testing.assert_allclose(doc["rules"]["bp"]["final_alignment"], 1.0, atol=1e-6)
    dfa_cos = doc["rules"]["dfa"]["final_alignment"]
    assert len(dfa_cos) == 2 and all(-1 <= c < 0.99 for c in dfa_cos)
    for r in ("bp", "dfa"):
        assert 0.5 < doc["rules"][r]["final_test_acc"] <= 1
        assert len(doc["rules"][r]["history"]["alignment"]) >= cli.ALIGN_RECORDS_PER_EPOCH
    for name in ("accuracy.png", "alignment_h1.png", "alignment_h2.png"):
        assert _is_png(out / name), name
    table = stdout[stdout.index("summary") :].splitlines()
    assert table[1].split()[:4] == ["rule", "lr", "test", "acc"]
    assert [l.split()[0] for l in table[3:5]] == ["bp", "dfa"]
    assert f"{doc['rules']['dfa']['final_test_acc']:.4f}" in table[4]


def test_compare_starts_every_rule_from_the_same_weights(tmp_path, capsys):
    """Each rule's run in `compare` is exactly the run `train --rule` gives with the same seed."""
    common = ["--train-size", "160", "--epochs", "1", "--align-every", "2", "--no-progress", "--seed", "7"]
    assert _run(["compare", "--rules", "fa,lafs", *common, "--out", str(tmp_path / "cmp")], capsys)[0] == 0
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    for r in ("fa", "lafs"):
        assert _run(["train", "--rule", r, *common, "--out", str(tmp_path / r)], capsys)[0] == 0
        single = json.loads((tmp_path / r / "history.json").read_text())["history"]
        mine = doc["rules"][r]["history"]
        assert mine["train_loss"] == single["train_loss"]
        assert mine["test_acc"] == single["test_acc"]
        assert [a["signal_cos"] for a in mine["alignment"]] == [a["signal_cos"] for a in single["alignment"]]


def test_compare_lr_names_an_unlisted_rule(tmp_path, capsys):
    code, _, err = _run(["compare", "--rules", "bp,dfa", "--lr", "fa=0.1", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "fa" in err


# ---------------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "argv, choices",
    [
        (["train", "--rule", "backprop"], ["bp", "fa", "dfa", "ifa", "lafs"]),
        (["train", "--dataset", "imagenet"], ["digits", "mnist", "fashion-mnist", "cifar10"]),
        (["train", "--activation", "swish"], ["tanh", "sigmoid", "relu", "leaky_relu:SLOPE"]),
        (["train", "--optimizer", "lbfgs"], ["sgd", "momentum", "nesterov", "adam", "rmsprop"]),
        (["train", "--projection", "dense"], ["gaussian", "fastfood", "opu", "sparse"]),
        (["compare", "--rules", "bp,hebb"], ["bp", "fa", "dfa", "ifa", "lafs"]),
        (["compare", "--lr", "hebb=0.1"], ["bp", "fa", "dfa", "ifa", "lafs"]),
    ],
)
def test_unknown_names_exit_2_listing_the_choices(argv, choices, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert "Traceback" not in err and out == ""
    for c in choices:
        assert c in err.splitlines()[-1]


@pytest.mark.parametrize("bad", ["12xq", "x3", "0x3", "12x0", "12,,3", "-5", "256x"])
def test_bad_hidden_is_a_clear_error(bad, capsys):
    code, _, err = _run(["train", f"--hidden={bad}"], capsys)
    assert code == 2
    last = err.splitlines()[-1]
    assert "--hidden" in last and repr(bad) in last and "800x3" in last


@pytest.mark.parametrize(
    "text, sizes", [("800x3", [800] * 3), ("800,800,800", [800] * 3), ("512x2,256", [512, 512, 256]), ("7", [7])]
)
def test_hidden_sizes_parse(text, sizes):
    assert cli.hidden_sizes(text) == sizes


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--projection", "fastfood"], "--projection"),  # bp has no projection
        (["train", "--rule", "fa", "--parallel"], "--parallel"),
        (["train", "--rule", "bp", "--layout", "independent"], "--layout"),
        (["train", "--rule", "lafs", "--projection", "opu"], "transpose"),
        (["train", "--optimizer", "adam", "--momentum", "0.5"], "--momentum"),
        (["train", "--rule", "dfa", "--projection", "sparse", "--sparsity", "11"], "--sparsity"),
        (["train", "--kernel-size", "5"], "--model cnn"),
        (["train", "--rule", "usf", "--projection", "fastfood"], "--projection"),  # uSF has no projection
        (["train", "--rule", "frsf", "--layout", "independent"], "--layout"),
        (["train", "--rule", "dfa", "--kp-lr", "0.1"], "--kp-lr"),
        (["train", "--rule", "fa", "--kp-weight-decay", "0.1"], "--kp-weight-decay"),
        (["train", "--rule", "fa", "--no-normalize"], "--no-normalize"),
        (["train", "--bottleneck", "1:300"], "at most 256"),
        (["train", "--bottleneck", "one"], "BLOCK:TRAINABLE"),
    ],
)
def test_flags_that_do_not_apply_exit_2(argv, needle, tmp_path, capsys):
    code, _, err = _run([*argv, "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and needle in err.splitlines()[-1]


def test_missing_data_without_download_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = _run(
        [
            "train",
            "--dataset",
            "mnist",
            "--no-download",
            "--data-root",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "run"),
        ],
        capsys,
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnlite: error") and "mnist" in lines[0]
    assert "Traceback" not in err


def test_diverging_run_stops_and_exits_1(tmp_path, capsys):
    code, out, err = _run(_small(tmp_path, "--lr", "1e30", "--activation", "relu", "--optimizer", "sgd"), capsys)
    assert code == 1
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    assert doc["history"]["stopped"] is not None and "stopped" in out


def test_help_documents_the_default_learning_rates(capsys):
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert f"momentum {cli.DEFAULT_LR['momentum']:g}" in flat and "adam 0.001" in flat


def test_no_command_is_a_usage_error(capsys):
    code, _, err = _run([], capsys)
    assert code == 2 and "COMMAND" in err


def test_names_match_the_library():
    from nnlite import layers
    from nnlite.rules import dfa

    assert cli.DATASETS == nnlite.data.KNOWN_DATASETS
    assert cli.INITS == layers.INITS
    assert set(cli.ACTIVATIONS) == set(layers.ACTIVATIONS)
    assert cli.LAYOUTS == dfa.LAYOUTS


# ---------------------------------------------------------------------------------------------------------------
# bench


def test_bench_without_benchmarks_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "checkout_root", lambda: tmp_path)
    code, _, err = _run(["bench", "--quick"], capsys)
    assert code == 2 and "benchmarks" in err and "repository" in err


def test_bench_finds_the_checkout_of_the_editable_install():
    assert cli_bench.checkout_root() == REPO and (REPO / "benchmarks" / "__main__.py").is_file()


def test_bench_passes_the_arguments_through(tmp_path, monkeypatch, capsys):
    """`nnlite bench ARGS` runs `python -m benchmarks ARGS` from the checkout root and returns its exit code."""
    root = tmp_path / "checkout"
    pkg = root / "benchmarks"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import json, os, sys\n"
        "open('calls.json', 'w').write(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd()}))\n"
        "sys.exit(3)\n"
    )
    monkeypatch.setattr(cli_bench, "checkout_root", lambda: root)
    code, _, _ = _run(["bench", "--quick", "--width", "256"], capsys)
    assert code == 3
    call = json.loads((root / "calls.json").read_text())
    assert call["argv"] == ["--quick", "--width", "256"]
    assert Path(call["cwd"]).resolve() == root.resolve()


@pytest.mark.parametrize(
    "argv, hidden, expected",
    [
        ([], [256, 256], 1),  # default: 32 x 256*256 multiply-adds per GEMM
        (["--batch-size", "128"], [800, 800], None),  # 128 x 800*800 > SMALL_GEMM: the BLAS default
        (["--threads", "0"], [256, 256], None),
        (["--threads", "2"], [256, 256], 2),
    ],
)
def test_blas_threads(argv, hidden, expected):
    args = cli.build_parser().parse_args(["train", *argv])
    net = nnlite.mlp([64, *hidden, 10], seed=0)
    assert cli.blas_threads(args, net) == expected


# ---------------------------------------------------------------------------------------------------------------
# sweep, report, reproduce

TINY_SPEC = """
name = "tiny"
title = "A tiny table"
source = "a test"
seeds = [0, 1]

[base]
rule = "dfa"
hidden = [16]
epochs = 1
train_size = 128
final_alignment = 16

[[variation]]
name = "ok"

[[variation]]
name = "too big"
bottleneck = [0, 99]

[paper."ok"]
test_acc = 12.5
"""


def test_sweep_then_report_then_resume(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    out = tmp_path / "res"
    code, stdout, err = _run(["sweep", str(spec), "--out", str(out), "--workers", "2", "--no-progress"], capsys)
    assert code == 1, err  # the 'too big' rows fail (a bottleneck wider than its layer) and say so
    assert "2 ok, 2 failed" in stdout
    records = [json.loads(p.read_text()) for p in out.glob("*.json") if p.name != "spec.json"]
    assert sorted(r["status"] for r in records) == ["failed", "failed", "ok", "ok"]
    assert all("at most 16" in r["error"] for r in records if r["status"] == "failed")
    code, stdout, _ = _run(["report", str(out)], capsys)
    assert code == 0 and (out / "report.md").is_file()
    row = next(line for line in stdout.splitlines() if line.startswith("| ok "))
    assert re.fullmatch(r"\| ok \| 2 \| \d+\.\d\d \(\d+\.\d\d\) \| 12\.50 \|", row), row  # ours, then the paper's
    code, stdout, _ = _run(["sweep", str(spec), "--out", str(out), "--workers", "2", "--no-progress"], capsys)
    assert "4 runs, 2 already done, 2 to run" in stdout  # resume: only the failed ones run again


def test_reproduce_table1_and_unknown_spec(tmp_path, capsys):
    code, stdout, err = _run(["reproduce", "launay-table1", "--out", str(tmp_path / "t1")], capsys)
    assert code == 0, err
    assert "| naive |" in stdout and "55 GB" in stdout
    code, _, err = _run(["reproduce", "launay-table9", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "launay-table2" in err
    code, _, err = _run(["report", str(tmp_path)], capsys)
    assert code == 2 and "spec.json" in err


def test_figures_are_written_atomically(tmp_path, monkeypatch):
    # a failure while writing a figure (a full disk) leaves the earlier good figure, and names what failed
    from nnlite.cli import report

    hist = nnlite.History(
        epoch=[1, 2],
        train_loss=[1.0, 0.5],
        train_acc=[0.5, 0.7],
        test_loss=[1.1, 0.6],
        test_acc=[0.4, 0.6],
        seconds=[0.1, 0.1],
    )
    path = tmp_path / "curves.png"
    report.plot_history(hist, path, 2, "first")
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        report.plot_history(hist, path, 2, "second")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["curves.png"]

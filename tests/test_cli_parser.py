"""The ``nnlite`` command line (nnlite.cli.parser, types, build): errors that are clear (unknown names, bad
sizes, flags that do not apply, missing data, a diverging run), the help text, and names that match the
library's.

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import json

import pytest
from cli_helpers import _run, _small

import nnlite
from nnlite import cli

# BLAS limited to one thread for the whole module, and every test in its own folder (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


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

"""Messages that finish the job: usage errors in one line with a "did you mean", library errors in the command
line's words, derived seeds explained, a class where an instance belongs, own data sets that would train a dead
class or lack a channel axis, and a failed write that names its file."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
from cli_helpers import _run, _small

import nnlite as nn
from nnlite._validation import did_you_mean
from nnlite.training.io import write_json

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--rule", "dfaa"], "did you mean 'dfa'?"),
        (["train", "--dataset", "fmnist"], "did you mean 'fashion-mnist'?"),
        (["train", "--projection", "fastfod", "--rule", "dfa"], "did you mean 'fastfood'?"),
        (["train", "--activation", "tnah"], "did you mean 'tanh'?"),
        (["train", "--optimizer", "adma"], "did you mean 'adam'?"),
        (["trian"], "did you mean 'train'?"),
        (["train", "--rulee", "dfa"], "did you mean '--rule'?"),
        (["reproduce", "launay-tabel2"], "did you mean 'launay-table2'?"),
        (["sweep", "launay-tabel2", "--dry-run"], "did you mean 'launay-table2'?"),
    ],
)
def test_usage_errors_are_one_line_with_a_suggestion(argv, needle, capsys):
    code, out, err = _run(argv, capsys)
    assert code in (1, 2)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no usage block before the error
    assert needle in lines[0] and "error" in lines[0]


def test_no_suggestion_for_a_name_close_to_nothing():
    assert did_you_mean("zzzzqqq", ["bp", "dfa"]) == ""
    assert did_you_mean("DFA", ["bp", "dfa"]) == " (did you mean 'dfa'?)"


def test_offline_data_error_names_the_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = _run(["train", "--dataset", "mnist", "--no-download", "--out", str(tmp_path / "r")], capsys)
    assert code == 1
    assert "--data-root" in err and "--no-download" in err and "root=" not in err and "download=False" not in err


def test_derived_seeds_are_explained(tmp_path, capsys):
    code, out, _ = _run(_small(tmp_path, "--rule", "dfa", "--seed", "0", epochs=1), capsys)
    assert code == 0
    line = next(l for l in out.splitlines() if l.strip().startswith("seeds"))
    rule_line = next(l for l in out.splitlines() if l.strip().startswith("rule"))
    feedback = int(line.split("feedback ")[1].split(",")[0])
    assert f"seed={feedback}" in rule_line and "drawn from --seed 0" in line


def test_compare_shows_each_rules_threads(tmp_path, capsys):
    argv = ["compare", "--rules", "bp,dfa", "--epochs", "1", "--train-size", "320", "--no-progress"]
    code, out, _ = _run([*argv, "--threads", "1", "--out", str(tmp_path / "c")], capsys)
    assert code == 0
    table = out[out.index("summary") :].splitlines()
    header = table[1].split()
    col = header.index("threads") - 1  # "test acc" is two words
    rows = {l.split()[0]: l.split() for l in table[3:5]}
    assert rows["bp"][col] == "1" and rows["dfa"][col] == "1"
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert doc["rules"]["dfa"]["blas_threads"] == [1]


@pytest.mark.parametrize(("what", "value"), [("rule", nn.DFA), ("optimizer", nn.SGD), ("net", nn.Sequential)])
def test_a_class_where_an_instance_belongs_is_a_type_error(what, value):
    args = {"net": nn.mlp([4, 3, 2], seed=0), "rule": nn.DFA(seed=1), "optimizer": nn.SGD(0.1)}
    args[what] = value
    x, y = np.zeros((4, 4), np.float32), np.zeros(4, np.int64)
    with pytest.raises(TypeError, match=f"{what} must be an instance, got the class {value.__name__}"):
        nn.fit(args["net"], args["rule"], nn.softmax_cross_entropy, args["optimizer"], (x, y))


def _npz(path, x_train, y_train, x_test=None, y_test=None):
    np.savez(
        path,
        x_train=x_train,
        y_train=y_train,
        x_test=x_train if x_test is None else x_test,
        y_test=y_train if y_test is None else y_test,
    )
    return path


def test_labels_that_skip_a_class_are_refused(tmp_path):
    x = np.random.default_rng(0).random((8, 5)).astype(np.float32)
    path = _npz(tmp_path / "d.npz", x, np.array([1, 2, 3, 4] * 2))
    with pytest.raises(ValueError, match=r"5 classes, but class 0 never appears.*use y - 1"):
        nn.data.load(str(path))
    path = _npz(tmp_path / "e.npz", x, np.array([0, 1, 3, 0] * 2))
    with pytest.raises(ValueError, match="class 2 never appears"):
        nn.data.load(str(path))
    ok = nn.data.load(str(_npz(tmp_path / "f.npz", x, np.array([0, 1, 2, 3] * 2))))
    assert ok.n_classes == 4


def test_grayscale_without_a_channel_axis_gets_the_fix(tmp_path):
    x = np.zeros((4, 6, 6), np.uint8)
    path = _npz(tmp_path / "g.npz", x, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"x_train\[:, None\]"):
        nn.data.load(str(path))
    net = nn.cnn((1, 8, 8), 2, seed=0)
    with pytest.raises(ValueError, match=r"x\[:, None\]"):
        net.forward(np.zeros((2, 8, 8), np.float32))


def test_a_failed_write_names_the_file(tmp_path, monkeypatch, capsys):
    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "out.json"
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as info:
        write_json(target, {"a": 1})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert not target.exists() and os.listdir(tmp_path) == []  # no temporary file left behind
    code, _, err = _run(_small(tmp_path, epochs=1), capsys)
    assert code == 1 and "No space left on device" in err and "history.json" in err

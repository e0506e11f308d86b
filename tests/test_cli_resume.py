"""``nnlite train`` under Ctrl-C: a real SIGINT between epochs keeps what finished, ``--resume`` continues it to the
same result as an uninterrupted run; ``--out`` is checked before training; ``compare`` keeps finished rules."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nnlite.cli import main

ARGS = ["--hidden", "512x3", "--rule", "dfa", "--dropout", "0.1", "--batch-norm", "--threads", "1", "--no-progress"]


def _nnlite(*argv):
    return [sys.executable, "-m", "nnlite", *argv]


def _epochs_done(path):
    try:
        return len(json.loads(path.read_text())["history"]["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "extra.train.state"}, json.loads(str(f["extra.train.state"]))


def test_sigint_then_resume_equals_an_uninterrupted_run(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    subprocess.run(_nnlite("train", *ARGS, "--epochs", "5", "--out", str(full)), check=True, capture_output=True)

    # SIGINT back to its default in the child: a runner that starts the tests in the background (nohup ... &)
    # hands them SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    proc = subprocess.Popen(
        _nnlite("train", *ARGS, "--epochs", "5", "--out", str(cut)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while _epochs_done(cut / "history.json") < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    k = _epochs_done(cut / "history.json")
    assert 2 <= k < 5, out  # it stopped in the middle, and kept what finished
    assert f"epochs up to {k} kept in {cut}" in out and f"nnlite train --resume {cut}" in out
    assert (cut / "curves.png").is_file()
    _, state = _arrays(cut / "model.npz")
    assert state["epoch"] == k

    r = subprocess.run(_nnlite("train", "--resume", str(cut)), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming" in r.stdout
    a, sa = _arrays(full / "model.npz")
    b, sb = _arrays(cut / "model.npz")
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    ha, hb = (json.loads((d / "history.json").read_text())["history"] for d in (full, cut))
    for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc"):
        assert ha[key] == hb[key], key
    assert sa["step"] == sb["step"]


def test_resume_refuses_a_changed_flag(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "continues the run as it was started; remove --lr 0.5 (the run used 0.02)" in err
    # --epochs may grow: the run trains on
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    assert json.loads((out / "history.json").read_text())["history"]["epoch"] == [1, 2]


def test_resume_needs_a_train_run(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no history.json there" in capsys.readouterr().err
    (tmp_path / "history.json").write_text("{not json")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "is not an nnlite train history" in capsys.readouterr().err


def test_a_non_empty_out_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", "--epochs", "1", "--no-progress", "--out", str(out)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["compare", "--rules", "bp", "--epochs", "1", "--no-progress", "--out", str(out)]) == 2
    assert main(["train", "--epochs", "1", "--no-progress", "--out", str(out), "--force"]) == 0
    assert (out / "model.npz").is_file()


def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--epochs", "1", "--no-progress", "--out", ""]) == 2
    assert "--out must name a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_out_is_refused_before_any_data_is_loaded(tmp_path, capsys, monkeypatch):
    import nnlite.cli.compare
    import nnlite.cli.train

    def no_data(*a, **k):
        raise AssertionError("data loaded before --out was checked")

    monkeypatch.setattr(nnlite.cli.train, "build", no_data)  # builds the run from its data
    monkeypatch.setattr(nnlite.cli.compare, "load_data", no_data)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for cmd in (["train"], ["compare", "--rules", "bp"]):
        assert main([*cmd, "--epochs", "1", "--no-progress", "--out", str(blocker / "sub")]) == 1
        assert f"cannot write into {blocker / 'sub'}" in capsys.readouterr().err


def test_compare_keeps_each_rule_as_it_finishes(tmp_path, monkeypatch, capsys):
    import nnlite.cli.compare as compare

    real = compare.fit_config
    calls = []

    def fit_then_interrupt(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(compare, "fit_config", fit_then_interrupt)
    out = tmp_path / "cmp"
    assert main(["compare", "--rules", "bp,fa,dfa", "--epochs", "1", "--no-progress", "--out", str(out)]) == 130
    doc = json.loads((out / "compare.json").read_text())
    assert sorted(doc["rules"]) == ["bp", "fa"] and doc["config"]["finished"] == ["bp", "fa"]
    assert "interrupted during dfa: bp, fa finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "--seed"),
        (["--model", "cnn", "--kernel-size", "4"], "--kernel-size"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "-3"], "--batch-size"),
        (["--lr", "nan"], "--lr"),
        (["--dropout", "1.5"], "--dropout"),
        (["--hidden", "0"], "--hidden"),
        (["--hidden", "99999999999"], "--hidden"),
        (["--threads", "-2"], "--threads"),
        (["--bottleneck", "1:x"], "--bottleneck"),
        (["--rule", "nope"], "--rule"),
    ],
)
def test_bad_flag_values_exit_2_naming_the_flag(argv, flag, capsys, tmp_path):
    assert main(["train", "--no-progress", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err, err


def test_version(capsys):
    import nnlite

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"nnlite {nnlite.__version__}"


def test_ctrl_c_between_the_checkpoint_and_history_json_reports_the_checkpoint(tmp_path, monkeypatch, capsys):
    # Ctrl-C after fit wrote model.npz for epoch 2 but before the CLI wrote history.json for it: the message and
    # history.json must say what --resume will continue from (the checkpoint), not the epoch before.
    import nnlite.cli.report as report

    real, calls = report.write_history, []

    def interrupted_once(*a, **k):
        calls.append(1)
        if len(calls) == 3:  # the configuration, epoch 1, then epoch 2's write is where Ctrl-C lands
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(report, "write_history", interrupted_once)
    out = tmp_path / "run"
    assert main(["train", "--epochs", "4", "--no-progress", "--out", str(out)]) == 130
    assert "interrupted: epochs up to 2 kept in" in capsys.readouterr().out
    assert json.loads((out / "history.json").read_text())["history"]["epoch"] == [1, 2]
    _, state = _arrays(out / "model.npz")
    assert state["epoch"] == 2

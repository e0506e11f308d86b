"""``--threads auto`` decides one BLAS thread count per run: before the first epoch, said once, recorded in
``history.json``; ``--resume`` applies the recorded count without measuring, so an interrupted and resumed run
under ``auto`` is the uninterrupted one, bit for bit. The measurement is a stand-in that answers 2 threads the
first time and 1 thread after that (as a machine that became busy would), so no timing decides these tests."""

import json

import numpy as np
import pytest

import nnlite.cli.report as report
import nnlite.config.builders as builders
from nnlite.cli import main
from nnlite.runtime import autothreads as T
from nnlite.runtime.threads import blas_threads_now

# A network large enough for auto to measure (batch x largest weight matrix above SMALL_GEMM multiply-adds).
ARGS = ["--hidden", "512x2", "--batch-size", "64", "--rule", "dfa", "--threads", "auto", "--no-progress"]


@pytest.fixture
def machine(monkeypatch):
    """Two idle, usable cores; the first measurement prefers 2 threads, every later one 1 thread. Records the
    BLAS thread count in force at the end of each epoch."""
    decisions, per_epoch = [], []

    def calibrate(step, many, **kw):
        decisions.append(many)
        return (2 if len(decisions) == 1 else 1), {1: 1.0, 2: 0.5}

    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 2.0)
    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    monkeypatch.setattr(T, "blas_threads_now", lambda: 2)
    monkeypatch.setattr(T, "calibrate", calibrate)
    real_fit = builders.fit

    def fit(*a, callback=None, **k):
        def each(hist):
            per_epoch.append(blas_threads_now())
            if callback is not None:
                callback(hist)

        return real_fit(*a, callback=each, **k)

    monkeypatch.setattr(builders, "fit", fit)

    def reset():
        decisions.clear()
        per_epoch.clear()

    return decisions, per_epoch, reset


def _arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "extra.train.state"}


def _history(folder):
    return json.loads((folder / "history.json").read_text())


def test_auto_decides_once_and_says_it_once(machine, tmp_path, capsys):
    decisions, per_epoch, _ = machine
    assert main(["train", *ARGS, "--epochs", "3", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert decisions == [2]  # measured once, before the first epoch
    assert per_epoch == [2, 2, 2]  # and kept to the end
    assert out.count("threads auto") == 1 and "threads auto (start): 2 BLAS threads" in out
    assert _history(tmp_path / "run")["config"]["blas_threads_chosen"] == 2


def test_interrupted_and_resumed_under_auto_equals_uninterrupted(machine, tmp_path, monkeypatch, capsys):
    decisions, per_epoch, reset = machine
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(["train", *ARGS, "--epochs", "4", "--out", str(full)]) == 0
    assert per_epoch == [2, 2, 2, 2]

    reset()
    real, calls = report.write_history, []

    def interrupted_after_epoch_2(*a, **k):
        calls.append(1)
        if len(calls) == 3:  # the configuration, epoch 1, then Ctrl-C as epoch 2's history is written
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(report, "write_history", interrupted_after_epoch_2)
    assert main(["train", *ARGS, "--epochs", "4", "--out", str(cut)]) == 130
    monkeypatch.setattr(report, "write_history", real)
    assert decisions == [2] and _history(cut)["config"]["blas_threads_chosen"] == 2

    # The machine is now "busy" (a new measurement would answer 1 thread): the resume applies the recorded 2.
    capsys.readouterr()
    assert main(["train", "--resume", str(cut)]) == 0
    out = capsys.readouterr().out
    assert decisions == [2], "the resumed run measured again instead of reusing the recorded count"
    assert per_epoch == [2, 2, 2, 2]
    assert "threads auto (resumed): 2 BLAS threads (as the run recorded)" in out
    a, b = _arrays(full / "model.npz"), _arrays(cut / "model.npz")
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    ha, hb = _history(full)["history"], _history(cut)["history"]
    for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc"):
        assert ha[key] == hb[key], key
    assert _history(cut)["config"]["blas_threads_chosen"] == 2


def test_a_resumed_start_applies_the_recorded_count_without_measuring(monkeypatch, capsys):
    made = []
    auto = T.AutoThreads(lambda: made.append(1) or (lambda: None))
    assert auto.start(chosen=1) == 1 and blas_threads_now() == 1 and made == []
    assert "threads auto (resumed): 1 BLAS thread (as the run recorded)" in capsys.readouterr().out
    auto.stop()

"""The ``nnlite sweep``, ``report`` and ``reproduce`` commands (nnlite.cli.sweep, nnlite.cli.report), and the
figures written atomically.

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import json
import os
import re

import pytest
from cli_helpers import _run

import nnlite

# BLAS limited to one thread for the whole module, and every test in its own folder (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


# ---------------------------------------------------------------------------------------------------------------
# sweep, report, reproduce

TINY_SPEC = """
name = "tiny"
title = "A tiny table"
source = "a test"
seeds = [0, 1]

[base]  # a row that trains (68 % test accuracy): the report tabulates it
rule = "dfa"
hidden = [16]
epochs = 5
batch_size = 16
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

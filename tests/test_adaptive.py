"""Deciding findings (nnlite.experiments.power, adaptive, normalization; ``reproduce --until-decided``, ``--rows``,
``--findings``): the seeds a verdict needs, looks planned before the first run and tested at a corrected level,
seeds added only to the rows an undecided finding reads, and a reading's input normalisation on any data set."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from cli_helpers import _run

distributed = pytest.importorskip("distributed")

from nnlite.experiments import records as records_module  # noqa: E402
from nnlite.experiments.adaptive import next_runs, plan_looks, read_design, write_design  # noqa: E402
from nnlite.experiments.findings import ALPHA, Finding  # noqa: E402
from nnlite.experiments.power import evaluate, seeds_needed  # noqa: E402

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread")


def test_looks_double_from_the_first_seeds_up_to_the_cap():
    assert plan_looks(3, 20) == [3, 6, 12, 20]
    assert plan_looks(2, 2) == [2] and plan_looks(1, 3) == [1, 2, 3]
    with pytest.raises(ValueError, match="at least the seeds the spec starts with"):
        plan_looks(5, 4)


def test_the_seed_count_matches_the_textbook_and_grows_as_the_effect_shrinks():
    # d = 1, one-sided alpha 0.05, power 0.8: 13 a group for the two-sample t-test (Cohen's tables)
    a = np.array([1.0, -1.0, 1.0, -1.0]) / math.sqrt(4 / 3)  # mean 0, standard deviation 1 (ddof 1)
    n = seeds_needed(a, a - 1.0, alpha=0.05)
    assert n in (13, 14)
    counts = [seeds_needed([e + 0.1, e - 0.1, e], [0.1, -0.1, 0.0], alpha=0.05) for e in (0.5, 0.2, 0.1)]
    assert counts[0] < counts[1] < counts[2]
    assert seeds_needed([0.1, -0.1], [0.1, -0.1], alpha=0.05) is None  # no effect: no count decides it
    assert seeds_needed([1.0, 1.2, 0.8], [0.9, 1.1, 1.0], alpha=0.05, cap=10) is None  # beyond the cap
    strict = seeds_needed([1.0, 1.2, 0.8], [0.5, 0.7, 0.3], alpha=0.0125)
    assert strict > seeds_needed([1.0, 1.2, 0.8], [0.5, 0.7, 0.3], alpha=0.05)


def _record(row, seed, acc, steps=10):
    result = {"test_acc": acc, "train_acc": acc, "best_test_acc": acc, "final_alignment": None, "steps": steps}
    return {"variation": row, "seed": seed, "status": "ok", "result": result}


def test_an_undecided_verdict_says_what_would_decide_it():
    f = Finding(claim="a beats b", metric="test_acc", test="a > b", a="a", b="b")
    values = {"a": [0.61, 0.63, 0.59], "b": [0.59, 0.62, 0.60]}  # means 0.610 and 0.603, spreads 0.02 and 0.015
    recs = [_record(r, s, v) for r in "ab" for s, v in enumerate(values[r])]
    out = evaluate(f, recs)
    assert out["verdict"] == "inconclusive" and out["to_decide"]["kind"] in ("seeds", "noise")
    assert out["to_decide"]["rows"] == ["a", "b"] and "has 3" in out["to_decide"]["text"]
    out = evaluate(f, recs, untrained=["b"])
    assert out["to_decide"]["kind"] == "steps" and "b (10 steps) did not train" in out["to_decide"]["text"]
    only_b = evaluate(f, [r for r in recs if r["variation"] == "b"])["to_decide"]
    assert only_b["kind"] == "runs" and "has 0 finished run(s)" in only_b["text"]  # runs first, not a power figure
    decided = [_record("a", s, 0.9 + 0.001 * s) for s in range(3)] + [
        _record("b", s, 0.5 + 0.001 * s) for s in range(3)
    ]
    assert "to_decide" not in evaluate(f, decided)


def test_next_runs_add_seeds_only_to_the_rows_undecided_findings_read():
    results = [
        {"verdict": "inconclusive", "reading": None, "to_decide": {"kind": "seeds", "rows": ["c", "d"], "seeds": 9}},
        {"verdict": "holds", "reading": None},
        {"verdict": "inconclusive", "reading": None, "to_decide": {"kind": "steps", "rows": ["e"], "seeds": None}},
    ]
    recs = [_record(r, s, 0.5) for r in "abcde" for s in (0, 1)]

    def make_runs(seeds):
        return [{"variation": r, "seed": s, "options": {"seed": s}} for r in "abcde" for s in seeds]

    runs = next_runs(results, recs, 4, make_runs)
    assert sorted((r["variation"], r["seed"]) for r in runs) == [("c", 2), ("c", 3), ("d", 2), ("d", 3)]


def test_a_tampered_design_cannot_lower_the_bar(tmp_path):
    design = write_design(tmp_path, [2, 4, 8], 2)
    assert design["alpha"] == pytest.approx(ALPHA / 3)
    doc = json.loads((tmp_path / "design.json").read_text())
    doc["alpha"] = 0.5
    (tmp_path / "design.json").write_text(json.dumps(doc))
    assert read_design(tmp_path)["alpha"] == pytest.approx(ALPHA / 3)  # computed from the looks, never read
    (tmp_path / "design.json").write_text(json.dumps({**doc, "looks": [4, 2]}))
    with pytest.raises(ValueError, match="not an adaptive design"):
        read_design(tmp_path)


# -- reproduce --until-decided on a synthetic spec -------------------------------------------------------------
SYNTHETIC = """
name = "synthetic"
title = "Two findings: one decided by two seeds, one that needs more"
seeds = [0, 1]

[base]
hidden = [4]
epochs = 1
batch_size = 16
train_size = 32
final_alignment = 0

[[variation]]
name = "a"
lr = 0.95
[[variation]]
name = "b"
lr = 0.25
[[variation]]
name = "c"
lr = 0.60
[[variation]]
name = "d"
lr = 0.55

[[finding]]
claim = "a beats b by far"
metric = "test_acc"
test = "a > b"
a = "a"
b = "b"

[[finding]]
claim = "c beats d by a little"
metric = "test_acc"
test = "a > b"
a = "c"
b = "d"
"""


def _fake_run(options):
    """A run whose test accuracy is its row's ``lr`` plus noise of sd 0.03, the same for the same seed and row."""
    z = np.random.default_rng([int(options["seed"]), int(options["lr"] * 100)]).standard_normal()
    acc = float(options["lr"]) + 0.03 * z
    return {"options": dict(options), "test_acc": acc, "train_acc": acc, "best_test_acc": acc, "n_classes": 10,
            "steps": 2, "final_alignment": None, "history": {}}  # fmt: skip


def _records(folder):
    return [json.loads(p.read_text()) for p in folder.glob("*.json") if re.fullmatch(r"[0-9a-f]{16}\.json", p.name)]


@pytest.fixture(scope="module")
def in_process_scheduler():
    """A cluster whose worker runs in this process, so the synthetic run below stands in for a real one."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c.scheduler_address


def test_until_decided_adds_seeds_to_the_undecided_rows_only_and_stops(
    tmp_path, capsys, monkeypatch, in_process_scheduler
):
    monkeypatch.setattr(records_module, "run", _fake_run)
    spec = tmp_path / "synthetic.toml"
    spec.write_text(SYNTHETIC)
    out = tmp_path / "res"
    argv = ["reproduce", str(spec), "--out", str(out), "--scheduler", in_process_scheduler, "--no-progress"]
    code, stdout, err = _run([*argv, "--until-decided", "--max-seeds", "16"], capsys)
    assert code == 0, err
    recs = _records(out)
    seeds = {row: sorted(r["seed"] for r in recs if r["variation"] == row) for row in "abcd"}
    assert seeds["a"] == seeds["b"] == [0, 1]  # decided at the first look: never more seeds
    n = len(seeds["c"])
    assert seeds["c"] == seeds["d"] == list(range(n)) and n in (4, 8, 16)
    report = json.loads((out / "report.json").read_text())
    assert report["design"] == {"kind": "adaptive", "looks": [2, 4, 8, 16], "look": [2, 4, 8, 16].index(n) + 1,
                                "alpha": ALPHA / 4}  # fmt: skip
    verdicts = {f["claim"]: f for f in report["findings"]}
    assert verdicts["a beats b by far"]["verdict"] == "holds"
    little = verdicts["c beats d by a little"]
    assert little["alpha"] == ALPHA / 4
    assert little["verdict"] != "inconclusive" or n == 16  # it stops when decided, or at the cap
    if n < 16:  # decided before the cap: nothing ran past that look
        assert f"look {[2, 4, 8, 16].index(n) + 2} of 4" not in stdout
    assert "Seeds added adaptively" in (out / "report.md").read_text()


def test_rows_and_findings_select_the_runs_a_check_needs(tmp_path, capsys, monkeypatch, in_process_scheduler):
    monkeypatch.setattr(records_module, "run", _fake_run)
    spec = tmp_path / "synthetic.toml"
    spec.write_text(SYNTHETIC)
    base = ["sweep", str(spec), "--scheduler", in_process_scheduler, "--no-progress"]
    code, _, err = _run([*base, "--out", str(tmp_path / "f"), "--findings", "2"], capsys)
    assert code == 0, err
    rows = {r["variation"] for r in _records(tmp_path / "f")}
    assert rows == {"c", "d"}
    code, _, err = _run([*base, "--out", str(tmp_path / "f"), "--rows", "a"], capsys)  # the same experiment
    assert code == 0, err
    assert len(_records(tmp_path / "f")) == 6
    code, _, err = _run([*base, "--out", str(tmp_path / "g"), "--rows", "e"], capsys)
    assert code == 2 and "has no row 'e'" in err
    code, _, err = _run([*base, "--out", str(tmp_path / "g"), "--findings", "3"], capsys)
    assert code == 2 and "--findings takes numbers from 1 to 2" in err


def test_readings_select_the_runs_of_one_reading(tmp_path, capsys, monkeypatch, in_process_scheduler):
    monkeypatch.setattr(records_module, "run", _fake_run)
    spec = tmp_path / "synthetic.toml"
    spec.write_text(SYNTHETIC + '\n[reading."as written"]\nmomentum = 0.5\n[reading."as run"]\nmomentum = 0.9\n')
    base = ["sweep", str(spec), "--scheduler", in_process_scheduler, "--no-progress"]
    code, _, err = _run([*base, "--out", str(tmp_path / "f"), "--readings", "as run", "--rows", "a,b"], capsys)
    assert code == 0, err
    assert {r["variation"] for r in _records(tmp_path / "f")} == {"a [as run]", "b [as run]"}
    code, _, err = _run([*base, "--out", str(tmp_path / "g"), "--readings", "as rn"], capsys)
    assert code == 2 and "has no reading 'as rn' (its readings: as written, as run)" in err


# -- one reading, every data set ----------------------------------------------------------------------------------
def test_a_reading_normalises_an_npz_with_its_own_statistics_and_reports_them(tmp_path, capsys, monkeypatch):
    from nnlite.experiments.spec import expand, load_spec_text

    x = np.random.default_rng(0).random((60, 1, 4, 4), dtype=np.float32) * 0.5 + 0.4
    y = np.arange(60) % 3
    data = tmp_path / "mine.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x[:12], y_test=y[:12])
    text = SYNTHETIC.replace("seeds = [0, 1]", "seeds = [0]").split("[[variation]]")[0]
    text += '[reading."as run"]\ninput_mean = [0.4914, 0.4822, 0.4465]\ninput_std = [0.2023, 0.1994, 0.2010]\n'
    text += '[reading."plain"]\nlr = 0.1\n'
    spec = load_spec_text(text, "s.toml")
    runs = expand(spec, dataset=str(data))
    mean, std = float(x.mean()), float(x.std())
    ran = next(r["options"] for r in runs if r["variation"].endswith("[as run]"))
    assert ran["input_mean"] == [round(mean, 4)] and ran["input_std"] == [round(std, 4)]
    assert "input_mean" not in next(r["options"] for r in runs if r["variation"].endswith("[plain]"))
    assert math.isclose(ran["input_mean"][0], 0.65, abs_tol=0.02)  # x in [0.4, 0.9]: nothing like CIFAR-10's
    on_fmnist = expand(spec, dataset="fashion-mnist")
    assert next(r["options"] for r in on_fmnist if "[as run]" in r["variation"])["input_std"] == [0.353]
    # the report's Readings section prints what ran and where it came from
    from nnlite.experiments.report import sources_markdown

    recs = [{"variation": r["variation"], "options": r["options"]} for r in runs]
    text = sources_markdown(spec, recs)
    assert f"input_mean = [{round(mean, 4)}]" in text and "mine.npz's own training set" in text
    assert "0.4914" not in text


def test_a_spec_run_on_an_npz_records_and_reports_the_constants_that_ran(tmp_path, capsys, in_process_scheduler):
    x = np.random.default_rng(1).random((64, 6), dtype=np.float32) * 0.5 + 0.4
    y = np.arange(64) % 2
    data = tmp_path / "own.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x[:16], y_test=y[:16])
    text = SYNTHETIC.replace("seeds = [0, 1]", "seeds = [0]").split("[[variation]]")[0]
    text += '[reading."as run"]\ninput_mean = [0.4914, 0.4822, 0.4465]\ninput_std = [0.2023, 0.1994, 0.2010]\n'
    spec = tmp_path / "npz.toml"
    spec.write_text(text)
    out = tmp_path / "res"
    argv = ["reproduce", str(spec), "--dataset", str(data), "--out", str(out), "--scheduler", in_process_scheduler]
    code, stdout, err = _run([*argv, "--no-progress"], capsys)
    assert code == 0, err
    (record,) = _records(out)
    assert record["status"] == "ok", record.get("error")
    assert record["options"]["input_mean"] == [round(float(x.mean()), 4)]
    assert record["options"]["input_std"] == [round(float(x.std()), 4)]
    readings = (out / "report.md").read_text().split("## Readings")[1]
    assert f"input_mean = [{round(float(x.mean()), 4)}]" in readings and "own.npz's own training set" in readings
    assert "0.4914" not in readings

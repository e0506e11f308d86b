"""What a report says so that it can be trusted without checking by hand (nnlite.experiments.quality): rows that
did not train flagged by the stated rule (on known numbers), failed runs counted per reason, damaged run files
skipped, and the train-accuracy column's meaning."""

import json
import textwrap

from nnlite.experiments.quality import CHANCE_MARGIN, row_quality
from nnlite.experiments.records import check_runs, seal
from nnlite.experiments.report import aggregate, markdown, write_report
from nnlite.experiments.spec import load_spec
from nnlite.training.io import write_json

SPEC = """
name = "q"
title = "A quality table"
source = "nowhere"
seeds = [0, 1]

[base]
rule = "dfa"
hidden = [8, 8]
epochs = 1
train_size = 64
{extra}

[report]
columns = ["test_acc", "train_acc", "cos"]

[[variation]]
name = "trains"

[[variation]]
name = "chance"

[[variation]]
name = "unaligned"

[[variation]]
name = "broken"
"""


def _spec(tmp_path, extra=""):
    p = tmp_path / "q.toml"
    p.write_text(textwrap.dedent(SPEC.format(extra=extra)))
    return load_spec(p)


def _record(variation, seed, test_acc, cos=(0.5, 0.4), std=(0.2, 0.2), n=128, error=None):
    options = {"rule": "dfa", "dataset": "digits", "seed": seed, "variation": variation}
    ((key, r),) = check_runs([{"variation": variation, "seed": seed, "options": options}])
    fa = {"signal_cos": list(cos), "signal_cos_std": list(std), "update_cos": [1.0], "n_samples": n}
    result = {"test_acc": test_acc, "train_acc": test_acc, "final_alignment": fa}
    return seal(
        {
            "key": key,
            **r,
            "status": "failed" if error else "ok",
            "result": None if error else result,
            "error": error,
            "started": None,
            "finished": None,
        }
    )


def _records():
    se = 2 * 0.2 / 128**0.5  # two standard errors of a cos with std 0.2 over 128 samples: 0.0354
    return [
        _record("trains", 0, 0.80),
        _record("trains", 1, 0.90, cos=(0.03, 0.5)),  # the best run: one layer within noise is fine
        _record("chance", 0, 0.10 + (CHANCE_MARGIN - 1) / 100),  # 14 %: within 5 points of 10 %
        _record("chance", 1, 0.12),
        _record("unaligned", 0, 0.70, cos=(se * 0.9, -se * 0.9)),  # every hidden layer within noise of 0
        _record("broken", 0, None, error="DataNotFoundError: cifar10: files not found\n  Looked in: ..."),
        _record("broken", 1, None, error="DataNotFoundError: cifar10: files not found\n  Looked in: ..."),
    ]


def test_rows_that_did_not_train_are_flagged_by_the_stated_rule(tmp_path):
    spec = _spec(tmp_path)
    rows = {r["variation"]: r for r in aggregate(spec, _records())}
    assert rows["trains"]["did_not_train"] is None
    assert rows["chance"]["did_not_train"] == "test accuracy 13.0 % is below chance + 5 points (15.0 %)"
    assert rows["unaligned"]["did_not_train"].startswith("every hidden alignment is within noise of 0")
    assert rows["broken"]["failures"] == {"DataNotFoundError: cifar10: files not found": 2}
    # just above the thresholds: not flagged
    assert row_quality([_record("x", 0, 0.151)], {"test_acc": 15.1, "best_seed": 0})["did_not_train"] is None
    edge = _record("x", 0, 0.9, cos=(0.036, 0.036))
    assert row_quality([edge], {"test_acc": 90.0, "best_seed": 0})["did_not_train"] is None
    # BP aligns with itself: never flagged on alignment
    bp = _record("x", 0, 0.9, cos=(0.0, 0.0))
    bp["options"]["rule"] = "bp"
    assert row_quality([bp], {"test_acc": 90.0, "best_seed": 0})["did_not_train"] is None


def test_the_markdown_flags_instead_of_tabulating_and_counts_failures(tmp_path):
    spec = _spec(tmp_path, extra="dropout = 0.1")
    text = markdown(spec, aggregate(spec, _records()))
    table = [line for line in text.splitlines() if line.startswith("| ")]
    chance = next(line for line in table if line.startswith("| chance † "))
    assert "13." not in chance and chance.count("—") >= 3  # its numbers are not in the table
    assert next(line for line in table if line.startswith("| trains |")).count("85.00") == 2
    assert "- chance: test accuracy 13.0 % is below chance + 5 points (15.0 %)" in text
    assert "- unaligned: every hidden alignment is within noise of 0" in text
    assert "- 2 × DataNotFoundError: cifar10: files not found (broken)" in text
    assert "train acc % is measured on the training batches as they are trained with dropout on" in text
    assert "dropout on" not in markdown(_spec(tmp_path), aggregate(spec, _records()))


def test_write_report_skips_damaged_files_and_says_so(tmp_path):
    spec = _spec(tmp_path)
    records = _records()
    for r in records:
        write_json(tmp_path / f"{r['key']}.json", r)
    edited = tmp_path / f"{records[0]['key']}.json"
    doc = json.loads(edited.read_text())
    doc["result"]["test_acc"] = 0.99
    edited.write_text(json.dumps(doc))
    text = write_report(spec, tmp_path)
    assert f"- {edited.name}: checksum mismatch: the file was edited or damaged" in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["skipped"] == [{"file": edited.name, "reason": "checksum mismatch: the file was edited or damaged"}]
    trains = next(r for r in report["rows"] if r["variation"] == "trains")
    assert trains["n_ok"] == 1 and trains["test_acc"] == 90.0  # the edited 99 % is not aggregated
    assert next(r for r in report["rows"] if r["variation"] == "chance")["did_not_train"]


def test_a_diverged_run_with_nan_alignment_is_flagged_not_a_crash():
    # NaN cosines are stored as null: the report once failed with "float * NoneType" on them
    nan = _record("x", 0, 0.9, cos=(0.1, 0.2))
    fa = nan["result"]["final_alignment"]
    fa["signal_cos"], fa["signal_cos_std"] = [None, None], [None, None]
    why = row_quality([nan], {"test_acc": 90.0, "best_seed": 0})["did_not_train"]
    assert why == "the hidden alignment is not a number at every layer (the run diverged)"
    partial = _record("x", 0, 0.9, cos=(0.1, 0.2))
    partial["result"]["final_alignment"]["signal_cos_std"] = [None, 0.2]
    assert row_quality([partial], {"test_acc": 90.0, "best_seed": 0})["did_not_train"] is None

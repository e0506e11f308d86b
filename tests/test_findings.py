"""Findings (nnlite.experiments.findings): a paper's claims as conditions over seeds, each given a verdict — on
known numbers, where the answer is certain — and specs with readings, findings and per-rule learning rates."""

import textwrap

import pytest

from nnlite.experiments.findings import Finding, evaluate, findings_markdown, parse_findings, seed_values, verdicts
from nnlite.experiments.spec import SpecError, expand, load_spec


def _record(row, seed, acc, cos=None):
    fa = None if cos is None else {"signal_cos": cos, "readout_acc": [0.5] * len(cos), "error_angle": [30.0] * len(cos)}
    return {"variation": row, "seed": seed, "status": "ok", "result": {"test_acc": acc, "final_alignment": fa}}


def _rows(row, accs, cos=None):
    return [_record(row, i, a, None if cos is None else cos[i]) for i, a in enumerate(accs)]


def test_seed_values_reads_accuracy_in_percent_and_alignment_per_layer():
    recs = _rows("a", [0.5, 0.6], cos=[[0.1, 0.3], [0.2, 0.5]]) + [{"variation": "a", "seed": 9, "status": "failed"}]
    assert seed_values(recs, "a", "test_acc", None) == [50.0, 60.0]
    assert seed_values(recs, "a", "cos", 1) == [0.3, 0.5]
    assert seed_values(recs, "a", "cos", "mean") == pytest.approx([0.2, 0.35])


@pytest.mark.parametrize(
    "a, b, verdict",
    [
        ([0.80, 0.81, 0.79, 0.80], [0.60, 0.61, 0.59, 0.62], "holds"),  # a > b by 20 points, spread 1 point
        ([0.60, 0.61, 0.59, 0.62], [0.80, 0.81, 0.79, 0.80], "does not hold"),  # the opposite, as clearly
        ([0.70, 0.60, 0.80, 0.65], [0.68, 0.75, 0.62, 0.70], "inconclusive"),  # means close, spread large
        ([0.80], [0.60], "inconclusive"),  # one seed a row: no test
    ],
)
def test_a_comparison_gets_the_verdict_the_numbers_give(a, b, verdict):
    f = Finding(claim="a beats b", metric="test_acc", test="a > b", a="A", b="B")
    result = evaluate(f, _rows("A", a) + _rows("B", b))
    assert result["verdict"] == verdict
    part = result["parts"][0]
    assert part["a"]["n"] == len(a) and part["b"]["mean"] == pytest.approx(100 * sum(b) / len(b))


def test_a_factor_and_per_layer_conditions():
    # "ReLU fails to align near the output: cos(relu, layer 2) < 0.5 cos(norm, layer 2)"
    relu = _rows(
        "relu", [0.4] * 4, cos=[[0.60, 0.38, 0.05], [0.61, 0.36, 0.07], [0.59, 0.37, 0.06], [0.60, 0.39, 0.04]]
    )
    norm = _rows(
        "norm", [0.5] * 4, cos=[[0.79, 0.86, 0.63], [0.80, 0.88, 0.65], [0.78, 0.87, 0.64], [0.79, 0.87, 0.62]]
    )
    f = Finding(claim="ReLU fails at the top", metric="cos", test="a < b", a="relu", b="norm", factor=0.5, layers=2)
    assert evaluate(f, relu + norm)["verdict"] == "holds"
    f.layers = [0, 2]  # at layer 0, 0.60 is above 0.5 x 0.79 = 0.395: it fails there
    assert evaluate(f, relu + norm)["verdict"] == "does not hold"


def test_a_threshold_condition():
    f = Finding(
        claim="convolutions do not align", metric="cos", test="a < threshold", a="c", threshold=0.2, layers=[0, 1]
    )
    low = _rows("c", [0.5] * 3, cos=[[0.01, 0.05], [0.02, 0.04], [0.00, 0.06]])
    assert evaluate(f, low)["verdict"] == "holds"
    high = _rows("c", [0.5] * 3, cos=[[0.01, 0.45], [0.02, 0.50], [0.00, 0.48]])
    assert evaluate(f, high)["verdict"] == "does not hold"


def test_rises_then_plateaus():
    f = Finding(
        claim="accuracy rises then plateaus", metric="test_acc", test="rises then plateaus", rows=["1", "10", "100"]
    )
    plateau = _rows("1", [0.30, 0.31, 0.29]) + _rows("10", [0.50, 0.52, 0.51]) + _rows("100", [0.505, 0.515, 0.51])
    assert evaluate(f, plateau)["verdict"] == "holds"
    still_rising = _rows("1", [0.30, 0.31, 0.29]) + _rows("10", [0.40, 0.41, 0.39]) + _rows("100", [0.60, 0.61, 0.60])
    assert evaluate(f, still_rising)["verdict"] != "holds"
    falling = _rows("1", [0.60, 0.61, 0.59]) + _rows("10", [0.50, 0.52, 0.51]) + _rows("100", [0.30, 0.31, 0.29])
    assert evaluate(f, falling)["verdict"] == "does not hold"


def test_verdicts_per_reading_and_the_markdown_shows_every_verdict():
    f = Finding(claim="a beats b", metric="test_acc", test="a > b", a="A", b="B")
    recs = _rows("A [as run]", [0.8, 0.81, 0.79]) + _rows("B [as run]", [0.6, 0.61, 0.59])
    recs += _rows("A [as written]", [0.6, 0.61, 0.59]) + _rows("B [as written]", [0.8, 0.81, 0.79])
    out = verdicts([f], ["as written", "as run"], recs)
    assert [(r["reading"], r["verdict"]) for r in out] == [("as written", "does not hold"), ("as run", "holds")]
    md = findings_markdown(out)
    assert "**does not hold**" in md and "**holds**" in md and md.count("a beats b") == 2


def test_parse_findings_refuses_a_bad_table_naming_it():
    with pytest.raises(ValueError, match="no row 'X'"):
        parse_findings([{"claim": "c", "metric": "test_acc", "test": "a > b", "a": "X", "b": "B"}], ["A", "B"])
    with pytest.raises(ValueError, match="metric must be one of"):
        parse_findings([{"claim": "c", "metric": "speed", "test": "a > b", "a": "A", "b": "B"}], ["A", "B"])
    with pytest.raises(ValueError, match="unknown key 'treshold'"):
        parse_findings([{"claim": "c", "metric": "cos", "test": "a < threshold", "a": "A", "treshold": 1}], ["A"])


SPEC = """
name = "readings"
title = "two readings"
seeds = [0]

[base]
rule = "dfa"
hidden = [8]
epochs = 1
train_size = 64
lr = {dfa = 0.05, bp = 0.1}

[reading."as written"]
init = "he"

[reading."as run"]
init = "uniform"

[sources]
init = "paper: He (caption); code: none (PyTorch's default)"

[[variation]]
name = "relu"
activation = "relu"
reading."as run" = {activation = "leaky_relu:0.5"}

[[variation]]
name = "bp"
rule = "bp"

[[finding]]
claim = "DFA is no worse than BP here"
metric = "test_acc"
test = "a > b"
a = "relu"
b = "bp"
"""


def test_a_spec_runs_each_row_under_each_reading_with_its_rules_lr(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(SPEC))
    spec = load_spec(p)
    assert spec.rows == ["relu", "bp"] and list(spec.readings) == ["as written", "as run"]
    runs = {r["variation"]: r["options"] for r in expand(spec)}
    assert set(runs) == {"relu [as written]", "bp [as written]", "relu [as run]", "bp [as run]"}
    assert runs["relu [as written]"]["activation"] == "relu" and runs["relu [as written]"]["init"] == "he"
    assert runs["relu [as run]"]["activation"] == "leaky_relu:0.5" and runs["relu [as run]"]["init"] == "uniform"
    assert runs["relu [as run]"]["lr"] == 0.05 and runs["bp [as run]"]["lr"] == 0.1  # each rule's own lr
    assert spec.findings[0].a == "relu" and "paper: He" in spec.sources["init"]
    p.write_text(textwrap.dedent(SPEC).replace("lr = {dfa = 0.05, bp = 0.1}", "lr = {dfa = 0.05}"))
    with pytest.raises(SpecError, match="'lr' gives values for dfa but not for the run's rule 'bp'"):
        load_spec(p)
    p.write_text(textwrap.dedent(SPEC).replace('reading."as run" =', 'reading."as rn" ='))
    with pytest.raises(SpecError, match="no reading 'as rn'"):
        load_spec(p)


def test_the_report_gives_every_finding_its_verdict(tmp_path):
    import json

    from nnlite.experiments.report import write_report

    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(SPEC))
    spec = load_spec(p)
    out = tmp_path / "runs"
    out.mkdir()
    recs = _rows("relu [as run]", [0.2, 0.21, 0.19]) + _rows("bp [as run]", [0.9, 0.91, 0.89])
    recs += _rows("relu [as written]", [0.5, 0.6, 0.4]) + _rows("bp [as written]", [0.52, 0.45, 0.55])
    from nnlite.experiments.records import make_record, run_key

    for i, r in enumerate(recs):  # written as a sweep writes them: named by the options' key, sealed
        options = {"seed": i, "row": r["variation"]}
        record = make_record(run_key(options), {**r, "options": options}, None, None, result=r["result"])
        (out / f"{record['key']}.json").write_text(json.dumps(record))
    text = write_report(spec, out)
    assert "## Findings" in text and "**does not hold**" in text and "**inconclusive**" in text
    assert "## Where each setting comes from" in text and "paper: He" in text
    doc = json.loads((out / "report.json").read_text())
    got = {(f["reading"], f["verdict"]) for f in doc["findings"]}
    assert got == {("as run", "does not hold"), ("as written", "inconclusive")}


def test_a_finding_over_a_row_that_did_not_train_is_inconclusive():
    f = Finding(claim="a beats b", metric="test_acc", test="a > b", a="A", b="B")
    recs = _rows("A", [0.8, 0.81, 0.79]) + _rows("B", [0.1, 0.11, 0.09])
    assert evaluate(f, recs)["verdict"] == "holds"
    result = evaluate(f, recs, untrained=["B"])
    assert result["verdict"] == "inconclusive" and result["untrained_rows"] == ["B"]
    assert "rows that did not train: B" in findings_markdown([result])


def test_a_run_records_both_alignment_measurements_and_a_finding_can_read_either():
    from nnlite.experiments.run import run

    options = {"rule": "dfa", "hidden": [16], "epochs": 1, "train_size": 128, "dropout": 0.5, "final_alignment": 32}
    fa = run({**options, "alignment_mode": "authors"})["final_alignment"]
    assert set(fa["by_mode"]) == {"one-pass", "authors"} and fa["signal_cos"] == fa["by_mode"]["authors"]["signal_cos"]
    assert fa["by_mode"]["one-pass"]["signal_cos"] != fa["by_mode"]["authors"]["signal_cos"]  # dropout: they differ
    record = {"variation": "r", "seed": 0, "status": "ok", "result": {"final_alignment": fa}}
    assert seed_values([record], "r", "cos@one-pass", 0) == [fa["by_mode"]["one-pass"]["signal_cos"][0]]
    assert seed_values([record], "r", "cos", 0) == [fa["by_mode"]["authors"]["signal_cos"][0]]


def test_a_plateau_must_be_shown_not_merely_not_refuted():
    f = Finding(claim="rises then plateaus", metric="test_acc", test="rises then plateaus", rows=["1", "10", "100"])
    # a clear rise whose last step (0.04) is a fifth of it, with two seeds: not significant, but not small either
    recs = _rows("1", [0.30, 0.31]) + _rows("10", [0.46, 0.47]) + _rows("100", [0.50, 0.51])
    assert evaluate(f, recs)["verdict"] == "inconclusive"

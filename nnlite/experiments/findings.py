"""Findings: a paper's claims, stated in a spec as conditions over its rows' results, each given a verdict.

A spec lists its findings as ``[[finding]]`` tables, each a sentence from the paper and a condition over the
aggregated runs::

    [[finding]]
    claim = "Batch normalisation lowers alignment"
    source = "Launay et al. (2020), §3.2"
    metric = "cos"              # test_acc, train_acc (percent), cos, readout_acc, error_angle (per hidden layer);
                                # cos@one-pass, cos@authors: one of the two alignment measurements a run records
    layers = "mean"             # per-layer metrics: "mean" over the hidden layers, an index, or a list (each)
    test = "a < b"              # "a < b", "a > b" (factor = 0.5: "a < 0.5 b"), "a < threshold", "a > threshold",
    a = "norm+BN"               # or "rises then plateaus" over rows = [...] (in order)
    b = "norm"

Each condition is decided from the seeds, one value per finished run (a run's accuracy, or its final alignment:
the mean cosine over the test samples at a layer): a one-sided Welch t-test of ``a`` against ``factor * b`` (or a
one-sample t-test against the threshold) at ``ALPHA`` = 0.05. The verdict is *holds* when the claimed direction is
significant, *does not hold* when the opposite direction is, and *inconclusive* otherwise — including when a row
has fewer than two finished seeds, which a single-seed quick run always gives. For "rises then plateaus", the rise
is the last row against the first (significant: rises) and the plateau the last two rows: it holds when their gap
is under ``PLATEAU`` = 0.1 of the rise and not significant, does not hold when the last step is significant and
over half the rise, and is inconclusive otherwise. A per-layer condition over several layers holds when
it holds at every layer and does not hold when it fails at any. The report prints every verdict with the numbers
that decided it; a finding that does not hold is never left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "METRICS",
    "PLATEAU",
    "TESTS",
    "Finding",
    "evaluate",
    "design_text",
    "findings_markdown",
    "parse_findings",
    "seed_values",
    "verdicts",
]

#: Significance level of every one-sided test.
ALPHA = 0.05
#: "Plateaus": the last two rows differ by less than this fraction of the rise.
PLATEAU = 0.1
#: Per-run values a finding can test: accuracies in percent, or per hidden layer from the final alignment.
METRICS = ("test_acc", "train_acc", "cos", "cos@one-pass", "cos@authors", "readout_acc", "error_angle")
_PER_LAYER = {
    "cos": "signal_cos",
    "cos@one-pass": "signal_cos",
    "cos@authors": "signal_cos",
    "readout_acc": "readout_acc",
    "error_angle": "error_angle",
}
TESTS = ("a < b", "a > b", "a < threshold", "a > threshold", "rises then plateaus")
_KEYS = {"claim", "source", "metric", "layers", "test", "a", "b", "factor", "threshold", "rows"}


@dataclass
class Finding:
    """One claim of a paper and the condition that checks it (see the module docstring)."""

    claim: str
    metric: str
    test: str
    source: str = ""
    layers: Any = "mean"
    a: str = ""
    b: str = ""
    factor: float = 1.0
    threshold: float = 0.0
    rows: list[str] = field(default_factory=list)

    def rows_used(self) -> list[str]:
        """The rows (variation names) the condition reads."""
        if self.test == "rises then plateaus":
            return list(self.rows)
        return [self.a] if "threshold" in self.test else [self.a, self.b]


def parse_findings(tables: Any, rows: Sequence[str]) -> list[Finding]:
    """The ``[[finding]]`` tables of a spec, checked against its rows; a bad table is a ``ValueError`` naming it."""
    if tables is None:
        return []
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError("[[finding]]: expected an array of tables")
    out = []
    for i, t in enumerate(tables):
        where = f"finding {i + 1}"
        bad = set(t) - _KEYS
        if bad:
            raise ValueError(f"{where}: unknown key {sorted(bad)[0]!r}; a finding has {', '.join(sorted(_KEYS))}")
        if not isinstance(t.get("claim"), str) or not t["claim"]:
            raise ValueError(f"{where}: needs a 'claim', the paper's sentence")
        where = f"finding {t['claim']!r}"
        if t.get("metric") not in METRICS:
            raise ValueError(f"{where}: metric must be one of {', '.join(METRICS)}, got {t.get('metric')!r}")
        if t.get("test") not in TESTS:
            raise ValueError(f"{where}: test must be one of {', '.join(repr(x) for x in TESTS)}, got {t.get('test')!r}")
        f = Finding(claim=t["claim"], metric=t["metric"], test=t["test"], source=str(t.get("source", "")))
        f.layers = t.get("layers", "mean")
        if not (
            f.layers == "mean" or _is_int(f.layers) or (isinstance(f.layers, list) and all(map(_is_int, f.layers)))
        ):
            raise ValueError(f"{where}: layers must be 'mean', a layer index or a list of them, got {f.layers!r}")
        for key in ("factor", "threshold"):
            if key in t:
                v = t[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"{where}: {key} must be a finite number, got {v!r}")
                setattr(f, key, float(v))
        if f.test == "rises then plateaus":
            given = t.get("rows", list(rows))
            if not isinstance(given, list) or not all(isinstance(r, str) for r in given):
                raise ValueError(f"{where}: rows must be a list of row names, got {given!r}")
            f.rows = list(given)
            if len(f.rows) < 3:
                raise ValueError(f"{where}: 'rises then plateaus' needs at least three rows")
        else:
            for key in ("a", "b") if "threshold" not in f.test else ("a",):
                if not isinstance(t.get(key), str):
                    raise ValueError(f"{where}: test {f.test!r} needs '{key}', a row name, got {t.get(key)!r}")
            if "threshold" in f.test and "threshold" not in t:
                raise ValueError(f"{where}: test {f.test!r} needs a 'threshold', a number")
            f.a, f.b = str(t.get("a", "")), str(t.get("b", ""))
        for r in f.rows_used():
            if r not in rows:
                raise ValueError(f"{where}: no row {r!r} (rows: {', '.join(rows)})")
        out.append(f)
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def seed_values(records: Sequence[dict[str, Any]], row: str, metric: str, layer: int | str | None) -> list[float]:
    """One value per finished run of ``row``: its accuracy in percent, or its final alignment's value at ``layer``
    (an index, or "mean" over the hidden layers). Runs without the value are left out."""
    out = []
    for r in records:
        if r.get("variation") != row or r.get("status") != "ok" or not r.get("result"):
            continue
        res = r["result"]
        if metric in ("test_acc", "train_acc"):
            v = res.get(metric)
            if v is not None:
                out.append(100.0 * float(v))
            continue
        fa = res.get("final_alignment") or {}
        if "@" in metric:  # one measurement of the two a run records (experiments.run: one-pass, authors)
            fa = (fa.get("by_mode") or {}).get(metric.split("@")[1]) or {}
        per_layer = [float(x) for x in fa.get(_PER_LAYER[metric], []) if x is not None]
        if not per_layer:
            continue
        if layer == "mean":
            out.append(float(np.mean(per_layer)))
        elif isinstance(layer, int) and layer < len(per_layer):
            out.append(per_layer[layer])
    return [v for v in out if math.isfinite(v)]


def _welch(a: Sequence[float], b: Sequence[float], alternative: str) -> float | None:
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    if np.var(a) == 0 and np.var(b) == 0:  # no spread: the means decide exactly
        greater = float(np.mean(a)) > float(np.mean(b))
        less = float(np.mean(a)) < float(np.mean(b))
        return 0.0 if (greater if alternative == "greater" else less) else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def _one_sample(a: Sequence[float], c: float, alternative: str) -> float | None:
    from scipy import stats

    if len(a) < 2:
        return None
    if np.var(a) == 0:
        m = float(np.mean(a))
        return 0.0 if ((m > c) if alternative == "greater" else (m < c)) else 1.0
    return float(stats.ttest_1samp(a, c, alternative=alternative).pvalue)


def _decide(p_claim: float | None, p_opposite: float | None, alpha: float = ALPHA) -> str:
    if p_claim is None or p_opposite is None:
        return "inconclusive"
    if p_claim < alpha:
        return "holds"
    if p_opposite < alpha:
        return "does not hold"
    return "inconclusive"


def _stats(values: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(values, dtype=np.float64)
    return {"n": len(values), "mean": float(a.mean()) if len(a) else None, "std": float(a.std()) if len(a) else None}


def _one_layer(
    f: Finding, records: Sequence[dict[str, Any]], layer: Any, suffix: str, alpha: float = ALPHA
) -> dict[str, Any]:
    def vals(row: str) -> list[float]:
        return seed_values(records, row + suffix, f.metric, layer)

    if f.test == "rises then plateaus":
        first, prev, last = vals(f.rows[0]), vals(f.rows[-2]), vals(f.rows[-1])
        p_rise, p_fall = _welch(last, first, "greater"), _welch(last, first, "less")
        numbers = {"first": _stats(first), "second_last": _stats(prev), "last": _stats(last), "p_rise": p_rise}
        verdict = _decide(p_rise, p_fall, alpha)
        if verdict == "holds":
            rise = float(np.mean(last) - np.mean(first))
            gap = abs(float(np.mean(last) - np.mean(prev)))
            p_gap = _welch(last, prev, "greater")
            numbers.update(gap=gap, rise=rise, p_last_above_second_last=p_gap)
            if p_gap is not None and p_gap < alpha and gap > 0.5 * rise:
                verdict = "does not hold"  # still rising, and clearly
            elif gap >= PLATEAU * rise or p_gap is None or p_gap < alpha:
                verdict = "inconclusive"  # a plateau is shown only by a small, insignificant last step
        return {"layer": layer, "verdict": verdict, **numbers}
    a = vals(f.a)
    claimed = "less" if "<" in f.test else "greater"
    opposite = "greater" if claimed == "less" else "less"
    if "threshold" in f.test:
        p, q = _one_sample(a, f.threshold, claimed), _one_sample(a, f.threshold, opposite)
        return {"layer": layer, "verdict": _decide(p, q, alpha), "a": _stats(a), "threshold": f.threshold, "p": p}
    b = [f.factor * v for v in vals(f.b)]
    p, q = _welch(a, b, claimed), _welch(a, b, opposite)
    return {"layer": layer, "verdict": _decide(p, q, alpha), "a": _stats(a), "b": _stats(b), "factor": f.factor, "p": p}


def evaluate(
    f: Finding,
    records: Sequence[dict[str, Any]],
    reading: str | None = None,
    untrained: Sequence[str] = (),
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """The verdict of ``f`` over ``records`` (one reading's rows when the spec has readings) at significance level
    ``alpha``, with the numbers that decided it: per layer, each side's seeds (n, mean, std) and the one-sided
    p-value. A finding that reads a row in ``untrained`` (rows the report flags as not trained) is
    *inconclusive*, whatever its numbers say. :func:`nnlite.experiments.power.verdicts` adds what would decide
    an inconclusive one."""
    suffix = f" [{reading}]" if reading else ""
    layers = [None] if f.metric not in _PER_LAYER else (f.layers if isinstance(f.layers, list) else [f.layers])
    parts = [_one_layer(f, records, layer, suffix, alpha) for layer in layers]
    verdicts = {p["verdict"] for p in parts}
    if "does not hold" in verdicts:
        verdict = "does not hold"
    elif verdicts == {"holds"}:
        verdict = "holds"
    else:
        verdict = "inconclusive"
    idle = [row for row in f.rows_used() if row + suffix in untrained]
    if idle:
        verdict = "inconclusive"
    result: dict[str, Any] = {
        "untrained_rows": idle,
        "claim": f.claim,
        "source": f.source,
        "reading": reading,
        "test": _describe(f),
        "verdict": verdict,
        "alpha": alpha,
        "parts": parts,
    }
    return result


def _describe(f: Finding) -> str:
    what = f"{f.metric}" + ("" if f.metric not in _PER_LAYER else f" (layers {f.layers})")
    if f.test == "rises then plateaus":
        return f"{what} rises from {f.rows[0]!r} to {f.rows[-1]!r}, then plateaus"
    if "threshold" in f.test:
        return f"{what}: {f.a!r} {'<' if '<' in f.test else '>'} {f.threshold:g}"
    factor = "" if f.factor == 1.0 else f"{f.factor:g} × "
    return f"{what}: {f.a!r} {'<' if '<' in f.test else '>'} {factor}{f.b!r}"


def verdicts(
    findings: Sequence[Finding],
    readings: Sequence[str],
    records: Sequence[dict[str, Any]],
    untrained: Sequence[str] = (),
    alpha: float = ALPHA,
) -> list[dict]:
    """Every finding's verdict, once per reading (once when the spec has none), at ``alpha``; see
    :func:`evaluate`."""
    names: list[str | None] = list(readings) or [None]
    return [evaluate(f, records, r, untrained, alpha) for f in findings for r in names]


def _fmt(s: dict[str, Any] | None) -> str:
    if not s or s.get("mean") is None:
        return "no finished run"
    return f"{s['mean']:.3g} ± {s['std']:.2g} (n={s['n']})"


def _seeds(r: dict[str, Any]) -> str:
    ns = sorted({p[k]["n"] for p in r["parts"] for k in ("a", "b", "first", "second_last", "last") if k in p})
    return "—" if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def design_text(design: dict[str, Any] | None) -> str:
    """How the verdicts were reached: a fixed set of seeds at :data:`ALPHA`, or ``--until-decided``'s looks."""
    if not design or design.get("kind") != "adaptive":
        return (
            f"Seeds fixed in advance; each claim is tested once over them: a one-sided Welch t-test (a one-sample "
            f"t-test against a threshold) at α = {ALPHA}"
        )
    looks = design["looks"]
    return (
        f"Seeds added adaptively (--until-decided, at most {looks[-1]} a row): up to {len(looks)} looks, at "
        f"{', '.join(map(str, looks))} seeds a row, planned before the first run; this report is look "
        f"{design['look']}. Each look tests at α = {ALPHA}/{len(looks)} = {design['alpha']:.3g} (Bonferroni over "
        f"the planned looks), so the chance of a false verdict over every look stays under {ALPHA}; seeds are "
        f"added only to the rows an undecided finding reads"
    )


def findings_markdown(results: Sequence[dict[str, Any]], design: dict[str, Any] | None = None) -> str:
    """The findings section of a report: the claim, the reading, the verdict, the numbers that decided it, the
    seeds it used, and for an undecided one what would decide it (``design``: how the seeds were chosen,
    :func:`design_text`)."""
    if not results:
        return ""
    lines = [
        "",
        "## Findings",
        "",
        f"{design_text(design)}; *holds* when the claimed direction is significant, *does not hold* when the "
        "opposite is, *inconclusive* otherwise (and always with fewer than two seeds a row, or a row that did not "
        "train).",
        "",
        "| claim | reading | verdict | condition | numbers | seeds | to decide |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        nums = []
        for part in r["parts"]:
            where = "" if part["layer"] in (None, "mean") else f"layer {part['layer']}: "
            if "first" in part:
                nums.append(
                    f"{where}first {_fmt(part['first'])}, last {_fmt(part['last'])}, p(rise) {_p(part['p_rise'])}"
                )
            elif "threshold" in part:
                nums.append(f"{where}a {_fmt(part['a'])}, p {_p(part['p'])}")
            else:
                factor = part.get("factor", 1.0)
                b = "b" if factor == 1.0 else f"{factor:g} × b"  # the numbers are factor × b's values
                nums.append(f"{where}a {_fmt(part['a'])}, {b} {_fmt(part['b'])}, p {_p(part['p'])}")
        verdict = f"**{r['verdict']}**"
        if r.get("untrained_rows"):
            nums.insert(0, f"rows that did not train: {', '.join(r['untrained_rows'])}")
        decide = (r.get("to_decide") or {}).get("text", "—")
        cells = [r["claim"], r["reading"] or "—", verdict, r["test"], "; ".join(nums), _seeds(r), decide]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _p(p: float | None) -> str:
    return "—" if p is None else f"{p:.3g}"

"""What would decide a finding that is not decided: more seeds (how many, from the observed effect and spread), more
training steps (for a row that did not train), or neither.

The number of seeds is the smallest n per row at which the test the finding uses (a one-sided Welch t-test, or a
one-sample t-test against a threshold) reaches ``POWER`` = 0.8 at the significance level in force, for an effect
of the size observed: ``d = |mean_a - mean_b| / s`` with ``s`` the two rows' pooled standard deviation (the row's
own against a threshold), the power read from the noncentral t distribution (``df = 2n - 2``, noncentrality
``d sqrt(n / 2)``; one sample: ``n - 1`` and ``d sqrt(n)``). An observed effect is a noisy estimate of the true
one, so the count is a planning figure, not a promise; above ``AFFORDABLE`` seeds the effect is reported as
smaller than the noise at any affordable count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["AFFORDABLE", "POWER", "evaluate", "seeds_needed", "to_decide", "verdicts"]

#: The power a seed count is planned for.
POWER = 0.8
#: The most seeds per row a plan proposes.
AFFORDABLE = 100


def _power(d: float, n: int, alpha: float, two_sample: bool) -> float:
    from scipy import stats

    df = 2 * n - 2 if two_sample else n - 1
    ncp = d * math.sqrt(n / 2 if two_sample else n)
    return float(1.0 - stats.nct.cdf(stats.t.ppf(1.0 - alpha, df), df, ncp))


def seeds_needed(
    a: Sequence[float],
    b: Sequence[float] | None = None,
    threshold: float | None = None,
    *,
    alpha: float,
    cap: int = AFFORDABLE,
) -> int | None:
    """Seeds per row for the test of ``a`` against ``b`` (or against ``threshold``) to reach :data:`POWER` at
    ``alpha`` for the observed effect; None when no count up to ``cap`` does (or the effect is 0 or unmeasured)."""
    x = np.asarray(a, dtype=np.float64)
    if x.size < 2:
        return None
    if b is not None:
        y = np.asarray(b, dtype=np.float64)
        if y.size < 2:
            return None
        effect = abs(float(x.mean() - y.mean()))
        spread = math.sqrt((float(x.var(ddof=1)) + float(y.var(ddof=1))) / 2.0)
    else:
        effect = abs(float(x.mean()) - float(threshold or 0.0))
        spread = float(x.std(ddof=1))
    if effect == 0.0 or not math.isfinite(effect):
        return None
    if spread == 0.0:
        return 2  # no spread: two seeds a row decide by the means
    d = effect / spread
    for n in range(2, cap + 1):
        if _power(d, n, alpha, b is not None) >= POWER:
            return n
    return None


def _steps(records: Sequence[Mapping[str, Any]], row: str) -> int | None:
    steps = [(r.get("result") or {}).get("steps") for r in records if r.get("variation") == row]
    known = [int(s) for s in steps if isinstance(s, int)]
    return max(known) if known else None


def to_decide(
    f: Any,
    result: Mapping[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    alpha: float,
    cap: int = AFFORDABLE,
) -> dict[str, Any]:
    """What would decide the undecided ``result`` of finding ``f`` (:func:`~nnlite.experiments.findings.evaluate`):
    ``{"kind": "steps" | "seeds" | "longer" | "noise", "text": ..., "seeds": n or None, "rows": [...]}``."""
    from .findings import PLATEAU, seed_values

    suffix = f" [{result['reading']}]" if result.get("reading") else ""
    if result.get("untrained_rows"):
        had = [f"{row} ({_steps(records, row + suffix) or '?'} steps)" for row in result["untrained_rows"]]
        return {
            "kind": "steps",
            "rows": list(result["untrained_rows"]),
            "seeds": None,
            "text": f"more training steps: {', '.join(had)} did not train; seeds cannot decide it",
        }
    have = min((p[k]["n"] for p in result["parts"] for k in ("a", "b", "first", "last") if k in p), default=0)
    if have < 2:  # a row without two finished runs: the first thing it needs is runs, not a power estimate
        return {
            "kind": "runs",
            "rows": list(f.rows_used()),
            "seeds": None,
            "text": f"runs: a row it reads has {have} finished run(s); sweep them (--findings or --rows)",
        }
    needs: list[int | None] = []
    for part in result["parts"]:
        if part["verdict"] != "inconclusive":
            continue
        layer = part["layer"]

        def vals(row: str, layer: Any = layer) -> list[float]:
            return seed_values(records, row + suffix, f.metric, layer)

        if "first" in part:
            if part.get("rise") is not None:  # it rises; the last step is too large or too sure for a plateau
                share = part["gap"] / part["rise"] if part["rise"] else float("nan")
                return {
                    "kind": "longer",
                    "rows": [f.rows[-1]],
                    "seeds": None,
                    "text": f"rows past the last, or longer runs: the last step is {share:.0%} of the rise (a "
                    f"plateau needs under {PLATEAU:.0%} and not significant); more seeds cannot show it",
                }
            needs.append(seeds_needed(vals(f.rows[-1]), vals(f.rows[0]), alpha=alpha, cap=cap))
        elif "threshold" in part:
            needs.append(seeds_needed(vals(f.a), threshold=f.threshold, alpha=alpha, cap=cap))
        else:
            b = [f.factor * v for v in vals(f.b)]
            needs.append(seeds_needed(vals(f.a), b, alpha=alpha, cap=cap))
    rows = list(f.rows_used())
    if not needs or any(n is None for n in needs):
        return {
            "kind": "noise",
            "rows": rows,
            "seeds": None,
            "text": f"the effect is smaller than the noise at any affordable count (over {cap} seeds a row; "
            f"has {have})",
        }
    n = max(int(x) for x in needs if x is not None)
    return {
        "kind": "seeds",
        "rows": rows,
        "seeds": n,
        "text": f"{n} seeds a row (α = {alpha:.3g}, power {POWER:g}, for the effect observed; has {have})",
    }


def evaluate(f: Any, records: Sequence[dict[str, Any]], reading: str | None = None, untrained: Sequence[str] = (),
             alpha: float | None = None) -> dict[str, Any]:  # fmt: skip
    """:func:`nnlite.experiments.findings.evaluate`, with ``to_decide`` (:func:`to_decide`) on an inconclusive
    verdict."""
    from . import findings

    a = findings.ALPHA if alpha is None else alpha
    result = findings.evaluate(f, records, reading, untrained, a)
    if result["verdict"] == "inconclusive":
        result["to_decide"] = to_decide(f, result, records, alpha=a)
    return result


def verdicts(
    found: Sequence[Any],
    readings: Sequence[str],
    records: Sequence[dict[str, Any]],
    untrained: Sequence[str] = (),
    alpha: float | None = None,
) -> list[dict[str, Any]]:
    """Every finding's verdict, once per reading (:func:`nnlite.experiments.findings.verdicts`), each inconclusive
    one with what would decide it."""
    names: list[str | None] = list(readings) or [None]
    return [evaluate(f, records, r, untrained, alpha) for f in found for r in names]

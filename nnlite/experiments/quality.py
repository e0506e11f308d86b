"""What a report must say so that its table can be trusted without checking by hand: the run files it left out
(damaged: their checksum fails), the rows that did not train, why runs failed, and the columns whose meaning
differs from the paper's.

A row **did not train** when its mean test accuracy is below chance + :data:`CHANCE_MARGIN` points (chance = 100/C
for C classes), or when every hidden feedback point's alignment of its best run is within noise of 0:
``|mean cos| < 2 * std / sqrt(n)`` (two standard errors over the ``n`` test samples it was measured on) at every
hidden layer. Such a row is flagged in ``report.json`` (``did_not_train``) and shown in the table without numbers,
its numbers and the reason listed under the table.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .records import read_record

__all__ = ["CHANCE_MARGIN", "load_checked", "notes_markdown", "row_quality", "shown_rows", "skipped_markdown"]

#: Points of accuracy above chance below which a row did not train.
CHANCE_MARGIN = 5.0

_RECORD_NAME = re.compile(r"^[0-9a-f]{16}\.json$")
_BLANK = ("test_acc", "test_acc_std", "train_acc", "train_acc_std", "test_error", "test_error_std")
_BLANK_LISTS = ("cos", "cos_std", "error_angle", "readout_acc", "weight_angle")
_N_CLASSES: dict[str, int] = {"digits": 10, "mnist": 10, "fashion-mnist": 10, "cifar10": 10}


def load_checked(
    folder: str | os.PathLike, experiment: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The trusted run records of ``folder`` that belong to ``experiment`` (its key; any when None), and the run
    files left out, each ``{"file", "reason"}``.

    Run files are the ``<16 hex digits>.json`` files a sweep writes; one that fails
    :func:`~nnlite.experiments.records.read_record` (truncated, edited, renamed, a link) is never aggregated, nor
    is a record of another experiment (copied in from another folder): it is listed as foreign.
    """
    records, skipped = [], []
    for p in sorted(Path(folder).glob("*.json")):
        if not _RECORD_NAME.match(p.name):
            continue
        record, problem = read_record(p)
        if record is None:
            skipped.append({"file": p.name, "reason": str(problem)})
        elif experiment is not None and record.get("experiment") != experiment:
            theirs = record.get("experiment")
            what = f"experiment {theirs}" if theirs else "no experiment (an older nnlite's, or made by hand)"
            skipped.append(
                {"file": p.name, "reason": f"foreign: a record of {what}, not of this folder's {experiment}"}
            )
        else:
            records.append(record)
    return records, skipped


def _n_classes(record: Mapping[str, Any]) -> int | None:
    """The run's number of classes: recorded by the run, or a built-in data set's (never read from a file named by
    a record: a results folder may come from someone else)."""
    n = (record.get("result") or {}).get("n_classes")
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        return n
    return _N_CLASSES.get(str(_options(record).get("dataset", "digits")))


def _options(record: Mapping[str, Any]) -> Mapping[str, Any]:
    return record.get("options") or (record.get("result") or {}).get("options") or {}


def _first_line(error: Any) -> str:
    return (str(error).strip().splitlines() or ["unknown error"])[0]


def row_quality(records: Sequence[Mapping[str, Any]], row: Mapping[str, Any]) -> dict[str, Any]:
    """For one aggregated ``row`` and its ``records``: ``did_not_train`` (why, or None) and ``failures`` (the
    first line of each failed run's error -> how many runs failed with it)."""
    failures = Counter(_first_line(r.get("error")) for r in records if r.get("status") != "ok")
    ok = [r for r in records if r.get("status") == "ok" and r.get("result")]
    why = []
    classes = {_n_classes(r) for r in ok}
    acc = row.get("test_acc")
    if acc is not None and len(classes) == 1 and None not in classes:
        chance = 100.0 / classes.pop()  # type: ignore[operator]
        if acc < chance + CHANCE_MARGIN:
            why.append(
                f"test accuracy {acc:.1f} % is below chance + {CHANCE_MARGIN:g} points ({chance + CHANCE_MARGIN:.1f} %)"
            )
    best = next((r for r in ok if r["seed"] == row.get("best_seed")), None)
    fa = (best or {}).get("result", {}).get("final_alignment") or {}
    cos, std, n = fa.get("signal_cos") or [], fa.get("signal_cos_std") or [], fa.get("n_samples") or 0
    if cos and len(std) == len(cos) and n > 1 and best is not None and _options(best).get("rule") != "bp":
        noise = [None if s is None else 2.0 * s / math.sqrt(n) for s in std]  # null: NaN in the record
        if all(c is None for c in cos):
            why.append("the hidden alignment is not a number at every layer (the run diverged)")
        elif all(c is not None and s is not None and abs(c) < s for c, s in zip(cos, noise)):
            vals = ", ".join(f"{c:.3f} ± {s:.3f}" for c, s in zip(cos, noise))
            why.append(
                f"every hidden alignment is within noise of 0 (|cos| < 2 standard errors over {n} samples: {vals})"
            )
    return {"did_not_train": "; ".join(why) or None, "failures": dict(failures)}


def shown_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` as the table shows them: a ``|`` in a name escaped, a row that did not train named with a dagger and
    without its numbers."""
    out = []
    for r in rows:
        r = {**r, "variation": str(r["variation"]).replace("|", "\\|")}  # a name like "norm+|x|" in a table cell
        if r.get("did_not_train"):
            r["variation"] = f"{r['variation']} †"
            r.update(dict.fromkeys(_BLANK), update_cos_last=None)
            r.update({k: [] for k in _BLANK_LISTS})
        out.append(r)
    return out


def _dropout(spec: Any) -> bool:
    def has(o: Mapping[str, Any]) -> bool:
        return bool(o.get("dropout") or o.get("input_dropout"))

    return has(spec.base) or any(has(v) for v in spec.variations)


def notes_markdown(spec: Any, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lines under the table: the rows that did not train, why runs failed, and columns measured otherwise
    than in the paper."""
    lines: list[str] = []
    flagged = [r for r in rows if r.get("did_not_train")]
    if flagged:
        lines += [
            f"† Did not train (test accuracy below chance + {CHANCE_MARGIN:g} points, or every hidden alignment "
            "within 2 standard errors of 0): not tabulated as a result.",
            "",
        ]
        for r in flagged:
            acc = "—" if r.get("test_acc") is None else f"{r['test_acc']:.2f} %"
            cos = ", ".join(f"{c:.3f}" for c in r.get("cos") or []) or "—"
            lines.append(f"- {r['variation']}: {r['did_not_train']} (test acc {acc}; cos {cos})")
        lines.append("")
    reasons: dict[str, list[str]] = {}
    counts: Counter[str] = Counter()
    for r in rows:
        for reason, k in (r.get("failures") or {}).items():
            counts[reason] += k
            reasons.setdefault(reason, []).append(str(r["variation"]))
    if counts:
        lines += ["Failed runs, by reason:", ""]
        lines += [f"- {k} × {reason} ({', '.join(reasons[reason])})" for reason, k in counts.most_common()]
        lines.append("")
    if "train_acc" in spec.report.get("columns", ["test_acc"]):
        extra = " with dropout on" if _dropout(spec) else ""
        lines += [
            f"Note: train acc % is measured on the training batches as they are trained{extra} (the running "
            "accuracy of the last epoch), not in eval mode after it; the paper's column may be measured otherwise.",
            "",
        ]
    return lines


def skipped_markdown(skipped: Sequence[Mapping[str, str]]) -> str:
    """The run files left out of the report, with why (empty when none)."""
    if not skipped:
        return ""
    lines = [
        f"Skipped {len(skipped)} run file(s) that cannot be trusted (not aggregated; the next sweep reruns them):",
        "",
    ]
    lines += [f"- {s['file']}: {s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n\n"

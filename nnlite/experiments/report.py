"""The report of a sweep: the paper's table, each cell the mean (std) over seeds, the paper's value beside ours.

Accuracies are percentages, mean (standard deviation) over the seeds that finished. Alignment is reported as
Launay et al. do: the mean (standard deviation) over the 128 test samples of the best run (the run with the highest
test accuracy) of the cosine between the rule's and BP's signal at each hidden feedback point. A value the source
does not give is shown as "—", never invented.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..training.io import atomic_write, own_file, write_json
from .adaptive import read_design
from .findings import ALPHA, findings_markdown
from .power import verdicts
from .quality import load_checked, notes_markdown, row_quality, shown_rows, skipped_markdown
from .spec import Spec

__all__ = ["aggregate", "load_results", "markdown", "memory_table", "write_report"]


def load_results(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Every trusted run record (``<key>.json``) in ``folder``: a damaged one (its checksum fails) is left out
    (:func:`~nnlite.experiments.quality.load_checked` says which and why)."""
    return load_checked(folder)[0]


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    a = np.asarray(vals, dtype=np.float64)
    return float(a.mean()), float(a.std())


def aggregate(spec: Spec, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per variation of ``spec``, in the spec's order: counts, mean/std of the accuracies (percent) over
    seeds, and the best run's final alignment.

    Returns
    -------
    list of dict
        ``variation``, ``n_ok``, ``n_failed``, ``test_acc``/``test_acc_std``, ``train_acc``/``train_acc_std``,
        ``test_error``/``test_error_std`` (100 - accuracy), ``best_seed``, ``cos``/``cos_std`` (lists per hidden
        feedback point), ``update_cos_last`` (the output layer's update cosine), ``error_angle``, ``readout_acc``,
        ``weight_angle`` (lists, from the best run), ``paper`` (the spec's values for the row), ``did_not_train``
        (why the row did not train, or None) and ``failures`` (error -> runs), :mod:`~nnlite.experiments.quality`.
    """
    rows = []
    for v in spec.variations:
        name = v["name"]
        mine = [r for r in records if r.get("variation") == name]
        ok = [r for r in mine if r["status"] == "ok" and r.get("result")]
        row: dict[str, Any] = {"variation": name, "n_ok": len(ok), "n_failed": len(mine) - len(ok)}
        for key in ("test_acc", "train_acc", "best_test_acc"):
            m, s = _mean_std([100.0 * r["result"][key] for r in ok if r["result"].get(key) is not None])
            row[key], row[f"{key}_std"] = m, s
        for err, acc in (("test_error", "test_acc"), ("best_test_error", "best_test_acc")):
            row[err] = None if row[acc] is None else 100.0 - row[acc]
            row[f"{err}_std"] = row[f"{acc}_std"]
        scored = [r for r in ok if r["result"].get("test_acc") is not None]
        best = max(scored, key=lambda r: r["result"]["test_acc"]) if scored else None
        fa = (best or {}).get("result", {}).get("final_alignment") if best else None
        row["best_seed"] = None if best is None else best["seed"]
        row["cos"] = fa["signal_cos"] if fa else []
        row["cos_std"] = fa["signal_cos_std"] if fa else []
        row["update_cos_last"] = fa["update_cos"][-1] if fa and fa["update_cos"] else None
        for key in ("error_angle", "readout_acc", "weight_angle"):
            row[key] = fa.get(key, []) if fa else []
        row["paper"] = spec.paper.get(name, {})
        row.update(row_quality(mine, row))  # did_not_train, failures
        rows.append(row)
    return rows


def _cell(m: Any, s: Any = None, digits: int = 2) -> str:
    if m is None:
        return "—"
    return f"{m:.{digits}f}" if s is None else f"{m:.{digits}f} ({s:.{digits}f})"


def _cos_cells(values: list, stds: list, n: int) -> list[str]:
    return [_cell(values[i] if i < len(values) else None, stds[i] if i < len(stds) else None) for i in range(n)]


def markdown(spec: Spec, rows: list[dict[str, Any]], *, title_note: str = "") -> str:
    """The table in the paper's layout: ours, then the paper's value, for every column the spec reports."""
    cols = spec.report.get("columns", ["test_acc"])
    n_cos = max([len(r["cos"]) for r in rows] + [len(r["paper"].get("cos", [])) for r in rows] + [0])
    head = ["variation", "runs"]
    for c in cols:
        if c in ("test_acc", "train_acc", "test_error", "best_test_error"):
            label = {
                "test_acc": "test acc %",
                "train_acc": "train acc %",
                "test_error": "test error % (last epoch)",
                "best_test_error": "test error % (best epoch)",
            }[c]
            head += [label, "paper"]
        elif c == "cos":
            for k in range(n_cos):
                head += [f"cos {k + 1}", "paper"]
        elif c == "update_cos_last":
            head += ["classifier update cos"]
        elif c in ("error_angle", "readout_acc"):
            head += [f"{c} (best run)"]
    lines = [f"# {spec.title}{title_note}", "", f"Source: {spec.source}", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in shown_rows(rows):
        p = r["paper"]
        cells = [r["variation"], f"{r['n_ok']}" + (f" (+{r['n_failed']} failed)" if r["n_failed"] else "")]
        for c in cols:
            if c in ("test_acc", "train_acc", "test_error", "best_test_error"):
                cells += [_cell(r[c], r[f"{c}_std"]), _cell(p.get(c), p.get(f"{c}_std"))]
            elif c == "cos":
                ours = _cos_cells(r["cos"], r["cos_std"], n_cos)
                theirs = _cos_cells(p.get("cos", []), p.get("cos_std", []), n_cos)
                cells += [x for pair in zip(ours, theirs) for x in pair]
            elif c == "update_cos_last":
                cells += [_cell(r["update_cos_last"])]
            elif c in ("error_angle", "readout_acc"):
                cells += [", ".join(_cell(v, digits=1 if c == "error_angle" else 3) for v in r[c]) or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Cells: mean (std) over seeds; alignment: mean (std) over the test samples of the best run.", ""]
    lines += notes_markdown(spec, rows)
    if spec.notes:
        lines += [spec.notes.strip(), ""]
    return "\n".join(lines)


def memory_table(spec: Spec) -> tuple[str, dict[str, Any]]:
    """Launay et al.'s Table 1 (``kind = "memory"`` specs), computed: Markdown and the figures in bytes."""
    from .memory import feedback_memory, vgg16_feedback_sizes

    b = spec.base
    sizes = vgg16_feedback_sizes(int(b.get("image_size", 224)))
    mem = feedback_memory(sizes, int(b.get("n_classes", 1000)), dtype=np.dtype(b.get("dtype", "float32")))
    paper = {"naive": "55 GB", "unified": "13 GB"}
    lines = [f"# {spec.title}", "", f"Source: {spec.source}", ""]
    lines += ["| feedback | bytes | GB | paper |", "|---|---|---|---|"]
    for k, v in mem.items():
        lines.append(f"| {k} | {int(v)} | {v / 1e9:.3f} | {paper.get(k, '—')} |")
    lines += ["", spec.notes.strip(), ""]
    return "\n".join(lines), {"feedback_sizes": sizes, "bytes": {k: int(v) for k, v in mem.items()}}


def write_report(spec: Spec, folder: str | os.PathLike, *, title_note: str = "", experiment: str | None = None) -> str:
    """Aggregate the runs in ``folder`` of ``experiment`` (its key; by default the folder's own, from its
    ``spec.json``, or every trusted record when it has none) and write ``report.md``, ``report.json`` and the
    spec's figure there (atomically, never through a link). Returns the Markdown."""
    from .folder import folder_meta

    folder = Path(folder)
    if experiment is None:
        experiment = (folder_meta(folder) or {}).get("experiment")
    if spec.kind == "memory":
        text, data = memory_table(spec)
        write_json(own_file(folder, "report.json"), {"spec": spec.name, **data}, own=True)
    else:
        records, skipped = load_checked(folder, experiment)
        rows = aggregate(spec, records)
        untrained = [r["variation"] for r in rows if r.get("did_not_train")]
        design = read_design(folder)
        alpha = design["alpha"] if design else ALPHA
        checked = verdicts(spec.findings, list(spec.readings), records, untrained, alpha)
        text = markdown(spec, rows, title_note=title_note) + findings_markdown(checked, design)
        text += sources_markdown(spec, records)
        text += skipped_markdown(skipped)
        doc: dict[str, Any] = {"spec": spec.name, "title": spec.title + title_note, "rows": rows}
        doc["findings"] = checked
        doc["design"] = design or {"kind": "fixed", "alpha": ALPHA}
        doc["skipped"] = skipped
        write_json(own_file(folder, "report.json"), {**doc, "sources": spec.sources}, own=True)
        figure = spec.report.get("figure")
        if figure:
            _figure(figure, spec, rows, records, folder, spec.title + title_note)
    atomic_write(own_file(folder, "report.md"), text.encode(), own=True)
    return text


def _ran(spec: Spec, reading: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The options a reading's runs actually had (its first record's): what the report prints, not the spec."""
    for r in records:
        if str(r.get("variation", "")).endswith(f" [{reading}]") and isinstance(r.get("options"), dict):
            return r["options"]
    return {}


def sources_markdown(spec: Spec, records: list[dict[str, Any]] | None = None) -> str:
    """Where each setting comes from (the spec's ``[sources]``), and the readings run where text and code differ,
    each with the options its runs had: the input normalisation constants that ran (a run on another data set gets
    that data set's, :mod:`~nnlite.experiments.normalization`) and where they came from."""
    from .normalization import source

    lines = [""]  # a blank line after the findings' table
    if spec.readings:
        lines += ["## Readings", ""]
        for name, o in spec.readings.items():
            ran = _ran(spec, name, records or [])
            shown = {k: ran.get(k, v) for k, v in o.items()}
            text = ", ".join(f"{k} = {v!r}" for k, v in shown.items()) or "the base"
            if "input_mean" in o or "input_std" in o:
                dataset = ran.get("dataset", spec.base.get("dataset", "digits"))
                text += f" (on {dataset}: {source(dataset)})"
            lines.append(f"- **{name}**: {text}")
        lines.append("")
    if spec.sources:
        lines += ["## Where each setting comes from", "", "| setting | source |", "|---|---|"]
        for k, v in spec.sources.items():
            cell = v.replace("|", "\\|")  # a setting's source may quote |x|
            lines.append(f"| {k} | {cell} |")
        lines.append("")
    return "\n".join(lines)


def _units(variation: str) -> int:
    """The bottleneck size of a row named ``bottleneck=1:118 [as run]``."""
    m = re.search(r":(\d+)", variation)
    if m is None:
        raise ValueError(f"row {variation!r} names no bottleneck size (bottleneck=K:N)")
    return int(m.group(1))


def _figure(
    kind: str, spec: Spec, rows: list[dict[str, Any]], records: list[dict[str, Any]], folder: Path, title: str
) -> None:
    from ..figures import drawn

    drawn(_draw)(kind, spec, rows, records, folder, title)


def _draw(
    kind: str, spec: Spec, rows: list[dict[str, Any]], records: list[dict[str, Any]], folder: Path, title: str
) -> None:
    from ..figures import alignment_axis, new_figure, save_png, style, suptitle

    fig, (a1, a2) = new_figure(2, row_height=3.0)
    if kind == "bottleneck":  # Launay Fig. 4: accuracy and the masked layer's alignment vs trainable units
        readings: list[str | None] = list(spec.readings) or [None]
        cosines: list[Any] = []
        for i, reading in enumerate(readings):  # one line per reading ("as written", "as run")
            mine = [r for r in rows if reading is None or str(r["variation"]).endswith(f" [{reading}]")]
            xs = [r["paper"].get("x") or _units(str(r["variation"])) for r in mine]
            acc, std = [r["test_acc"] for r in mine], [r["test_acc_std"] for r in mine]
            a1.errorbar(xs, acc, yerr=std, label=reading, capsize=2, **style(i))
            ys = [r["cos"][1] if len(r["cos"]) > 1 else None for r in mine]
            cosines += ys
            a2.plot(xs, [math.nan if y is None else y for y in ys], label=reading, **style(i))
        a1.set(xscale="log", xlabel="trainable units in layer 2", ylabel="test accuracy %", title="accuracy")
        alignment_axis(a2, cosines, ylabel="cosine of layer 2 with BP")
        a2.set(xscale="log", xlabel="trainable units in layer 2", title="alignment of layer 2")
        if spec.readings:
            a1.legend()
    else:  # Gilmer Fig. 1: local-error angles and readout accuracy over training, a colour per row
        first = min((x["seed"] for x in records), default=None)
        mine = [r for r in records if r["status"] == "ok" and r["seed"] == first]
        dashes = ("-", "--", ":", "-.")
        for i, r in enumerate(mine):
            al = r["result"]["history"]["alignment"]
            steps = [a["step"] for a in al]
            for k in range(len(al[0]["error_angle"]) if al else 0):
                kw = {**style(i), "linestyle": dashes[k % len(dashes)], "markersize": 4}
                label = f"{r['variation']}, h{k + 1}"
                a1.plot(steps, [a["error_angle"][k] for a in al], label=label, **kw)
                a2.plot(steps, [a["readout_acc"][k] for a in al], label=label, **kw)
        a1.axhline(90, color="black", linewidth=0.8, linestyle=":", zorder=0)
        a1.set(xlabel="step", ylabel="angle of e_k with e (degrees)", title="local error against e")
        a2.set(xlabel="step", ylabel="readout accuracy", title="each random readout")
        handles, labels = a1.get_legend_handles_labels()
        if handles:  # below the panels, not over the data
            fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)))
    suptitle(fig, title)
    save_png(fig, own_file(folder, f"{kind}.png"), own=True)

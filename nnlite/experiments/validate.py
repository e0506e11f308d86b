"""The checks of a spec that go beyond one run's options, made when the spec is loaded, before anything runs (and
under ``--dry-run``): its name (a plain name: it becomes a folder name), its ``[report]`` table, a ``kind =
"memory"`` spec's base, every ``[[finding]]``'s layers against the networks of the rows it reads, the size of a
``[grid]`` (computed as a product before anything is expanded), and the one place seeds come from.

Each check raises ``ValueError`` with what is wrong and the rule; :func:`nnlite.experiments.spec.load_spec` adds
the file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._validation import plain_name

__all__ = [
    "FIGURES",
    "MAX_RUNS",
    "REPORT_COLUMNS",
    "RUNS_WITHOUT_YES",
    "check_findings_layers",
    "check_memory_base",
    "check_name",
    "check_no_seed",
    "check_report",
    "check_run_count",
    "grid_size",
    "hidden_points",
]

#: The columns a ``[report]`` may list (:func:`nnlite.experiments.report.markdown`).
REPORT_COLUMNS = (
    "test_acc",
    "train_acc",
    "test_error",
    "best_test_error",
    "cos",
    "update_cos_last",
    "error_angle",
    "readout_acc",
)
#: The figures a ``[report]`` may ask for; each is written as ``<figure>.png`` in the results folder.
FIGURES = ("bottleneck", "local_errors")
#: The runs (rows x seeds) a sweep makes without ``--yes``, and the most it makes with it.
RUNS_WITHOUT_YES = 2_000
MAX_RUNS = 100_000
_MEMORY_BASE = {"network": ("vgg16",), "image_size": int, "n_classes": int, "dtype": ("float32", "float64")}


def check_name(name: Any) -> str:
    """A spec's ``name``: it names the results folder (``runs/<name>-<time>``), so it must be a plain name."""
    return plain_name(name, "a spec's 'name'")


def check_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """``[report]``: ``columns`` (a list of :data:`REPORT_COLUMNS`) and ``figure`` (one of :data:`FIGURES`)."""
    bad = set(report) - {"columns", "figure"}
    if bad:
        raise ValueError(f"unknown key {sorted(bad)[0]!r}; [report] has columns and figure")
    cols = report.get("columns", ["test_acc"])
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise ValueError(f"'columns' must be a non-empty list of column names, got {cols!r}")
    unknown = [c for c in cols if c not in REPORT_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}; columns are {', '.join(REPORT_COLUMNS)}")
    if "figure" in report and report["figure"] not in FIGURES:
        raise ValueError(f"'figure' must be one of {', '.join(FIGURES)}, got {report['figure']!r}")
    return dict(report)


def check_memory_base(base: Mapping[str, Any]) -> dict[str, Any]:
    """A ``kind = "memory"`` spec's ``[base]``: ``network`` ("vgg16"), ``image_size`` and ``n_classes`` (positive
    integers, at most 4096 and 10**6), ``dtype`` ("float32" or "float64")."""
    bad = set(base) - set(_MEMORY_BASE)
    if bad:
        raise ValueError(f"unknown key {sorted(bad)[0]!r}; a memory spec's [base] has {', '.join(_MEMORY_BASE)}")
    limits = {"image_size": 4096, "n_classes": 10**6}
    for key, kind in _MEMORY_BASE.items():
        if key not in base:
            continue
        v = base[key]
        if kind is int:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limits[key]:
                raise ValueError(f"'{key}' must be an integer in [1, {limits[key]}], got {v!r}")
        elif v not in kind:  # type: ignore[operator]
            raise ValueError(f"'{key}' must be one of {', '.join(kind)}, got {v!r}")  # type: ignore[arg-type]
    return dict(base)


def check_no_seed(table: Mapping[str, Any], where: str) -> None:
    """Seeds come from the spec's ``seeds = [...]`` (and ``[quick]``'s) or ``--seeds``, never from a run option:
    a ``seed`` anywhere else would be overwritten by the seed list while the folder recorded it as set."""
    if "seed" in table:
        raise ValueError(
            f"{where} sets 'seed'; a spec's runs take their seeds from its 'seeds = [...]' list (or --seeds on "
            "the command line), one run per seed: list the seeds there"
        )


def grid_size(grid: Mapping[str, Any]) -> int:
    """The number of rows a ``[grid]`` expands into (the product of its lists' lengths), without expanding it."""
    return math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values())


def check_run_count(runs: int, *, yes: bool = False) -> None:
    """A sweep of ``runs`` runs: over :data:`RUNS_WITHOUT_YES` needs ``yes``; over :data:`MAX_RUNS` is refused."""
    if runs > MAX_RUNS:
        raise ValueError(f"{runs:,} runs is more than nnlite sweeps at once ({MAX_RUNS:,}); split the spec")
    if runs > RUNS_WITHOUT_YES and not yes:
        raise ValueError(
            f"{runs:,} runs (rows x seeds) is more than {RUNS_WITHOUT_YES:,}: pass --yes to sweep them, or make the "
            "[grid] smaller"
        )


def hidden_points(config: Any) -> int:
    """The number of hidden feedback points of the network a run's :class:`~nnlite.config.RunConfig` builds (one
    per hidden block), without building it."""
    from ..config.builders import cnn_settings, hidden_of

    if config.model == "mlp":
        return len(hidden_of(config) or [])
    if config.model == "cnn":
        return len(cnn_settings(config)["channels"])
    types = [e.get("type") if isinstance(e, Mapping) else None for e in (config.layers or ())]
    return max(0, sum(t in ("dense", "conv2d") for t in types) - 1)


def check_findings_layers(findings: Sequence[Any], points: Mapping[str, int]) -> None:
    """Every per-layer finding's ``layers`` exist in the network of every row it reads (under one reading at
    least); ``points`` maps each variation name (``row`` or ``row [reading]``) to its number of hidden feedback
    points."""
    from .findings import _PER_LAYER

    for f in findings:
        if f.metric not in _PER_LAYER:
            continue
        wanted = [f.layers] if isinstance(f.layers, int) else (f.layers if isinstance(f.layers, list) else [])
        for row in f.rows_used():
            # a row runs once per reading, and readings may build different networks (Launay et al.'s Table 4 has
            # a feedback point before the classifier in one reading only): a layer must exist in one of them
            n = max((n for name, n in points.items() if name == row or name.startswith(f"{row} [")), default=0)
            if n == 0:
                raise ValueError(f"finding {f.claim!r}: row {row!r} has no hidden layer to measure {f.metric} at")
            over = [k for k in wanted if k >= n]
            if over:
                raise ValueError(
                    f"finding {f.claim!r}: layer {over[0]} does not exist in row {row!r}, whose network has "
                    f"{n} hidden layer(s) (layers are counted from 0)"
                )

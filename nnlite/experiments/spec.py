"""Experiment specs: a paper's table as a TOML file — a base run, named variations (the table's rows), seeds, what
``--quick`` scales down, and the paper's own values for the report.

```toml
name = "launay-table2"
title = "Launay et al., Table 2: DFA practices on a 3x800 MLP"
source = "Launay, Poli & Krzakala (2020), Table 2"
seeds = [0, 1, 2]

[base]                      # run options: nnlite train's, by name (nnlite.experiments.run)
dataset = "cifar10"
rule = "dfa"
hidden = [800, 800, 800]

[quick]                     # what --quick changes (and seeds = [...] to use fewer seeds)
train_size = 1000
epochs = 1

[[variation]]               # one row of the table: a name and the options it changes
name = "no norm"
no_normalize = true

[grid]                      # or rows generated from values: one variation per value (or per combination)
bottleneck = [[1, 1], [1, 100]]

[paper."no norm"]           # the paper's values for a row, shown beside ours
test_acc = 43.46
```

Every key is checked before anything runs: an unknown key, a wrong type, an unknown rule or data set, a bad
combination — an error naming the key and the file. A spec with ``kind = "memory"`` computes instead of training
(Launay et al.'s Table 1).
"""

from __future__ import annotations

import itertools
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .findings import Finding, parse_findings
from .run import RUN_OPTIONS, config_of

__all__ = ["Spec", "SpecError", "expand", "load_spec", "shipped_specs"]

_TOP = {
    "name",
    "title",
    "source",
    "kind",
    "seeds",
    "base",
    "variation",
    "grid",
    "quick",
    "paper",
    "report",
    "notes",
    "reading",
    "sources",
    "finding",
}
_QUICK = {"seeds", *RUN_OPTIONS}
_PAPER_KEYS = {
    "test_acc",
    "test_acc_std",
    "train_acc",
    "train_acc_std",
    "cos",
    "cos_std",
    "test_error",
    "best_test_error",
    "source",
}


#: Per-channel input normalisation constants by data set, for a spec run on another data set than its own: the
#: authors' (lightonai/principled-dfa-training, mltools/data.py NORMALIZATION: CIFAR-10, MNIST) and, where they
#: give none, nnlite's, the training set's own mean and standard deviation (Fashion-MNIST: 0.2860, 0.3530).
NORMALIZATION: dict[str, tuple[list[float], list[float]]] = {
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
    "mnist": ([0.1307], [0.3081]),
    "fashion-mnist": ([0.2860], [0.3530]),
}


class SpecError(ValueError):
    """A spec that cannot run: the message names the file and the key."""


@dataclass
class Spec:
    """A validated experiment spec (see the module docstring for the file format)."""

    name: str
    title: str
    path: str
    kind: str = "train"
    source: str = ""
    notes: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    base: dict[str, Any] = field(default_factory=dict)
    variations: list[dict[str, Any]] = field(default_factory=list)
    quick: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    #: The readings where the paper's text and the authors' code disagree: name -> options over ``base``.
    readings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Where each setting comes from: option -> "paper: ...", "code: repository/file" or "nnlite: why".
    sources: dict[str, str] = field(default_factory=dict)
    #: The table's rows as the paper names them (``variations`` has one per row and reading).
    rows: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def shipped_specs() -> dict[str, Path]:
    """The specs shipped with nnlite, by name (``nnlite reproduce NAME``)."""
    folder = resources.files("nnlite.experiments") / "specs"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def _fail(path: str, where: str, what: str) -> SpecError:
    return SpecError(f"{path}: {where}: {what}")


def _check_seeds(path: str, where: str, seeds: Any) -> list[int]:
    ok = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not ok or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise _fail(path, where, f"expected a non-empty list of distinct non-negative integers, got {seeds!r}")
    return list(seeds)


def load_spec(path: str | os.PathLike) -> Spec:
    """Read and validate a spec file (or the name of a shipped spec).

    Raises
    ------
    SpecError
        A missing file, a TOML syntax error, an unknown key, a value of the wrong type, or run options that the
        command refuses — with the file and the key.
    """
    p = str(path)
    if not os.path.exists(p) and p in shipped_specs():
        p = str(shipped_specs()[p])
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        from .._validation import did_you_mean

        names = ", ".join(sorted(shipped_specs()))
        hint = did_you_mean(Path(p).stem, shipped_specs())
        raise SpecError(f"{p}: no such spec file{hint} (shipped specs: {names})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: not valid TOML: {exc}") from None
    unknown = set(doc) - _TOP
    if unknown:
        raise _fail(p, f"key {sorted(unknown)[0]!r}", f"unknown; a spec has {', '.join(sorted(_TOP))}")
    for key in ("name", "title"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise _fail(p, f"key {key!r}", "a non-empty string is required")
    spec = Spec(name=doc["name"], title=doc["title"], path=p, source=str(doc.get("source", "")))
    spec.notes = str(doc.get("notes", ""))
    spec.kind = doc.get("kind", "train")
    if spec.kind not in ("train", "memory"):
        raise _fail(p, "key 'kind'", f"expected 'train' or 'memory', got {spec.kind!r}")
    for key in ("base", "quick", "grid", "paper", "report"):
        if key in doc and not isinstance(doc[key], dict):
            raise _fail(p, f"[{key}]", f"expected a table, got {type(doc[key]).__name__}")
    spec.report = dict(doc.get("report", {}))
    if spec.kind == "memory":
        spec.base = dict(doc.get("base", {}))
        spec.paper = {str(k): dict(v) for k, v in doc.get("paper", {}).items()}
        return spec
    spec.seeds = _check_seeds(p, "key 'seeds'", doc.get("seeds", [0]))
    spec.base = dict(doc.get("base", {}))
    spec.quick = dict(doc.get("quick", {}))
    bad = set(spec.quick) - _QUICK
    if bad:
        raise _fail(p, f"[quick] key {sorted(bad)[0]!r}", "unknown run option")
    if "seeds" in spec.quick:
        spec.quick["seeds"] = _check_seeds(p, "[quick] key 'seeds'", spec.quick["seeds"])
    rows = _variations(p, doc)
    spec.rows = [v["name"] for v in rows]
    spec.paper = _paper(p, doc, set(spec.rows))
    spec.sources = _sources(p, doc)
    spec.readings = _readings(p, doc)
    spec.variations = _with_readings(p, rows, spec.readings)
    for v in spec.variations:  # a row that names a reading's paper values shares them
        if v.get("row") in spec.paper:
            spec.paper[v["name"]] = spec.paper[v["row"]]
    try:
        spec.findings = parse_findings(doc.get("finding"), spec.rows)
    except ValueError as exc:
        raise _fail(p, "[[finding]]", str(exc)) from None
    for v in spec.variations:  # every row must be a run the command accepts
        try:
            config_of(_per_rule({**spec.base, **_options(v)}))
        except (ValueError, TypeError) as exc:
            raise _fail(p, f"variation {v['name']!r}", str(exc)) from None
    return spec


def _per_rule(options: dict[str, Any]) -> dict[str, Any]:
    """An option given per rule, ``lr = {bp = 0.1, dfa = 0.05}`` (biotorch's configs) or ``init = {bp = "he", dfa =
    "zeros"}`` (Nøkland's code starts DFA and FA from zero weights), resolved for the run's own rule (no run option
    takes a table)."""
    rule = options.get("rule", "bp")
    out = dict(options)
    for key, value in options.items():
        if isinstance(value, dict):
            if rule not in value:
                raise ValueError(f"{key!r} gives values for {', '.join(value)} but not for the run's rule {rule!r}")
            out[key] = value[rule]
    return out


def _sources(path: str, doc: dict[str, Any]) -> dict[str, str]:
    sources = doc.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise _fail(path, "[sources]", "expected a table of option = 'where it comes from'")
    bad = set(sources) - {*RUN_OPTIONS, "seeds", "data", "metric", "architecture"}
    if bad:
        raise _fail(path, f"[sources] key {sorted(bad)[0]!r}", "not a run option")
    return dict(sources)


def _readings(path: str, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    readings = doc.get("reading", {})
    if not isinstance(readings, dict) or not all(isinstance(v, dict) for v in readings.values()):
        raise _fail(path, "[reading]", "expected tables [reading.NAME] of run options")
    for name, options in readings.items():
        bad = set(options) - set(RUN_OPTIONS)
        if bad:
            raise _fail(path, f"[reading.{name!r}] key {sorted(bad)[0]!r}", "unknown run option")
    return {str(k): dict(v) for k, v in readings.items()}


def _with_readings(path: str, rows: list[dict[str, Any]], readings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One variation per row and reading, named ``"row [reading]"``: the reading's options over the base, the
    row's over those, and the row's own options for that reading (``reading."as run" = {...}``) last."""
    for v in rows:
        own = v.get("reading", {})
        if not isinstance(own, dict) or not all(isinstance(o, dict) for o in own.values()):
            raise _fail(path, f"variation {v['name']!r} key 'reading'", "expected a table of reading = {options}")
        unknown = set(own) - set(readings)
        if unknown:
            raise _fail(
                path, f"variation {v['name']!r}", f"no reading {sorted(unknown)[0]!r} (readings: {', '.join(readings)})"
            )
    if not readings:
        return rows
    out = []
    for reading, base in readings.items():
        for v in rows:
            options = {**base, **_options(v), **v.get("reading", {}).get(reading, {})}
            out.append({"name": f"{v['name']} [{reading}]", "row": v["name"], "reading": reading, **options})
    return out


def _options(variation: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variation.items() if k not in ("name", "row", "reading")}


def _variations(path: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = doc.get("variation", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _fail(path, "[[variation]]", "expected an array of tables")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r.get("name"), str) or not r["name"]:
            raise _fail(path, f"variation {i + 1}", "needs a non-empty string 'name'")
        bad = set(r) - {"name", "reading", *RUN_OPTIONS}
        if bad:
            raise _fail(path, f"variation {r['name']!r} key {sorted(bad)[0]!r}", "unknown run option")
        out.append(dict(r))
    grid = doc.get("grid", {})
    bad = set(grid) - set(RUN_OPTIONS)
    if bad:
        raise _fail(path, f"[grid] key {sorted(bad)[0]!r}", "unknown run option")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise _fail(path, f"[grid] key {key!r}", "expected a non-empty list of values")
    if grid and out:
        raise _fail(path, "[grid]", "use either [[variation]] rows or a [grid], not both")
    if grid:
        keys = list(grid)
        out = [
            {"name": ", ".join(f"{k}={_show(v)}" for k, v in zip(keys, combo)), **dict(zip(keys, combo))}
            for combo in itertools.product(*(grid[k] for k in keys))
        ]
    if not out:
        out = [{"name": "base"}]
    names = [r["name"] for r in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _fail(path, f"variation {sorted(dup)[0]!r}", "named twice")
    return out


def _show(v: Any) -> str:
    if isinstance(v, list):
        return ":".join(str(x) for x in v)
    return str(v)


def _paper(path: str, doc: dict[str, Any], names: set[str]) -> dict[str, dict[str, Any]]:
    paper = doc.get("paper", {})
    out = {}
    for row, values in paper.items():
        if row not in names:
            raise _fail(path, f"[paper.{row!r}]", f"no variation of that name (rows: {', '.join(sorted(names))})")
        if not isinstance(values, dict):
            raise _fail(path, f"[paper.{row!r}]", "expected a table of values")
        bad = set(values) - _PAPER_KEYS
        if bad:
            raise _fail(path, f"[paper.{row!r}] key {sorted(bad)[0]!r}", f"expected {', '.join(sorted(_PAPER_KEYS))}")
        out[row] = dict(values)
    return out


def expand(
    spec: Spec,
    *,
    quick: bool = False,
    dataset: str | None = None,
    overrides: dict[str, Any] | None = None,
    seeds: list[int] | None = None,
) -> list[dict[str, Any]]:
    """The runs of ``spec``: one ``{"variation", "seed", "options"}`` per variation and seed, in table order.

    ``quick`` applies the spec's ``[quick]`` table (a subset of the data, fewer epochs and seeds); ``dataset``
    replaces the data set of every run (e.g. Fashion-MNIST where CIFAR-10 cannot be downloaded), and a run's input
    normalisation constants with that data set's (:data:`NORMALIZATION`; none where it has none); ``overrides``
    sets run options in every run (e.g. ``{"epochs": 5}``: the scale a machine affords), checked like the spec's
    own; ``seeds`` replaces the spec's seeds.
    """
    if spec.kind != "train":
        return []
    q = dict(spec.quick) if quick else {}
    quick_seeds = q.pop("seeds", spec.seeds)
    seed_list = quick_seeds if seeds is None else _check_seeds(spec.path, "seeds", seeds)
    extra = dict(overrides or {})
    bad = set(extra) - set(RUN_OPTIONS)
    if bad:
        raise SpecError(f"{spec.path}: override {sorted(bad)[0]!r}: unknown run option")
    runs = []
    for v in spec.variations:
        for s in seed_list:
            options = _per_rule({**spec.base, **_options(v), **q, **extra, "seed": s})
            if dataset is not None and dataset != options.get("dataset", "digits"):
                options["dataset"] = dataset
                if "input_mean" in options or "input_std" in options:  # the constants of the data set run
                    options.pop("input_mean", None)
                    options.pop("input_std", None)
                    if dataset in NORMALIZATION:
                        options["input_mean"], options["input_std"] = NORMALIZATION[dataset]
            runs.append({"variation": v["name"], "seed": s, "options": options})
    return runs

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

Every key is checked when the spec is loaded, before anything runs (and under ``--dry-run``): an unknown key, a
wrong type, an unknown rule or data set, a bad combination, a ``[report]`` column or figure that does not exist, a
finding's row or layer that does not exist, a ``seed`` outside the seed lists, a name that is not a plain name, a
``[grid]`` too large to sweep (its size is computed before it is expanded) — an error naming the key and the file
(:mod:`nnlite.experiments.validate`). A spec with ``kind = "memory"`` computes instead of training (Launay et al.'s
Table 1).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..training.io import read_regular
from . import validate
from .findings import Finding, parse_findings
from .run import RUN_OPTIONS, config_of
from .spec_tables import (
    SpecError,
    _check_seeds,
    _checked,
    _fail,
    _options,
    _paper,
    _readings,
    _sources,
    _variations,
    _with_readings,
)

__all__ = ["MAX_SPEC_BYTES", "Spec", "SpecError", "expand", "load_spec", "load_spec_text", "shipped_specs"]

#: The largest spec file read (the shipped ones are under 20 KB).
MAX_SPEC_BYTES = 1 << 20

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
    #: The spec file's text, as read (a results folder keeps a copy: its report reads that, never another file).
    text: str = ""


def shipped_specs() -> dict[str, Path]:
    """The specs shipped with nnlite, by name (``nnlite reproduce NAME``)."""
    folder = resources.files("nnlite.experiments") / "specs"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def load_spec(path: str | os.PathLike, *, yes: bool = False) -> Spec:
    """Read and validate a spec file (or the name of a shipped spec).

    ``yes`` admits a ``[grid]`` of more rows than :data:`~nnlite.experiments.validate.RUNS_WITHOUT_YES`.

    Raises
    ------
    SpecError
        A missing file, a file that is not a regular text file of at most :data:`MAX_SPEC_BYTES`, a TOML syntax
        error, an unknown key, a value of the wrong type, or run options that the command refuses — with the file
        and the key.
    """
    p = str(path)
    if not os.path.lexists(p) and p in shipped_specs():
        p = str(shipped_specs()[p])
    try:
        data = read_regular(p, MAX_SPEC_BYTES, "spec", follow=True)  # a link to a spec is the caller's
    except FileNotFoundError:
        from .._validation import did_you_mean

        names = ", ".join(sorted(shipped_specs()))
        hint = did_you_mean(Path(p).stem, shipped_specs())
        raise SpecError(f"{p}: no such spec file{hint} (shipped specs: {names})") from None
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{p}: not a text file (a spec is TOML in UTF-8); pass the .toml file") from None
    return load_spec_text(text, p, yes=yes)


def load_spec_text(text: str, path: str, *, yes: bool = False) -> Spec:
    """Validate the spec ``text``, named ``path`` in messages (:func:`load_spec` without the file)."""
    p = path
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: not valid TOML: {exc}") from None
    unknown = set(doc) - _TOP
    if unknown:
        raise _fail(p, f"key {sorted(unknown)[0]!r}", f"unknown; a spec has {', '.join(sorted(_TOP))}")
    for key in ("name", "title"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise _fail(p, f"key {key!r}", "a non-empty string is required")
    try:
        validate.check_name(doc["name"])
    except ValueError as exc:
        raise _fail(p, "key 'name'", str(exc)) from None
    spec = Spec(name=doc["name"], title=doc["title"], path=p, source=str(doc.get("source", "")), text=text)
    spec.notes = str(doc.get("notes", ""))
    spec.kind = doc.get("kind", "train")
    if spec.kind not in ("train", "memory"):
        raise _fail(p, "key 'kind'", f"expected 'train' or 'memory', got {spec.kind!r}")
    for key in ("base", "quick", "grid", "paper", "report"):
        if key in doc and not isinstance(doc[key], dict):
            raise _fail(p, f"[{key}]", f"expected a table, got {type(doc[key]).__name__}")
    spec.report = _checked(p, "[report]", validate.check_report, doc.get("report", {}))
    if spec.kind == "memory":
        spec.base = _checked(p, "[base]", validate.check_memory_base, doc.get("base", {}))
        spec.paper = {str(k): dict(v) for k, v in doc.get("paper", {}).items()}
        return spec
    spec.seeds = _check_seeds(p, "key 'seeds'", doc.get("seeds", [0]))
    spec.base = dict(doc.get("base", {}))
    spec.quick = dict(doc.get("quick", {}))
    _checked(p, "[base]", validate.check_no_seed, spec.base, "[base]")
    bad = set(spec.quick) - _QUICK
    if bad:
        raise _fail(p, f"[quick] key {sorted(bad)[0]!r}", "unknown run option")
    if "seeds" in spec.quick:
        spec.quick["seeds"] = _check_seeds(p, "[quick] key 'seeds'", spec.quick["seeds"])
    _checked(p, "[quick]", validate.check_no_seed, spec.quick, "[quick]")
    rows = _variations(p, doc, len(spec.seeds), yes)
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
    points: dict[str, int] = {}
    for v in spec.variations:  # every row must be a run the command accepts
        _checked(p, f"variation {v['name']!r}", validate.check_no_seed, v, f"variation {v['name']!r}")
        quick = {k: x for k, x in spec.quick.items() if k != "seeds"}
        for scale in ({}, quick) if quick else ({},):  # the row, and its --quick form
            try:
                config = config_of(_per_rule({**spec.base, **_options(v), **scale}))
            except (ValueError, TypeError) as exc:
                raise _fail(p, f"variation {v['name']!r}" + (" with [quick]" if scale else ""), str(exc)) from None
            points.setdefault(v["name"], validate.hidden_points(config))
    _checked(p, "[[finding]]", validate.check_findings_layers, spec.findings, points)
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
    normalisation constants with that data set's (:func:`nnlite.experiments.normalization.constants`: the
    authors' where they published them, else the data's own per-channel training statistics); ``overrides``
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
    _checked(spec.path, "override 'seed'", validate.check_no_seed, extra, "an override")
    validate.check_run_count(len(spec.variations) * len(seed_list), yes=True)  # before the runs are made
    runs = []
    for v in spec.variations:
        for s in seed_list:
            options = _checked(
                spec.path, f"variation {v['name']!r}", _per_rule, {**spec.base, **_options(v), **q, **extra, "seed": s}
            )
            if dataset is not None and dataset != options.get("dataset", "digits"):
                options["dataset"] = dataset
                if "input_mean" in options or "input_std" in options:  # the constants of the data set run
                    options["input_mean"], options["input_std"] = _normalization(spec, dataset, options)
            runs.append({"variation": v["name"], "seed": s, "options": options})
    return runs


def _normalization(spec: Spec, dataset: str, options: dict[str, Any]) -> tuple[list[float], list[float]]:
    from .normalization import constants

    try:
        return constants(dataset, options.get("data_root"))
    except (ValueError, OSError) as exc:
        raise SpecError(f"{spec.path}: the input normalisation of {dataset} cannot be computed: {exc}") from None

"""The arguments of ``nnlite sweep`` and ``reproduce`` that shape the runs: ``--set`` (:func:`overrides`),
``--seeds`` (:func:`seeds_of`), ``--rows`` and ``--findings`` (:func:`select`), and the command that continues an
interrupted sweep (:func:`continue_command`). Each mistake is a :class:`~nnlite.cli.build.CLIError` (exit 2)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from nnlite._validation import did_you_mean

from .build import CLIError

__all__ = ["MAX_SEEDS", "continue_command", "items", "overrides", "seeds_of", "select"]

#: The most seeds --seeds takes (each is one run per row).
MAX_SEEDS = 1000


def overrides(items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` as a mapping: each KEY a run option (not ``seed``: seeds are ``--seeds``), each VALUE
    TOML (a bare word is a string)."""
    import tomllib

    from nnlite.experiments.run import RUN_OPTIONS

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"--set takes KEY=VALUE, got {item!r}")
        if key == "seed":
            raise CLIError(f"--set {item}: the runs' seeds come from the spec's seed list or --seeds, not --set seed")
        if key not in RUN_OPTIONS:
            raise CLIError(f"--set {item}: {key!r} is not a run option{did_you_mean(key, RUN_OPTIONS)}")
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value  # a bare word: a string (e.g. --set rule=fa)
    return out


#: The most seeds --seeds takes (each is one run per row).


def seeds_of(args: argparse.Namespace) -> list[int] | None:
    """``--seeds`` as a list (None when not given): distinct non-negative integers, at most :data:`MAX_SEEDS`."""
    if args.seeds is None:
        return None
    try:
        seeds = [int(s) for s in str(args.seeds).split(",")]
    except ValueError:
        raise CLIError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if min(seeds) < 0 or len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEEDS:
        raise CLIError(f"--seeds takes at most {MAX_SEEDS} distinct non-negative integers, got {args.seeds!r}")
    return seeds


def continue_command(args: argparse.Namespace, out: Any) -> str:
    """The command that continues the sweep ``args`` describe in ``out``."""
    words = ["nnlite", args.command, getattr(args, "spec", None) or args.name, "--out", str(out)]
    words += ["--quick"] if args.quick else []
    words += ["--dataset", args.dataset] if args.dataset else []
    for item in args.set:
        words += ["--set", item]
    words += ["--seeds", args.seeds] if args.seeds else []
    words += ["--scheduler", args.scheduler] if args.scheduler else []
    words += ["--workers", str(args.workers)] if args.workers else []
    words += ["--rows", args.rows] if getattr(args, "rows", None) else []
    words += ["--findings", args.findings] if getattr(args, "findings", None) else []
    words += ["--readings", args.readings] if getattr(args, "readings", None) else []
    return shlex.join(words)


def select(args: argparse.Namespace, spec: Any, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of the rows ``--rows`` names and the rows the findings ``--findings`` names read (all when
    neither is given), in the readings ``--readings`` names (every reading when it is not given)."""
    readings = items(getattr(args, "readings", None))
    for name in readings:
        if name not in spec.readings:
            known = ", ".join(spec.readings) or "none"
            raise CLIError(f"--readings: {spec.name} has no reading {name!r} (its readings: {known})")
    if readings:
        runs = [r for r in runs if r.get("reading", _reading_of(spec, r["variation"])) in readings]
    rows: set[str] = set()
    for name in items(getattr(args, "rows", None)):
        if name not in spec.rows:
            raise CLIError(f"--rows: {spec.name} has no row {name!r}{did_you_mean(name, spec.rows)}")
        rows.add(name)
    for item in items(getattr(args, "findings", None)):
        if not item.isdigit() or not 1 <= int(item) <= len(spec.findings):
            raise CLIError(f"--findings takes numbers from 1 to {len(spec.findings)} (the spec's order), got {item!r}")
        rows.update(spec.findings[int(item) - 1].rows_used())
    if not rows:
        return runs
    of_row = {v["name"]: v.get("row", v["name"]) for v in spec.variations}
    return [r for r in runs if of_row[r["variation"]] in rows]


def _reading_of(spec: Any, variation: str) -> str | None:
    return next((v.get("reading") for v in spec.variations if v["name"] == variation), None)


def items(text: str | None) -> list[str]:
    """The comma-separated items of ``text`` (none for None or blanks)."""
    return [] if not text else [t.strip() for t in str(text).split(",") if t.strip()]

"""The tables of a spec file, checked one by one: its rows (``[[variation]]`` or a ``[grid]``, counted before they
are expanded), the readings and each row under each reading, the paper's values and the sources; and the error
every check of a spec raises (:class:`SpecError`, naming the file and the key). :mod:`nnlite.experiments.spec`
puts them together."""

from __future__ import annotations

import itertools
import math
from typing import Any

from . import validate
from .run import RUN_OPTIONS

__all__ = ["SpecError"]

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


class SpecError(ValueError):
    """A spec that cannot run: the message names the file and the key."""


def _fail(path: str, where: str, what: str) -> SpecError:
    return SpecError(f"{path}: {where}: {what}")


def _checked(path: str, where: str, check: Any, *args: Any, **kwargs: Any) -> Any:
    """``check(*args)``, its ``ValueError`` (or ``TypeError``) a :class:`SpecError` naming the file and ``where``."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise _fail(path, where, str(exc)) from None


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
        _checked(path, f"[reading.{name!r}]", validate.check_no_seed, options, f"[reading.{name!r}]")
    return {str(k): dict(v) for k, v in readings.items()}


def _with_readings(path: str, rows: list[dict[str, Any]], readings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One variation per row and reading, named ``"row [reading]"``: the reading's options over the base, the
    row's over those, and the row's own options for that reading (``reading."as run" = {...}``) last."""
    for v in rows:
        own = v.get("reading", {})
        if not isinstance(own, dict) or not all(isinstance(o, dict) for o in own.values()):
            raise _fail(path, f"variation {v['name']!r} key 'reading'", "expected a table of reading = {options}")
        for reading, o in own.items():
            _checked(path, f"variation {v['name']!r}", validate.check_no_seed, o, f"its reading {reading!r}")
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


def _variations(path: str, doc: dict[str, Any], n_seeds: int, yes: bool) -> list[dict[str, Any]]:
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
    _checked(path, "[grid]", validate.check_no_seed, grid, "[grid]")
    readings: dict[str, Any] = doc["reading"] if isinstance(doc.get("reading"), dict) else {}
    n_rows = validate.grid_size(grid) if grid else max(1, len(out))
    _checked(
        path,
        "[grid]" if grid else "[[variation]]",
        validate.check_run_count,
        n_rows * max(1, len(readings)) * n_seeds,
        yes=yes,
    )
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
        for key, v in values.items():
            if not _paper_value(key, v):
                what = "a string" if key == "source" else "a list of numbers" if key.startswith("cos") else "a number"
                raise _fail(path, f"[paper.{row!r}] key {key!r}", f"expected {what}, got {v!r}")
        out[row] = dict(values)
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _paper_value(key: str, v: Any) -> bool:
    if key == "source":
        return isinstance(v, str)
    if key in ("cos", "cos_std"):
        return isinstance(v, list) and len(v) <= 64 and all(_number(x) for x in v)
    return _number(v)


def _check_seeds(path: str, where: str, seeds: Any) -> list[int]:
    ok = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not ok or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise _fail(path, where, f"expected a non-empty list of distinct non-negative integers, got {seeds!r}")
    return list(seeds)

"""``--until-decided``: seeds added only to the rows that undecided findings read, in looks planned before the
first run, each look tested at a corrected significance level.

The design is a fixed sequence of looks: ``n0`` seeds a row (the spec's, or ``--seeds``), then doubling up to
``--max-seeds`` (:func:`plan_looks`). At each look every finding is tested at ``ALPHA / L`` for ``L`` planned looks
(Bonferroni): whatever the data do, the chance that any look gives a false verdict is at most ``ALPHA``. Why this
and not an alpha-spending boundary (Pocock, O'Brien–Fleming): those assume looks at planned fractions of one
sample with one test statistic, while here each finding's rows grow only while it is undecided and several
findings share rows; Bonferroni over the planned looks needs no such assumption, at the price of power. The plan
is written in the results folder (``design.json``) before the second look, and the report reads it to say how each
verdict was reached.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..training.io import own_file, read_regular, write_json
from .findings import ALPHA

__all__ = ["DESIGN_NAME", "next_runs", "plan_looks", "read_design", "write_design"]

#: The file of a results folder that records an adaptive design.
DESIGN_NAME = "design.json"


def plan_looks(n0: int, max_seeds: int) -> list[int]:
    """The seeds a row has at each look: ``n0``, then doubling, capped at ``max_seeds`` (its last look)."""
    if n0 < 1 or max_seeds < n0:
        raise ValueError(f"--max-seeds must be at least the seeds the spec starts with ({n0}), got {max_seeds}")
    looks = [n0]
    while looks[-1] < max_seeds:
        looks.append(min(max_seeds, max(2 * looks[-1], looks[-1] + 1)))
    return looks


def _design(looks: Sequence[int], look: int) -> dict[str, Any]:
    return {"kind": "adaptive", "looks": list(looks), "look": int(look), "alpha": ALPHA / len(looks)}


def write_design(folder: str | os.PathLike, looks: Sequence[int], look: int) -> dict[str, Any]:
    """Record the plan and the current look in ``folder`` (``design.json``, atomically, never through a link)."""
    design = _design(looks, look)
    write_json(own_file(folder, DESIGN_NAME), design, own=True)
    return design


def read_design(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The adaptive design recorded in ``folder``, None when its seeds were fixed. The significance level is
    computed from the planned looks, never read from the file.

    Raises
    ------
    ValueError
        The file is a link, not a regular file, or not a design nnlite wrote.
    """
    path = os.path.join(os.fspath(folder), DESIGN_NAME)
    if not os.path.lexists(path):
        return None
    try:
        doc = json.loads(read_regular(path, 1 << 16, "adaptive design"))
        looks, look = doc["looks"], doc["look"]
        ok = isinstance(looks, list) and looks and all(isinstance(n, int) and n >= 1 for n in looks)
        ok = ok and all(a < b for a, b in itertools.pairwise(looks))
        ok = ok and isinstance(look, int) and 1 <= look <= len(looks)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not an adaptive design nnlite wrote ({exc})") from None
    if not ok:
        raise ValueError(f"{path} is not an adaptive design nnlite wrote (looks {looks!r}, look {look!r})")
    return _design(looks, look)


def next_runs(
    results: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    target: int,
    make_runs: Callable[[list[int]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The runs of the next look: for every finding that more seeds would decide (``to_decide`` of kind
    ``"seeds"``, :mod:`~nnlite.experiments.power`), its rows (in its reading) get seeds up to ``target``, each the
    smallest seed that row has not run; other rows get none. ``make_runs(seeds)`` expands the spec at those seeds."""
    wanted: dict[str, int] = {}
    for r in results:
        decide = r.get("to_decide") or {}
        if r.get("verdict") != "inconclusive" or decide.get("kind") != "seeds":
            continue
        suffix = f" [{r['reading']}]" if r.get("reading") else ""
        for row in decide["rows"]:
            wanted[row + suffix] = target
    pairs: set[tuple[str, int]] = set()
    for variation, n in wanted.items():
        have = {int(x["seed"]) for x in records if x.get("variation") == variation and x.get("status") == "ok"}
        seed = 0
        while len(have) < n:
            if seed not in have:
                have.add(seed)
                pairs.add((variation, seed))
            seed += 1
    if not pairs:
        return []
    seeds = sorted({s for _, s in pairs})
    return [r for r in make_runs(seeds) if (r["variation"], r["seed"]) in pairs]

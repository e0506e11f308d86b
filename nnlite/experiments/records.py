"""A sweep's runs and their records: the key of a run, the checks of a list of runs, and one run executed into the
record that :func:`nnlite.experiments.sweep.sweep` writes to ``<key>.json``.

A run is ``{"variation": str, "seed": int, "options": dict}`` (``options`` those of
:func:`~nnlite.experiments.run.run`, ``seed`` included). Its record is ``{"key", "variation", "seed", "options",
"status": "ok" | "failed", "result": run's dict or None, "error": str or None, "traceback": str or None,
"started", "finished" (ISO 8601 times with their UTC offset), "worker": the Dask worker's address or None,
"experiment": the key of the experiment it belongs to (:mod:`nnlite.experiments.folder`), "checksum"}``.
``checksum`` is the SHA-256 of the rest of the record's canonical JSON (:func:`seal`): a file that was truncated,
edited or written for other options fails :func:`check_record`, is run again and never aggregated.
"""

from __future__ import annotations

import hashlib
import json
import os
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..training.io import json_clean, read_regular
from .run import run

__all__ = [
    "MAX_RECORD_BYTES",
    "check_record",
    "check_runs",
    "execute",
    "is_done",
    "make_record",
    "read_record",
    "run_key",
    "run_seconds",
    "seal",
]


#: The largest run record read back (a run's history with alignment every few steps is a few MB).
MAX_RECORD_BYTES = 256 << 20


def run_key(options: Mapping[str, Any]) -> str:
    """The key of a run: the first 16 hex digits of the SHA-256 of ``options``' canonical JSON.

    The canonical JSON is ``json.dumps(options, sort_keys=True, separators=(",", ":"))``: the same options give
    the same key whatever their order.

    Raises
    ------
    TypeError
        ``options`` is not a mapping, or holds a value JSON cannot represent.
    """
    if not isinstance(options, Mapping):
        raise TypeError(f"a run's options must be a mapping, got {type(options).__name__}")
    text = json.dumps(dict(options), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_runs(runs: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(key, run)`` for every run of ``runs``, each run as a plain dict, checked.

    Raises
    ------
    ValueError, TypeError
        A run that is not ``{"variation": str, "seed": int, "options": dict}`` with ``options["seed"] == seed``,
        or two runs with the same options (the same key).
    """
    checked: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(runs):
        if not isinstance(r, Mapping) or set(r) != {"variation", "seed", "options"}:
            got = sorted(r) if isinstance(r, Mapping) else type(r).__name__
            raise ValueError(f"run {i} must be a mapping with keys 'variation', 'seed' and 'options', got {got}")
        variation, seed, options = r["variation"], r["seed"], r["options"]
        if not isinstance(variation, str):
            raise TypeError(f"run {i}: 'variation' must be a string, got {variation!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"run {i}: 'seed' must be an integer, got {seed!r}")
        if not isinstance(options, Mapping) or options.get("seed") != seed:
            raise ValueError(f"run {i} ({variation!r}): options must be a mapping whose 'seed' is {seed}")
        key = run_key(options)
        if key in seen:
            raise ValueError(f"runs {seen[key]} and {i} have the same options (key {key}); each run must be distinct")
        seen[key] = i
        checked.append((key, {"variation": variation, "seed": seed, "options": dict(options)}))
    return checked


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def make_record(
    key: str,
    r: Mapping[str, Any],
    started: str | None,
    worker: str | None,
    result: Any = None,
    exc: Any = None,
    tb: Any = None,
) -> dict[str, Any]:
    """The file of one finished run: ``result`` when it succeeded, else ``exc`` and its traceback ``tb``."""
    if exc is not None and tb is None:
        tb = exc.__traceback__
    record = {
        "key": key,
        "variation": r["variation"],
        "seed": r["seed"],
        "options": r["options"],
        "status": "ok" if exc is None else "failed",
        "result": result,
        "error": None if exc is None else f"{type(exc).__name__}: {exc}",
        "traceback": None if exc is None else "".join(traceback.format_exception(type(exc), exc, tb)),
        "started": started,
        "finished": _now(),
        "worker": worker,
    }
    return seal(record)


def _digest(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` JSON-cleaned (NaN as None, as the file holds it) with its ``checksum``: the SHA-256 of the canonical
    JSON of everything else in it, options and result included."""
    clean = json_clean(dict(record))
    clean.pop("checksum", None)
    return {**clean, "checksum": _digest(clean)}


def check_record(doc: Any, name: str | None = None) -> str | None:
    """Why ``doc`` (a parsed run file, named ``name``) cannot be trusted, or None when it can.

    A record is trusted when it is a run record whose ``checksum`` matches its content and whose ``key`` is that
    of its options (and the file's name, when given).
    """
    if not isinstance(doc, dict) or not {"key", "variation", "seed", "options", "status"} <= set(doc):
        return "not a run record"
    if "checksum" not in doc:
        return "no checksum (written by an older nnlite, or by hand)"
    if doc["checksum"] != _digest(doc):
        return "checksum mismatch: the file was edited or damaged"
    try:
        key = run_key(doc["options"])
    except (TypeError, ValueError):
        return "its options are not a mapping"
    if doc["key"] != key:
        return f"its key {doc['key']} is not its options' ({key})"
    if name is not None and name != f"{key}.json":
        return f"its name is not its key's ({key}.json)"
    return None


def read_record(path: str | os.PathLike) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a trusted run file, ``(None, reason)`` otherwise (missing, truncated, edited, ...)."""
    try:
        data = read_regular(path, MAX_RECORD_BYTES, "run record")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:  # a link, a FIFO, a folder, a file too large: not what a sweep wrote
        return None, f"unreadable: {exc}"
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        return None, f"unreadable: {exc}"
    except ValueError:
        return None, "not valid JSON: truncated or damaged"
    problem = check_record(doc, os.path.basename(path))
    return (None, problem) if problem else (doc, None)


def execute(key: str, r: Mapping[str, Any]) -> dict[str, Any]:
    """Run one run where this is called (a Dask worker, or in process) and return its record; never raises.

    Returns
    -------
    dict
        The record :func:`sweep` writes to ``<key>.json``: ``status`` "ok" with ``result`` the dict of
        :func:`~nnlite.experiments.run.run`, or "failed" with ``error`` and ``traceback`` (any ``Exception``
        the run raised); ``worker`` is the Dask worker's address (None outside a worker).
    """
    try:
        from distributed import get_worker

        worker: str | None = get_worker().address
    except (ImportError, ValueError):
        worker = None
    started = _now()
    try:
        result = run(r["options"])
    except Exception as exc:
        return make_record(key, r, started, worker, exc=exc)
    return make_record(key, r, started, worker, result=result)


def is_done(path: str | os.PathLike, experiment: str | None = None) -> bool:
    """Whether ``path`` holds a trusted run record with status "ok" (:func:`read_record`; a missing, damaged or
    failed one is not done) of ``experiment`` (its key; any record when None)."""
    record, _ = read_record(path)
    if record is None or record["status"] != "ok":
        return False
    return experiment is None or record.get("experiment") == experiment


def run_seconds(record: Mapping[str, Any]) -> float | None:
    """The wall time of a recorded run, from its ``started`` and ``finished`` times (None when unknown)."""
    try:
        a, b = datetime.fromisoformat(record["started"]), datetime.fromisoformat(record["finished"])
    except (KeyError, TypeError, ValueError):
        return None
    return (b - a).total_seconds()

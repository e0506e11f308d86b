"""A results folder holds one experiment.

An **experiment** is everything that determines its runs' results, seeds aside: every row's run options after
the spec's defaults, ``[quick]``, ``--dataset`` and ``--set`` are applied and the run configuration has filled in
every default (:meth:`nnlite.config.RunConfig.to_dict`), and the data those runs read (a data set of one's own by
the SHA-256 of its file; a built-in one by its name, as its files are checked against their published SHA-256).
Its key (:func:`experiment_of`) is the first 16 hex digits of the SHA-256 of that, as canonical JSON.

The folder records it in ``spec.json`` (with the settings it was swept with, the seeds swept so far, and each
row's options, to say what differs) and keeps a copy of the spec file as ``spec.toml``. A sweep into a folder of
another experiment is refused, naming what differs (:func:`claim_folder`), or with ``force`` goes to a fresh
sub-folder named after the experiment: never a mix. Every run record carries its experiment's key
(``"experiment"``), and a report aggregates only the records of its folder's experiment; ``nnlite report DIR`` reads
the spec copy in ``DIR`` (:func:`folder_spec`), never a file found from the current directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._validation import own_path
from ..training.io import atomic_write, own_file, read_regular, write_json
from .run import config_of

__all__ = [
    "META_NAME",
    "check_own_files",
    "report_files",
    "SPEC_COPY",
    "FolderInUseError",
    "claim_folder",
    "data_digest",
    "experiment_of",
    "folder_meta",
    "folder_spec",
]

#: The folder's record of its experiment, and its copy of the spec file.
META_NAME = "spec.json"
SPEC_COPY = "spec.toml"
_MAX_META_BYTES = 16 << 20
_FORMAT = 1
_BUILT_IN = ("digits", "mnist", "fashion-mnist", "cifar10")


class FolderInUseError(ValueError):
    """The folder holds another experiment's runs (another spec, or the same spec with other settings or data)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def data_digest(dataset: str) -> str:
    """What identifies the data a run named ``dataset`` reads: a built-in data set's name, or ``sha256:<hex>`` of
    a file of one's own (read in blocks; a missing or non-regular file is named as such, and its runs fail)."""
    if dataset in _BUILT_IN:
        return dataset
    try:
        fd = os.open(dataset, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return "not a regular file"
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"sha256:{h.hexdigest()}"


def experiment_of(
    spec: Any, runs: Sequence[Mapping[str, Any]], *, quick: bool, dataset: str | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The record of the experiment ``runs`` (the expansion of ``spec`` at these settings) make: the ``spec.json``
    a folder holds, with its key under ``"experiment"``."""
    rows: dict[str, Any] = {}
    for r in runs:
        if r["variation"] not in rows:
            options = config_of(r["options"]).to_dict()
            options.pop("seed", None)
            if options.get("gemm") == "auto":  # the default provider choice leaves the key as it was before it
                options.pop("gemm")
            rows[r["variation"]] = options
    if spec.kind != "train":
        rows = {"base": dict(spec.base)}
    names = sorted({str(o.get("dataset", "digits")) for o in rows.values()} if spec.kind == "train" else set())
    data = {name: data_digest(name) for name in names}
    body = {"format": _FORMAT, "spec": spec.name, "kind": spec.kind, "rows": rows, "data": data}
    return {
        "spec": spec.name,
        "path": spec.path,
        "quick": bool(quick),
        "dataset": dataset,
        "set": dict(overrides),
        "experiment": _sha256(_canonical(body))[:16],
        "format": _FORMAT,
        "kind": spec.kind,
        "rows": rows,
        "data": data,
        "spec_sha256": _sha256(spec.text),
        "seeds": sorted({int(r["seed"]) for r in runs}),
        "text": spec.text,
    }


def folder_meta(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The experiment record (``spec.json``) of ``folder``, None when it has none.

    Raises
    ------
    FolderInUseError
        ``spec.json`` is a link, not a regular file, too large, not JSON, or not an experiment record of this
        nnlite (an older folder's has no ``"experiment"``).
    """
    path = Path(folder) / META_NAME
    if not os.path.lexists(path):
        return None
    try:
        meta = json.loads(read_regular(path, _MAX_META_BYTES, "experiment record"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FolderInUseError(f"{path} cannot be read as an experiment record: {exc}") from None
    ok = isinstance(meta, dict) and meta.get("format") == _FORMAT and isinstance(meta.get("experiment"), str)
    if not ok or not isinstance(meta.get("rows"), dict) or not isinstance(meta.get("data"), dict):
        raise FolderInUseError(
            f"{path} is not an experiment record of this nnlite (written by an older one, or by hand): sweep into "
            "a new folder (--out)"
        )
    return meta


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    if old.get("spec") != new.get("spec"):
        out.append(f"the spec is {old.get('spec')!r} there, {new.get('spec')!r} now")
    for name in sorted(set(old["data"]) | set(new["data"])):
        a, b = old["data"].get(name), new["data"].get(name)
        if a != b:
            out.append(f"data {name}: {a or 'not used'} there, {b or 'not used'} now")
    rows_a, rows_b = old["rows"], new["rows"]
    for name in [*rows_a, *(n for n in rows_b if n not in rows_a)]:
        if name not in rows_b or name not in rows_a:
            out.append(f"row {name!r} is {'only there' if name in rows_a else 'new'}")
            continue
        a, b = rows_a[name], rows_b[name]
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"row {name!r}: {key} = {a.get(key)!r} there, {b.get(key)!r} now")
    return out or ["the experiment keys differ"]


def claim_folder(
    folder: str | os.PathLike, meta: Mapping[str, Any], *, write: bool = True, force: bool = False
) -> Path:
    """The folder the runs of experiment ``meta`` (:func:`experiment_of`) go to: ``folder`` when it is new or
    holds the same experiment; with ``force``, a fresh sub-folder ``<spec>-<key>`` of a folder that holds another.
    With ``write``, record the experiment there (``spec.json``, the seeds swept so far added) and copy the spec
    file (``spec.toml``, from ``meta``'s spec text ``text``). Call it holding the folder's lock.

    Raises
    ------
    FolderInUseError
        ``folder`` holds another experiment (what differs is named, with the two ways on), or run records without
        an experiment record.
    """
    folder = Path(folder)
    old = folder_meta(folder) if folder.is_dir() else None
    if old is None and folder.is_dir() and any(p.name != "report.json" for p in folder.glob("*.json")):
        old = {"experiment": None}
    if old is not None and old.get("experiment") != meta["experiment"]:
        sub = folder / f"{meta['spec']}-{meta['experiment']}"
        if force:
            return claim_folder(sub, meta, write=write)
        what = (
            "; ".join(_differences(old, meta)[:6])
            if old.get("experiment")
            else "it holds run records but no experiment record"
        )
        raise FolderInUseError(
            f"{folder} holds another experiment ({what}). Its runs and these must not be mixed: sweep into a new "
            f"folder (--out), continue that one with its own spec and settings, or pass --force to sweep into the "
            f"fresh sub-folder {sub}"
        )
    if write:
        record = {k: v for k, v in meta.items() if k != "text"}
        record["seeds"] = sorted({*(old or {}).get("seeds", []), *meta.get("seeds", [])})
        atomic_write(own_file(folder, SPEC_COPY), str(meta.get("text", "")).encode(), own=True)
        write_json(own_file(folder, META_NAME), record, own=True)
    return folder


def report_files(spec: Any) -> list[str]:
    """The files a report of ``spec`` writes in its folder (their names are nnlite's own)."""
    figure = spec.report.get("figure")
    return ["report.md", "report.json", *([f"{figure}.png"] if figure else [])]


def check_own_files(folder: str | os.PathLike, names: Sequence[str]) -> None:
    """Refuse, before anything runs, a folder where a file nnlite will write under ``names`` is a link or not a
    regular file (``ValueError`` naming it)."""
    for name in names:
        own_path(own_file(folder, name))


def folder_spec(folder: str | os.PathLike) -> tuple[dict[str, Any], Any]:
    """``(meta, spec)`` of a results folder: its experiment record and the spec loaded from its own copy.

    Raises
    ------
    FolderInUseError
        No experiment record, or a spec copy that is missing, a link, or not the one the record names (edited).
    """
    from .spec import MAX_SPEC_BYTES, load_spec_text

    folder = Path(folder)
    meta = folder_meta(folder)
    if meta is None:
        raise FolderInUseError(f"{folder} holds no {META_NAME}: not a folder written by nnlite sweep")
    path = folder / SPEC_COPY
    try:
        text = read_regular(path, MAX_SPEC_BYTES, "spec copy").decode("utf-8")
    except FileNotFoundError:
        raise FolderInUseError(f"{path} is missing: the folder's spec copy is what its report reads") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FolderInUseError(f"{path}: {exc}") from None
    if _sha256(text) != meta.get("spec_sha256"):
        raise FolderInUseError(f"{path} is not the spec the folder's runs were made with (it was edited)")
    return meta, load_spec_text(text, str(path), yes=True)

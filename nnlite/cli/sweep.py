"""``nnlite sweep SPEC``, ``nnlite report DIR`` and ``nnlite reproduce NAME``: a paper's table by command.

``sweep`` runs every (variation, seed) of a spec on Dask (a local cluster by default, ``--scheduler`` for any
other), one JSON per run in ``--out``, resuming what is done; ``report`` aggregates a results folder into the
paper's table (``report.md``, ``report.json``, figures); ``reproduce`` is ``sweep`` of a shipped spec followed by
``report``. A bar on standard error shows runs done / failed / running and the time left.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from .build import CLIError

__all__ = ["add_sweep_commands", "cmd_report", "cmd_reproduce", "cmd_sweep"]


def add_sweep_commands(sub: Any, positive_int: Any) -> None:
    """Add ``sweep``, ``report`` and ``reproduce`` to the command parser ``sub``."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default=None, help="results folder (default: runs/<spec>-<timestamp>)")
        p.add_argument("--workers", type=positive_int, default=None, help="local worker processes (default: cores)")
        p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:port)")
        p.add_argument("--quick", action="store_true", help="the spec's [quick] scale: a subset, 1 epoch, 2 seeds")
        p.add_argument("--dataset", default=None, help="run every row on this data set (e.g. fashion-mnist, a .npz)")
        p.add_argument("--rerun", action="store_true", help="run finished runs again (default: resume)")
        p.add_argument(
            "--set",
            metavar="KEY=VALUE",
            action="append",
            default=[],
            help="set a run option in every run, as TOML (e.g. --set epochs=5 --set train_size=10000); repeatable",
        )
        p.add_argument("--seeds", default=None, help="comma-separated seeds replacing the spec's (e.g. 0,1,2)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("sweep", help="run an experiment spec on Dask (resumable)")
    p.add_argument("spec", help="a spec file (.toml) or the name of a shipped spec")
    common(p)
    p.add_argument("--dry-run", action="store_true", help="count the runs and estimate their CPU time; run nothing")
    p = sub.add_parser("report", help="the paper's table from a results folder")
    p.add_argument("dir", help="a folder written by nnlite sweep")
    p = sub.add_parser("reproduce", help="sweep a shipped spec, then report it")
    p.add_argument("name", help="a shipped spec: launay-table1, launay-table2, launay-table4, launay-fig4, ...")
    common(p)


def _out(args: argparse.Namespace, name: str) -> Path:
    if args.out:
        return Path(args.out)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name}-{stamp}"


class _Bar:
    """One tqdm bar over runs on standard error, and one line per finished run."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        self.enabled = enabled

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            print(f"{event['total']} runs, {event['skipped']} already done, {event['submitted']} to run", flush=True)
            if self.enabled and event["submitted"]:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=event["submitted"], desc="runs", file=sys.stderr, dynamic_ncols=True)
        elif kind == "done":
            secs = event.get("seconds")
            took = "" if secs is None else f" in {secs:.1f} s"
            print(f"  {event['status']:6s} {event['variation']} seed {event['seed']}{took}", flush=True)
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(failed=event["failed"], running=event["running"], refresh=False)
        elif kind == "end" and self.bar is not None:
            self.bar.close()


def _overrides(items: list[str]) -> dict[str, Any]:
    import tomllib

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value  # a bare word: a string (e.g. --set rule=fa)
    return out


def _seeds(args: argparse.Namespace) -> list[int] | None:
    if args.seeds is None:
        return None
    try:
        return [int(s) for s in str(args.seeds).split(",")]
    except ValueError:
        raise CLIError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None


def _run_sweep(args: argparse.Namespace, spec_name: str) -> tuple[Any, Path, int]:
    from nnlite.experiments.spec import expand, load_spec
    from nnlite.experiments.sweep import dry_run, sweep

    spec = load_spec(spec_name)
    out = _out(args, spec.name)
    if args.scheduler and args.workers:
        raise CLIError("--workers applies to the local cluster, not with --scheduler")
    runs = expand(spec, quick=args.quick, dataset=args.dataset, overrides=_overrides(args.set), seeds=_seeds(args))
    out.mkdir(parents=True, exist_ok=True)
    from nnlite.training.io import write_json

    meta = {
        "spec": spec.name,
        "path": spec.path,
        "quick": args.quick,
        "dataset": args.dataset,
        "set": _overrides(args.set),
        "seeds": _seeds(args),
    }
    write_json(out / "spec.json", meta)
    if spec.kind != "train":
        return spec, out, 0
    if getattr(args, "dry_run", False):
        est = dry_run(runs, out)
        print(json.dumps(est, indent=1))
        return spec, out, 0
    summary = sweep(
        runs,
        out,
        scheduler=args.scheduler,
        workers=args.workers,
        rerun=args.rerun,
        on_event=_Bar(not args.no_progress and sys.stderr.isatty()),
    )
    print(f"{summary.ok} ok, {summary.failed} failed, {summary.skipped} skipped; results in {out}")
    return spec, out, 0 if summary.failed == 0 else 1


def _note(args: argparse.Namespace) -> str:
    parts = [f"{k}={v}" for k, v in (getattr(args, "set", None) or {}).items()]
    if args.dataset:
        parts.append(f"on {args.dataset} instead of the paper's data set")
    if args.quick:
        parts.append("--quick scale")
    return f" ({'; '.join(parts)})" if parts else ""


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``nnlite sweep``: 0 when every run succeeded, 1 otherwise."""
    _, _, code = _run_sweep(args, args.spec)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``nnlite report DIR``: print the table and write report.md, report.json and figures."""
    from nnlite.experiments.report import write_report
    from nnlite.experiments.spec import load_spec

    folder = Path(args.dir)
    meta_path = folder / "spec.json"
    if not meta_path.is_file():
        raise CLIError(f"{folder} holds no spec.json: not a folder written by nnlite sweep")
    meta = json.loads(meta_path.read_text())
    spec = load_spec(meta["path"] if Path(meta["path"]).exists() else meta["spec"])
    note = _note(argparse.Namespace(dataset=meta.get("dataset"), quick=meta.get("quick"), set=meta.get("set")))
    print(write_report(spec, folder, title_note=note))
    print(f"wrote {folder / 'report.md'}, {folder / 'report.json'}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run ``nnlite reproduce NAME``: the sweep of a shipped spec, then its report."""
    from nnlite.experiments.spec import shipped_specs

    if args.name not in shipped_specs():
        raise CLIError(f"unknown spec {args.name!r}; shipped: {', '.join(sorted(shipped_specs()))}")
    spec, out, code = _run_sweep(args, args.name)
    cmd_report(argparse.Namespace(dir=str(out)))
    return code

"""``nnlite sweep SPEC``, ``nnlite report DIR`` and ``nnlite reproduce NAME``: a paper's table by command.

``sweep`` runs every (variation, seed) of a spec on Dask (a local cluster by default, ``--scheduler`` for any
other), one JSON per run in ``--out``, resuming what is done; ``report`` aggregates a results folder into the
paper's table (``report.md``, ``report.json``, figures); ``reproduce`` is ``sweep`` of a shipped spec followed by
``report``. A bar on standard error shows runs done / failed / running and the time left; each failed run's
reason is printed as it happens, and counted per reason at the end.

Before anything is scheduled: every run's options are checked as the spec file's are (``--set lr=fast`` is
refused), the data sets the runs need must be on disk or downloadable (else the fix is named), the folder must
not hold another spec's runs nor be swept by another process, and a sweep whose estimated wall time exceeds
:data:`CONFIRM_HOURS` hours needs ``--yes``. Ctrl-C says what was kept and how to continue.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path
from typing import Any

from nnlite._validation import did_you_mean
from nnlite.experiments.validate import RUNS_WITHOUT_YES

from .build import CLIError
from .sweep_args import continue_command, items, overrides, seeds_of, select
from .sweep_view import Bar, cpu_to_run, duration, plan_table

__all__ = ["CONFIRM_HOURS", "add_sweep_commands", "cmd_report", "cmd_reproduce", "cmd_sweep"]

#: A sweep estimated to run longer than this (hours of wall time on the workers at hand) needs ``--yes``.
CONFIRM_HOURS = 24.0


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
        p.add_argument("--rows", default=None, help="comma-separated rows to run (default: every row)")
        p.add_argument(
            "--findings", default=None, help="comma-separated findings (1 = the spec's first) whose rows to run"
        )
        p.add_argument(
            "--readings", default=None, help="comma-separated readings to run (e.g. 'as run'; default: every reading)"
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument(
            "--yes",
            action="store_true",
            help=f"run a sweep estimated at over {CONFIRM_HOURS:g} h of wall time, or of over "
            f"{RUNS_WITHOUT_YES:,} runs",
        )
        p.add_argument(
            "--dry-run", action="store_true", help="count the runs and estimate their CPU and wall time; run nothing"
        )
        p.add_argument(
            "--force",
            action="store_true",
            help="when --out holds another experiment, sweep into a fresh sub-folder of it (never mix the two)",
        )

    p = sub.add_parser("sweep", help="run an experiment spec on Dask (resumable)")
    p.add_argument("spec", help="a spec file (.toml) or the name of a shipped spec")
    common(p)
    p = sub.add_parser("report", help="the paper's table from a results folder")
    p.add_argument("dir", help="a folder written by nnlite sweep")
    p = sub.add_parser("reproduce", help="sweep a shipped spec, then report it")
    p.add_argument("name", help="a shipped spec (launay-table1, launay-table2, launay-fig4, ...) or a .toml file")
    common(p)
    p.add_argument(
        "--until-decided",
        action="store_true",
        help="add seeds, look by look, to the rows that undecided findings read until each is decided or "
        "--max-seeds is reached (each look tested at 0.05 / looks)",
    )
    p.add_argument("--max-seeds", type=positive_int, default=20, help="seeds a row at most (default 20)")


def _out(args: argparse.Namespace, name: str) -> Path:
    if args.out:
        return Path(args.out)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name}-{stamp}"


def _checked_runs(args: argparse.Namespace, spec: Any) -> list[dict[str, Any]]:
    """The spec's runs at the command's scale, each checked as the spec file's rows are, and their data at hand."""
    from nnlite.config.schema import ConfigError
    from nnlite.experiments.preflight import check_data, check_options
    from nnlite.experiments.spec import SpecError, expand
    from nnlite.experiments.validate import check_run_count

    given, seeds = overrides(args.set), seeds_of(args)
    n_seeds = (
        len(seeds) if seeds is not None else len(spec.quick.get("seeds", spec.seeds) if args.quick else spec.seeds)
    )
    try:
        check_run_count(len(spec.variations) * n_seeds, yes=args.yes)
    except ValueError as exc:
        raise CLIError(f"{spec.name}: {exc}") from None
    try:
        runs = expand(spec, quick=args.quick, dataset=args.dataset, overrides=given, seeds=seeds)
        check_options(runs)
    except (ConfigError, SpecError) as exc:
        flags = [f"--set {s}" for s in args.set] + (["--dataset " + args.dataset] if args.dataset else [])
        flags += ["--quick"] if args.quick else []
        raise CLIError(f"{' '.join(flags) or spec.name}: {exc}") from None
    check_data(runs, f"{spec.name}'s runs")
    return runs


def _workers(args: argparse.Namespace) -> int:
    from nnlite.experiments.sweep import scheduler_workers

    if args.scheduler:
        return max(1, scheduler_workers(args.scheduler))  # a quick connect: an unreachable scheduler fails here
    return args.workers or os.cpu_count() or 1


def _load(spec_name: str, yes: bool) -> Any:
    from nnlite.experiments.spec import SpecError, load_spec

    try:
        return load_spec(spec_name, yes=yes)
    except SpecError as exc:  # a spec that cannot run is a usage error: one line, exit 2
        raise CLIError(str(exc)) from None


def _claim(out: Path, meta: dict[str, Any], args: argparse.Namespace, spec: Any, *, write: bool) -> Path:
    from nnlite.experiments.folder import (
        META_NAME,
        SPEC_COPY,
        FolderInUseError,
        check_own_files,
        claim_folder,
        report_files,
    )

    try:
        target = claim_folder(out, meta, write=write, force=args.force)
        if target.is_dir():  # what the sweep and its report will write there: never through a link
            check_own_files(target, [META_NAME, SPEC_COPY, *report_files(spec)])
    except (FolderInUseError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    return target


def _run_sweep(args: argparse.Namespace, spec_name: str) -> tuple[Any, Path, int, dict[str, Any]]:
    """Sweep ``spec_name`` as ``args`` say: ``(spec, results folder, exit code, experiment record)``."""
    from nnlite.experiments.folder import experiment_of
    from nnlite.experiments.lock import folder_lock
    from nnlite.experiments.sweep import dry_run

    spec = _load(spec_name, args.yes)
    out = _out(args, spec.name)
    if args.scheduler and args.workers:
        raise CLIError("--workers applies to the local cluster, not with --scheduler")
    runs = _checked_runs(args, spec)
    meta = experiment_of(spec, runs, quick=args.quick, dataset=args.dataset, overrides=overrides(args.set))
    runs = select(args, spec, runs)  # a subset of the experiment's runs: the folder's key is the whole one's
    if getattr(args, "dry_run", False):
        if out.is_dir():
            out = _claim(out, meta, args, spec, write=False)
        if spec.kind == "train":
            print(plan_table(dry_run(runs, out, meta["experiment"]), _workers(args)))
        return spec, out, 0, meta
    if spec.kind != "train":
        with folder_lock(out, spec.name):
            out = _claim(out, meta, args, spec, write=True)
        return spec, out, 0, meta
    target = _claim(out, meta, args, spec, write=False) if out.is_dir() else out
    if target != out:
        print(f"{out} holds another experiment: sweeping into its sub-folder {target}", flush=True)
    out, code = _execute(args, spec, target, runs, meta)
    return spec, out, code, meta


def _execute(
    args: argparse.Namespace, spec: Any, out: Path, runs: list[dict[str, Any]], meta: dict[str, Any]
) -> tuple[Path, int]:
    """Under the folder's lock: estimate, confirm, record the experiment, sweep ``runs``; (folder, exit code)."""
    from nnlite.experiments.lock import folder_lock
    from nnlite.experiments.records import is_done, run_key
    from nnlite.experiments.sweep import dry_run, sweep

    key, workers = meta["experiment"], _workers(args)
    with folder_lock(out, spec.name):
        out = _claim(out, meta, args, spec, write=False)  # under the lock; written once the sweep is confirmed
        todo = [r for r in runs if args.rerun or not is_done(out / f"{run_key(r['options'])}.json", key)]
        if todo:
            plan = dry_run(todo, out, key)
            cpu = cpu_to_run(plan)
            wall = cpu / workers
            bad = [f"{k} ({v['error'].splitlines()[0]})" for k, v in plan["variations"].items() if "error" in v]
            untimed = f"; not timed, as they fail to build: {', '.join(bad)}" if bad else ""
            print(f"estimated wall time: {duration(wall)} on {workers} worker(s) ({duration(cpu)} of CPU){untimed}")
            if wall > CONFIRM_HOURS * 3600 and not args.yes:
                raise CLIError(
                    f"{spec.name} would run for about {duration(wall)} on {workers} worker(s), over "
                    f"{CONFIRM_HOURS:g} h: pass --yes to run it, or scale it (--quick, --set epochs=..., --seeds ...; "
                    "--dry-run shows each variation)"
                )
        _claim(out, {**meta, "seeds": sorted({r["seed"] for r in runs})}, args, spec, write=True)
        bar = Bar(not args.no_progress and sys.stderr.isatty())
        try:
            summary = sweep(
                runs,
                out,
                scheduler=args.scheduler,
                workers=args.workers,
                rerun=args.rerun,
                on_event=bar,
                what=spec.name,
                experiment=key,
            )
        except KeyboardInterrupt:
            kept = sum(is_done(out / f"{run_key(r['options'])}.json", key) for r in runs)
            print(
                f"\ninterrupted: {kept} of {len(runs)} runs finished and kept in {out} ({bar.done} this time); "
                f"continue with {continue_command(args, out)}",
                flush=True,
            )
            raise
    print(f"{summary.ok} ok, {summary.failed} failed, {summary.skipped} skipped; results in {out}")
    return out, 0 if summary.failed == 0 else 1


def _note(args: argparse.Namespace) -> str:
    parts = [f"{k}={v}" for k, v in (getattr(args, "set", None) or {}).items()]
    if args.dataset:
        parts.append(f"on {args.dataset} instead of the paper's data set")
    if args.quick:
        parts.append("--quick scale")
    return f" ({'; '.join(parts)})" if parts else ""


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``nnlite sweep``: 0 when every run succeeded, 1 otherwise."""
    return _run_sweep(args, args.spec)[2]


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``nnlite report DIR``: print the table and write report.md, report.json and figures.

    The spec is the folder's own copy (``spec.toml``, checked against its experiment record), never a file found
    from the current directory, and only the records of the folder's experiment are aggregated."""
    from nnlite.experiments.folder import FolderInUseError, check_own_files, folder_spec, report_files
    from nnlite.experiments.report import write_report

    folder = Path(args.dir)
    try:
        meta, spec = folder_spec(folder)
        check_own_files(folder, report_files(spec))
    except (FolderInUseError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    note = _note(argparse.Namespace(dataset=meta.get("dataset"), quick=meta.get("quick"), set=meta.get("set")))
    print(write_report(spec, folder, title_note=note, experiment=meta["experiment"]))
    print(f"wrote {folder / 'report.md'}, {folder / 'report.json'}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run ``nnlite reproduce NAME``: the sweep of a shipped spec (or a spec file), then its report; with
    ``--until-decided``, seeds added to the rows undecided findings read, look by look (:func:`_until_decided`)."""
    from nnlite.experiments.spec import shipped_specs

    if args.name not in shipped_specs() and not str(args.name).endswith(".toml"):
        hint = did_you_mean(args.name, shipped_specs())
        raise CLIError(f"unknown spec {args.name!r}{hint}; shipped: {', '.join(sorted(shipped_specs()))}")
    spec, out, code, meta = _run_sweep(args, args.name)
    if getattr(args, "dry_run", False):
        return code
    if args.until_decided and spec.kind == "train":
        code = max(code, _until_decided(args, spec, out, meta))
    cmd_report(argparse.Namespace(dir=str(out)))
    return code


def _until_decided(args: argparse.Namespace, spec: Any, out: Path, meta: dict[str, Any]) -> int:
    """Look after look (:func:`nnlite.experiments.adaptive.plan_looks`), test every finding at the corrected level
    and sweep more seeds on the rows that undecided findings read, until each is decided or the plan ends."""
    from nnlite.experiments.adaptive import next_runs, plan_looks, write_design
    from nnlite.experiments.power import verdicts
    from nnlite.experiments.quality import load_checked
    from nnlite.experiments.report import aggregate
    from nnlite.experiments.spec import expand

    n0 = len(seeds_of(args) or (spec.quick.get("seeds", spec.seeds) if args.quick else spec.seeds))
    try:
        looks = plan_looks(n0, args.max_seeds)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    chosen = {spec.findings[int(i) - 1].claim for i in items(args.findings)} if args.findings else None
    design, code = write_design(out, looks, 1), 0

    def make_runs(seeds: list[int]) -> list[dict[str, Any]]:
        kw = {"quick": args.quick, "dataset": args.dataset, "overrides": overrides(args.set)}
        return select(args, spec, expand(spec, seeds=seeds, **kw))

    for look, target in enumerate(looks[1:], start=2):
        records = load_checked(out, meta["experiment"])[0]
        untrained = [r["variation"] for r in aggregate(spec, records) if r.get("did_not_train")]
        results = verdicts(spec.findings, list(spec.readings), records, untrained, design["alpha"])
        results = [r for r in results if chosen is None or r["claim"] in chosen]
        runs = next_runs(results, records, target, make_runs)
        if not runs:
            print(f"look {look - 1} of {len(looks)}: no finding that more seeds would decide is left", flush=True)
            break
        rows = sorted({r["variation"] for r in runs})
        print(f"look {look} of {len(looks)}: {target} seeds a row on {', '.join(rows)}", flush=True)
        _, c = _execute(args, spec, out, runs, meta)
        code = max(code, c)
        design = write_design(out, looks, look)
    return code

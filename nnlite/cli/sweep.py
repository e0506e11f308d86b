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
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from nnlite._validation import did_you_mean
from nnlite.experiments.validate import RUNS_WITHOUT_YES

from .build import CLIError

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
        self.reasons: Counter[str] = Counter()
        self.done = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "damaged":
            print(f"  damaged {event['file']}: {event['reason']}; running it again", flush=True)
        elif kind == "start":
            print(f"{event['total']} runs, {event['skipped']} already done, {event['submitted']} to run", flush=True)
            if self.enabled and event["submitted"]:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=event["submitted"], desc="runs", file=sys.stderr, dynamic_ncols=True)
        elif kind == "done":
            secs = event.get("seconds")
            took = "" if secs is None else f" in {secs:.1f} s"
            why = f": {event['error']}" if event.get("error") else ""
            self.done += 1
            if event.get("error"):
                self.reasons[event["error"]] += 1
            print(f"  {event['status']:6s} {event['variation']} seed {event['seed']}{took}{why}", flush=True)
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(failed=event["failed"], running=event["running"], refresh=False)
        elif kind == "end" and self.bar is not None:
            self.bar.close()
        if kind == "end" and self.reasons:
            print("failed runs, by reason:")
            for reason, n in self.reasons.most_common():
                print(f"  {n} × {reason}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _plan_table(plan: dict[str, Any], workers: int) -> str:
    """The dry run as a table: per variation its runs, runs to do, step time and wall time on ``workers``."""
    lines = ["| variation | runs | to run | step s | est. wall |", "|---|---|---|---|---|"]
    for name, v in plan["variations"].items():
        name = name.replace("|", "\\|")  # e.g. "norm+|x|"
        if "error" in v:
            lines.append(f"| {name} | {v['seeds']} | {v['to_run']} | — | fails: {v['error'].splitlines()[0]} |")
            continue
        wall = v["step_seconds"] * v["steps_per_run"] * v["to_run"] / workers
        lines.append(f"| {name} | {v['seeds']} | {v['to_run']} | {v['step_seconds']:.4f} | {_duration(wall)} |")
    cpu = _cpu_to_run(plan)
    lines += [
        "",
        f"{plan['runs']} runs, {plan['done']} done, {plan['to_run']} to run: about {_duration(cpu)} of CPU, "
        f"{_duration(cpu / workers)} of wall time on {workers} worker(s) (a lower bound: evaluation, alignment and "
        "data loading are left out)",
    ]
    return "\n".join(lines)


def _cpu_to_run(plan: dict[str, Any]) -> float:
    """CPU seconds of the runs to do, over the variations that could be timed."""
    return sum(
        v["step_seconds"] * v["steps_per_run"] * v["to_run"] for v in plan["variations"].values() if "error" not in v
    )


def _overrides(items: list[str]) -> dict[str, Any]:
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
MAX_SEEDS = 1000


def _seeds(args: argparse.Namespace) -> list[int] | None:
    if args.seeds is None:
        return None
    try:
        seeds = [int(s) for s in str(args.seeds).split(",")]
    except ValueError:
        raise CLIError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if min(seeds) < 0 or len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEEDS:
        raise CLIError(f"--seeds takes at most {MAX_SEEDS} distinct non-negative integers, got {args.seeds!r}")
    return seeds


def _checked_runs(args: argparse.Namespace, spec: Any) -> list[dict[str, Any]]:
    """The spec's runs at the command's scale, each checked as the spec file's rows are, and their data at hand."""
    from nnlite.config.schema import ConfigError
    from nnlite.experiments.preflight import check_data, check_options
    from nnlite.experiments.spec import SpecError, expand
    from nnlite.experiments.validate import check_run_count

    overrides, seeds = _overrides(args.set), _seeds(args)
    n_seeds = (
        len(seeds) if seeds is not None else len(spec.quick.get("seeds", spec.seeds) if args.quick else spec.seeds)
    )
    try:
        check_run_count(len(spec.variations) * n_seeds, yes=args.yes)
    except ValueError as exc:
        raise CLIError(f"{spec.name}: {exc}") from None
    try:
        runs = expand(spec, quick=args.quick, dataset=args.dataset, overrides=overrides, seeds=seeds)
        check_options(runs)
    except (ConfigError, SpecError) as exc:
        given = [f"--set {s}" for s in args.set] + (["--dataset " + args.dataset] if args.dataset else [])
        given += ["--quick"] if args.quick else []
        raise CLIError(f"{' '.join(given) or spec.name}: {exc}") from None
    check_data(runs, f"{spec.name}'s runs")
    return runs


def _continue_command(args: argparse.Namespace, out: Path) -> str:
    words = ["nnlite", args.command, getattr(args, "spec", None) or args.name, "--out", str(out)]
    words += ["--quick"] if args.quick else []
    words += ["--dataset", args.dataset] if args.dataset else []
    for item in args.set:
        words += ["--set", item]
    words += ["--seeds", args.seeds] if args.seeds else []
    words += ["--scheduler", args.scheduler] if args.scheduler else []
    words += ["--workers", str(args.workers)] if args.workers else []
    return shlex.join(words)


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


def _run_sweep(args: argparse.Namespace, spec_name: str) -> tuple[Any, Path, int]:
    from nnlite.experiments.folder import experiment_of
    from nnlite.experiments.lock import folder_lock
    from nnlite.experiments.records import is_done, run_key
    from nnlite.experiments.sweep import dry_run, sweep

    spec = _load(spec_name, args.yes)
    out = _out(args, spec.name)
    if args.scheduler and args.workers:
        raise CLIError("--workers applies to the local cluster, not with --scheduler")
    runs = _checked_runs(args, spec)
    meta = experiment_of(spec, runs, quick=args.quick, dataset=args.dataset, overrides=_overrides(args.set))
    key = meta["experiment"]
    if getattr(args, "dry_run", False):
        if out.is_dir():
            out = _claim(out, meta, args, spec, write=False)
        if spec.kind == "train":
            print(_plan_table(dry_run(runs, out, key), _workers(args)))
        return spec, out, 0
    if spec.kind != "train":
        with folder_lock(out, spec.name):
            out = _claim(out, meta, args, spec, write=True)
        return spec, out, 0
    workers = _workers(args)
    target = _claim(out, meta, args, spec, write=False) if out.is_dir() else out
    if target != out:
        print(f"{out} holds another experiment: sweeping into its sub-folder {target}", flush=True)
    with folder_lock(target, spec.name):
        out = _claim(target, meta, args, spec, write=False)  # under the lock; written once the sweep is confirmed
        todo = [r for r in runs if args.rerun or not is_done(out / f"{run_key(r['options'])}.json", key)]
        if todo:
            plan = dry_run(todo, out, key)
            cpu = _cpu_to_run(plan)
            wall = cpu / workers
            bad = [f"{k} ({v['error'].splitlines()[0]})" for k, v in plan["variations"].items() if "error" in v]
            untimed = f"; not timed, as they fail to build: {', '.join(bad)}" if bad else ""
            print(f"estimated wall time: {_duration(wall)} on {workers} worker(s) ({_duration(cpu)} of CPU){untimed}")
            if wall > CONFIRM_HOURS * 3600 and not args.yes:
                raise CLIError(
                    f"{spec.name} would run for about {_duration(wall)} on {workers} worker(s), over "
                    f"{CONFIRM_HOURS:g} h: pass --yes to run it, or scale it (--quick, --set epochs=..., --seeds ...; "
                    "--dry-run shows each variation)"
                )
        _claim(out, meta, args, spec, write=True)
        bar = _Bar(not args.no_progress and sys.stderr.isatty())
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
                f"continue with {_continue_command(args, out)}",
                flush=True,
            )
            raise
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
    """Run ``nnlite reproduce NAME``: the sweep of a shipped spec, then its report."""
    from nnlite.experiments.spec import shipped_specs

    if args.name not in shipped_specs():
        hint = did_you_mean(args.name, shipped_specs())
        raise CLIError(f"unknown spec {args.name!r}{hint}; shipped: {', '.join(sorted(shipped_specs()))}")
    spec, out, code = _run_sweep(args, args.name)
    if getattr(args, "dry_run", False):
        return code
    cmd_report(argparse.Namespace(dir=str(out)))
    return code

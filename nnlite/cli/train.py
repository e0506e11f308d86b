"""``nnlite train``: one network, one rule; a configuration block, a live per-epoch table, the final test accuracy,
and ``history.json``, ``curves.png`` and ``model.npz`` in ``--out``.

``history.json`` and ``model.npz`` (the network, the rule's state and fit's training state) are written at the end
of every epoch, atomically, so Ctrl-C keeps every finished epoch; ``--resume DIR`` continues from the last one
with the flags the run was started with, and gives the same result as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nnlite.config import ConfigError, build, fit_config
from nnlite.config.builders import learning_rate_of
from nnlite.training import History
from nnlite.training import state as training_state

from . import report
from .build import CLIError, check_args, config_of, usage_error

__all__ = ["cmd_train", "resumed_args"]

#: Flags that may differ when a run is resumed (they change nothing in what is computed).
_FREE_ON_RESUME = {"resume", "force", "no_progress", "epochs", "out", "command"}


def resumed_args(args: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, Any]]:
    """The flags of the run in ``args.resume`` (from its ``history.json``), with ``--epochs`` and the progress flag
    of ``args``; a flag given now with another value than the run's is a usage error, naming both values."""
    from .parser import build_parser

    folder = Path(args.resume)
    path = folder / "history.json"
    if not path.is_file():
        raise CLIError(f"--resume {folder}: no history.json there, so no nnlite train run to continue")
    try:
        doc = json.loads(path.read_text())
        cfg = doc["config"]
        if cfg.get("command") != "train":
            raise CLIError(f"--resume {folder}: {path} was written by nnlite {cfg.get('command')}, not nnlite train")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CLIError(f"--resume {folder}: {path} is not an nnlite train history ({exc})") from None
    defaults = vars(build_parser().parse_args(["train"]))
    saved = {k: cfg[k] for k in defaults if k in cfg}
    saved["lr"] = cfg.get("lr", defaults["lr"])
    conflicts = []
    for k, v in vars(args).items():
        if k in _FREE_ON_RESUME or v == defaults.get(k) or k not in saved:
            continue
        same = v == saved[k] or (isinstance(v, tuple) and list(v) == saved[k])
        if k == "lr" and isinstance(v, dict):
            same = v.get(cfg["rule"]) == saved[k]
        if not same:
            conflicts.append(f"--{k.replace('_', '-')} {v} (the run used {saved[k]})")
    if args.out is not None and Path(args.out).resolve() != folder.resolve():
        conflicts.append(f"--out {args.out} (the run is in {folder})")
    if conflicts:
        raise CLIError(f"--resume {folder} continues the run as it was started; remove " + ", ".join(conflicts))
    merged = argparse.Namespace(**{**defaults, **saved})
    merged.command, merged.resume, merged.force, merged.out = "train", str(folder), False, str(folder)
    merged.no_progress = args.no_progress
    if args.epochs != defaults["epochs"]:
        merged.epochs = args.epochs
    if isinstance(merged.bottleneck, list):
        merged.bottleneck = tuple(merged.bottleneck)
    return merged, cfg


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``nnlite train``; 0 on success, 1 when training stopped on a non-finite loss, 130 on Ctrl-C."""
    saved_cfg = None
    if args.resume is not None:
        args, saved_cfg = resumed_args(args)
    rule_name = args.rule
    check_args(args, [rule_name])
    config = config_of(args)
    out = report.out_dir(args)
    try:
        built = build(config)
    except ConfigError as exc:
        raise usage_error(exc) from None
    net, rule, train = built.net, built.rule, built.train
    lr = learning_rate_of(config)
    cfg = report.run_config(
        args, built.dataset, train, net, built.seeds, {"lr": lr, "out": str(out), "rule": rule_name}
    )
    cfg["rule_repr"] = repr(rule)
    resume = saved_cfg is not None and (out / training_state.CHECKPOINT_NAME).is_file()
    if saved_cfg is not None:
        cfg["started"] = saved_cfg.get("started", cfg["started"])
        if resume and saved_cfg.get("blas_threads_chosen") is not None:  # one thread count for the whole run
            cfg["blas_threads_chosen"] = saved_cfg["blas_threads_chosen"]
        if resume and isinstance(saved_cfg.get("gemm_chosen"), dict):  # and one matrix-product provider
            cfg["gemm_chosen"] = saved_cfg["gemm_chosen"]
    report.print_config(cfg, {rule_name: repr(rule)})
    if not resume:  # the configuration is on disk before the first step: --resume needs nothing else
        report.write_history(out / "history.json", cfg, History(rule=rule_name))

    n_hidden = len(net.feedback_sizes)
    print()
    printer = report.live_epoch_printer(n_hidden, bool(args.align_every))

    def each_epoch(hist: History) -> None:
        report.write_history(out / "history.json", cfg, hist)
        printer(hist)

    if resume:
        print(f"resuming {out} after its last finished epoch")
    try:
        hist = fit_config(
            built, each_epoch, checkpoint_dir=out, resume=resume, progress=not args.no_progress, record=cfg
        )
    except KeyboardInterrupt:
        # What resumes is model.npz; Ctrl-C may fall between its write and history.json's, so the history of the
        # checkpoint is the one reported and written back beside it.
        saved = training_state.read_history(out / training_state.CHECKPOINT_NAME)
        done = History(**saved) if saved is not None else None
        if done is not None and done.epoch:
            report.write_history(out / "history.json", cfg, done)
            report.plot_history(done, out / "curves.png", n_hidden, report.describe(cfg, rule_name))
        last = f"epochs up to {done.epoch[-1]}" if done is not None and done.epoch else "no finished epoch"
        print(
            f"\ninterrupted: {last} kept in {out} (history.json, model.npz); continue with nnlite train --resume {out}"
        )
        return 130
    if hist.stopped:
        print(
            f"training stopped at epoch {hist.stopped['epoch']}, step {hist.stopped['step']}: "
            f"{hist.stopped['reason']} (try a smaller --lr)"
        )
    print(f"\nfinal test accuracy: {report.fmt(report.final_test_acc(hist), '.4f')}")

    report.write_history(out / "history.json", cfg, hist)
    report.plot_history(hist, out / "curves.png", n_hidden, report.describe(cfg, rule_name))
    print(f"wrote {out / 'history.json'}, {out / 'curves.png'}, {out / 'model.npz'}")
    return 0 if hist.stopped is None else 1

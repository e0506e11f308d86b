"""``nnlite compare``: the same network, from the same initial weights and batch order, under several rules; one
summary table (final test accuracy, seconds per epoch and the BLAS threads they ran with, final alignment per
hidden layer), ``compare.json`` and ``compare.png`` (the accuracy and a panel per hidden layer) in ``--out``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import numpy as np

from nnlite.config import ConfigError, fit_config, load_data, stream_seeds
from nnlite.config.builders import Built, build_net, build_optimizer, build_rule, learning_rate_of, loss_of

from .build import CLIError, applies, check_args, config_of, usage_error, without
from .defaults import ALIGN_RECORDS_PER_EPOCH, ALIGN_TAIL
from .report import (
    describe,
    epoch_table,
    final_test_acc,
    fmt,
    nanmean_columns,
    out_dir,
    plot_compare,
    print_config,
    run_config,
    table,
    write_compare,
)

__all__ = ["cmd_compare"]


def say_who_runs_without(args: argparse.Namespace, rules: list[str]) -> dict[str, list[str]]:
    """Warn, on standard error, of every rule-specific flag given that some of ``rules`` run without (they do not
    declare it or lack the capability): ``--error-scale sum goes to dfa, dkp; bp runs without it``. Returns the
    flags per rule that runs without them."""
    skipped = {r: without(args, r) for r in rules}
    for field in sorted({f for fs in skipped.values() for f in fs}):
        flag = "--" + field.replace("_", "-")
        value = getattr(args, field)
        shown = "" if value is True else " " + (",".join(map(str, value)) if isinstance(value, tuple) else str(value))
        takers = [r for r in rules if applies(field, r)]
        left = [r for r in rules if field in skipped[r]]
        print(
            f"note: {flag}{shown} goes to {', '.join(takers)}; {', '.join(left)} "
            f"run{'s' * (len(left) == 1)} without it",
            file=sys.stderr,
        )
    return {r: fs for r, fs in skipped.items() if fs}


def cmd_compare(args: argparse.Namespace) -> int:
    """Run ``nnlite compare``; 0 on success, 1 when a rule's training stopped on a non-finite loss, 130 on Ctrl-C
    (``compare.json`` then holds the rules that finished)."""
    rules = args.rules
    check_args(args, rules)
    if isinstance(args.lr, dict):
        unknown = sorted(set(args.lr) - set(rules))
        if unknown:
            raise CLIError(f"--lr names {', '.join(unknown)}, which --rules {','.join(rules)} does not include")
    say_who_runs_without(args, rules)
    configs = {r: config_of(args, r) for r in rules}
    out = out_dir(args)  # refused or unwritable before any data is loaded
    seeds = stream_seeds(args.seed)
    try:
        ds, train, test = load_data(configs[rules[0]])
        lrs = {r: learning_rate_of(c) for r, c in configs.items()}
        steps_per_epoch = math.ceil(train[0].shape[0] / args.batch_size)
        align_every = args.align_every or max(1, steps_per_epoch // ALIGN_RECORDS_PER_EPOCH)
        configs = {r: c.replace(align_every=align_every) for r, c in configs.items()}
        net0 = build_net(configs[rules[0]], ds, seeds)
        init_weights = [{k: v.copy() for k, v in p.items()} for p in net0.params()]
        cfg = run_config(args, ds, train, net0, seeds, {"lr": lrs, "out": str(out), "align_every": align_every})
        objs: dict[str, Any] = {}
        for r in rules:
            net = net0 if r == rules[0] else build_net(configs[r], ds, seeds)
            same = all(np.array_equal(a[k], b[k]) for a, b in zip(init_weights, net.params()) for k in a)
            if not same:  # a builder that ignored its seed would make the comparison meaningless
                raise RuntimeError("the networks built for the rules do not start from the same weights")
            objs[r] = (net, build_rule(configs[r], net, r, seeds))
    except ConfigError as exc:
        raise usage_error(exc) from None
    del net0
    cfg["rule_repr"] = {r: repr(o[1]) for r, o in objs.items()}
    print_config(cfg, cfg["rule_repr"])

    n_hidden = len(cfg["feedback_sizes"])
    results: dict[str, dict[str, Any]] = {}
    for r in rules:
        net, rule = objs[r]
        print(f"\n[{r}] lr {lrs[r]:g}", flush=True)
        try:
            c = configs[r]
            built = Built(c, ds, train, test, seeds, net, rule, build_optimizer(c), loss_of(c.loss))
            used: list[int] = []

            def record_threads(_hist: Any, used: list[int] = used) -> None:
                used.append(_blas_threads())

            hist = fit_config(built, callback=record_threads, progress=not args.no_progress)
        except KeyboardInterrupt:
            kept = ", ".join(results) or "no rule"
            print(f"\ninterrupted during {r}: {kept} finished, kept in {out / 'compare.json'}")
            return 130
        print(epoch_table(hist, n_hidden, True))
        if hist.stopped:
            print(
                f"[{r}] stopped at epoch {hist.stopped['epoch']}, step {hist.stopped['step']}: {hist.stopped['reason']}"
            )
        tail = [rec["signal_cos"] for rec in hist.alignment[-ALIGN_TAIL:]]
        results[r] = {
            "lr": lrs[r],
            "final_test_acc": final_test_acc(hist),
            "seconds_per_epoch": float(np.median(hist.seconds)) if hist.seconds else math.nan,
            "blas_threads": used,
            "final_alignment": nanmean_columns(tail, n_hidden),
            "stopped": hist.stopped,
            "history": hist.to_dict(),
        }
        # each rule is on disk as soon as it has finished (Ctrl-C during the next one keeps it)
        write_compare(out / "compare.json", {**cfg, "finished": list(results)}, ALIGN_TAIL, results)
        del net, rule
        objs[r] = None  # free each network once trained

    header = ["rule", "lr", "test acc", "s/epoch", "threads"] + [f"cos h{k + 1}" for k in range(n_hidden)]
    rows = [
        [r, f"{res['lr']:g}", fmt(res["final_test_acc"], ".4f"), fmt(res["seconds_per_epoch"], ".2f"), _threads(res)]
        + [fmt(c, ".3f") for c in res["final_alignment"]]
        for r, res in results.items()
    ]
    print(
        f"\nsummary ({args.epochs} epochs on {args.dataset}; s/epoch is the median over epochs; cos hk is the "
        f"mean signal cosine with BP at hidden layer k over the last {ALIGN_TAIL} alignment records, one every "
        f"{align_every} steps; threads: the BLAS threads each rule's epochs ran with, which --threads auto chooses "
        "per rule: give --threads N to time every rule at one count)"
    )
    print(table(header, rows))

    write_compare(out / "compare.json", {**cfg, "finished": list(results)}, ALIGN_TAIL, results)
    figs = plot_compare(results, out, n_hidden, describe(cfg, ", ".join(results)))
    print(f"wrote {out / 'compare.json'}, " + ", ".join(str(f) for f in figs))
    return 0 if all(res["stopped"] is None for res in results.values()) else 1


def _blas_threads() -> int:
    """The thread count of NumPy's BLAS now (inside fit_config's limit): the library nnlite's products run on. A
    BLAS that another package loaded after the limit was set (SciPy's own OpenBLAS, say) is not counted."""
    from threadpoolctl import threadpool_info

    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    numpy_blas = [p for p in blas if "numpy" in str(p.get("filepath", ""))]
    counts = [int(p["num_threads"]) for p in (numpy_blas or blas)]
    return max(counts) if counts else 1


def _threads(res: dict[str, Any]) -> str:
    """A rule's BLAS threads over its epochs: one count, or the range when --threads auto changed it."""
    used = res.get("blas_threads") or []
    if not used:
        return "—"
    lo, hi = min(used), max(used)
    return str(lo) if lo == hi else f"{lo}-{hi}"

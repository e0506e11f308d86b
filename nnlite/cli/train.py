"""``nnlite train``: one network, one rule; a configuration block, a live per-epoch table, the final test accuracy,
and ``history.json``, ``curves.png`` and ``model.npz`` in ``--out``."""

from __future__ import annotations

import argparse

from nnlite import checkpoint

from . import report
from .build import build_net, build_rule, check_combination, learning_rate_of, load_data, run_fit, stream_seeds

__all__ = ["cmd_train"]


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``nnlite train``; 0 on success, 1 when training stopped on a non-finite loss."""
    rule_name = args.rule
    check_combination(args, [rule_name])
    seeds = stream_seeds(args.seed)
    ds, train, test = load_data(args)
    net = build_net(args, ds, seeds)
    rule = build_rule(args, net, rule_name, seeds)
    lr = learning_rate_of(args, rule_name)
    out = report.out_dir(args)
    cfg = report.run_config(args, ds, train, net, seeds, {"lr": lr, "out": str(out), "rule": rule_name})
    cfg["rule_repr"] = repr(rule)
    report.print_config(cfg, {rule_name: repr(rule)})

    n_hidden = len(net.feedback_sizes)
    print()
    printer = report.live_epoch_printer(n_hidden, bool(args.align_every))
    hist = run_fit(args, net, rule, lr, train, test, args.align_every, callback=printer)
    if hist.stopped:
        print(
            f"training stopped at epoch {hist.stopped['epoch']}, step {hist.stopped['step']}: "
            f"{hist.stopped['reason']} (try a smaller --lr)"
        )
    print(f"\nfinal test accuracy: {report.fmt(report.final_test_acc(hist), '.4f')}")

    report.write_history(out / "history.json", cfg, hist)
    report.plot_history(hist, out / "curves.png", n_hidden, f"{rule_name} on {args.dataset}")
    checkpoint.save(net, out / "model.npz")
    print(f"wrote {out / 'history.json'}, {out / 'curves.png'}, {out / 'model.npz'}")
    return 0 if hist.stopped is None else 1

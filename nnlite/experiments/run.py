"""One run of an experiment: a pure, deterministic function of its options.

A run's options are ``nnlite train``'s, by their Python names (``rule``, ``hidden``, ``lr``, ``no_normalize``,
``bottleneck``, ...), with TOML/JSON values (lists for ``hidden`` and ``channels``, ``[K, N]`` for ``bottleneck``,
booleans for switches). They are checked by the command's own parser and combination rules, so a spec row means
exactly what the command line means, and an unknown option or a bad value is an error naming it. Two options are
the run's own: ``final_alignment`` (how many test samples the alignment against BP is measured on at the end,
default 128, 0 for none; Launay et al. report it on 128 samples) and ``threads`` defaults to 1 (one BLAS thread,
so that a run gives the same bits wherever it runs).
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import __version__
from ..alignment import measure
from ..cli import build as _build
from ..cli.parser import build_parser

__all__ = ["RUN_OPTIONS", "run", "train_namespace"]

#: Options of ``nnlite train`` that make no sense for a run (where results go, the terminal).
_EXCLUDED = {"command", "out", "no_progress", "help"}
#: The run's own options and their defaults.
RUN_OWN = {"final_alignment": 128}


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit
        raise ValueError(message)


@functools.lru_cache(maxsize=1)
def _train_parser() -> argparse.ArgumentParser:
    root = build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    train = sub.choices["train"]
    train.__class__ = _RaisingParser  # same parser, errors raised instead of printed
    return train


def _actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in _train_parser()._actions if a.option_strings and a.dest not in _EXCLUDED}


#: Every option a run accepts (``nnlite train``'s, by dest name, and the run's own).
RUN_OPTIONS: tuple[str, ...] = tuple(sorted({*_actions(), *RUN_OWN}))


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError(f"option {key!r} takes a value, got the boolean {value!r}")
    if isinstance(value, (list, tuple)):
        if key == "bottleneck":
            if len(value) != 2:
                raise ValueError(f"option 'bottleneck' is [block, trainable], got {value!r}")
            return f"{value[0]}:{value[1]}"
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, float):
        return repr(value)
    return str(value)


def train_namespace(options: Mapping[str, Any]) -> argparse.Namespace:
    """The namespace ``nnlite train`` builds from ``options`` (``threads`` defaulting to 1).

    Raises
    ------
    ValueError, TypeError
        An unknown option (the message lists the known ones), a value of the wrong kind, or a value the command
        refuses (its message, prefixed by the option).
    """
    actions = _actions()
    argv: list[str] = ["--threads", "1"]
    for key, value in options.items():
        if key in RUN_OWN:
            continue
        action = actions.get(key)
        if action is None:
            raise ValueError(f"unknown option {key!r}; a run takes {', '.join(RUN_OPTIONS)}")
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                raise TypeError(f"option {key!r} is a switch: true or false, got {value!r}")
            argv += [flag] if value else []
            continue
        argv += [flag, _text(key, value)]
    try:
        args = _train_parser().parse_args(argv)
    except ValueError as exc:
        raise ValueError(f"bad run options {dict(options)!r}: {exc}") from None
    try:
        _build.check_combination(args, [args.rule])
    except _build.CLIError as exc:
        raise ValueError(str(exc)) from None
    return args


# -- data, loaded once per process ------------------------------------------------------------------------------
_DATA: dict[tuple, Any] = {}


def _data(args: argparse.Namespace) -> Any:
    key = (args.dataset, args.data_root, args.standardize, args.model, args.dtype, args.no_download)
    if key not in _DATA:
        _DATA.clear()  # one data set at a time per worker: sweeps are grouped by data set
        _DATA[key] = _build.load_data(argparse.Namespace(**{**vars(args), "train_size": None}))
    ds, train, test = _DATA[key]
    if args.train_size is not None:
        if args.train_size > train[0].shape[0]:
            raise ValueError(f"train_size {args.train_size} is larger than the {train[0].shape[0]} training samples")
        train = (train[0][: args.train_size], train[1][: args.train_size])
    return ds, train, test


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def run(options: Mapping[str, Any]) -> dict[str, Any]:
    """Train one network as ``nnlite train`` would with ``options`` and return what was measured.

    Returns
    -------
    dict
        ``options`` (as given), ``rule_repr``, ``test_acc``/``test_loss``/``train_acc``/``train_loss`` of the last
        epoch, ``stopped`` (None, or where a non-finite loss stopped training), ``seconds`` (training time),
        ``history`` (:meth:`nnlite.History.to_dict`), ``final_alignment`` (:class:`nnlite.Alignment` as a dict on
        the first ``final_alignment`` test samples, with ``n_samples``; None when 0) and ``nnlite`` (version).

    Notes
    -----
    Deterministic: the same options give the same bits (one BLAS thread unless ``threads`` says otherwise). The
    data set is loaded once per process and kept.
    """
    args = train_namespace(options)
    n_align = options.get("final_alignment", RUN_OWN["final_alignment"])
    if isinstance(n_align, bool) or not isinstance(n_align, int) or n_align < 0:
        raise ValueError(f"final_alignment must be a non-negative integer, got {n_align!r}")
    seeds = _build.stream_seeds(args.seed)
    ds, train, test = _data(args)
    net = _build.build_net(args, ds, seeds)
    rule = _build.build_rule(args, net, args.rule, seeds)
    lr = _build.learning_rate_of(args, args.rule)
    hist = _build.run_fit(args, net, rule, lr, train, test, args.align_every)
    final = None
    if n_align and hist.stopped is None:
        x, y = test[0][:n_align], test[1][:n_align]
        out, caches = net.forward(x, train=True)
        _, e = _build.loss_of(args.loss)(out.reshape(out.shape[0], -1), y)
        final = {**measure(net, rule, caches, e, y).to_dict(), "n_samples": int(x.shape[0])}
    rule.close()

    def last(xs: list[float]) -> float | None:
        return _finite(float(xs[-1])) if xs else None

    return {
        "options": dict(options),
        "rule_repr": repr(rule),
        "test_acc": last(hist.test_acc),
        "test_loss": last(hist.test_loss),
        "train_acc": last(hist.train_acc),
        "train_loss": last(hist.train_loss),
        "stopped": hist.stopped,
        "seconds": float(np.sum(hist.seconds)),
        "history": hist.to_dict(),
        "final_alignment": final,
        "nnlite": __version__,
    }

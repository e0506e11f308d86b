"""The command line of ``nnlite``: :func:`build_parser` (the argument types are :mod:`nnlite.cli.types`).
No library object is built here (see :mod:`nnlite.cli.build`); names and defaults are :mod:`nnlite.cli.defaults`'s.
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from nnlite._validation import did_you_mean
from nnlite.config import options
from nnlite.config import values as V
from nnlite.config.schema import Option
from nnlite.rules import registry

from .defaults import ALIGN_RECORDS_PER_EPOCH, EPILOG, LR_HELP, SMALL_GEMM, compare_rules
from .sweep import add_sweep_commands
from .types import arg_type, learning_rates, positive_int, rule_list

__all__ = ["OneLineParser", "build_parser", "suggest"]

#: The help groups, in order; every run option's group is one of them.
GROUPS = ("data", "model", "feedback", "optimisation", "output")


def _help(opt: Option, compare: bool) -> str:
    if opt.name == "align_every":
        every = f"about {ALIGN_RECORDS_PER_EPOCH} times per epoch" if compare else "off"
        return f"measure alignment against BP every N steps (default: {every})"
    if opt.name == "threads":
        return (
            f"BLAS threads (threadpoolctl): a number, 0 for the BLAS default, or auto (default): one "
            f"thread for a small MLP (batch x largest weight matrix <= {SMALL_GEMM:,} multiply-adds, "
            f"where more threads cannot pay for their synchronisation), otherwise no more threads than idle cores "
            f"and, of 1 and that, the faster on timed training steps (a busy core makes threaded BLAS stall), "
            f"decided once before the first epoch, recorded in history.json and reused by --resume; a number "
            f"above 1 is checked the same way and kept unless fewer cores are idle or 1 thread is faster; never "
            f"more threads than the CPUs the process may use"
        )
    if opt.name == "lr" and compare:
        return f"learning rate for every rule, or per rule: bp=0.05,dfa=0.02 (default by optimizer: {LR_HELP})"
    return opt.help


def _add_option(g: argparse._ArgumentGroup, opt: Option, default: object, compare: bool) -> None:
    """One run option as a flag: its kind of value is the flag's type (or its choices), its default the field's."""
    kw: dict = {"default": default, "help": _help(opt, compare), "dest": opt.name}
    names = opt.kind.names
    if opt.kind is V.switch:
        kw["action"] = "store_true"
    elif compare and opt.name == "lr":
        kw["type"] = learning_rates
    elif names is not None:
        kw["choices"] = tuple(names())
    else:
        kw["type"] = arg_type(opt.kind, opt.name)
        kw["metavar"] = opt.metavar or opt.name.upper()
    g.add_argument(opt.flag_name, **kw)


def _add_common(p: argparse.ArgumentParser, *, compare: bool) -> None:
    """The run options of ``nnlite train`` or ``nnlite compare`` (the one table, :func:`nnlite.config.options`),
    in their help groups, and the output flags that are the command's own."""
    command = "compare" if compare else "train"
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    defaults = {o.name: o.default for o in options()}
    for opt in options():
        if opt.flag and command in opt.commands:
            _add_option(groups[opt.group], opt, defaults[opt.name], compare)
    g = groups["output"]
    g.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output folder (default: runs/<timestamp>); refused when it holds files, unless --force"
        + ("" if compare else " or --resume"),
    )
    g.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing its files")
    if not compare:
        g.add_argument(
            "--resume",
            metavar="DIR",
            default=None,
            help="continue the interrupted run in DIR from its last finished epoch, with the flags it was "
            "started with (--epochs N trains on to N epochs); the result is identical to an uninterrupted run",
        )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _version() -> str:
    from nnlite import __version__

    return __version__


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line — the error, a "did you mean" where a choice, a
    command or a flag was mistyped, and where the options are listed — instead of the usage block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {suggest(message, self)} (`{self.prog} --help` lists the options)\n")


def suggest(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with a "did you mean" added for argparse's invalid choices and unrecognised flags."""
    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if m and "did you mean" not in message:
        known = re.findall(r"'([^']*)'", m.group(2)) or [k.strip() for k in m.group(2).split(",")]
        hint = did_you_mean(m.group(1), known)
        return message[: m.start(2) - len(" (choose from ")] + hint + message[m.start(2) - len(" (choose from ") :]
    m = re.match(r"unrecognized arguments: (.*)$", message)
    if m:
        parsers = [parser] + [
            sub for a in parser._actions if isinstance(a, argparse._SubParsersAction) for sub in a.choices.values()
        ]
        flags = sorted({o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")})
        hints = [f"{w}{did_you_mean(w, flags)}" for w in m.group(1).split() if w.startswith("--")]
        if any("did you mean" in h for h in hints):
            return f"unrecognized arguments: {m.group(1)}; " + "; ".join(h for h in hints if "did you mean" in h)
    return message


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``nnlite train``, ``nnlite compare`` and (its help line only) ``nnlite bench``."""
    parser = OneLineParser(
        prog="nnlite",
        description="Train neural networks with BP, FA, DFA, IFA and LAFS (hand-derived NumPy/Numba engine).",
        epilog="Run `nnlite COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"nnlite {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "train",
        help="train one network with one rule",
        formatter_class=fmt,
        epilog=EPILOG,
        description="Train a network with one rule; print the configuration, a per-epoch table "
        "and the final test accuracy; write history.json, curves.png and model.npz "
        "into --out.",
    )
    _add_common(p, compare=False)

    p = sub.add_parser(
        "compare",
        help="train the same network under several rules",
        formatter_class=fmt,
        epilog=EPILOG,
        description="Train the same network from the same initial weights (and batch order) under "
        "each rule; print one table (final test accuracy, seconds per epoch, final "
        "alignment cosine per hidden layer); write compare.json and compare.png into --out.",
    )
    p.add_argument(
        "--rules",
        type=rule_list,
        default=list(compare_rules()),
        metavar="RULES",
        help=f"comma-separated rules from {','.join(registry.names())} (default: {','.join(compare_rules())})",
    )
    _add_common(p, compare=True)

    add_sweep_commands(sub, positive_int)
    sub.add_parser(
        "bench",
        add_help=False,
        help="run the benchmarks (python -m benchmarks); arguments are passed through, e.g. nnlite bench --quick",
    )
    return parser

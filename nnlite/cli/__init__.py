"""The ``nnlite`` command: ``nnlite train``, ``compare``, ``bench``, ``sweep``, ``report`` and ``reproduce``.

This package is the only place where strings become objects (docs/design.md, "Conventions"): ``"dfa"`` becomes
``nnlite.DFA(projection=..., layout=..., seed=...)``, ``"256x2"`` becomes ``[256, 256]``, and so on. It is argument
parsing (:mod:`~nnlite.cli.parser`), object construction (:mod:`~nnlite.cli.build`), one module per command
(:mod:`~nnlite.cli.train`, :mod:`~nnlite.cli.compare`, :mod:`~nnlite.cli.bench`, and :mod:`~nnlite.cli.sweep` for
``sweep``, ``report`` and ``reproduce``) and the presentation of what
:func:`nnlite.fit` returns (:mod:`~nnlite.cli.report`: a configuration block, a per-epoch table, JSON, PNG
figures); no training logic lives here.

Exit codes: 0 on success; 2 for a usage error (unknown name, malformed value: argparse's message with the choices);
1 for an error raised by the library (bad data, missing data set with ``--no-download``, missing optional
dependency), reported as one line on standard error. Set ``NNLITE_TRACEBACK=1`` to get the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import defaults, parser, types
from .bench import cmd_bench
from .build import CLIError, blas_threads
from .compare import cmd_compare
from .defaults import *  # noqa: F403 (the names and defaults, listed in defaults.__all__)
from .parser import build_parser as build_parser
from .sweep import cmd_report, cmd_reproduce, cmd_sweep
from .train import cmd_train
from .types import *  # noqa: F403 (the argument types, listed in types.__all__)

__all__ = [
    *defaults.__all__,
    *parser.__all__,
    *types.__all__,
    "CLIError",
    "blas_threads",
    "cmd_bench",
    "cmd_compare",
    "cmd_report",
    "cmd_reproduce",
    "cmd_sweep",
    "cmd_train",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nnlite`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "bench":
        return _guarded(lambda: cmd_bench(args_list[1:]))
    cli_parser = parser.build_parser()
    try:
        args = cli_parser.parse_args(args_list)
    except SystemExit as exc:  # usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    commands = {
        "train": cmd_train,
        "compare": cmd_compare,
        "sweep": cmd_sweep,
        "report": cmd_report,
        "reproduce": cmd_reproduce,
    }
    command = commands[args.command]
    try:
        return _guarded(lambda: command(args))
    except CLIError as exc:
        try:
            _subcommand_parser(cli_parser, args.command).error(" ".join(str(exc).split()))  # one line, always
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 2
        raise AssertionError("ArgumentParser.error returned") from None  # pragma: no cover


def _subcommand_parser(top: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The sub-parser of command ``name`` (to report a usage error in its name)."""
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


#: Library words in error messages and the command line's for them (the library's errors name its arguments).
_LIBRARY_TO_FLAGS = (
    ("pass root=<folder holding them>", "pass --data-root <folder holding them>"),
    ("(download=False)", "(--no-download)"),
)


def _guarded(fn: Callable[[], int]) -> int:
    """Run ``fn``; a library error becomes one line on standard error and exit code 1."""
    from nnlite.data import DataNotFoundError

    try:
        return fn()
    except CLIError:
        raise
    except KeyboardInterrupt:
        print("\nnnlite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `nnlite train | head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except (ValueError, TypeError, ImportError, OSError, NotImplementedError, RuntimeError) as exc:
        if os.environ.get("NNLITE_TRACEBACK"):
            raise
        what = "data not found" if isinstance(exc, DataNotFoundError) else type(exc).__name__
        msg = " ".join(str(exc).split()) or type(exc).__name__
        for library, flag in _LIBRARY_TO_FLAGS:
            msg = msg.replace(library, flag)
        print(f"nnlite: error ({what}): {msg}", file=sys.stderr)
        return 1

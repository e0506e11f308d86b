"""Flags -> :class:`nnlite.config.RunConfig`: the command line's side of building a run.

The run options are :mod:`nnlite.config`'s (one table: a field and its flag are one entry); this module turns a
parsed command line into a ``RunConfig`` (:func:`config_of`; ``nnlite compare`` makes one per rule) and reports
the checks across flags as usage errors (:func:`check_args`, exit 2). What a config builds — data, network,
rule, optimizer, loss, and the call of :func:`nnlite.fit` under the BLAS thread limit ``--threads`` asks for —
is :mod:`nnlite.config.builders`'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from nnlite.config import ConfigError, RunConfig, check_combination, options
from nnlite.config import builders as _build
from nnlite.config.checks import RULE_OPTIONS
from nnlite.network import Sequential

__all__ = ["CLIError", "blas_threads", "check_args", "config_of"]


class CLIError(Exception):
    """A problem with the command line found after parsing (exit 2, like an argparse error)."""


#: The options that apply to some rules only. ``nnlite compare`` checks each against the whole ``--rules`` list
#: (it must apply to one of them) and gives it to the rules that take it; the others run with its default.
RULE_SPECIFIC = frozenset(
    {
        "projection",
        "sparsity",
        "parallel",
        "layout",
        "kp_lr",
        "kp_weight_decay",
        "local_loss",
        "local_beta",
        "local_lr",
        "no_normalize",
        "error_scale",
        "bp_points",
        *(field for field, _ in RULE_OPTIONS),
    }
)


def config_of(args: argparse.Namespace, rule: str | None = None) -> RunConfig:
    """The run ``args`` describe, for ``rule`` (default ``args.rule``); ``compare``'s per-rule ``--lr`` is
    resolved for that rule, and its options that apply to other rules of ``--rules`` only are left at their
    defaults for this one (:data:`RULE_SPECIFIC`; :func:`check_args` has checked each applies to one)."""
    values: dict[str, Any] = {o.name: getattr(args, o.name) for o in options() if hasattr(args, o.name)}
    values["rule"] = rule if rule is not None else getattr(args, "rule", None) or args.rules[0]
    if isinstance(values.get("lr"), dict):
        values["lr"] = values["lr"].get(values["rule"])
    defaults = RunConfig.__dataclass_fields__
    for _ in range(len(RULE_SPECIFIC) + 1):
        try:
            return RunConfig.from_mapping(values)
        except ConfigError as exc:
            own = [f for f in exc.fields if f in RULE_SPECIFIC]
            if not hasattr(args, "rules") or not own or len(own) != len(exc.fields):
                raise CLIError(_as_flags(exc)) from None
            for field in own:
                values[field] = defaults[field].default
    raise AssertionError("unreachable: every rule-specific option was reset")  # pragma: no cover


def _as_flags(exc: ConfigError) -> str:
    """A config's message with its options named as flags."""
    message = str(exc)
    for field in exc.fields:
        opt = next((o for o in options() if o.name == field), None)
        if opt is not None:
            message = message.replace(opt.label("field"), opt.label("flag"))
    return message


def check_args(args: argparse.Namespace, rules: Sequence[str]) -> None:
    """Flags that do not apply to the chosen rules, model or optimizer: usage errors, not silently ignored."""
    try:
        check_combination(args, list(rules), style="flag")
    except ConfigError as exc:
        raise CLIError(str(exc)) from None


def usage_error(exc: ConfigError) -> CLIError:
    """A config error found while building (a bottleneck larger than its block, ...) as a usage error."""
    return CLIError(_as_flags(exc))


def blas_threads(args: argparse.Namespace, net: Sequential) -> int | None:
    """The BLAS thread limit ``--threads`` asks for on ``net``: an int, or None for the BLAS default."""
    return _build.blas_threads(config_of(args), net)

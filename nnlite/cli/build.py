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
from nnlite.network import Sequential
from nnlite.rules import registry

__all__ = ["CLIError", "applies", "blas_threads", "check_args", "config_of", "rule_specific", "without"]


class CLIError(Exception):
    """A problem with the command line found after parsing (exit 2, like an argparse error)."""


#: The run options that apply to the rules with a capability (:class:`~nnlite.rules.registry.RuleInfo`), besides
#: the options the rules declare (:func:`~nnlite.rules.registry.option_table`).
CAPABILITIES = {
    "projection": "takes_projection",
    "sparsity": "takes_projection",
    "parallel": "parallel",
    "layout": "has_layout",
    "no_normalize": "normalize",
    "error_scale": "error_scale",
    "bp_points": "bp_points",
}


def applies(field: str, rule: str) -> bool | None:
    """Whether the run option ``field`` applies to ``rule``: None for an option that applies to every rule."""
    if field in CAPABILITIES:
        return bool(getattr(registry.info(rule), CAPABILITIES[field]))
    declared = registry.option_table().get(field)
    return None if declared is None else rule in declared[1]


def rule_specific() -> frozenset[str]:
    """The options that apply to some rules only. ``nnlite compare`` checks each against the whole ``--rules``
    list (it must apply to one of them) and gives it to the rules it applies to; the others run with its default
    (:func:`without`)."""
    return frozenset(CAPABILITIES) | frozenset(registry.option_table())


def without(args: argparse.Namespace, rule: str) -> list[str]:
    """The rule-specific options given in ``args`` (not at their defaults) that ``rule`` runs without."""
    defaults = {o.name: o.default for o in options()}
    return [
        f
        for f in sorted(rule_specific())
        if hasattr(args, f) and getattr(args, f) != defaults.get(f) and applies(f, rule) is False
    ]


def config_of(args: argparse.Namespace, rule: str | None = None) -> RunConfig:
    """The run ``args`` describe, for ``rule`` (default ``args.rule``); ``compare``'s per-rule ``--lr`` is
    resolved for that rule, and its options that apply to other rules of ``--rules`` only are left at their
    defaults for this one (:func:`without`; :func:`check_args` has checked each applies to one)."""
    values: dict[str, Any] = {o.name: getattr(args, o.name) for o in options() if hasattr(args, o.name)}
    values["rule"] = rule if rule is not None else getattr(args, "rule", None) or args.rules[0]
    if isinstance(values.get("lr"), dict):
        values["lr"] = values["lr"].get(values["rule"])
    if hasattr(args, "rules"):
        defaults = {o.name: o.default for o in options()}
        for field in without(args, values["rule"]):
            values[field] = defaults[field]
    try:
        return RunConfig.from_mapping(values)
    except ConfigError as exc:
        raise CLIError(_as_flags(exc)) from None


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

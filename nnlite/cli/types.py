"""Argument types of the ``nnlite`` command line: one string -> one plain value, or an
:class:`argparse.ArgumentTypeError`, which argparse reports as a usage error (exit 2). Each run option's type is
its kind of value from :mod:`nnlite.config.values` (:func:`arg_type`), so the command line and a spec row are
checked by the same code; ``--rules`` and ``compare``'s per-rule ``--lr`` are the command's own."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nnlite.config import values as V
from nnlite.rules import registry

__all__ = [
    "activation_name",
    "arg_type",
    "bottleneck_spec",
    "channel_list",
    "dataset_name",
    "hidden_sizes",
    "learning_rates",
    "nonnegative_float",
    "odd_positive_int",
    "positive_float",
    "positive_int",
    "probability",
    "rule_list",
    "seed_value",
    "thread_count",
]


def arg_type(kind: V.Kind, name: str) -> Callable[[str], Any]:
    """argparse's ``type=`` for a kind of value: its text parsed and checked, errors as usage errors."""

    def parse(text: str) -> Any:
        try:
            return kind.from_text(text)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


dataset_name = arg_type(V.dataset, "dataset_name")
bottleneck_spec = arg_type(V.bottleneck, "bottleneck_spec")
channel_list = arg_type(V.channels, "channel_list")
probability = arg_type(V.probability, "probability")
thread_count = arg_type(V.threads, "thread_count")
positive_float = arg_type(V.positive_float, "positive_float")
nonnegative_float = arg_type(V.nonnegative_float, "nonnegative_float")
positive_int = arg_type(V.positive_int, "positive_int")
odd_positive_int = arg_type(V.odd_positive_int, "odd_positive_int")
seed_value = arg_type(V.seed, "seed_value")
activation_name = arg_type(V.activation, "activation_name")


def hidden_sizes(text: str) -> list[int]:
    """Parse ``--hidden``: ``"800x3"`` -> [800, 800, 800]; ``"800,800,800"``; mixed ``"512x2,256"``."""
    return list(arg_type(V.hidden, "hidden_sizes")(text))


def rule_list(text: str) -> list[str]:
    """Parse ``--rules bp,fa,dfa``: registered, distinct names, in the order given."""
    known = registry.names()
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of rules from {', '.join(known)}")
    for n in names:
        if n not in known:
            raise argparse.ArgumentTypeError(f"invalid choice: {n!r} (choose from {', '.join(known)})")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a rule is listed twice in {text!r}")
    return names


def learning_rates(text: str) -> float | dict[str, float]:
    """Parse ``compare``'s ``--lr``: one number for every rule, or ``rule=value`` pairs (``bp=0.01,dfa=0.005``)."""
    text = str(text).strip()
    if "=" not in text:
        return positive_float(text)
    known = registry.names()
    out = {}
    for item in text.split(","):
        rule, sep, value = item.partition("=")
        rule = rule.strip().lower()
        if not sep:
            raise argparse.ArgumentTypeError(f"expected RULE=VALUE pairs such as bp=0.01,dfa=0.005, got {item!r}")
        if rule not in known:
            raise argparse.ArgumentTypeError(f"invalid rule {rule!r} in --lr (choose from {', '.join(known)})")
        out[rule] = positive_float(value)
    return out

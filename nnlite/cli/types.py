"""Argument types of the ``nnlite`` command line: one string -> one plain value, or an
:class:`argparse.ArgumentTypeError`, which argparse reports as a usage error (exit 2)."""

from __future__ import annotations

import argparse
import math
import re

from nnlite.layers import canonical_activation

from .defaults import ACTIVATIONS, RULES

__all__ = [
    "activation_name",
    "bottleneck_spec",
    "dataset_name",
    "channel_list",
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


def dataset_name(text: str) -> str:
    """Validate ``--dataset``: a known data set, or a path ending in ``.npz`` (checked when it is loaded)."""
    from .defaults import DATASETS

    if text in DATASETS or str(text).endswith(".npz"):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(DATASETS)}, or a path to a .npz file)"
    )


def bottleneck_spec(text: str) -> tuple[int, int]:
    """Parse ``--bottleneck K:N``: hidden block K keeps N trainable units, e.g. ``1:100``."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m:
        raise argparse.ArgumentTypeError(f"expected BLOCK:TRAINABLE such as 1:100, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def hidden_sizes(text: str) -> list[int]:
    """Parse ``--hidden``: ``"800x3"`` -> [800, 800, 800]; ``"800,800,800"``; mixed ``"512x2,256"``."""
    sizes = []
    for item in str(text).replace(" ", "").lower().split(","):
        m = re.fullmatch(r"(\d+)(?:x(\d+))?", item)
        w, n = (int(m.group(1)), int(m.group(2) or 1)) if m else (0, 0)
        if w < 1 or n < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of hidden-layer widths; expected WIDTHxDEPTH (e.g. 800x3) or "
                f"comma-separated positive integers (e.g. 800,800,800)"
            )
        sizes.extend([w] * n)
    return sizes


def _is_leaky_relu(head: str) -> bool:
    try:
        return canonical_activation(head) == "leaky_relu"
    except ValueError:
        return False


def activation_name(text: str) -> str:
    """Validate ``--activation`` with :func:`nnlite.layers.canonical_activation`: a known name, or
    ``leaky_relu:SLOPE`` (e.g. ``leaky_relu:-0.5``); returns the canonical spelling."""
    try:
        return canonical_activation(str(text))
    except ValueError:
        if _is_leaky_relu(str(text).partition(":")[0]):
            raise argparse.ArgumentTypeError(f"invalid slope in {text!r}; expected e.g. leaky_relu:-0.5") from None
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(ACTIVATIONS)}, or leaky_relu:SLOPE such as "
            f"leaky_relu:-0.5)"
        ) from None


def rule_list(text: str) -> list[str]:
    """Parse ``--rules bp,fa,dfa``: known, distinct names, in the order given."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of rules from {', '.join(RULES)}")
    for n in names:
        if n not in RULES:
            raise argparse.ArgumentTypeError(f"invalid choice: {n!r} (choose from {', '.join(RULES)})")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a rule is listed twice in {text!r}")
    return names


def channel_list(text: str) -> list[int]:
    """Parse ``--channels 32,64,64``."""
    try:
        out = [int(t) for t in str(text).split(",")]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 32,64,64, got {text!r}")
    return out


def probability(text: str) -> float:
    """Parse a probability in [0, 1) (``--dropout``)."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return v


def thread_count(text: str) -> int | str:
    """Parse ``--threads``: ``auto`` or an integer >= 0 (0: the BLAS default)."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected auto or an integer >= 0, got {text!r}")
    return v


def _finite_float(text: str, allow_zero: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and (v > 0 or (allow_zero and v == 0))):
        what = "non-negative" if allow_zero else "positive"
        raise argparse.ArgumentTypeError(f"expected a {what} number, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """Parse a finite number > 0."""
    return _finite_float(text, allow_zero=False)


def nonnegative_float(text: str) -> float:
    """Parse a finite number >= 0."""
    return _finite_float(text, allow_zero=True)


def positive_int(text: str) -> int:
    """Parse an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def odd_positive_int(text: str) -> int:
    """Parse an odd integer >= 1 (a kernel size that keeps the spatial size with padding k // 2)."""
    v = positive_int(text)
    if v % 2 == 0:
        raise argparse.ArgumentTypeError(f"expected an odd positive integer, got {text!r}")
    return v


def seed_value(text: str) -> int:
    """Parse ``--seed``: an integer >= 0 (numpy's SeedSequence refuses negative seeds)."""
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def learning_rates(text: str) -> float | dict[str, float]:
    """Parse ``--lr``: one number for every rule, or ``rule=value`` pairs (``bp=0.01,dfa=0.005``)."""
    text = str(text).strip()
    if "=" not in text:
        return positive_float(text)
    out = {}
    for item in text.split(","):
        rule, sep, value = item.partition("=")
        rule = rule.strip().lower()
        if not sep:
            raise argparse.ArgumentTypeError(f"expected RULE=VALUE pairs such as bp=0.01,dfa=0.005, got {item!r}")
        if rule not in RULES:
            raise argparse.ArgumentTypeError(f"invalid rule {rule!r} in --lr (choose from {', '.join(RULES)})")
        out[rule] = positive_float(value)
    return out

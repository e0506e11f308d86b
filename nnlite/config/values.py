"""The kinds of value a run option takes: each parses the command line's text and checks a Python/TOML value,
so that ``--hidden 800x3`` and ``hidden = [800, 800, 800]`` are one value, checked once.

A kind's ``check(value)`` returns the checked value (lists become tuples, so that a :class:`RunConfig` is
hashable and frozen) or raises :class:`ValueError`/:class:`TypeError` with a message that does not name the
option; :class:`nnlite.config.ConfigError` adds the option's name (or its flag, on the command line).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._validation import did_you_mean
from ..data import KNOWN_DATASETS
from ..layers import ACTIVATIONS, canonical_activation
from ..models import check_layer_entries

__all__ = [
    "Kind",
    "activation",
    "bottleneck",
    "channels",
    "choice",
    "dataset",
    "epoch_list",
    "float_list",
    "hidden",
    "int_list",
    "integer",
    "layers",
    "nonnegative_float",
    "number",
    "odd_positive_int",
    "optional",
    "positive_float",
    "positive_int",
    "probability",
    "seed",
    "switch",
    "text",
    "threads",
    "gemm",
]


@dataclass(frozen=True)
class Kind:
    """How one option's value is read from text (``parse``) and checked as a Python value (``check``)."""

    parse: Callable[[str], Any]
    check: Callable[[Any], Any]
    #: The names a choice takes (for ``--help``, argparse's ``choices`` and "did you mean"), or None.
    names: Callable[[], Sequence[str]] | None = None

    def from_text(self, text: str) -> Any:
        """The checked value of the command line's ``text``."""
        return self.check(self.parse(text))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"takes a number, got the boolean {value!r}")
    if not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"takes an integer, got the boolean {value!r}")
    if not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def _float_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _int_text(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _checked(read: Callable[[Any], Any], ok: Callable[[Any], bool], what: str) -> Callable[[Any], Any]:
    """A check: ``read`` the value (a number, an integer), then refuse it unless ``ok``, saying ``what`` it must be."""

    def check(value: Any) -> Any:
        v = read(value)
        if not ok(v):
            raise ValueError(f"expected {what}, got {value!r}")
        return v

    return check


_positive_float = _checked(_number, lambda v: math.isfinite(v) and v > 0, "a positive number")
_nonnegative_float = _checked(_number, lambda v: math.isfinite(v) and v >= 0, "a non-negative number")
_positive_int = _checked(_integer, lambda v: v >= 1, "a positive integer")
_odd_positive_int = _checked(_integer, lambda v: v >= 1 and v % 2 == 1, "an odd positive integer")
_probability = _checked(_number, lambda v: 0 <= v < 1, "a probability in [0, 1)")
_seed = _checked(_integer, lambda v: v >= 0, "a non-negative integer")


def _switch(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"is a switch: true or false, got {value!r}")
    return value


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError(f"takes a value, got the boolean {value!r}")
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


positive_float = Kind(_float_text, _positive_float)
nonnegative_float = Kind(_float_text, _nonnegative_float)
positive_int = Kind(_int_text, _positive_int)
odd_positive_int = Kind(_int_text, _odd_positive_int)
probability = Kind(_float_text, _probability)
number = Kind(_float_text, _checked(_number, math.isfinite, "a finite number"))
integer = Kind(_int_text, _checked(_integer, lambda v: True, "an integer"))
seed = Kind(_int_text, _seed)
switch = Kind(lambda t: True, _switch)
text = Kind(str, _text_value)


def optional(kind: Kind) -> Kind:
    """``kind`` or None (an option whose default is "not given")."""
    return Kind(kind.parse, lambda v: None if v is None else kind.check(v), kind.names)


def choice(names: Callable[[], Sequence[str]]) -> Kind:
    """One of ``names()`` (read when checked, so a registered rule is a choice at once)."""

    def check(value: Any) -> str:
        value = _text_value(value)
        known = list(names())
        if value not in known:
            raise ValueError(f"invalid choice: {value!r}{did_you_mean(value, known)} (choose from {', '.join(known)})")
        return value

    return Kind(str, check, names)


def _hidden_text(text: str) -> tuple[int, ...]:
    sizes: list[int] = []
    for item in str(text).replace(" ", "").lower().split(","):
        m = re.fullmatch(r"(\d+)(?:x(\d+))?", item)
        w, n = (int(m.group(1)), int(m.group(2) or 1)) if m else (0, 0)
        if w < 1 or n < 1:
            raise ValueError(
                f"{text!r} is not a list of hidden-layer widths; expected WIDTHxDEPTH (e.g. 800x3) or "
                f"comma-separated positive integers (e.g. 800,800,800)"
            )
        sizes.extend([w] * n)
    return tuple(sizes)


def _int_list(value: Any, what: str, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"expected a list of {what}, got {value!r}")
    out = tuple(_positive_int(v) for v in value)
    if not out and not allow_empty:
        raise ValueError(f"expected a non-empty list of {what}, got {value!r}")
    return out


hidden = Kind(_hidden_text, lambda v: _int_list(v, "hidden-layer widths", allow_empty=True))


def _channels_text(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(t) for t in str(text).split(","))
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise ValueError(f"expected comma-separated positive integers such as 32,64,64, got {text!r}")
    return out


channels = Kind(_channels_text, lambda v: _int_list(v, "filter counts", allow_empty=False))


def _ints_text(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated integers such as 0,-1, got {text!r}") from None


def _ints(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"expected a list of integers, got {value!r}")
    return tuple(_integer(v) for v in value)


#: A list of integers, negative ones allowed (``bp_points``).
int_list = Kind(_ints_text, _ints)


def _epoch_list_text(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated epochs such as 50,75, got {text!r}") from None


epoch_list = Kind(_epoch_list_text, lambda v: tuple(sorted(_int_list(v, "epochs", allow_empty=False))))


def _float_list_text(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated numbers such as 0.4914,0.4822,0.4465, got {text!r}") from None


def _float_list(value: Any) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"expected a non-empty list of numbers, got {value!r}")
    out = tuple(_number(v) for v in value)
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"expected finite numbers, got {value!r}")
    return out


float_list = Kind(_float_list_text, _float_list)


def _bottleneck_text(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"expected BLOCK:TRAINABLE such as 1:100, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _bottleneck(value: Any) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"is [block, trainable], got {value!r}")
    k, n = (_integer(v) for v in value)
    if k < 0 or n < 0:
        raise ValueError(f"is [block, trainable] with non-negative integers, got {value!r}")
    return k, n


bottleneck = Kind(_bottleneck_text, _bottleneck)


def _threads_text(text: str) -> int | str:
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise ValueError(f"expected auto or an integer >= 0, got {text!r}")
    return v


def _threads(value: Any) -> int | str:
    if value == "auto":
        return "auto"
    v = _integer(value)
    if v < 0:
        raise ValueError(f"expected auto or an integer >= 0, got {value!r}")
    return v


threads = Kind(_threads_text, _threads)
#: A run's matrix-product provider (nnlite.backend.products): ``auto`` or one of the providers nnlite knows.
gemm = choice(lambda: ("auto", "numpy", "mkl", "openblas"))
GEMM_HELP = (
    "matrix-product provider: auto (default: $NNLITE_GEMM, else the fastest installed one, measured once per "
    "machine), numpy, mkl or openblas"
)


def _activation(value: Any) -> str:
    value = _text_value(value)
    try:
        return canonical_activation(value)
    except ValueError:
        head = value.partition(":")[0]
        try:
            leaky = canonical_activation(head) == "leaky_relu"
        except ValueError:
            leaky = False
        if leaky:
            raise ValueError(f"invalid slope in {value!r}; expected e.g. leaky_relu:-0.5") from None
        raise ValueError(
            f"invalid choice: {value!r}{did_you_mean(value, ACTIVATIONS)} (choose from {', '.join(ACTIVATIONS)}, "
            "or leaky_relu:SLOPE such as leaky_relu:-0.5)"
        ) from None


activation = Kind(str, _activation)


def _dataset(value: Any) -> str:
    value = _text_value(value)
    if value in KNOWN_DATASETS or value.endswith(".npz"):
        return value
    hint = did_you_mean(value, KNOWN_DATASETS)
    raise ValueError(
        f"invalid choice: {value!r}{hint} (choose from {', '.join(KNOWN_DATASETS)}, or a path to a .npz file)"
    )


dataset = Kind(str, _dataset)


def _layers_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f'expected a JSON list of layer tables, e.g. \'[{{"type": "dense", "units": 10}}]\': {exc}'
        ) from None


def _layers(value: Any) -> tuple[dict[str, Any], ...]:
    return tuple(check_layer_entries(value))


layers = Kind(_layers_text, _layers)

"""One run option's entry (:class:`Option`: a field of ``RunConfig`` and its flag), the helpers that declare the
fields of :class:`~nnlite.config.RunConfig`, and the options made from the rules' declarations
(:func:`rule_option`, from :mod:`nnlite.rules.options`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import values as V

__all__ = ["Option", "rule_option"]


@dataclass(frozen=True)
class Option:
    """One run option: a field of :class:`RunConfig` and, where ``flag`` is true, a flag of the commands."""

    name: str
    kind: V.Kind
    group: str
    help: str
    flag: bool = True
    metavar: str | None = None
    #: The commands whose flags include it.
    commands: tuple[str, ...] = ("train", "compare")
    #: Its default value.
    default: Any = None
    #: The rules that declare it, for an option a rule declares (:mod:`nnlite.rules.options`); else empty.
    rules: tuple[str, ...] = ()

    @property
    def flag_name(self) -> str:
        """``--kernel-size`` for ``kernel_size``."""
        return "--" + self.name.replace("_", "-")

    def label(self, style: str) -> str:
        """How a message names the option: ``--layout`` on the command line, ``'layout' (--layout)`` elsewhere."""
        if style == "flag":
            return self.flag_name
        return f"{self.name!r} ({self.flag_name})" if self.flag else repr(self.name)


def _opt(
    default: Any,
    kind: V.Kind,
    group: str,
    help: str,
    *,
    flag: bool = True,
    metavar: str | None = None,
    commands: tuple[str, ...] = ("train", "compare"),
) -> Any:
    entry = {"kind": kind, "group": group, "help": help, "flag": flag, "metavar": metavar, "commands": commands}
    return dataclasses.field(default=default, metadata={"option": entry})


def _choice(names: tuple[str, ...] | Callable[[], Sequence[str]]) -> V.Kind:
    return V.choice(names if callable(names) else (lambda: names))


def rule_option(field: str, opt: Any, rules: tuple[str, ...]) -> Option:
    """The run option of a rule's declared option (:class:`nnlite.rules.options.Option`)."""
    kinds = {
        ("float", "positive"): V.positive_float,
        ("float", "nonnegative"): V.nonnegative_float,
        ("float", "probability"): V.probability,
        ("float", None): V.number,
        ("int", "positive"): V.positive_int,
        ("int", "nonnegative"): V.seed,
        ("int", None): V.integer,
        ("str", None): V.text,
    }
    if isinstance(opt.constraint, tuple):
        kind = _choice(opt.constraint)
    elif (opt.kind, opt.constraint) in kinds:
        kind = kinds[(opt.kind, opt.constraint)]
    else:
        raise ValueError(f"a {opt.kind} option cannot have the constraint {opt.constraint!r}")
    help = f"{', '.join(rules)}: {opt.help}"
    return Option(name=field, kind=V.optional(kind), group="feedback", help=help, default=opt.default, rules=rules)

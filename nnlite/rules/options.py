"""A rule's options, declared once next to its equations (:class:`Option`, a rule class's ``options``).

Each declaration names one constructor parameter the rule exposes to runs: its kind, its default, its help and
its constraint. Everything else is generated from the declarations of the registered rules
(:func:`nnlite.rules.registry.option_table`): the ``RunConfig`` option of that name (kept in
``RunConfig.rule_options``, read as ``config.kp_lr``), its flag of ``nnlite train`` and ``compare``, its check
(refused for a rule that does not declare it), the builders' argument, spec validation and ``compare``'s choice
of which rules get it. Rules that declare the same ``field`` (KP's and DKP's ``kp_lr``) share one option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Option"]

#: The kinds of value an option takes.
KINDS = ("float", "int", "str")


@dataclass(frozen=True)
class Option:
    """One option a rule exposes: a parameter of its constructor, as runs name it.

    Parameters
    ----------
    param : str
        The constructor's parameter.
    kind : {"float", "int", "str"}
    default : object
        What the rule gets when the option is not given: None leaves the constructor's own default (or
        ``inherit``'s value); the help says what it is.
    help : str
        One line for ``--help`` (starting with the rules it serves, as ``"dtp, ddtp: ..."``).
    minimum, maximum : float, optional
        The constraint on a number (``strict``: greater than ``minimum``, not equal).
    choices : tuple of str
        The constraint on a string.
    field : str, optional
        The run option's name (default ``"<rule>_<param>"``): ``--kp-lr`` is the flag of field ``kp_lr``.
    inherit : str, optional
        A run setting the rule gets when the option is not given: ``"lr"`` (the run's learning rate) or
        ``"weight_decay"`` (the optimizer's).
    when : tuple (param, values), optional
        The option applies only when the rule's option ``param`` has one of ``values`` (None counts as its
        default, the first of them).
    """

    param: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    strict: bool = False
    choices: tuple[str, ...] = ()
    field: str | None = None
    inherit: str | None = None
    when: tuple[str, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Option {self.param!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.param.isidentifier():
            raise ValueError(f"Option param must be an identifier, got {self.param!r}")

    def field_name(self, rule: str) -> str:
        """The run option's name for a rule named ``rule``."""
        return self.field or f"{rule}_{self.param}"

    def check(self, value: Any) -> Any:
        """``value`` checked against the kind and the constraint (None passes: not given)."""
        if value is None:
            return None
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"must be a number, got {value!r}")
        if self.kind == "int":
            if int(value) != value:
                raise ValueError(f"must be an integer, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"must be finite, got {value!r}")
        lo, hi = self.minimum, self.maximum
        if lo is not None and (value < lo or (self.strict and value == lo)):
            raise ValueError(f"must be {'>' if self.strict else '>='} {lo:g}, got {value!r}")
        if hi is not None and value > hi:
            raise ValueError(f"must be <= {hi:g}, got {value!r}")
        return value

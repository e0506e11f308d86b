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

__all__ = ["CONSTRAINTS", "KINDS", "Option"]

#: The kinds of value an option takes.
KINDS = ("float", "int", "str")
#: The constraints on a number: > 0, >= 0, in [0, 1).
CONSTRAINTS = ("positive", "nonnegative", "probability")


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
        One line for ``--help``; the rules that declare the option are put before it (``"dtp, ddtp: ..."``).
    constraint : {"positive", "nonnegative", "probability"} or tuple of str, optional
        What a number must be (> 0, >= 0, in [0, 1)), or the choices of a string.
    field : str, optional
        The run option's name (default ``"<rule>_<param>"``): ``--kp-lr`` is the flag of field ``kp_lr``.
    inherit : {"lr", "weight_decay"}, optional
        A run setting the rule gets when the option is not given: the run's learning rate or the optimizer's
        weight decay.
    when : tuple (param, values), optional
        The option applies only when the rule's option ``param`` is one of ``values`` (or not given: the first of
        them is its default).
    """

    param: str
    kind: str
    default: Any
    help: str
    constraint: str | tuple[str, ...] | None = None
    field: str | None = None
    inherit: str | None = None
    when: tuple[str, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Option {self.param!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.param.isidentifier():
            raise ValueError(f"Option param must be an identifier, got {self.param!r}")
        if isinstance(self.constraint, str) and self.constraint not in CONSTRAINTS:
            raise ValueError(f"Option {self.param!r}: constraint must be one of {CONSTRAINTS} or a tuple of choices")
        if self.inherit not in (None, "lr", "weight_decay"):
            raise ValueError(f"Option {self.param!r}: inherit must be 'lr' or 'weight_decay', got {self.inherit!r}")

    def field_name(self, rule: str) -> str:
        """The run option's name for a rule named ``rule``."""
        return self.field or f"{rule}_{self.param}"

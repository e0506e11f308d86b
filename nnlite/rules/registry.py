"""The rule registry: name -> rule class, with what each rule can do read from the class itself.

Everything that lists rules derives from :data:`RULES`: the command line's ``--rule`` choices and the checks of
the flags that apply to some rules only, ``compare``'s default rules, spec validation, the documentation's rule
table and the tests' parametrisations. Adding a rule is its file, one :func:`register` call, and its own tests
(docs/design.md, "How to add a rule").

What a rule can do is read from its class, never kept in a second list:

- its constructor's parameters say which options apply: ``projection`` (a feedback projection), ``layout`` (the
  direct family's ``B_k`` layouts), ``parallel`` (blocks that may update concurrently), ``normalize`` (Launay et
  al.'s feedback normalisation), ``error_scale`` (the hidden signal's batch scale), ``lr``/``weight_decay``
  (feedback that learns, KP);
- its methods say whether it has local errors and readouts (:meth:`Rule.has_local_errors` overridden) and state
  to save with checkpoints (:meth:`Rule.state` overridden);
- class attributes say what the signature cannot: ``needs_labels`` (hidden signals that read the labels),
  ``needs_transpose`` (a projection that can apply ``B``'s transpose) and ``in_compare`` (among ``nnlite
  compare``'s default rules).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from .base import Rule
from .bp import BP
from .dfa import DFA
from .direct import DirectRule
from .dkp import DKP
from .drtp import DRTP, SDFA
from .dtp import DDTP, DTP
from .fa import FA
from .ifa import IFA
from .kp import KP
from .lafs import LAFS
from .local import Local
from .options import Option
from .pepita import PEPITA
from .sign_symmetry import BRSF, FRSF, USF

__all__ = ["RULES", "RuleInfo", "info", "make", "names", "option_field", "option_table", "register", "unregister"]


@dataclass(frozen=True)
class RuleInfo:
    """What a registered rule is and can do (every field read from its class)."""

    name: str
    cls: type[Rule]
    #: "chain" (the signal goes back block by block through ``W_k`` or a ``B_k``: BP and the FA family),
    #: "direct" (one projection of a vector reaches every hidden block) or "other".
    family: str
    #: The constructor's parameter names.
    parameters: tuple[str, ...]
    takes_projection: bool
    has_layout: bool
    parallel: bool
    normalize: bool
    #: ``error_scale`` in the constructor: the hidden signal's batch scale, mean or sum (the direct rules, IFA).
    error_scale: bool
    #: ``bp_points`` honoured: feedback points that get BP's signal (the direct rules that keep DirectRule's step).
    bp_points: bool
    learns_feedback: bool
    has_local_errors: bool
    stateful: bool
    needs_labels: bool
    needs_transpose: bool
    in_compare: bool
    #: The options the rule declares (:class:`~nnlite.rules.options.Option`), each a constructor parameter.
    options: tuple[Option, ...] = ()

    @property
    def summary(self) -> str:
        """The class docstring's first sentence."""
        doc = inspect.getdoc(self.cls) or ""
        return doc.split("\n\n")[0].replace("\n", " ")


#: Every registered rule, by name, in the order registered.
RULES: dict[str, RuleInfo] = {}


def info_of(cls: type[Rule]) -> RuleInfo:
    """A rule class's :class:`RuleInfo`, read from the class."""
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise TypeError(f"a rule must be a subclass of nnlite.rules.Rule, got {cls!r}")
    if not cls.name or not isinstance(cls.name, str) or cls.name != cls.name.lower() or not cls.name.isidentifier():
        raise ValueError(f"{cls.__name__}.name must be a lower-case identifier, got {cls.name!r}")
    params = tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")
    declared = tuple(cls.options)
    for opt in declared:
        if not isinstance(opt, Option) or opt.param not in params:
            raise ValueError(f"{cls.__name__}.options: {opt!r} must be an Option naming a constructor parameter")
    return RuleInfo(
        options=declared,
        name=cls.name,
        cls=cls,
        family=str(cls.family),
        parameters=params,
        takes_projection="projection" in params,
        has_layout="layout" in params,
        parallel="parallel" in params,
        normalize="normalize" in params,
        error_scale="error_scale" in params,
        bp_points="bp_points" in params and issubclass(cls, DirectRule),
        learns_feedback="lr" in params,
        has_local_errors=cls.has_local_errors is not Rule.has_local_errors,
        stateful=cls.state is not Rule.state,
        needs_labels=bool(getattr(cls, "needs_labels", False)),
        needs_transpose=bool(getattr(cls, "needs_transpose", False)),
        in_compare=bool(getattr(cls, "in_compare", False)),
    )


def option_table() -> dict[str, tuple[Option, tuple[str, ...]]]:
    """Every rule option of the registered rules, by run-option name (``kp_lr``): its declaration and the rules
    that declare it, in registration order. Rules sharing a name share the option (KP's and DKP's ``kp_lr``)."""
    table: dict[str, tuple[Option, tuple[str, ...]]] = {}
    for name, entry in RULES.items():
        for opt in entry.options:
            field = opt.field_name(name)
            first, takers = table.get(field, (opt, ()))
            table[field] = (first, (*takers, name))
    return table


def option_field(rule: str, param: str) -> str | None:
    """The run-option name of rule ``rule``'s option on constructor parameter ``param`` (None if undeclared)."""
    return next((o.field_name(rule) for o in info(rule).options if o.param == param), None)


def register(cls: type[Rule]) -> type[Rule]:
    """Register ``cls`` under ``cls.name`` (usable as a class decorator); a name taken by another class is a
    ``ValueError``."""
    entry = info_of(cls)
    old = RULES.get(entry.name)
    if old is not None and old.cls is not cls:
        raise ValueError(f"the rule name {entry.name!r} is taken by {old.cls.__name__}")
    RULES[entry.name] = entry
    return cls


def unregister(name: str) -> None:
    """Remove a registered rule (tests register throwaway rules and remove them)."""
    RULES.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered rule names, in registration order."""
    return tuple(RULES)


def info(name: str) -> RuleInfo:
    """The :class:`RuleInfo` of a registered rule; an unknown name is a ``ValueError`` listing the known ones."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"unknown rule {name!r}; the registered rules are {', '.join(RULES)}") from None


def make(name: str, **available: Any) -> Rule:
    """A new rule ``name`` built from those of ``available``'s arguments its constructor takes.

    ``make("dfa", seed=1, lr=0.1)`` is ``DFA(seed=1)``; ``make("kp", seed=1, lr=0.1, weight_decay=0.0)`` is
    ``KP(lr=0.1, weight_decay=0.0, seed=1)``. A required argument missing from ``available`` is a TypeError.
    """
    entry = info(name)
    return entry.cls(**{k: v for k, v in available.items() if k in entry.parameters})


for _cls in (BP, FA, DFA, IFA, LAFS, USF, BRSF, FRSF, KP, DRTP, SDFA, DKP, Local, DTP, DDTP, PEPITA):
    register(_cls)


def markdown_table() -> str:
    """The rule table of docs/design.md, made from the registry (a test holds the document to it; print it with
    ``python -m nnlite.rules.registry``)."""
    flags = [
        ("takes_projection", "projection"),
        ("has_layout", "layout"),
        ("parallel", "parallel"),
        ("learns_feedback", "learns B_k"),
        ("has_local_errors", "local errors"),
        ("stateful", "state saved"),
        ("needs_labels", "labels"),
    ]
    lines = ["| rule | class | family | " + " | ".join(label for _, label in flags) + " |"]
    lines.append("|" + "---|" * (3 + len(flags)))
    for entry in RULES.values():
        marks = " | ".join("yes" if getattr(entry, attr) else "" for attr, _ in flags)
        lines.append(f"| `{entry.name}` | `{entry.cls.__name__}` | {entry.family} | {marks} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table())

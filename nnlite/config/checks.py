"""The checks across options: a flag that does not apply to the chosen rules, model or optimizer is an error,
never silently ignored. Which options apply to which rules is read from the rule registry
(:mod:`nnlite.rules.registry`), so a new rule is checked with no edit here.

The one function, :func:`check_combination`, serves the command line (messages name ``--layout``; ``nnlite
compare`` checks all its rules at once) and :class:`~nnlite.config.RunConfig` (messages name ``'layout'
(--layout)``): the caller says how an option is named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..rules import registry

__all__ = ["ConfigError", "check_combination", "check_rule_options"]


class ConfigError(ValueError):
    """A run option that cannot be: ``fields`` names the options, and the message names them as options
    (``'layout' (--layout) applies to dfa, ...``); the command line shows the same check with its flags."""

    def __init__(self, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fields = tuple(fields)


def _applies(rules: Sequence[str], capability: str) -> list[str]:
    return [r for r in rules if getattr(registry.info(r), capability)]


def _with(capability: str) -> str:
    return ", ".join(r for r, i in registry.RULES.items() if getattr(i, capability))


def check_rule_options(values: Any, rules: Sequence[str], name: Callable[[str], str]) -> None:
    """Refuse a rule's option (:mod:`nnlite.rules.options`) given to ``rules`` none of which declares it, or
    given where its declared condition (``when``) does not hold; made from the declarations alone."""
    what = name("rule") if len(rules) == 1 else "--rules"
    chosen = f"{what} {','.join(rules)}"
    for field, (opt, takers) in registry.option_table().items():
        if getattr(values, field, None) is None:
            continue
        if not [r for r in rules if r in takers]:
            raise ConfigError(f"{name(field)} applies to {', '.join(takers)}, not {chosen}", [field])
        if opt.when is not None:
            other = registry.option_field(takers[0], opt.when[0])
            allowed = opt.when[1]
            if other is not None and getattr(values, other, None) not in (None, *allowed):
                raise ConfigError(f"{name(field)} applies to {name(other)} {', '.join(allowed)} only", [field])


def check_combination(values: Any, rules: Sequence[str], name: Callable[[str], str]) -> None:
    """Refuse options that do not apply to ``rules`` (the registered names), the model or the optimizer.

    Parameters
    ----------
    values : RunConfig or argparse.Namespace
        Anything with the options as attributes.
    rules : list of str
        The rules the options will train (one for a run; ``nnlite compare``'s list).
    name : callable
        How a message names an option (``"layout"`` -> ``"--layout"`` on the command line).

    Raises
    ------
    ConfigError
        Naming the options and what they apply to.
    """

    def fail(message: str, *fields: str) -> None:
        raise ConfigError(message, fields)

    what = name("rule") if len(rules) == 1 else "--rules"
    chosen = f"{what} {','.join(rules)}"
    opt = values.optimizer
    if opt in ("adam", "rmsprop"):
        if values.momentum is not None:
            fail(f"{name('momentum')} applies to sgd, momentum and nesterov, not {opt}", "momentum")
        if values.weight_decay:
            fail(f"{name('weight_decay')} applies to sgd, momentum and nesterov, not {opt}", "weight_decay")
    if opt == "nesterov" and values.momentum == 0:
        fail(f"{name('optimizer')} nesterov needs {name('momentum')} > 0", "optimizer", "momentum")
    if getattr(values, "lr_decay_factor", 0.1) != 0.1 and not getattr(values, "lr_decay_epochs", None):
        fail(f"{name('lr_decay_factor')} needs {name('lr_decay_epochs')}", "lr_decay_factor")
    if (getattr(values, "input_mean", None) is None) != (getattr(values, "input_std", None) is None):
        fail(f"{name('input_mean')} and {name('input_std')} go together", "input_mean", "input_std")
    if getattr(values, "bottleneck_mode", "units") != "units" and values.bottleneck is None:
        fail(f"{name('bottleneck_mode')} needs {name('bottleneck')}", "bottleneck_mode")
    model = values.model
    if getattr(values, "layers", None) is not None and model == "cnn":
        fail(f"{name('layers')} describes the whole network: it cannot go with {name('model')} cnn", "layers", "model")
    if model == "layers" and getattr(values, "layers", None) is None:
        fail(f"{name('model')} layers needs {name('layers')}", "model", "layers")
    if model != "mlp" and values.hidden is not None:
        fail(
            f"{name('hidden')} applies to {name('model')} mlp (for the cnn see --channels and --kernel-size)", "hidden"
        )
    for field in ("channels", "kernel_size"):
        if model != "cnn" and getattr(values, field) is not None:
            fail(f"{name(field)} applies to {name('model')} cnn only", field)
    if model == "layers":
        for field in ("batch_norm", "dropout", "input_dropout"):
            if getattr(values, field):
                fail(f"{name(field)} applies to mlp and cnn; a layers list says where its layers go", field)
    if values.projection is not None and not _applies(rules, "takes_projection"):
        fail(f"{name('projection')} applies to {_with('takes_projection')}, not {chosen}", "projection")
    if values.projection != "sparse" and values.sparsity != 1:
        fail(f"{name('sparsity')} applies to {name('projection')} sparse only", "sparsity")
    if values.parallel and not _applies(rules, "parallel"):
        fail(f"{name('parallel')} applies to {_with('parallel')}, not {chosen}", "parallel")
    if values.layout != "unified" and not _applies(rules, "has_layout"):
        fail(f"{name('layout')} applies to {_with('has_layout')}, not {chosen}", "layout")
    check_rule_options(values, rules, name)
    if values.projection not in (None, "gaussian"):
        for r in _applies(rules, "learns_feedback"):
            if registry.info(r).takes_projection:
                fail(
                    f"{name('projection')} {values.projection} cannot be used with {r}: it learns its B_k as dense "
                    "matrices, which needs the gaussian projection",
                    "projection",
                )
    if values.no_normalize and not _applies(rules, "normalize"):
        fail(f"{name('no_normalize')} applies to {_with('normalize')}, not {chosen}", "no_normalize")
    if getattr(values, "error_scale", "mean") != "mean" and not _applies(rules, "error_scale"):
        fail(f"{name('error_scale')} applies to {_with('error_scale')}, not {chosen}", "error_scale")
    if getattr(values, "bp_points", ()) and not _applies(rules, "bp_points"):
        fail(f"{name('bp_points')} applies to {_with('bp_points')}, not {chosen}", "bp_points")
    if values.projection == "opu":
        for r in _applies(rules, "needs_transpose"):
            fail(
                f"{name('projection')} opu cannot be used with {r}: the OPU cannot apply its transpose, which "
                f"{r}'s local readouts need (use gaussian or fastfood)",
                "projection",
            )

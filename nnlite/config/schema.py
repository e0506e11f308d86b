"""``RunConfig``: the one schema of a run, one entry per option.

Each field of :class:`RunConfig` is one entry of the one table of run options: its default, its kind of value
(:mod:`nnlite.config.values`: how it is read from text and checked as a Python value), its group, its help and
whether it has a command-line flag. ``nnlite train``'s and ``nnlite compare``'s flags are built from these entries
(:mod:`nnlite.cli.parser`), and a spec row is a ``RunConfig`` by field names (:func:`RunConfig.from_mapping`): it
means exactly what the command line means."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..data import KNOWN_DATASETS
from ..layers import INITS
from ..projections import BACKENDS
from ..rules import LAYOUTS, registry
from . import values as V
from .checks import ConfigError
from .checks import check_combination as _check_combination
from .option import Option, _choice, _opt, rule_option

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "DEFAULT_HIDDEN",
    "DEFAULT_LR",
    "DEFAULT_MOMENTUM",
    "DTYPES",
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "ConfigError",
    "Option",
    "check_combination",
    "RunConfig",
    "options",
]

MODELS = ("mlp", "cnn", "layers")
LOSSES = ("ce", "bce", "bce_sum", "mse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
DTYPES = ("float32", "float64")
DEFAULT_HIDDEN = (256, 256)
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
#: Default learning rate per optimizer; the same for every rule (so a comparison is not tuned per rule).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adam": 1e-3, "rmsprop": 1e-3}
DEFAULT_MOMENTUM = 0.9
LR_HELP = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())


@dataclass(frozen=True, init=False)
class RunConfig:
    """Everything that decides a run: data, model, rule, projection, optimizer, training and measurements.

    Every field is checked when the config is made (:class:`ConfigError` naming it), as are the combinations
    (a flag that does not apply to the rule, the model or the optimizer is refused, never ignored). Lists are
    kept as tuples. :func:`nnlite.config.builders` turns a config into the data, network, rule, optimizer and loss.

    The options a rule declares (:mod:`nnlite.rules.options`: ``kp_lr``, ``local_beta``, ``dtp_noise``, ...) are
    kept in one mapping, :attr:`rule_options` (the ones given, by run-option name), and read and given by their
    names as any field: ``RunConfig(rule="dkp", kp_lr=0.01).kp_lr``. Those of a rule registered later are options
    as soon as it is registered.

    Examples
    --------
    >>> from nnlite.config import RunConfig
    >>> c = RunConfig(rule="dfa", hidden=[64, 64], epochs=2)
    >>> c.rule, c.hidden, c.epochs, c.optimizer, c.replace(epochs=3).epochs
    ('dfa', (64, 64), 2, 'momentum', 3)
    >>> RunConfig(optimizer="adam", momentum=0.9)
    Traceback (most recent call last):
    nnlite.config.checks.ConfigError: 'momentum' (--momentum) applies to sgd, momentum and nesterov, not adam
    """

    def __init__(self, **values: Any) -> None:
        declared = registry.option_table()
        given = dict(values.pop("rule_options", None) or {})
        for key in [k for k in values if k in declared]:
            given[key] = values.pop(key)
        fields = {f.name: f for f in dataclasses.fields(self)}
        for key in values:
            if key not in fields:
                raise TypeError(f"RunConfig() got an unexpected keyword argument {key!r}")
        for name, f in fields.items():
            if name != "rule_options":
                object.__setattr__(self, name, values.get(name, f.default))
        for key in given:
            if key not in declared:
                known = ", ".join(sorted(declared))
                raise ConfigError(f"unknown rule option {key!r}; the registered rules declare {known}", [str(key)])
        object.__setattr__(self, "rule_options", {k: v for k, v in given.items() if v is not None})
        self.__post_init__()

    def __getattr__(self, name: str) -> Any:
        # a rule's option read by its name (config.kp_lr): None when not given
        if name != "rule_options" and not name.startswith("__") and name in registry.option_table():
            return self.rule_options.get(name)
        raise AttributeError(f"'RunConfig' object has no attribute {name!r}")

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_dict().items())))

    # data
    dataset: str = _opt(
        "digits",
        V.dataset,
        "data",
        f"{', '.join(KNOWN_DATASETS)}, or a .npz file of your own (x_train, y_train, x_test, y_test); default digits",
        metavar="NAME",
    )
    data_root: str | None = _opt(
        None,
        V.optional(V.text),
        "data",
        "folder searched first for the data files and where downloads go",
        metavar="DIR",
    )
    no_download: bool = _opt(False, V.switch, "data", "never download; fail if the files are missing")
    standardize: bool = _opt(
        False, V.switch, "data", "subtract the training mean and divide by the training standard deviation"
    )
    input_mean: tuple[float, ...] | None = _opt(
        None,
        V.optional(V.float_list),
        "data",
        "fixed normalisation means: one, one per channel (e.g. CIFAR-10's 0.4914,0.4822,0.4465) or one per feature",
        metavar="M1,M2,...",
    )
    input_std: tuple[float, ...] | None = _opt(
        None,
        V.optional(V.float_list),
        "data",
        "fixed normalisation stds, as many as --input-mean: x' = (x - mean) / std after scaling to [0, 1]",
        metavar="S1,S2,...",
    )
    train_size: int | None = _opt(
        None, V.optional(V.positive_int), "data", "train on the first N training samples only", metavar="N"
    )
    # model
    model: str = _opt(
        "mlp",
        _choice(MODELS),
        "model",
        "mlp (default), cnn (nnlite.cnn: three conv layers and a linear classifier), or layers (--layers)",
    )
    hidden: tuple[int, ...] | None = _opt(
        None,
        V.optional(V.hidden),
        "model",
        "hidden widths of the MLP: 800x3 or 800,800,800 (default: 256x2)",
        metavar="SIZES",
    )
    channels: tuple[int, ...] | None = _opt(
        None,
        V.optional(V.channels),
        "model",
        "cnn: filters of each convolutional layer (default: nnlite.cnn's, 32,32,64)",
        metavar="F1,F2,...",
    )
    kernel_size: int | None = _opt(
        None,
        V.optional(V.odd_positive_int),
        "model",
        "cnn: odd kernel size of every convolution (default: nnlite.cnn's, 3)",
        metavar="K",
    )
    layers: tuple[dict[str, Any], ...] | None = _opt(
        None,
        V.optional(V.layers),
        "model",
        'the network as a JSON list of layer tables (nnlite.models.from_layers), e.g. \'[{"type": "flatten"}, '
        '{"type": "dense", "units": 10}]\'; sets --model layers',
        metavar="JSON",
    )
    batch_norm: bool = _opt(
        False,
        V.switch,
        "model",
        "batch normalisation in every hidden block (mlp: after the activation; cnn: after the convolution)",
    )
    dropout: float = _opt(
        0.0,
        V.probability,
        "model",
        "dropout probability in every hidden block (mlp: after the Dense; cnn: after the pooling; default 0)",
        metavar="P",
    )
    input_dropout: float = _opt(
        0.0,
        V.probability,
        "model",
        "dropout probability on the input (Launay et al.: 0.1 with dropout; default 0)",
        metavar="P",
    )
    activation: str = _opt(
        "tanh",
        V.activation,
        "model",
        "tanh (default), sigmoid, relu, leaky_relu, abs, identity, or leaky_relu:SLOPE e.g. leaky_relu:-0.5",
    )
    init: str = _opt("he", _choice(INITS), "model", "weight initialisation (default: he)")
    loss: str = _opt(
        "ce",
        _choice(LOSSES),
        "model",
        "ce: softmax cross-entropy (default); bce: sigmoid binary cross-entropy; bce_sum: bce summed over the "
        "batch, no 1/N (Nøkland's code); mse",
    )
    dtype: str = _opt("float32", _choice(DTYPES), "model", "float32 (default) or float64")
    # feedback: the rule and its projection
    rule: str = _opt("bp", _choice(registry.names), "feedback", "training rule (default: bp)", commands=("train",))
    layout: str = _opt(
        "unified",
        _choice(LAYOUTS),
        "feedback",
        "direct-feedback layout: unified (Launay et al., default) or independent (Nøkland)",
    )
    projection: str | None = _opt(
        None,
        V.optional(_choice(tuple(BACKENDS))),
        "feedback",
        "back end of the feedback projection (default: gaussian); opu needs lightonml",
    )
    sparsity: int = _opt(
        1,
        V.positive_int,
        "feedback",
        "nonzeros per row of the sparse projection (default: 1, Crafton et al.)",
        metavar="K",
    )
    parallel: bool = _opt(False, V.switch, "feedback", "direct rules: update the hidden blocks in threads")
    no_normalize: bool = _opt(
        False, V.switch, "feedback", "unit-variance feedback without Launay et al.'s normalisation ('no norm')"
    )
    error_scale: str = _opt(
        "mean",
        _choice(("mean", "sum")),
        "feedback",
        "direct rules and ifa: the hidden signal's batch scale, mean (e/N, default) or sum (N e/N, Launay et al.'s "
        "code); the output block keeps the mean",
    )
    bp_points: tuple[int, ...] = _opt(
        (),
        V.int_list,
        "feedback",
        "direct rules: hidden feedback points (0-based, -1 the top) that get BP's signal from the block above "
        "instead of a projection, where the authors' code has no feedback point (Launay Table 4: -1; Fig. 4: 0)",
        metavar="K1,K2",
    )
    bottleneck: tuple[int, int] | None = _opt(
        None,
        V.optional(V.bottleneck),
        "feedback",
        "freeze all but N random units of hidden block K (0-based) for the whole run (Launay et al. §4.2)",
        metavar="K:N",
    )
    bottleneck_mode: str = _opt(
        "units",
        _choice(("units", "weights")),
        "feedback",
        "--bottleneck K:N freezes units (default) or, with weights, each weight and bias of block K's weight layer "
        "with probability 1 - N/units (Launay et al.'s code, bottleneck.py)",
    )
    align_every: int | None = _opt(
        None,
        V.optional(V.positive_int),
        "feedback",
        "measure alignment against BP every N steps (default: off for train, about 10 times per epoch for compare)",
        metavar="N",
    )
    alignment_mode: str = _opt(
        "one-pass",
        _choice(("one-pass", "authors")),
        "feedback",
        "how alignment is measured: one-pass (default: rule and BP on one training-mode pass) or authors (Launay "
        "et al.'s code: the rule's network in evaluation mode, BP's in training mode with its own dropout masks)",
    )
    # optimisation
    optimizer: str = _opt(
        "momentum", _choice(OPTIMIZERS), "optimisation", "sgd, momentum (default), nesterov, adam or rmsprop"
    )
    lr: float | None = _opt(
        None,
        V.optional(V.positive_float),
        "optimisation",
        f"learning rate (default by optimizer: {LR_HELP})",
    )
    momentum: float | None = _opt(
        None,
        V.optional(V.nonnegative_float),
        "optimisation",
        f"momentum of sgd/momentum/nesterov (default: {DEFAULT_MOMENTUM} for momentum and nesterov, 0 for sgd)",
    )
    weight_decay: float = _opt(
        0.0, V.nonnegative_float, "optimisation", "L2 weight decay (sgd, momentum, nesterov; default 0)"
    )
    epochs: int = _opt(DEFAULT_EPOCHS, V.positive_int, "optimisation", f"default {DEFAULT_EPOCHS}")
    lr_decay_epochs: tuple[int, ...] | None = _opt(
        None,
        V.optional(V.epoch_list),
        "optimisation",
        "multiply the lr by --lr-decay-factor after each of these epochs, e.g. 50,75 (biotorch; default: none)",
        metavar="E1,E2,...",
    )
    lr_decay_factor: float = _opt(0.1, V.positive_float, "optimisation", "lr factor at --lr-decay-epochs (default 0.1)")
    batch_size: int = _opt(DEFAULT_BATCH_SIZE, V.positive_int, "optimisation", f"default {DEFAULT_BATCH_SIZE}")
    seed: int = _opt(0, V.seed, "optimisation", "seed of every random stream, >= 0 (default 0)")
    # runtime
    threads: int | str = _opt(
        "auto",
        V.threads,
        "output",
        "BLAS threads: a number, 0 for the BLAS default, or auto (default; nnlite.runtime's choice)",
        metavar="N",
    )
    gemm: str = _opt("auto", V.gemm, "output", V.GEMM_HELP, metavar="NAME")
    # measurements
    final_alignment: int = _opt(
        128,
        V.Kind(int, lambda v: V.seed.check(v)),
        "measurements",
        "test samples the final alignment against BP is measured on by an experiment run (0: none)",
        flag=False,
    )

    rule_options: dict[str, Any] = dataclasses.field(default_factory=dict, compare=True)

    def __post_init__(self) -> None:
        for opt in options():
            value = getattr(self, opt.name)
            try:
                checked = opt.kind.check(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{opt.label('field')}: {exc}", [opt.name]) from None
            if opt.rules:
                if checked is not None:
                    self.rule_options[opt.name] = checked
            else:
                object.__setattr__(self, opt.name, checked)
        if self.layers is not None and self.model == "mlp":
            object.__setattr__(self, "model", "layers")
        check_combination(self, [self.rule], style="field")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RunConfig:
        """A config from option names and TOML/JSON values; an unknown name is a :class:`ConfigError` listing
        the known ones."""
        known = {o.name for o in options()} | {"rule_options"}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown option {key!r}; a run takes {', '.join(sorted(known))}", [str(key)])
        return cls(**dict(values))

    def replace(self, **changes: Any) -> RunConfig:
        """A new config with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values (tuples as lists)."""

        def plain(v: Any) -> Any:
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {o.name: plain(getattr(self, o.name)) for o in options()}


def check_combination(values: Any, rules: Sequence[str], style: str = "field") -> None:
    """The checks across options (:func:`nnlite.config.checks.check_combination`) for ``rules``, naming the
    options as fields (``style="field"``: ``'layout' (--layout)``) or as flags (``"flag"``: ``--layout``)."""
    table = {o.name: o for o in options()}
    _check_combination(values, rules, lambda field: table[field].label(style))


def options() -> tuple[Option, ...]:
    """The one table of run options: one :class:`Option` per field of :class:`RunConfig`, in order, with the
    options the registered rules declare (generated from their declarations) after ``bottleneck_mode``."""
    table = registry.option_table()
    key = tuple((f, o, t) for f, (o, t) in table.items())
    if _CACHE.get("key") != key:
        rule_opts = [rule_option(f, o, t) for f, (o, t) in table.items()]
        at = next(i for i, o in enumerate(_OPTIONS) if o.name == "bottleneck_mode") + 1
        _CACHE["key"], _CACHE["options"] = key, (*_OPTIONS[:at], *rule_opts, *_OPTIONS[at:])
    return _CACHE["options"]


_OPTIONS = tuple(
    Option(name=f.name, default=f.default, **f.metadata["option"])
    for f in dataclasses.fields(RunConfig)
    if f.name != "rule_options"
)
_CACHE: dict[str, Any] = {}

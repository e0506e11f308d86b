"""``build(config)``: a :class:`~nnlite.config.RunConfig` becomes the data, the network, the rule, the optimizer
and the loss; :func:`fit_config` trains them as ``nnlite train`` does. Strings become library objects here (and
only here): ``"dfa"`` through the rule registry, ``"fastfood"`` through :data:`nnlite.projections.BACKENDS`.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, optim
from .._validation import as_generator
from ..backend import products, softmax_cross_entropy
from ..layers import activation_factory
from ..models import cnn, from_layers, mlp
from ..network import Sequential
from ..ops import losses
from ..projections import BACKENDS, Projection
from ..rules import Rule, registry
from ..training import History, fit
from .fits import check_fits as _check_fits
from .schema import DEFAULT_HIDDEN, DEFAULT_LR, DEFAULT_MOMENTUM, ConfigError, RunConfig, options

__all__ = [
    "SMALL_GEMM",
    "Built",
    "blas_threads",
    "build",
    "build_net",
    "build_optimizer",
    "build_projection",
    "build_rule",
    "cnn_settings",
    "fit_config",
    "hidden_of",
    "learning_rate_of",
    "lr_schedule_of",
    "load_data",
    "loss_of",
    "momentum_of",
    "stream_seeds",
]

#: ``threads="auto"`` uses one BLAS thread when batch size x the largest weight matrix of an MLP is at most this.
SMALL_GEMM = 2**22
#: ``((x_train, y_train), (x_test, y_test))`` as :func:`nnlite.fit` takes them.
Split = tuple[np.ndarray, np.ndarray]


def _named(field: str) -> str:
    """How a message names an option (``'sparsity' (--sparsity)``; the command line shows its flag)."""
    return next(o for o in options() if o.name == field).label("field")


def stream_seeds(seed: int) -> dict[str, int]:
    """Independent integer seeds (weights, feedback, batch order, bottleneck mask) from one user seed, drawn from
    numpy's ``SeedSequence(seed)``: a seed gives the same streams as ever."""
    seq: Any = as_generator(seed).bit_generator.seed_seq
    w, fb, order, mask = (int(s) for s in seq.generate_state(4))
    return {"weights": w, "feedback": fb, "order": order, "mask": mask}


def loss_of(name: str) -> Callable[..., Any]:
    """The loss function of ``loss``."""
    table: dict[str, Callable[..., Any]] = {
        "ce": softmax_cross_entropy,  # the backend's loss (fused kernel when the logits allow)
        "bce": losses.binary_cross_entropy,
        "bce_sum": losses.binary_cross_entropy_sum,  # Nøkland's: no 1/N
        "mse": losses.mean_squared_error,
    }
    return table[name]


def dtype_of(name: str) -> type[np.floating]:
    """The NumPy dtype of ``dtype``."""
    table: dict[str, type[np.floating]] = {"float32": np.float32, "float64": np.float64}
    return table[name]


def _flat_input(config: RunConfig) -> bool:
    if config.model == "layers":
        from ..layers import LIST_LAYERS

        images = {name for name, cls in LIST_LAYERS.items() if cls.spec is not None and cls.spec.input == "image"}
        return not any(entry["type"] in images for entry in config.layers or ())
    return config.model == "mlp"


def load_data(config: RunConfig, *, all_samples: bool = False) -> tuple[data.Dataset, Split, Split]:
    """The data set, its (first ``train_size``) training samples and its test samples. Images are flattened for
    an MLP and for a layers list without convolution or pooling."""
    try:
        ds = data.load(
            config.dataset,
            root=config.data_root,
            download=not config.no_download,
            standardize=config.standardize,
            dtype=dtype_of(config.dtype),
            flatten=_flat_input(config),
            mean=config.input_mean,
            std=config.input_std,
        )
    except (ValueError, TypeError) as exc:  # the normalisation constants' errors name "mean" or "std" first
        field = {"mean": "input_mean", "std": "input_std"}.get(str(exc).split(" ")[0])
        if field is None:
            raise
        raise ConfigError(f"{_named(field)}: {exc}", [field]) from None
    return (
        (ds, *subset(config, ds, ds.x_train, ds.y_train))
        if not all_samples
        else (ds, (ds.x_train, ds.y_train), (ds.x_test, ds.y_test))
    )


def subset(config: RunConfig, ds: data.Dataset, x: np.ndarray, y: np.ndarray) -> tuple[Split, Split]:
    """The first ``train_size`` of ``(x, y)`` and the test split; a ``train_size`` above the samples is an error."""
    if config.train_size is not None:
        if config.train_size > x.shape[0]:
            raise ConfigError(
                f"{_named('train_size')} {config.train_size} is larger than the {x.shape[0]} training samples "
                f"of {config.dataset}",
                ["train_size"],
            )
        x, y = x[: config.train_size], y[: config.train_size]
    return (x, y), (ds.x_test, ds.y_test)


def hidden_of(config: RunConfig) -> list[int] | None:
    """The hidden widths of the MLP (``hidden`` or the default), None for other models."""
    if config.model != "mlp":
        return None
    return list(config.hidden if config.hidden is not None else DEFAULT_HIDDEN)


def cnn_settings(config: RunConfig) -> dict[str, Any]:
    """The architecture arguments of :func:`nnlite.cnn`, every one explicit (its defaults where not given)."""
    import inspect

    defaults = inspect.signature(cnn).parameters
    return {
        "channels": list(config.channels if config.channels is not None else defaults["channels"].default),
        "kernel_size": config.kernel_size if config.kernel_size is not None else defaults["kernel_size"].default,
        "batch_norm": bool(config.batch_norm),
        "dropout": config.dropout,
        "input_dropout": config.input_dropout,
    }


def build_net(config: RunConfig, ds: data.Dataset, seeds: dict[str, int]) -> Sequential:
    """The network, from ``seeds["weights"]`` (the same seed gives the same initial weights)."""
    dtype = dtype_of(config.dtype)
    if config.model == "mlp":
        sizes = [ds.shape[0], *(hidden_of(config) or []), ds.n_classes]
        _check_fits("hidden", list(itertools.pairwise(sizes)), np.dtype(dtype).itemsize)
        net = mlp(
            sizes,
            activation=activation_factory(config.activation),
            init=config.init,
            dtype=dtype,
            seed=seeds["weights"],
            dropout=config.dropout,
            input_dropout=config.input_dropout,
            batch_norm=config.batch_norm,
        )
    elif config.model == "cnn":
        kw = cnn_settings(config)
        c, k = [ds.shape[0], *kw["channels"]], kw["kernel_size"]
        _check_fits("channels", [(a * k * k, b) for a, b in itertools.pairwise(c)], np.dtype(dtype).itemsize)
        kw["channels"] = tuple(kw["channels"])
        net = cnn(
            input_shape=tuple(ds.shape),
            n_classes=ds.n_classes,
            activation=activation_factory(config.activation),
            init=config.init,
            dtype=dtype,
            seed=seeds["weights"],
            **kw,
        )
    else:
        try:
            net = from_layers(
                config.layers or (), tuple(ds.shape), init=config.init, dtype=dtype, seed=seeds["weights"]
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{_named('layers')}: {exc}", ["layers"]) from None
        if net.n_outputs != ds.n_classes:
            raise ConfigError(
                f"{_named('layers')}: the network has {net.n_outputs} outputs, but {config.dataset} has "
                f"{ds.n_classes} classes",
                ["layers"],
            )
    if config.bottleneck is not None:  # units chosen from their own stream, so the weights do not change
        k, n = config.bottleneck
        try:
            if config.bottleneck_mode == "weights":  # keep probability N/units, Launay et al.'s b/800
                net.weight_bottleneck(k, n / net.block_shapes[net._block(k)][0] if n else 0.0, seed=seeds["mask"])
            else:
                net.bottleneck(k, n, seed=seeds["mask"])
        except ValueError as exc:
            raise ConfigError(f"{_named('bottleneck')} {k}:{n}: {exc}", ["bottleneck"]) from None
    return net


def build_projection(config: RunConfig, net: Sequential, rule: str, seed: int) -> Projection | None:
    """The feedback projection of ``rule`` for ``net``, or None for the rule's default (a Gaussian). A rule
    with a layout projects to every hidden block (``l_max`` rows unified, ``sum l_k`` independent); one
    without projects to the first hidden block (IFA)."""
    entry = registry.info(rule)
    if config.projection is None or not entry.takes_projection:
        return None
    C, sizes = net.n_outputs, net.feedback_sizes
    if not sizes:
        raise ValueError("the network has no hidden layer: there is nothing for a feedback projection to reach")
    if not entry.has_layout:
        n_out = sizes[0]
    else:
        n_out = max(sizes) if config.layout == "unified" else sum(sizes)
    cls = BACKENDS[config.projection]
    if config.projection == "sparse":
        if config.sparsity > C:
            raise ConfigError(
                f"{_named('sparsity')} {config.sparsity} is larger than the {C} classes (one row has at most "
                f"{C} nonzeros)",
                ["sparsity"],
            )
        return cls(C, n_out, config.sparsity, seed=seed, dtype=dtype_of(config.dtype))  # type: ignore[call-arg]
    return cls(C, n_out, seed=seed, dtype=dtype_of(config.dtype))  # type: ignore[call-arg]


def build_rule(config: RunConfig, net: Sequential, name: str, seeds: dict[str, int]) -> Rule:
    """The rule ``name`` (from the registry), given the arguments its constructor takes; its feedback comes from
    ``seeds["feedback"]``."""
    entry = registry.info(name)
    available: dict[str, Any] = {
        "seed": seeds["feedback"],
        "projection": build_projection(config, net, name, seeds["feedback"]),
        "layout": config.layout,
        "parallel": config.parallel,
        "normalize": not config.no_normalize,
        "error_scale": config.error_scale,
        "bp_points": config.bp_points,
    }
    for opt in entry.options:  # the options the rule declares (nnlite.rules.options)
        value = getattr(config, opt.field_name(name))
        if value is None and opt.inherit == "lr":
            value = learning_rate_of(config)
        elif value is None and opt.inherit is not None:
            value = getattr(config, opt.inherit)
        if value is not None:  # else the rule's default
            available[opt.param] = value
    return registry.make(name, **available)


def momentum_of(config: RunConfig) -> float | None:
    """The momentum the optimizer uses (None for adam and rmsprop)."""
    if config.optimizer not in ("sgd", "momentum", "nesterov"):
        return None
    if config.momentum is not None:
        return config.momentum
    return 0.0 if config.optimizer == "sgd" else DEFAULT_MOMENTUM


def learning_rate_of(config: RunConfig) -> float:
    """The learning rate: ``lr`` or the optimizer's default."""
    return config.lr if config.lr is not None else DEFAULT_LR[config.optimizer]


def lr_schedule_of(config: RunConfig) -> optim.StepDecay | None:
    """The step decay of ``lr_decay_epochs``/``lr_decay_factor``, or None."""
    if not config.lr_decay_epochs:
        return None
    return optim.StepDecay(config.lr_decay_epochs, config.lr_decay_factor)


def build_optimizer(config: RunConfig) -> optim.Optimizer:
    """The optimizer of ``optimizer`` with the run's learning rate."""
    lr, name = learning_rate_of(config), config.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        momentum = momentum_of(config) or 0.0
        return optim.SGD(lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=config.weight_decay)
    if name == "adam":
        return optim.Adam(lr)
    return optim.RMSprop(lr)


@dataclass
class Built:
    """What :func:`build` makes of a config."""

    config: RunConfig
    dataset: data.Dataset
    train: Split
    test: Split
    seeds: dict[str, int]
    net: Sequential
    rule: Rule
    optimizer: optim.Optimizer
    loss: Callable[..., Any]


def build(config: RunConfig, dataset: tuple[data.Dataset, Split, Split] | None = None) -> Built:
    """The data, network, rule, optimizer and loss of ``config``; ``dataset`` is :func:`load_data`'s result
    when the caller has it already (a sweep worker loads each data set once)."""
    ds, train, test = dataset if dataset is not None else load_data(config)
    seeds = stream_seeds(config.seed)
    net = build_net(config, ds, seeds)
    rule = build_rule(config, net, config.rule, seeds)
    return Built(config, ds, train, test, seeds, net, rule, build_optimizer(config), loss_of(config.loss))


def blas_threads(config: RunConfig, net: Sequential) -> int | None:
    """The BLAS thread limit ``threads`` asks for on ``net``: an int, or None for the BLAS default (``"auto"``
    on a large network: measured by :class:`nnlite.runtime.autothreads.AutoThreads`)."""
    if config.threads != "auto":
        return int(config.threads) or None
    if config.model != "mlp":
        return None
    largest = max(int(np.prod(net.weight_layer(k).W.shape)) for k in range(net.n_blocks))
    return 1 if config.batch_size * largest <= SMALL_GEMM else None


def fit_config(
    built: Built,
    callback: Callable[[History], Any] | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = False,
    record: dict[str, Any] | None = None,
) -> History:
    """:func:`nnlite.fit` as ``nnlite train`` runs it: the config's loss, optimizer, epochs, batches and batch
    order, under the BLAS thread limit of :func:`blas_threads`; where ``threads="auto"`` leaves it open (a large
    network), the limit is measured once, before the first epoch, and an explicit count above one is checked the
    same way (kept unless fewer cores are idle or one thread is faster). The count is written into ``record``
    (``record["blas_threads_chosen"]``) and, on ``resume``, a count already there is applied without measuring:
    one count for the whole run. The process keeps the memory a step frees for the next
    (:func:`nnlite.keep_freed_memory`)."""
    from ..runtime.autothreads import AutoThreads, copied_step
    from ..runtime.heap import keep_freed_memory

    config, net, rule, optimizer = built.config, built.net, built.rule, built.optimizer
    keep_freed_memory()
    limit: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    threads = blas_threads(config, net)
    auto = None
    xb, yb = built.train[0][: config.batch_size], built.train[1][: config.batch_size]
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=threads, user_api="blas")
        if threads > 1:  # checked: never slower than one thread (a busy core, a narrower affinity)
            auto = AutoThreads(lambda: copied_step(net, rule, optimizer, built.loss, xb, yb), most=threads)
    elif config.threads == "auto":
        auto = AutoThreads(lambda: copied_step(net, rule, optimizer, built.loss, xb, yb))

    def each_epoch(hist: History) -> None:
        if callback is not None:
            callback(hist)

    with limit:
        recorded = record.get("blas_threads_chosen") if record is not None and resume else None
        chosen = auto.start(recorded) if auto is not None else threads
        if record is not None:
            record["blas_threads_chosen"] = chosen
        provider, how = products.run_provider(config.gemm, net, config.batch_size, record if resume else None)
        if record is not None:
            record["gemm_chosen"] = {"name": provider.name, "version": provider.version, "decided": how}
        if provider.name != "numpy" and how != "recorded":  # NumPy's own BLAS goes without saying
            print(f"matrix products ({how}): {provider.name}, {provider.version}", flush=True)
        try:
            with products.using(provider):
                return fit(
                    net,
                    rule,
                    built.loss,
                    optimizer,
                    built.train,
                    built.test,
                    epochs=config.epochs,
                    batch_size=config.batch_size,
                    seed=built.seeds["order"],
                    progress=progress,
                    alignment_every=config.align_every,
                    callback=each_epoch,
                    checkpoint_dir=checkpoint_dir,
                    resume=resume,
                    lr_schedule=lr_schedule_of(config),
                    alignment_mode=config.alignment_mode,
                )
        finally:
            if auto is not None:
                auto.stop()

"""Strings -> library objects: the one place where ``nnlite train`` and ``nnlite compare`` build things.

``"dfa"`` becomes ``nnlite.DFA(projection=..., layout=..., seed=...)``, ``"momentum"`` an ``nnlite.SGD``,
``"ce"`` a loss function, ``"float32"`` a dtype; the network, its data and the call of :func:`nnlite.fit` (under
the BLAS thread limit ``--threads`` asks for) are made here too. :func:`check_combination` refuses the flags that
do not apply to the chosen rules, model or optimizer (a :class:`CLIError`, exit 2), instead of ignoring them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nnlite
from nnlite import Sequential, cnn, data, mlp, optim, projections, rules
from nnlite._validation import as_generator
from nnlite.layers import activation_factory
from nnlite.ops import losses
from nnlite.train import History, fit

from .defaults import (
    CNN_CHANNELS,
    CNN_KERNEL_SIZE,
    DEFAULT_HIDDEN,
    DEFAULT_LR,
    DEFAULT_MOMENTUM,
    DIRECT_RULES,
    PROJECTION_RULES,
    SMALL_GEMM,
)
from .types import hidden_sizes

__all__ = [
    "CLIError",
    "Rule",
    "blas_threads",
    "build_net",
    "build_optimizer",
    "build_projection",
    "build_rule",
    "check_combination",
    "cnn_settings",
    "dtype_of",
    "hidden_of",
    "learning_rate_of",
    "load_data",
    "loss_of",
    "momentum_of",
    "run_fit",
    "stream_seeds",
]

#: A training rule object.
Rule = rules.Rule
#: ``((x_train, y_train), (x_test, y_test))`` as :func:`nnlite.fit` takes them.
Split = tuple[np.ndarray, np.ndarray]


class CLIError(Exception):
    """A problem with the command line found after parsing (exit 2, like an argparse error)."""


def stream_seeds(seed: int) -> dict[str, int]:
    """Independent integer seeds (weights, feedback, batch order, bottleneck mask) from one user seed.

    The seed is checked by :func:`nnlite._validation.as_generator`; the three streams are drawn from the seed
    sequence of its generator (numpy's ``SeedSequence(seed)``), so a seed gives the same streams as ever.
    """
    seq: Any = as_generator(seed).bit_generator.seed_seq
    w, fb, order, mask = (int(s) for s in seq.generate_state(4))  # the first three as they always were
    return {"weights": w, "feedback": fb, "order": order, "mask": mask}


def loss_of(name: str) -> Callable[..., Any]:
    """The loss function of ``--loss``."""
    table: dict[str, Callable[..., Any]] = {
        "ce": nnlite.softmax_cross_entropy,  # the dispatched loss (fused kernel when the logits allow)
        "bce": losses.binary_cross_entropy,
        "mse": losses.mean_squared_error,
    }
    return table[name]


def dtype_of(name: str) -> type[np.floating]:
    """The NumPy dtype of ``--dtype``."""
    table: dict[str, type[np.floating]] = {"float32": np.float32, "float64": np.float64}
    return table[name]


def load_data(args: argparse.Namespace) -> tuple[data.Dataset, Split, Split]:
    """The data set, its (first ``--train-size``) training samples and its test samples."""
    ds = data.load(
        args.dataset,
        root=args.data_root,
        download=not args.no_download,
        standardize=args.standardize,
        dtype=dtype_of(args.dtype),
        flatten=args.model == "mlp",
    )
    x, y = ds.x_train, ds.y_train
    if args.train_size is not None:
        if args.train_size > x.shape[0]:
            raise CLIError(
                f"--train-size {args.train_size} is larger than the {x.shape[0]} training samples of {args.dataset}"
            )
        x, y = x[: args.train_size], y[: args.train_size]
    return ds, (x, y), (ds.x_test, ds.y_test)


def hidden_of(args: argparse.Namespace) -> list[int] | None:
    """The hidden widths of the MLP (``--hidden`` or the default), None for the cnn."""
    if args.model != "mlp":
        return args.hidden
    return args.hidden if args.hidden is not None else hidden_sizes(DEFAULT_HIDDEN)


def cnn_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The architecture arguments of :func:`nnlite.cnn`, every one explicit (its defaults where not given)."""
    return {
        "channels": list(args.channels) if args.channels is not None else list(CNN_CHANNELS),
        "kernel_size": args.kernel_size if args.kernel_size is not None else CNN_KERNEL_SIZE,
        "batch_norm": bool(args.batch_norm),
        "dropout": args.dropout,
        "input_dropout": args.input_dropout,
    }


def build_net(args: argparse.Namespace, ds: data.Dataset, seeds: dict[str, int]) -> Sequential:
    """The network, from ``seeds["weights"]`` (the same seed gives the same initial weights)."""
    dtype = dtype_of(args.dtype)
    act = activation_factory(args.activation)
    if args.model == "mlp":
        sizes = [ds.shape[0], *(hidden_of(args) or []), ds.n_classes]
        _check_fits("--hidden", [(a, b) for a, b in itertools.pairwise(sizes)], np.dtype(dtype).itemsize)
    else:
        kw0 = cnn_settings(args)
        c, k = [ds.shape[0], *kw0["channels"]], kw0["kernel_size"]
        _check_fits("--channels", [(a * k * k, b) for a, b in itertools.pairwise(c)], np.dtype(dtype).itemsize)
    if args.model == "mlp":
        net = mlp(
            sizes,
            activation=act,
            init=args.init,
            dtype=dtype,
            seed=seeds["weights"],
            dropout=args.dropout,
            input_dropout=args.input_dropout,
            batch_norm=args.batch_norm,
        )
    else:
        kw = cnn_settings(args)
        kw["channels"] = tuple(kw["channels"])
        net = cnn(
            input_shape=tuple(ds.shape),
            n_classes=ds.n_classes,
            activation=act,
            init=args.init,
            dtype=dtype,
            seed=seeds["weights"],
            **kw,
        )
    if args.bottleneck is not None:  # units chosen from their own stream, so the weights do not change
        k, n = args.bottleneck
        try:
            net.bottleneck(k, n, seed=seeds["mask"])
        except ValueError as exc:
            raise CLIError(f"--bottleneck {k}:{n}: {exc}") from None
    return net


def _check_fits(flag: str, shapes: list[tuple[int, int]], itemsize: int) -> None:
    """Refuse layer sizes whose training could not fit in this machine's memory, before drawing a weight:
    weights, gradients and optimizer state (3 copies), plus the float64 draw of the largest weight matrix."""
    n = sum(a * b + b for a, b in shapes)
    need = 3 * n * itemsize + 8 * max(a * b for a, b in shapes)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover (not POSIX)
        return
    if need > have:
        raise CLIError(
            f"{flag}: {n:,} parameters need about {_bytes(need)} to train (weights, gradients, optimizer state), "
            f"more than this machine's {_bytes(have)} of memory"
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def build_projection(args: argparse.Namespace, net: Sequential, rule: str, seed: int) -> projections.Projection | None:
    """The feedback projection of ``rule`` for ``net``, or None for the rule's default (a Gaussian)."""
    if args.projection is None or rule not in PROJECTION_RULES:
        return None
    C, sizes = net.n_outputs, net.feedback_sizes
    if not sizes:
        raise ValueError("the network has no hidden layer: there is nothing for a feedback projection to reach")
    if rule == "ifa":
        n_out = sizes[0]
    else:
        n_out = max(sizes) if args.layout == "unified" else sum(sizes)
    dtype = dtype_of(args.dtype)
    if args.projection == "gaussian":
        return projections.Gaussian(C, n_out, seed=seed, dtype=dtype)
    if args.projection == "fastfood":
        return projections.Fastfood(C, n_out, seed=seed, dtype=dtype)
    if args.projection == "sparse":
        if args.sparsity > C:
            raise CLIError(
                f"--sparsity {args.sparsity} is larger than the {C} classes (one row has at most {C} nonzeros)"
            )
        return projections.Sparse(C, n_out, args.sparsity, seed=seed, dtype=dtype)
    return projections.OPU(C, n_out, seed=seed, dtype=dtype)


def build_rule(args: argparse.Namespace, net: Sequential, name: str, seeds: dict[str, int]) -> Rule:
    """The rule object for ``name``; its feedback matrices come from ``seeds["feedback"]``."""
    seed = seeds["feedback"]
    proj = build_projection(args, net, name, seed)
    if name == "bp":
        return rules.BP()
    if name == "fa":
        return rules.FA(seed=seed)
    if name == "usf":
        return rules.USF()
    if name in ("brsf", "frsf"):
        return (rules.BRSF if name == "brsf" else rules.FRSF)(seed=seed)
    if name == "kp":
        lr = args.kp_lr if args.kp_lr is not None else learning_rate_of(args, "kp")
        wd = args.kp_weight_decay if args.kp_weight_decay is not None else args.weight_decay
        return rules.KP(lr=lr, weight_decay=wd, seed=seed)
    normalize = not args.no_normalize
    if name == "ifa":
        return rules.IFA(projection=proj, seed=seed, normalize=normalize)
    direct = {"dfa": rules.DFA, "lafs": rules.LAFS, "drtp": rules.DRTP, "sdfa": rules.SDFA}
    return direct[name](projection=proj, layout=args.layout, seed=seed, parallel=args.parallel, normalize=normalize)


def momentum_of(args: argparse.Namespace) -> float | None:
    """The momentum the optimizer uses (None for adam and rmsprop)."""
    if args.optimizer not in ("sgd", "momentum", "nesterov"):
        return None
    return _sgd_momentum(args)


def _sgd_momentum(args: argparse.Namespace) -> float:
    if args.momentum is not None:
        return args.momentum
    return 0.0 if args.optimizer == "sgd" else DEFAULT_MOMENTUM


def learning_rate_of(args: argparse.Namespace, rule: str) -> float:
    """The learning rate of ``rule``: ``--lr`` (one number, or this rule's entry) or the optimizer's default."""
    lr = args.lr.get(rule) if isinstance(args.lr, dict) else args.lr
    return lr if lr is not None else DEFAULT_LR[args.optimizer]


def build_optimizer(args: argparse.Namespace, lr: float) -> optim.Optimizer:
    """The optimizer of ``--optimizer`` with learning rate ``lr``."""
    name = args.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        return optim.SGD(lr, momentum=_sgd_momentum(args), nesterov=name == "nesterov", weight_decay=args.weight_decay)
    if name == "adam":
        return optim.Adam(lr)
    return optim.RMSprop(lr)


def check_combination(args: argparse.Namespace, rules: list[str]) -> None:
    """Flags that do not apply to the chosen rules or optimizer: usage errors, not silently ignored."""
    if args.optimizer in ("adam", "rmsprop"):
        if args.momentum is not None:
            raise CLIError(f"--momentum applies to sgd, momentum and nesterov, not {args.optimizer}")
        if args.weight_decay:
            raise CLIError(f"--weight-decay applies to sgd, momentum and nesterov, not {args.optimizer}")
    if args.optimizer == "nesterov" and args.momentum == 0:
        raise CLIError("--optimizer nesterov needs --momentum > 0")
    if args.model == "cnn" and args.hidden is not None:
        raise CLIError("--hidden applies to --model mlp (for the cnn see --channels and --kernel-size)")
    if args.model == "mlp":
        for flag, given in (
            ("--channels", args.channels is not None),
            ("--kernel-size", args.kernel_size is not None),
        ):
            if given:
                raise CLIError(f"{flag} applies to --model cnn only")
    what = "--rule" if len(rules) == 1 else "--rules"
    if args.projection is not None and not set(rules) & set(PROJECTION_RULES):
        raise CLIError(f"--projection applies to {', '.join(PROJECTION_RULES)}, not {what} {','.join(rules)}")
    if args.projection != "sparse" and args.sparsity != 1:
        raise CLIError("--sparsity applies to --projection sparse only")
    direct = set(rules) & set(DIRECT_RULES)
    if args.parallel and not direct:
        raise CLIError(f"--parallel applies to {' and '.join(DIRECT_RULES)}, not {what} {','.join(rules)}")
    if args.layout != "unified" and not direct:
        raise CLIError(f"--layout applies to {' and '.join(DIRECT_RULES)}, not {what} {','.join(rules)}")
    if "kp" not in rules:
        for flag, value in (("--kp-lr", args.kp_lr), ("--kp-weight-decay", args.kp_weight_decay)):
            if value is not None:
                raise CLIError(f"{flag} applies to kp, not {what} {','.join(rules)}")
    if args.no_normalize and not set(rules) & set(PROJECTION_RULES):
        raise CLIError(f"--no-normalize applies to {', '.join(PROJECTION_RULES)}, not {what} {','.join(rules)}")
    if args.projection == "opu" and "lafs" in rules:
        raise CLIError(
            "--projection opu cannot be used with lafs: the OPU cannot apply its transpose, which "
            "LAFS's local readouts need (use gaussian or fastfood)"
        )


def blas_threads(args: argparse.Namespace, net: Sequential) -> int | None:
    """The BLAS thread limit ``--threads`` asks for on ``net``: an int, or None for the BLAS default."""
    if args.threads != "auto":
        return args.threads or None
    if args.model != "mlp":
        return None
    largest = max(int(np.prod(net.weight_layer(k).W.shape)) for k in range(net.n_blocks))
    return 1 if args.batch_size * largest <= SMALL_GEMM else None


def run_fit(
    args: argparse.Namespace,
    net: Sequential,
    rule: Rule,
    lr: float,
    train: Split,
    test: Split,
    align_every: int | None,
    callback: Callable[[History], Any] | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
) -> History:
    """:func:`nnlite.fit` with the loss, optimizer, epochs, batches and batch order of ``args``, under the BLAS
    thread limit of :func:`blas_threads`; where ``--threads auto`` leaves it open (a large network), the limit is
    measured at the start and after long epochs (:class:`nnlite.cli.threads.AutoThreads`). ``checkpoint_dir`` and
    ``resume`` are fit's. The command keeps the memory a step frees for the next (:func:`nnlite.keep_freed_memory`).
    """
    from ..runtime.heap import keep_freed_memory
    from .threads import AutoThreads, copied_step

    keep_freed_memory()
    limit: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    threads = blas_threads(args, net)
    optimizer = build_optimizer(args, lr)
    auto = None
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=threads, user_api="blas")
    elif args.threads == "auto":
        xb, yb = train[0][: args.batch_size], train[1][: args.batch_size]
        auto = AutoThreads(lambda: copied_step(net, rule, optimizer, loss_of(args.loss), xb, yb))

    def each_epoch(hist: History) -> None:
        if auto is not None:
            auto.after_epoch(hist.seconds[-1], hist.epoch[-1])
        if callback is not None:
            callback(hist)

    with limit:
        if auto is not None:
            auto.start()
        try:
            return fit(
                net,
                rule,
                loss_of(args.loss),
                optimizer,
                train,
                test,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=stream_seeds(args.seed)["order"],
                progress=not args.no_progress,
                alignment_every=align_every,
                callback=each_epoch,
                checkpoint_dir=checkpoint_dir,
                resume=resume,
            )
        finally:
            if auto is not None:
                auto.stop()

"""The command line of ``nnlite``: :func:`build_parser` (the argument types are :mod:`nnlite.cli.types`).
No library object is built here (see :mod:`nnlite.cli.build`); names and defaults are :mod:`nnlite.cli.defaults`'s.
"""

from __future__ import annotations

import argparse

from .defaults import (
    ACTIVATIONS,
    ALIGN_RECORDS_PER_EPOCH,
    CNN_CHANNELS,
    CNN_KERNEL_SIZE,
    COMPARE_RULES,
    DATASETS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN,
    DEFAULT_MOMENTUM,
    DTYPES,
    EPILOG,
    INITS,
    LAYOUTS,
    LOSSES,
    LR_HELP,
    MODELS,
    OPTIMIZERS,
    PROJECTIONS,
    RULES,
    SMALL_GEMM,
)
from .sweep import add_sweep_commands
from .threads import RECHECK_SECONDS
from .types import __all__ as _TYPES
from .types import (
    activation_name,
    bottleneck_spec,
    channel_list,
    dataset_name,
    hidden_sizes,
    learning_rates,
    nonnegative_float,
    odd_positive_int,
    positive_float,
    positive_int,
    probability,
    rule_list,
    seed_value,
    thread_count,
)

__all__ = ["build_parser", *_TYPES]


def _add_data(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default="digits",
        type=dataset_name,
        metavar="NAME",
        help=f"{', '.join(DATASETS)}, or a .npz file of your own (x_train, y_train, x_test, y_test); default digits",
    )
    g.add_argument(
        "--data-root",
        metavar="DIR",
        default=None,
        help="folder searched first for the data files and where downloads go",
    )
    g.add_argument("--no-download", action="store_true", help="never download; fail if the files are missing")
    g.add_argument(
        "--standardize",
        action="store_true",
        help="subtract the training mean and divide by the training standard deviation",
    )
    g.add_argument(
        "--train-size", metavar="N", type=positive_int, default=None, help="train on the first N training samples only"
    )


def _add_model(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        default="mlp",
        choices=MODELS,
        help="mlp (default) or cnn (nnlite.cnn: three conv layers and a linear classifier)",
    )
    g.add_argument(
        "--hidden",
        metavar="SIZES",
        type=hidden_sizes,
        default=None,
        help=f"hidden widths of the MLP: 800x3 or 800,800,800 (default: {DEFAULT_HIDDEN})",
    )
    g.add_argument(
        "--channels",
        metavar="F1,F2,...",
        type=channel_list,
        default=None,
        help=f"cnn: filters of each convolutional layer (default: nnlite.cnn's, {','.join(map(str, CNN_CHANNELS))})",
    )
    g.add_argument(
        "--kernel-size",
        metavar="K",
        type=odd_positive_int,
        default=None,
        help=f"cnn: odd kernel size of every convolution (default: nnlite.cnn's, {CNN_KERNEL_SIZE})",
    )
    g.add_argument(
        "--batch-norm",
        action="store_true",
        help="batch normalisation in every hidden block (mlp: after the activation; cnn: after the convolution)",
    )
    g.add_argument(
        "--dropout",
        metavar="P",
        type=probability,
        default=0.0,
        help="dropout probability in every hidden block (mlp: after the Dense; cnn: after the pooling; default 0)",
    )
    g.add_argument(
        "--input-dropout",
        metavar="P",
        type=probability,
        default=0.0,
        help="dropout probability on the input (Launay et al.: 0.1 with dropout; default 0)",
    )
    g.add_argument(
        "--activation",
        type=activation_name,
        default="tanh",
        help=f"one of {', '.join(ACTIVATIONS)}, or leaky_relu:SLOPE e.g. leaky_relu:-0.5 (default: tanh)",
    )
    g.add_argument("--init", default="he", choices=INITS, help="weight initialisation (default: he)")
    g.add_argument(
        "--loss",
        default="ce",
        choices=LOSSES,
        help="ce: softmax cross-entropy (default); bce: sigmoid binary cross-entropy; mse",
    )
    g.add_argument("--dtype", default="float32", choices=DTYPES, help="float32 (default) or float64")


def _add_feedback(p: argparse.ArgumentParser, *, compare: bool) -> None:
    g = p.add_argument_group("feedback")
    if not compare:
        g.add_argument("--rule", default="bp", choices=RULES, help="training rule (default: bp)")
    g.add_argument(
        "--layout",
        default="unified",
        choices=LAYOUTS,
        help="DFA/LAFS/DRTP/sDFA feedback layout: unified (Launay et al., default) or independent (Nøkland)",
    )
    g.add_argument(
        "--projection",
        default=None,
        choices=PROJECTIONS,
        help="back end of the DFA/IFA/LAFS/DRTP/sDFA feedback projection (default: gaussian); opu needs lightonml",
    )
    g.add_argument(
        "--sparsity",
        metavar="K",
        type=positive_int,
        default=1,
        help="nonzeros per row of the sparse projection (default: 1, Crafton et al.)",
    )
    g.add_argument("--parallel", action="store_true", help="DFA/LAFS/DRTP/sDFA: update the hidden blocks in threads")
    g.add_argument(
        "--no-normalize",
        action="store_true",
        help="DFA/LAFS/IFA/DRTP/sDFA: unit-variance feedback without Launay et al.'s normalisation ('no norm')",
    )
    g.add_argument(
        "--bottleneck",
        metavar="K:N",
        type=bottleneck_spec,
        default=None,
        help="freeze all but N random units of hidden block K (0-based) for the whole run (Launay et al. §4.2)",
    )
    g.add_argument(
        "--kp-lr",
        type=positive_float,
        default=None,
        help="kp: learning rate of the feedback B_k (default: the rule's own learning rate, --lr)",
    )
    g.add_argument(
        "--kp-weight-decay",
        type=nonnegative_float,
        default=None,
        help="kp: weight decay of the feedback B_k (default: --weight-decay)",
    )
    every = f"about {ALIGN_RECORDS_PER_EPOCH} times per epoch" if compare else "off"
    g.add_argument(
        "--align-every",
        metavar="N",
        type=positive_int,
        default=None,
        help=f"measure alignment against BP every N steps (default: {every})",
    )


def _add_optimisation(p: argparse.ArgumentParser, *, compare: bool) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument(
        "--optimizer", default="momentum", choices=OPTIMIZERS, help="sgd, momentum (default), nesterov, adam or rmsprop"
    )
    if compare:
        g.add_argument(
            "--lr",
            type=learning_rates,
            default=None,
            help=f"learning rate for every rule, or per rule: bp=0.05,dfa=0.02 (default by optimizer: {LR_HELP})",
        )
    else:
        g.add_argument(
            "--lr", type=positive_float, default=None, help=f"learning rate (default by optimizer: {LR_HELP})"
        )
    g.add_argument(
        "--momentum",
        type=nonnegative_float,
        default=None,
        help=f"momentum of sgd/momentum/nesterov (default: {DEFAULT_MOMENTUM} for momentum and nesterov, 0 for sgd)",
    )
    g.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        default=0.0,
        help="L2 weight decay (sgd, momentum, nesterov; default 0)",
    )
    g.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    g.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help=f"default {DEFAULT_BATCH_SIZE}")
    g.add_argument("--seed", type=seed_value, default=0, help="seed of every random stream, >= 0 (default 0)")


def _add_output(p: argparse.ArgumentParser, *, compare: bool) -> None:
    g = p.add_argument_group("output")
    g.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output folder (default: runs/<timestamp>); refused when it holds files, unless --force"
        + ("" if compare else " or --resume"),
    )
    g.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing its files")
    if not compare:
        g.add_argument(
            "--resume",
            metavar="DIR",
            default=None,
            help="continue the interrupted run in DIR from its last finished epoch, with the flags it was "
            "started with (--epochs N trains on to N epochs); the result is identical to an uninterrupted run",
        )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--threads",
        metavar="N",
        type=thread_count,
        default="auto",
        help=f"BLAS threads (threadpoolctl): a number, 0 for the BLAS default, or auto (default): one "
        f"thread for a small MLP (batch x largest weight matrix <= {SMALL_GEMM:,} multiply-adds, "
        f"where more threads cannot pay for their synchronisation), otherwise no more threads than idle cores "
        f"and, of 1 and that, the faster on timed training steps, decided at the start and after every epoch "
        f"of {RECHECK_SECONDS:g} s or more (a busy core makes threaded BLAS stall)",
    )


def _add_common(p: argparse.ArgumentParser, *, compare: bool) -> None:
    _add_data(p)
    _add_model(p)
    _add_feedback(p, compare=compare)
    _add_optimisation(p, compare=compare)
    _add_output(p, compare=compare)


def _version() -> str:
    from nnlite import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``nnlite train``, ``nnlite compare`` and (its help line only) ``nnlite bench``."""
    parser = argparse.ArgumentParser(
        prog="nnlite",
        description="Train neural networks with BP, FA, DFA, IFA and LAFS (hand-derived NumPy/Numba engine).",
        epilog="Run `nnlite COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"nnlite {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "train",
        help="train one network with one rule",
        formatter_class=fmt,
        epilog=EPILOG,
        description="Train a network with one rule; print the configuration, a per-epoch table "
        "and the final test accuracy; write history.json, curves.png and model.npz "
        "into --out.",
    )
    _add_common(p, compare=False)

    p = sub.add_parser(
        "compare",
        help="train the same network under several rules",
        formatter_class=fmt,
        epilog=EPILOG,
        description="Train the same network from the same initial weights (and batch order) under "
        "each rule; print one table (final test accuracy, seconds per epoch, final "
        "alignment cosine per hidden layer); write compare.json, accuracy.png and "
        "alignment_h<k>.png into --out.",
    )
    p.add_argument(
        "--rules",
        type=rule_list,
        default=list(COMPARE_RULES),
        metavar="RULES",
        help=f"comma-separated rules from {','.join(RULES)} (default: {','.join(COMPARE_RULES)})",
    )
    _add_common(p, compare=True)

    add_sweep_commands(sub, positive_int)
    sub.add_parser(
        "bench",
        add_help=False,
        help="run the benchmarks (python -m benchmarks); arguments are passed through, e.g. nnlite bench --quick",
    )
    return parser

"""The ``nnlite`` command: ``nnlite train``, ``nnlite compare`` and ``nnlite bench``.

This module is the only place where strings become objects (DESIGN.md §7): ``"dfa"`` becomes
``nnlite.DFA(projection=..., layout=..., seed=...)``, ``"256x2"`` becomes ``[256, 256]``, and so on. Everything
below is argument parsing, object construction, and the presentation of what :func:`nnlite.fit` returns (a
configuration block, a per-epoch table, JSON, PNG figures and a checkpoint); no training logic lives here.

Exit codes: 0 on success; 2 for a usage error (unknown name, malformed value: argparse's message with the choices);
1 for an error raised by the library (bad data, missing data set with ``--no-download``, missing optional
dependency), reported as one line on standard error. Set ``NNLITE_TRACEBACK=1`` to get the traceback instead.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import platform
import re
import sys
from pathlib import Path

import numpy as np

RULES = ("bp", "fa", "dfa", "ifa", "lafs")
DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
MODELS = ("mlp", "cnn")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "abs", "identity")  # and leaky_relu:SLOPE
INITS = ("he", "glorot", "lecun", "zeros", "uniform")
LOSSES = ("ce", "bce", "mse")
LAYOUTS = ("unified", "independent")
PROJECTIONS = ("gaussian", "fastfood", "opu", "sparse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
DTYPES = ("float32", "float64")

#: Rules that take a feedback projection (DFA and LAFS: all hidden blocks; IFA: the first one only).
PROJECTION_RULES = ("dfa", "ifa", "lafs")
#: Rules with a feedback layout and a parallel mode.
DIRECT_RULES = ("dfa", "lafs")

DEFAULT_HIDDEN = "256x2"
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
#: Default learning rate per optimizer; the same for every rule (so a comparison is not tuned per rule),
#: override with --lr (in ``compare`` also per rule: ``--lr bp=0.05,dfa=0.02``).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adam": 1e-3, "rmsprop": 1e-3}
DEFAULT_MOMENTUM = 0.9
#: ``compare`` measures alignment about this many times per epoch unless --align-every says otherwise.
ALIGN_RECORDS_PER_EPOCH = 10
#: ``--threads auto`` uses one BLAS thread when batch size x the largest weight matrix of an MLP is at most this.
SMALL_GEMM = 2**22
#: ``compare``'s "final alignment" is the mean over this many last alignment records.
ALIGN_TAIL = 10


class CLIError(Exception):
    """A problem with the command line found after parsing (exit 2, like an argparse error)."""


# ----------------------------------------------------------------------------------------------------------------
# Argument types: strings -> values, with argparse-style errors.


def hidden_sizes(text):
    """Parse ``--hidden``: ``"800x3"`` -> [800, 800, 800]; ``"800,800,800"``; mixed ``"512x2,256"``."""
    sizes = []
    for item in str(text).replace(" ", "").lower().split(","):
        m = re.fullmatch(r"(\d+)(?:x(\d+))?", item)
        w, n = (int(m.group(1)), int(m.group(2) or 1)) if m else (0, 0)
        if w < 1 or n < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of hidden-layer widths; expected WIDTHxDEPTH (e.g. 800x3) or "
                f"comma-separated positive integers (e.g. 800,800,800)"
            )
        sizes.extend([w] * n)
    return sizes


def activation_name(text):
    """Validate ``--activation``: a known name, or ``leaky_relu:SLOPE`` (e.g. ``leaky_relu:-0.5``)."""
    head, sep, tail = str(text).strip().lower().partition(":")
    name = head.replace("-", "_") + sep + tail
    if name in ACTIVATIONS:
        return name
    if name.startswith("leaky_relu:"):
        try:
            slope = float(name.split(":", 1)[1])
        except ValueError:
            slope = math.nan
        if math.isfinite(slope):
            return f"leaky_relu:{slope:g}"
        raise argparse.ArgumentTypeError(f"invalid slope in {text!r}; expected e.g. leaky_relu:-0.5")
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(ACTIVATIONS)}, or leaky_relu:SLOPE such as leaky_relu:-0.5)"
    )


def rule_list(text):
    """Parse ``--rules bp,fa,dfa``: known, distinct names, in the order given."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of rules from {', '.join(RULES)}")
    for n in names:
        if n not in RULES:
            raise argparse.ArgumentTypeError(f"invalid choice: {n!r} (choose from {', '.join(RULES)})")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a rule is listed twice in {text!r}")
    return names


def channel_list(text):
    """Parse ``--channels 32,64,64``."""
    try:
        out = [int(t) for t in str(text).split(",")]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 32,64,64, got {text!r}")
    return out


def probability(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return v


def thread_count(text):
    """Parse ``--threads``: ``auto`` or an integer >= 0 (0: the BLAS default)."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected auto or an integer >= 0, got {text!r}")
    return v


def _finite_float(text, allow_zero):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and (v > 0 or (allow_zero and v == 0))):
        what = "non-negative" if allow_zero else "positive"
        raise argparse.ArgumentTypeError(f"expected a {what} number, got {text!r}")
    return v


def positive_float(text):
    return _finite_float(text, allow_zero=False)


def nonnegative_float(text):
    return _finite_float(text, allow_zero=True)


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def learning_rates(text):
    """Parse ``--lr``: one number for every rule, or ``rule=value`` pairs (``bp=0.01,dfa=0.005``)."""
    text = str(text).strip()
    if "=" not in text:
        return positive_float(text)
    out = {}
    for item in text.split(","):
        rule, sep, value = item.partition("=")
        rule = rule.strip().lower()
        if not sep:
            raise argparse.ArgumentTypeError(f"expected RULE=VALUE pairs such as bp=0.01,dfa=0.005, got {item!r}")
        if rule not in RULES:
            raise argparse.ArgumentTypeError(f"invalid rule {rule!r} in --lr (choose from {', '.join(RULES)})")
        out[rule] = positive_float(value)
    return out


# ----------------------------------------------------------------------------------------------------------------
# The parser


_LR_HELP = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())

_EPILOG = f"""\
defaults: an MLP {DEFAULT_HIDDEN} with tanh and He init on digits, softmax cross-entropy, SGD with momentum
{DEFAULT_MOMENTUM}, batch {DEFAULT_BATCH_SIZE}, {DEFAULT_EPOCHS} epochs. Default learning rate by optimizer (the same
for every rule): {_LR_HELP}. Seeds: --seed S seeds three independent streams (initial weights, feedback matrices,
batch order) derived with numpy's SeedSequence(S), so two runs with one seed are identical and `compare` starts
every rule from the same initial weights and visits the batches in the same order.
Set NNLITE_TRACEBACK=1 to see the traceback of a library error."""


def _add_common(p, *, compare):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", choices=DATASETS, help="data set (default: digits, offline)")
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
        help="cnn: filters of each convolutional layer (default: nnlite.cnn's, 32,64,64)",
    )
    g.add_argument(
        "--kernel-size",
        metavar="K",
        type=positive_int,
        default=None,
        help="cnn: odd kernel size of every convolution (default: nnlite.cnn's, 5)",
    )
    g.add_argument("--batch-norm", action="store_true", help="cnn: batch normalisation after every convolution")
    g.add_argument(
        "--dropout",
        metavar="P",
        type=probability,
        default=0.0,
        help="cnn: dropout probability after every pooling (default 0)",
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

    g = p.add_argument_group("feedback")
    if not compare:
        g.add_argument("--rule", default="bp", choices=RULES, help="training rule (default: bp)")
    g.add_argument(
        "--layout",
        default="unified",
        choices=LAYOUTS,
        help="DFA/LAFS feedback layout: unified (Launay et al., default) or independent (Nøkland)",
    )
    g.add_argument(
        "--projection",
        default=None,
        choices=PROJECTIONS,
        help="back end of the DFA/IFA/LAFS feedback projection (default: gaussian); opu needs lightonml",
    )
    g.add_argument(
        "--sparsity",
        metavar="K",
        type=positive_int,
        default=1,
        help="nonzeros per row of the sparse projection (default: 1, Crafton et al.)",
    )
    g.add_argument("--parallel", action="store_true", help="DFA/LAFS: update the hidden blocks in threads")
    if compare:
        g.add_argument(
            "--align-every",
            metavar="N",
            type=positive_int,
            default=None,
            help=f"measure alignment against BP every N steps (default: about "
            f"{ALIGN_RECORDS_PER_EPOCH} times per epoch)",
        )
    else:
        g.add_argument(
            "--align-every",
            metavar="N",
            type=positive_int,
            default=None,
            help="measure alignment against BP every N steps (default: off)",
        )

    g = p.add_argument_group("optimisation")
    g.add_argument(
        "--optimizer", default="momentum", choices=OPTIMIZERS, help="sgd, momentum (default), nesterov, adam or rmsprop"
    )
    if compare:
        g.add_argument(
            "--lr",
            type=learning_rates,
            default=None,
            help=f"learning rate for every rule, or per rule: bp=0.05,dfa=0.02 (default by optimizer: {_LR_HELP})",
        )
    else:
        g.add_argument(
            "--lr", type=positive_float, default=None, help=f"learning rate (default by optimizer: {_LR_HELP})"
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
    g.add_argument("--seed", type=int, default=0, help="seed of every random stream (default 0)")

    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR", default=None, help="output folder (default: runs/<timestamp>)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--threads",
        metavar="N",
        type=thread_count,
        default="auto",
        help=f"BLAS threads (threadpoolctl): a number, 0 for the BLAS default, or auto (default): one "
        f"thread for a small MLP (batch x largest weight matrix <= {SMALL_GEMM:,} multiply-adds, "
        f"where more threads cannot pay for their synchronisation and stall badly on a busy "
        f"machine), the BLAS default otherwise",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nnlite",
        description="Train neural networks with BP, FA, DFA, IFA and LAFS (hand-derived NumPy/Numba engine).",
        epilog="Run `nnlite COMMAND --help` for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "train",
        help="train one network with one rule",
        formatter_class=fmt,
        epilog=_EPILOG,
        description="Train a network with one rule; print the configuration, a per-epoch table "
        "and the final test accuracy; write history.json, curves.png and model.npz "
        "into --out.",
    )
    _add_common(p, compare=False)

    p = sub.add_parser(
        "compare",
        help="train the same network under several rules",
        formatter_class=fmt,
        epilog=_EPILOG,
        description="Train the same network from the same initial weights (and batch order) under "
        "each rule; print one table (final test accuracy, seconds per epoch, final "
        "alignment cosine per hidden layer); write compare.json, accuracy.png and "
        "alignment_h<k>.png into --out.",
    )
    p.add_argument(
        "--rules",
        type=rule_list,
        default=list(RULES),
        metavar="RULES",
        help=f"comma-separated rules (default: {','.join(RULES)})",
    )
    _add_common(p, compare=True)

    sub.add_parser(
        "bench",
        add_help=False,
        help="run the benchmarks (python -m benchmarks); arguments are passed through, e.g. nnlite bench --quick",
    )
    return parser


# ----------------------------------------------------------------------------------------------------------------
# Strings -> objects


def _seeds(seed):
    """Three independent integer seeds (weights, feedback, batch order) from one user seed."""
    w, fb, order = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    return {"weights": w, "feedback": fb, "order": order}


def _activation_factory(name):
    from . import layers

    if name.startswith("leaky_relu:"):
        return functools.partial(layers.LeakyReLU, float(name.split(":", 1)[1]))
    return {
        "tanh": layers.Tanh,
        "sigmoid": layers.Sigmoid,
        "relu": layers.ReLU,
        "leaky_relu": layers.LeakyReLU,
        "abs": layers.Abs,
        "identity": layers.Identity,
    }[name]


def _loss(name):
    from .ops import losses

    return {"ce": losses.softmax_cross_entropy, "bce": losses.binary_cross_entropy, "mse": losses.mean_squared_error}[
        name
    ]


def _dtype(name):
    return {"float32": np.float32, "float64": np.float64}[name]


def _load_data(args):
    from . import data

    ds = data.load(
        args.dataset,
        root=args.data_root,
        download=not args.no_download,
        standardize=args.standardize,
        dtype=_dtype(args.dtype),
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


def _find_cnn():
    import nnlite

    from . import network

    cnn = getattr(nnlite, "cnn", None) or getattr(network, "cnn", None)
    if cnn is None:
        raise ImportError(
            "--model cnn needs nnlite.cnn, which this version of nnlite does not provide yet; use --model mlp"
        )
    return cnn


def _build_net(args, ds, seeds):
    """The network, from ``seeds["weights"]`` (the same seed gives the same initial weights)."""
    dtype = _dtype(args.dtype)
    act = _activation_factory(args.activation)
    if args.model == "mlp":
        from .network import mlp

        hidden = args.hidden if args.hidden is not None else hidden_sizes(DEFAULT_HIDDEN)
        return mlp(
            [ds.shape[0], *hidden, ds.n_classes], activation=act, init=args.init, dtype=dtype, seed=seeds["weights"]
        )
    cnn = _find_cnn()
    kw = {}
    if args.channels is not None:
        kw["channels"] = tuple(args.channels)
    if args.kernel_size is not None:
        kw["kernel_size"] = args.kernel_size
    if args.batch_norm:
        kw["batch_norm"] = True
    if args.dropout:
        kw["dropout"] = args.dropout
    return cnn(
        input_shape=tuple(ds.shape),
        n_classes=ds.n_classes,
        activation=act,
        init=args.init,
        dtype=dtype,
        seed=seeds["weights"],
        **kw,
    )


def _projection(args, net, rule, seed):
    """The feedback projection of ``rule`` for ``net``, or None for the rule's default (a Gaussian)."""
    if args.projection is None or rule not in PROJECTION_RULES:
        return None
    from . import projections

    C, sizes = net.n_outputs, net.feedback_sizes
    if not sizes:
        raise ValueError("the network has no hidden layer: there is nothing for a feedback projection to reach")
    if rule == "ifa":
        n_out = sizes[0]
    else:
        n_out = max(sizes) if args.layout == "unified" else sum(sizes)
    dtype = _dtype(args.dtype)
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


def _rule(args, net, name, seeds):
    """The rule object for ``name``; its feedback matrices come from ``seeds["feedback"]``."""
    from . import rules

    seed = seeds["feedback"]
    proj = _projection(args, net, name, seed)
    if name == "bp":
        return rules.BP()
    if name == "fa":
        return rules.FA(seed=seed)
    if name == "ifa":
        return rules.IFA(projection=proj, seed=seed)
    cls = rules.DFA if name == "dfa" else rules.LAFS
    return cls(projection=proj, layout=args.layout, seed=seed, parallel=args.parallel)


def _momentum(args):
    """The momentum the optimizer uses (None for adam and rmsprop)."""
    if args.optimizer not in ("sgd", "momentum", "nesterov"):
        return None
    if args.momentum is not None:
        return args.momentum
    return 0.0 if args.optimizer == "sgd" else DEFAULT_MOMENTUM


def _optimizer(args, lr):
    from . import optim

    name = args.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        return optim.SGD(lr, momentum=_momentum(args), nesterov=name == "nesterov", weight_decay=args.weight_decay)
    if name == "adam":
        return optim.Adam(lr)
    return optim.RMSprop(lr)


def _check_combination(args, rules):
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
            ("--batch-norm", args.batch_norm),
            ("--dropout", bool(args.dropout)),
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
    if args.projection == "opu" and "lafs" in rules:
        raise CLIError(
            "--projection opu cannot be used with lafs: the OPU cannot apply its transpose, which "
            "LAFS's local readouts need (use gaussian or fastfood)"
        )


# ----------------------------------------------------------------------------------------------------------------
# Training and presentation


def blas_threads(args, net):
    """The BLAS thread limit ``--threads`` asks for on ``net``: an int, or None for the BLAS default."""
    if args.threads != "auto":
        return args.threads or None
    if args.model != "mlp":
        return None
    largest = max(int(np.prod(p["W"].shape)) for p in net.params())
    return 1 if args.batch_size * largest <= SMALL_GEMM else None


def _fit(args, net, rule, lr, train, test, align_every, callback=None):
    import contextlib

    from .train import fit

    limit = contextlib.nullcontext()
    threads = blas_threads(args, net)
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=threads, user_api="blas")
    with limit:
        return fit(
            net,
            rule,
            _loss(args.loss),
            _optimizer(args, lr),
            train,
            test,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=_seeds(args.seed)["order"],
            progress=not args.no_progress,
            alignment_every=align_every,
            callback=callback,
        )


def _alignment_by_epoch(hist, n_hidden):
    """Mean signal cosine per hidden layer over each epoch's alignment records: {epoch: [cos_1, ...]}."""
    out = {}
    for ep in hist.epoch:
        recs = [r["signal_cos"] for r in hist.alignment if r["epoch"] == ep]
        out[ep] = _nanmean_columns(recs, n_hidden)
    return out


def _nanmean_columns(rows, n):
    if not rows:
        return [math.nan] * n
    a = np.array([[math.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
    with np.errstate(all="ignore"):
        return [float(np.nanmean(a[:, k])) if np.isfinite(a[:, k]).any() else math.nan for k in range(n)]


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _table(header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def epoch_table(hist, n_hidden, with_alignment):
    """The per-epoch table printed by ``nnlite train``."""
    header = ["epoch", "train loss", "train acc", "test acc", "seconds"]
    if with_alignment:
        header += [f"cos h{k + 1}" for k in range(n_hidden)]
        cos = _alignment_by_epoch(hist, n_hidden)
    rows = []
    for i, ep in enumerate(hist.epoch):
        row = [
            ep,
            _fmt(hist.train_loss[i], ".4f"),
            _fmt(hist.train_acc[i], ".4f"),
            _fmt(hist.test_acc[i] if i < len(hist.test_acc) else None, ".4f"),
            _fmt(hist.seconds[i], ".2f"),
        ]
        if with_alignment:
            row += [_fmt(c, ".3f") for c in cos[ep]]
        rows.append(row)
    return _table(header, rows)


def live_epoch_printer(n_hidden, with_alignment):
    """A ``fit`` callback printing one row of the per-epoch table as each epoch ends (header first)."""
    header = ["epoch", "train loss", "train acc", "test acc", "seconds"]
    if with_alignment:
        header += [f"cos h{k + 1}" for k in range(n_hidden)]
    widths = [max(len(h), 6) for h in header]

    def show(hist):
        i = len(hist.epoch) - 1
        if i == 0:
            print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
            print("  ".join("-" * w for w in widths))
        ep = hist.epoch[i]
        row = [
            ep,
            _fmt(hist.train_loss[i], ".4f"),
            _fmt(hist.train_acc[i], ".4f"),
            _fmt(hist.test_acc[i] if i < len(hist.test_acc) else None, ".4f"),
            _fmt(hist.seconds[i], ".2f"),
        ]
        if with_alignment:
            row += [_fmt(c, ".3f") for c in _alignment_by_epoch(hist, n_hidden)[ep]]
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)), flush=True)

    return show


def _json_clean(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_clean(v) for v in o]
    if isinstance(o, np.generic):
        return _json_clean(o.item())
    return o


def _write_json(path, obj):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(_json_clean(obj), indent=1))
    os.replace(tmp, path)


def _out_dir(args):
    if args.out is not None:
        out = Path(args.out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / stamp
        i = 1
        while out.exists():
            out = Path("runs") / f"{stamp}-{i}"
            i += 1
    out.mkdir(parents=True, exist_ok=True)
    return out


def _config(args, ds, train, net, seeds, extra):
    cfg = {k: v for k, v in vars(args).items() if k != "command"}
    cfg.update(extra)
    cfg.update(
        {
            "command": args.command,
            "hidden": args.hidden if args.hidden is not None or args.model != "mlp" else hidden_sizes(DEFAULT_HIDDEN),
            "n_train": int(train[0].shape[0]),
            "n_test": int(ds.x_test.shape[0]),
            "input_shape": list(net.input_shape),
            "n_classes": int(ds.n_classes),
            "feedback_sizes": net.feedback_sizes,
            "n_parameters": int(sum(v.size for p in net.params() for v in p.values())),
            "momentum": _momentum(args),
            "blas_threads": blas_threads(args, net),
            "seeds": seeds,
            "data_source": ds.source,
            "nnlite_version": _version(),
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
        }
    )
    return cfg


def _version():
    from . import __version__

    return __version__


def _print_config(cfg, rule_reprs):
    model = ["hidden"] if cfg["model"] == "mlp" else ["channels", "kernel_size", "batch_norm", "dropout"]
    keys = [
        "dataset",
        "n_train",
        "n_test",
        "model",
        *model,
        "activation",
        "init",
        "loss",
        "dtype",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "epochs",
        "batch_size",
        "seed",
        "align_every",
        "threads",
    ]
    print("nnlite " + cfg["command"])
    w = max(len(k) for k in keys + ["rule"])
    for k in keys:
        v = cfg.get(k)
        if v is None and k in ("momentum", "align_every", "channels", "kernel_size"):
            continue
        if k == "threads":
            bt = cfg.get("blas_threads")
            v = f"{v} (BLAS {'default' if bt is None else bt})" if v == "auto" else (v or "BLAS default")
        print(f"  {k.ljust(w)}  {v}")
    for name, r in rule_reprs.items():
        print(f"  {'rule'.ljust(w)}  {name}: {r}")
    print(f"  {'parameters'.ljust(w)}  {cfg['n_parameters']} (feedback points {cfg['feedback_sizes']})")
    print(f"  {'out'.ljust(w)}  {cfg['out']}")
    sys.stdout.flush()


def _plot_history(hist, path, n_hidden, title):
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state

    panels = 3 if hist.alignment else 2
    fig = Figure(figsize=(5 * panels, 4), layout="constrained")
    axs = fig.subplots(1, panels)
    ax = axs[0]
    ax.plot(hist.epoch, hist.train_loss, "o-", label="train")
    if hist.test_loss:
        ax.plot(hist.epoch[: len(hist.test_loss)], hist.test_loss, "s-", label="test")
    ax.set(xlabel="epoch", ylabel="loss", title="loss")
    ax.legend()
    ax = axs[1]
    ax.plot(hist.epoch, hist.train_acc, "o-", label="train")
    if hist.test_acc:
        ax.plot(hist.epoch[: len(hist.test_acc)], hist.test_acc, "s-", label="test")
    ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax.legend()
    if hist.alignment:
        ax = axs[2]
        steps = [r["step"] for r in hist.alignment]
        for k in range(n_hidden):
            ax.plot(steps, [_nan(r["signal_cos"][k]) for r in hist.alignment], label=f"h{k + 1}")
        ax.set(xlabel="step", ylabel="cosine with BP's signal", title="alignment", ylim=(-1.05, 1.05))
        ax.legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)


def _nan(v):
    return math.nan if v is None else v


def _final_test_acc(hist):
    return hist.test_acc[-1] if hist.test_acc else math.nan


def cmd_train(args):
    rule_name = args.rule
    _check_combination(args, [rule_name])
    seeds = _seeds(args.seed)
    ds, train, test = _load_data(args)
    net = _build_net(args, ds, seeds)
    rule = _rule(args, net, rule_name, seeds)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    out = _out_dir(args)
    cfg = _config(args, ds, train, net, seeds, {"lr": lr, "out": str(out), "rule": rule_name})
    cfg["rule_repr"] = repr(rule)
    _print_config(cfg, {rule_name: repr(rule)})

    n_hidden = len(net.feedback_sizes)
    print()
    hist = _fit(
        args,
        net,
        rule,
        lr,
        train,
        test,
        args.align_every,
        callback=live_epoch_printer(n_hidden, bool(args.align_every)),
    )
    if hist.stopped:
        print(
            f"training stopped at epoch {hist.stopped['epoch']}, step {hist.stopped['step']}: "
            f"{hist.stopped['reason']} (try a smaller --lr)"
        )
    acc = _final_test_acc(hist)
    print(f"\nfinal test accuracy: {_fmt(acc, '.4f')}")

    from .checkpoint import save

    _write_json(
        out / "history.json",
        {"config": cfg, "history": hist.to_dict(), "final_test_acc": acc, "seconds_total": float(sum(hist.seconds))},
    )
    _plot_history(hist, out / "curves.png", n_hidden, f"{rule_name} on {args.dataset}")
    save(net, out / "model.npz")
    print(f"wrote {out / 'history.json'}, {out / 'curves.png'}, {out / 'model.npz'}")
    return 0 if hist.stopped is None else 1


def cmd_compare(args):
    rules = args.rules
    _check_combination(args, rules)
    seeds = _seeds(args.seed)
    ds, train, test = _load_data(args)
    if isinstance(args.lr, dict):
        unknown = sorted(set(args.lr) - set(rules))
        if unknown:
            raise CLIError(f"--lr names {', '.join(unknown)}, which --rules {','.join(rules)} does not include")
        lrs = {r: args.lr.get(r, DEFAULT_LR[args.optimizer]) for r in rules}
    else:
        lrs = {r: args.lr if args.lr is not None else DEFAULT_LR[args.optimizer] for r in rules}
    steps_per_epoch = math.ceil(train[0].shape[0] / args.batch_size)
    align_every = args.align_every or max(1, steps_per_epoch // ALIGN_RECORDS_PER_EPOCH)

    nets = {r: _build_net(args, ds, seeds) for r in rules[:1]}
    net0 = nets[rules[0]]
    init_weights = [{k: v.copy() for k, v in p.items()} for p in net0.params()]
    out = _out_dir(args)
    cfg = _config(args, ds, train, net0, seeds, {"lr": lrs, "out": str(out), "align_every": align_every})
    objs = {}
    for r in rules:
        net = nets.get(r) or _build_net(args, ds, seeds)
        same = all(np.array_equal(a[k], b[k]) for a, b in zip(init_weights, net.params()) for k in a)
        if not same:  # a builder that ignored its seed would make the comparison meaningless
            raise RuntimeError("the networks built for the rules do not start from the same weights")
        objs[r] = (net, _rule(args, net, r, seeds))
    cfg["rule_repr"] = {r: repr(o[1]) for r, o in objs.items()}
    _print_config(cfg, cfg["rule_repr"])

    n_hidden = len(net0.feedback_sizes)
    results = {}
    for r in rules:
        net, rule = objs[r]
        print(f"\n[{r}] lr {lrs[r]:g}", flush=True)
        hist = _fit(args, net, rule, lrs[r], train, test, align_every)
        print(epoch_table(hist, n_hidden, True))
        if hist.stopped:
            print(
                f"[{r}] stopped at epoch {hist.stopped['epoch']}, step {hist.stopped['step']}: {hist.stopped['reason']}"
            )
        tail = [rec["signal_cos"] for rec in hist.alignment[-ALIGN_TAIL:]]
        results[r] = {
            "lr": lrs[r],
            "final_test_acc": _final_test_acc(hist),
            "seconds_per_epoch": float(np.median(hist.seconds)) if hist.seconds else math.nan,
            "final_alignment": _nanmean_columns(tail, n_hidden),
            "stopped": hist.stopped,
            "history": hist.to_dict(),
        }
        del net, rule
        objs[r] = None

    header = ["rule", "lr", "test acc", "s/epoch"] + [f"cos h{k + 1}" for k in range(n_hidden)]
    rows = [
        [r, f"{res['lr']:g}", _fmt(res["final_test_acc"], ".4f"), _fmt(res["seconds_per_epoch"], ".2f")]
        + [_fmt(c, ".3f") for c in res["final_alignment"]]
        for r, res in results.items()
    ]
    print(
        f"\nsummary ({args.epochs} epochs on {args.dataset}; s/epoch is the median over epochs; cos hk is the "
        f"mean signal cosine with BP at hidden layer k over the last {ALIGN_TAIL} alignment records, one every "
        f"{align_every} steps)"
    )
    print(_table(header, rows))

    _write_json(out / "compare.json", {"config": cfg, "align_tail": ALIGN_TAIL, "rules": results})
    figs = _plot_compare(results, out, n_hidden, args.dataset)
    print(f"wrote {out / 'compare.json'}, " + ", ".join(str(f) for f in figs))
    return 0 if all(res["stopped"] is None for res in results.values()) else 1


def _plot_compare(results, out, n_hidden, dataset):
    from matplotlib.figure import Figure

    files = []
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for r, res in results.items():
        h = res["history"]
        ax.plot(h["epoch"][: len(h["test_acc"])], h["test_acc"], "o-", label=r)
    ax.set(xlabel="epoch", ylabel="test accuracy", title=f"test accuracy on {dataset}")
    ax.legend()
    files.append(out / "accuracy.png")
    fig.savefig(files[-1], dpi=100)
    for k in range(n_hidden):
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        for r, res in results.items():
            al = res["history"]["alignment"]
            ax.plot([a["step"] for a in al], [_nan(a["signal_cos"][k]) for a in al], label=r)
        ax.set(
            xlabel="step",
            ylabel="cosine with BP's signal",
            ylim=(-1.05, 1.05),
            title=f"alignment at hidden layer {k + 1}",
        )
        ax.legend()
        files.append(out / f"alignment_h{k + 1}.png")
        fig.savefig(files[-1], dpi=100)
    return files


def cmd_bench(argv):
    """``nnlite bench ...``: run ``benchmarks.__main__.main`` with the remaining arguments."""
    main_fn = _import_benchmarks(_benchmark_dirs())
    if main_fn is None:
        print(
            "nnlite: error: the benchmarks are not installed: run `nnlite bench` (or `python -m benchmarks`) "
            "from the root of the nnlite repository, where the benchmarks/ folder is",
            file=sys.stderr,
        )
        return 2
    try:
        code = main_fn(list(argv))
    except SystemExit as exc:
        code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _benchmark_dirs():
    """Where ``benchmarks`` is looked for: ``None`` (sys.path as it is), the current folder, then the folder
    above the package (the repository root of an editable install)."""
    return [None, os.getcwd(), str(Path(__file__).resolve().parents[1])]


def _import_benchmarks(dirs):
    """``benchmarks.__main__.main``, or None when no folder of ``dirs`` has it."""
    import importlib

    for folder in dirs:
        if folder is not None:
            if not (Path(folder) / "benchmarks" / "__main__.py").is_file():
                continue
            if folder not in sys.path:
                sys.path.insert(0, folder)
        try:
            return importlib.import_module("benchmarks.__main__").main
        except ModuleNotFoundError as exc:
            if exc.name not in ("benchmarks", "benchmarks.__main__"):
                raise  # a dependency of the benchmarks is missing: say which
        except AttributeError:
            return None
    return None


# ----------------------------------------------------------------------------------------------------------------
# Entry point


def main(argv=None):
    """Run the ``nnlite`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return _guarded(lambda: cmd_bench(argv[1:]))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    sub = parser._subparsers._group_actions[0].choices[args.command]
    command = cmd_train if args.command == "train" else cmd_compare
    try:
        return _guarded(lambda: command(args))
    except CLIError as exc:
        try:
            sub.error(str(exc))
        except SystemExit as exit_:
            return exit_.code


def _guarded(fn):
    """Run ``fn``; a library error becomes one line on standard error and exit code 1."""
    from .data import DataNotFoundError

    try:
        return fn()
    except CLIError:
        raise
    except KeyboardInterrupt:
        print("\nnnlite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `nnlite train | head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except (ValueError, TypeError, ImportError, OSError, NotImplementedError, RuntimeError) as exc:
        if os.environ.get("NNLITE_TRACEBACK"):
            raise
        what = "data not found" if isinstance(exc, DataNotFoundError) else type(exc).__name__
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"nnlite: error ({what}): {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

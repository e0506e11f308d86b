"""What ``nnlite train`` and ``nnlite compare`` show and write: the configuration block, the per-epoch tables (whole,
or live as each epoch ends), the recorded run configuration, the JSON documents and the PNG figures.

JSON goes through :func:`nnlite.training.io.write_json` (atomic; NaN as null; NumPy scalars as Python numbers).
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import nnlite
from nnlite import Sequential
from nnlite.config.builders import Split, blas_threads, cnn_settings, hidden_of, momentum_of
from nnlite.data import Dataset
from nnlite.figures import alignment_axis, drawn, epoch_axis, new_figure, save_png, style, suptitle
from nnlite.training import History
from nnlite.training import state as training_state
from nnlite.training.io import own_file, write_json

from .build import CLIError, config_of

__all__ = [
    "alignment_by_epoch",
    "describe",
    "epoch_table",
    "final_test_acc",
    "fmt",
    "live_epoch_printer",
    "nanmean_columns",
    "out_dir",
    "plot_compare",
    "plot_history",
    "print_config",
    "run_config",
    "table",
    "write_compare",
    "write_history",
]


# ----------------------------------------------------------------------------------------------------------------
# Tables


def fmt(v: Any, spec: str) -> str:
    """``format(v, spec)``, or ``-`` for a missing or non-finite value."""
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A right-aligned text table with a rule under the header."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def nanmean_columns(rows: Sequence[Sequence[float | None]], n: int) -> list[float]:
    """The mean of each of ``n`` columns, ignoring None/NaN (NaN for a column with no value)."""
    if not rows:
        return [math.nan] * n
    a = np.array([[math.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
    with np.errstate(all="ignore"):
        return [float(np.nanmean(a[:, k])) if np.isfinite(a[:, k]).any() else math.nan for k in range(n)]


def alignment_by_epoch(hist: History, n_hidden: int) -> dict[int, list[float]]:
    """Mean signal cosine per hidden layer over each epoch's alignment records: {epoch: [cos_1, ...]}."""
    out = {}
    for ep in hist.epoch:
        recs = [r["signal_cos"] for r in hist.alignment if r["epoch"] == ep]
        out[ep] = nanmean_columns(recs, n_hidden)
    return out


def _epoch_header(n_hidden: int, with_alignment: bool) -> list[str]:
    header = ["epoch", "train loss", "train acc", "test acc", "seconds"]
    if with_alignment:
        header += [f"cos h{k + 1}" for k in range(n_hidden)]
    return header


def _epoch_row(hist: History, i: int, cos: dict[int, list[float]] | None) -> list[Any]:
    ep = hist.epoch[i]
    row = [
        ep,
        fmt(hist.train_loss[i], ".4f"),
        fmt(hist.train_acc[i], ".4f"),
        fmt(hist.test_acc[i] if i < len(hist.test_acc) else None, ".4f"),
        fmt(hist.seconds[i], ".2f"),
    ]
    if cos is not None:
        row += [fmt(c, ".3f") for c in cos[ep]]
    return row


def epoch_table(hist: History, n_hidden: int, with_alignment: bool) -> str:
    """The per-epoch table printed by ``nnlite compare`` for each rule."""
    cos = alignment_by_epoch(hist, n_hidden) if with_alignment else None
    rows = [_epoch_row(hist, i, cos) for i in range(len(hist.epoch))]
    return table(_epoch_header(n_hidden, with_alignment), rows)


def live_epoch_printer(n_hidden: int, with_alignment: bool) -> Callable[[History], None]:
    """A ``fit`` callback printing one row of the per-epoch table as each epoch ends (header first)."""
    header = _epoch_header(n_hidden, with_alignment)
    widths = [max(len(h), 6) for h in header]

    def show(hist: History) -> None:
        i = len(hist.epoch) - 1
        if i == 0:
            print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
            print("  ".join("-" * w for w in widths))
        row = _epoch_row(hist, i, alignment_by_epoch(hist, n_hidden) if with_alignment else None)
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)), flush=True)

    return show


def final_test_acc(hist: History) -> float:
    """The last epoch's test accuracy (NaN when there is none)."""
    return hist.test_acc[-1] if hist.test_acc else math.nan


# ----------------------------------------------------------------------------------------------------------------
# The run's configuration


def out_dir(args: argparse.Namespace) -> Path:
    """``--out`` (or ``--resume``'s folder), or a new ``runs/<timestamp>[-i]``; created and checked for writing
    before anything is trained. A folder that holds files is refused (a usage error) unless ``--force`` or
    ``--resume`` is given: an earlier run is never overwritten silently."""
    resume = getattr(args, "resume", None)
    if resume is not None:
        out = Path(resume)
    elif args.out is not None:
        if not str(args.out).strip():
            raise CLIError("--out must name a folder (an empty --out would write into the current folder)")
        out = Path(args.out)
        if out.is_dir() and any(out.iterdir()) and not args.force:
            raise CLIError(
                f"--out {out} already holds files (an earlier run?); choose another folder, --force to replace "
                f"its files, or --resume {out} to continue it"
                if args.command == "train"
                else f"--out {out} already holds files (an earlier run?); choose another folder or --force"
            )
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / stamp
        i = 1
        while out.exists():
            out = Path("runs") / f"{stamp}-{i}"
            i += 1
    return training_state.check_writable(out)  # ValueError (exit 1) naming the folder and the reason


def run_config(
    args: argparse.Namespace,
    ds: Dataset,
    train: Split,
    net: Sequential,
    seeds: dict[str, int],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The recorded configuration of a run: every flag, with the values actually used where a flag was left to
    its default (hidden widths, the cnn's channels and kernel size, momentum, BLAS threads, seeds)."""
    config = config_of(args)
    cfg = {k: v for k, v in vars(args).items() if k != "command"}
    if config.layers is not None:
        cfg.update(model=config.model, layers=config.to_dict()["layers"])
    cfg.update(extra)
    if args.model == "cnn":
        cnn_kw = cnn_settings(config)
        cfg.update(channels=cnn_kw["channels"], kernel_size=cnn_kw["kernel_size"])
    cfg.update(
        {
            "command": args.command,
            "hidden": hidden_of(config),
            "n_train": int(train[0].shape[0]),
            "n_test": int(ds.x_test.shape[0]),
            "input_shape": list(net.input_shape),
            "n_classes": int(ds.n_classes),
            "feedback_sizes": net.feedback_sizes,
            "n_parameters": int(sum(v.size for p in net.params() for v in p.values())),
            "momentum": momentum_of(config),
            "blas_threads": blas_threads(config, net),
            "seeds": seeds,
            "data_source": ds.source,
            "nnlite_version": nnlite.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
        }
    )
    return cfg


def print_config(cfg: dict[str, Any], rule_reprs: dict[str, str]) -> None:
    """The configuration block printed before training."""
    regular = ["batch_norm", "dropout", "input_dropout"]
    model = ["hidden", *regular] if cfg["model"] == "mlp" else ["channels", "kernel_size", *regular]
    if cfg["model"] == "layers":
        model = ["layers"]
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
            auto = "measured once, before the first epoch" if bt is None else f"BLAS {bt}"
            v = f"{v} ({auto})" if v == "auto" else (v or "BLAS default")
        print(f"  {k.ljust(w)}  {v}")
    for name, r in rule_reprs.items():
        print(f"  {'rule'.ljust(w)}  {name}: {r}")
    seeds = cfg.get("seeds") or {}
    if seeds:
        parts = ", ".join(f"{k} {v}" for k, v in seeds.items())
        print(
            f"  {'seeds'.ljust(w)}  {parts} (drawn from --seed {cfg.get('seed')} by SeedSequence: one stream for "
            "each part, so changing one never moves another)"
        )
    print(f"  {'parameters'.ljust(w)}  {cfg['n_parameters']} (feedback points {cfg['feedback_sizes']})")
    print(f"  {'out'.ljust(w)}  {cfg['out']}")
    sys.stdout.flush()


# ----------------------------------------------------------------------------------------------------------------
# JSON


def write_history(path: Path, cfg: dict[str, Any], hist: History) -> None:
    """``history.json`` of ``nnlite train`` (a name nnlite gives: never written through a link)."""
    write_json(
        own_file(path.parent, path.name),
        {
            "config": cfg,
            "history": hist.to_dict(),
            "final_test_acc": final_test_acc(hist),
            "seconds_total": float(sum(hist.seconds)),
        },
        own=True,
    )


def write_compare(path: Path, cfg: dict[str, Any], align_tail: int, results: dict[str, dict[str, Any]]) -> None:
    """``compare.json`` of ``nnlite compare`` (a name nnlite gives: never written through a link)."""
    write_json(own_file(path.parent, path.name), {"config": cfg, "align_tail": align_tail, "rules": results}, own=True)


# ----------------------------------------------------------------------------------------------------------------
# Figures (matplotlib's Agg canvas through Figure: no pyplot state)


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def save_figure(fig: Any, path: str | Path) -> None:
    """Write a figure as PNG atomically (like every file nnlite writes): a full disk never leaves half a plot. Its
    name is nnlite's (``curves.png``, ``compare.png`` in ``--out``): a link there is refused, never written
    through."""
    path = Path(path)
    save_png(fig, own_file(path.parent, path.name), own=True)


def describe(cfg: dict[str, Any], rules: str) -> str:
    """A figure's title: the rule(s), the network, the optimizer and the data, from a run's recorded config."""
    if cfg.get("model") == "mlp":
        sizes = [int(math.prod(cfg["input_shape"])), *cfg["hidden"], cfg["n_classes"]]
        net = f"MLP {'-'.join(map(str, sizes))} {cfg.get('activation', '')}".rstrip()
    elif cfg.get("model") == "cnn":
        k = cfg.get("kernel_size")
        net = f"CNN {'-'.join(map(str, cfg.get('channels', [])))} channels, {k}x{k}"
    else:
        net = f"{cfg.get('model', 'network')} ({cfg.get('n_parameters', '?')} parameters)"
    lr = cfg.get("lr")
    if isinstance(lr, dict):  # compare: one lr per rule
        lr = next(iter(lr.values())) if len(set(lr.values())) == 1 else None
        lr_text = f" lr {lr:g}" if lr is not None else " lr per rule"
    else:
        lr_text = f" lr {lr:g}" if isinstance(lr, (int, float)) else ""
    opt = f"{cfg.get('optimizer', '')}{lr_text}, batch {cfg.get('batch_size')}"
    data = f"{cfg.get('dataset')} ({cfg.get('n_train')} training images)"
    return f"{rules} · {net} · {opt} · {data}"


@drawn
def plot_history(hist: History, path: Path, n_hidden: int, title: str) -> None:
    """``curves.png``: loss and accuracy per epoch (integer ticks), and, when measured, the alignment of each
    hidden layer over the steps on an axis scaled to the data with 0 and 1 marked."""
    panels = 3 if hist.alignment else 2
    fig, axs = new_figure(panels)
    for ax, what, train_v, test_v in (
        (axs[0], "loss", hist.train_loss, hist.test_loss),
        (axs[1], "accuracy", hist.train_acc, hist.test_acc),
    ):
        ax.plot(hist.epoch, train_v, label="train", **style(0))
        if test_v:
            ax.plot(hist.epoch[: len(test_v)], test_v, label="test", **style(1))
        epoch_axis(ax, hist.epoch)
        ax.set(ylabel=what, title=what)
        ax.legend()
    if hist.alignment:
        ax = axs[2]
        steps = [r["step"] for r in hist.alignment]
        cosines = []
        for k in range(n_hidden):
            ys = [_nan(r["signal_cos"][k]) for r in hist.alignment]
            cosines += ys
            ax.plot(steps, ys, label=f"hidden layer {k + 1}", markersize=3, **style(k))
        alignment_axis(ax, cosines)
        ax.set(xlabel="step", title="alignment with BP")
        ax.legend()
    suptitle(fig, title)
    save_figure(fig, path)


@drawn
def plot_compare(results: dict[str, dict[str, Any]], out: Path, n_hidden: int, title: str) -> list[Path]:
    """``compare.png``: one figure, the test accuracy per epoch and a panel per hidden layer with each rule's
    alignment over the steps (one colour and marker per rule, the same in every panel); returns its path."""
    fig, axs = new_figure(1 + n_hidden)
    ax = axs[0]
    epochs: list[float] = []
    for i, (r, res) in enumerate(results.items()):
        h = res["history"]
        xs = h["epoch"][: len(h["test_acc"])]
        epochs += xs
        ax.plot(xs, h["test_acc"], label=r, **style(i))
    epoch_axis(ax, epochs)
    ax.set(ylabel="test accuracy", title="test accuracy")
    if len(results) <= 4:
        ax.legend()
    else:  # many rules: one legend below the panels, not over the data
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(6, len(results)))
    for k in range(n_hidden):
        ax = axs[1 + k]
        cosines = []
        for i, res in enumerate(results.values()):
            al = res["history"]["alignment"]
            ys = [_nan(a["signal_cos"][k]) for a in al]
            cosines += ys
            ax.plot([a["step"] for a in al], ys, markersize=3, **style(i))
        alignment_axis(ax, cosines)
        ax.set(xlabel="step", title=f"alignment, hidden layer {k + 1}")
    suptitle(fig, title)
    path = out / "compare.png"
    save_figure(fig, path)
    return [path]

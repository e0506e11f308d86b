"""The training-step suite: ``python -m benchmarks [step] [--quick] [--out DIR] [--threads 1,2] ...`` (``step`` is
the default subcommand, so ``python -m benchmarks --quick`` and ``nnlite bench --quick`` run it too).

What it measures (see benchmarks/step.py for the FLOP formulas and the harness):

1. the main configuration, an MLP 784-800-800-800-10 (tanh, softmax cross-entropy, SGD momentum 0.9), batch 128,
   float32, at each thread count: every rule's step split into forward / backward / update, its GEMM FLOPs and the
   fraction of the GEMM peak of its own products (the same products timed alone, same thread count), PyTorch's
   step on the same MLP when torch is importable, nnlite with its fused kernels off (the NumPy path, "before"),
   the per-step time inside ``fit``, and DFA ``parallel=True`` (T workers of one BLAS thread at T threads); the
   ratios include each step's floor, its GEMMs alone plus its update phase (:func:`benchmarks.step.floor`);
2. sweeps of width (256 ... 4096, depth 3), depth (1 ... 8, width 1024) and batch (32 ... 512) for every rule;
3. every Numba kernel against its NumPy twin;
4. import-plus-first-step time, cold (empty Numba cache) and warm.

Output: the machine, then tables on standard output; ``steps.json`` (with the machine description in ``meta``) and
``backward_cost.png`` in ``--out``. ``--quick`` runs a small subset (under a minute). Times are medians over
interleaved repeats with quartiles (:mod:`benchmarks.harness`); nothing here fails on a time.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from .harness import BLOCK, PAUSE, keep_partial, machine_header, meta, threads, write_json

ROOT = Path(__file__).resolve().parents[1]
OTHERS = "other benchmarks: python -m benchmarks {conv,fwht,projections} --help"


def _parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks [step]", description=__doc__.split("\n\n")[0], epilog=OTHERS)
    p.add_argument("--quick", action="store_true", help="a small subset, under a minute (the CI smoke run)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for steps.json and the PNG")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2; --quick: 1)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per configuration (default 9; quick 3)")
    p.add_argument(
        "--only",
        default="main,sweeps,kernels,first-step",
        help="comma-separated parts to run: main, sweeps, kernels, first-step",
    )
    p.add_argument("--no-torch", action="store_true", help="do not measure the PyTorch peer even if importable")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    return p


def _ms(t):
    return f"{t['median'] * 1e3:9.3f}"


def _spread(t):
    return f"[{t['q1'] * 1e3:.2f}-{t['q3'] * 1e3:.2f}]"


def print_config(cfg, file=sys.stdout):
    print(
        f"\n== MLP {'-'.join(map(str, cfg['sizes']))}, batch {cfg['batch']}, float32, {cfg['threads']} thread(s) "
        f"-- ms, median [q1-q3] ==",
        file=file,
    )
    print(
        f"{'candidate':16s} {'forward':>9s} {'backward':>9s} {'update':>9s} {'step':>9s} {'step spread':>15s} "
        f"{'GFLOP':>7s} {'GFLOP/s':>8s} {'GEMM-alone':>10s} {'of peak':>7s}",
        file=file,
    )
    for nm, r in cfg["results"].items():
        ph = [(_ms(r[k]) if k in r else f"{'':9s}") for k in ("forward", "backward", "update")]
        g = f"{r['gemm']['median'] * 1e3:10.3f}" if "gemm" in r else f"{'':10s}"
        fr = f"{r['gemm_fraction']:7.2f}" if "gemm_fraction" in r else f"{'':7s}"
        print(
            f"{nm:16s} {' '.join(ph)} {_ms(r['step'])} {_spread(r['step']):>15s} {r['gemm_flops'] / 1e9:7.3f} "
            f"{r['gflops_per_s']:8.1f} {g} {fr}",
            file=file,
        )
    if "ratios" in cfg:
        print(
            "ratios: "
            + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg["ratios"].items()),
            file=file,
        )


def print_sweep(name, cfgs, file=sys.stdout):
    if not cfgs:
        return
    rules = list(cfgs[0]["results"])
    print(f"\n== {name} sweep: backward ms (median) per rule; step ms; DFA/BP step ==", file=file)
    print(
        f"{'thr':>3s} {'width':>5s} {'depth':>5s} {'batch':>5s} "
        + " ".join(f"{r:>9s}" for r in rules)
        + f" {'BP step':>9s} {'DFA step':>9s} {'DFA/BP':>6s} {'BP peak':>7s}",
        file=file,
    )
    for c in cfgs:
        r = c["results"]
        row = " ".join(_ms(r[k]["backward"]) for k in rules)
        print(
            f"{c['threads']:3d} {c['width']:5d} {c['depth']:5d} {c['batch']:5d} {row} {_ms(r['bp']['step'])} "
            f"{_ms(r['dfa']['step'])} {r['dfa']['step']['median'] / r['bp']['step']['median']:6.3f} "
            f"{r['bp'].get('gemm_fraction', math.nan):7.2f}",
            file=file,
        )


def print_kernels(res, file=sys.stdout):
    print("\n== kernels vs NumPy twins (float32, 1 thread) -- us, median [q1-q3] ==", file=file)
    print(f"{'kernel':20s} {'shape':28s} {'kernel us':>10s} {'twin us':>10s} {'speedup':>8s}", file=file)
    for nm, r in res.items():
        print(
            f"{nm:20s} {r['shape']:28s} {r['kernel']['median'] * 1e6:10.1f} {r['twin']['median'] * 1e6:10.1f} "
            f"{r['speedup']:8.2f}",
            file=file,
        )


def plot(sweeps, path):
    """``backward_cost.png``: the backward pass per rule against width and depth, 1 and 2 threads; written
    atomically. The x ticks are the measured values (no overlapping log labels), titles on two short lines."""
    from nnlite.figures import drawn

    drawn(_draw)(sweeps, path)


def _draw(sweeps, path):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    from nnlite.figures import new_figure, save_png

    fig, axes = new_figure(2, row_height=3.2)
    for ax, (key, xname) in zip(axes, (("width", "width"), ("depth", "depth"))):
        cfgs = sweeps.get(key, [])
        if not cfgs:
            ax.set_visible(False)
            continue
        rules = list(cfgs[0]["results"])
        for th, style in ((1, "-"), (2, "--")):
            sub = [c for c in cfgs if c["threads"] == th]
            if not sub:
                continue
            for i, r in enumerate(rules):
                xs = [c[xname] for c in sub]
                ys = [c["results"][r]["backward"]["median"] * 1e3 for c in sub]
                ax.plot(xs, ys, style, marker="o", color=f"C{i}", label=f"{r}, {th} thr")
        fixed = f"depth {cfgs[0]['depth']}" if key == "width" else f"width {cfgs[0]['width']}"
        ticks = sorted({c[xname] for c in cfgs})
        ax.set(
            xscale="log" if key == "width" else "linear",
            yscale="log",
            xlabel=xname,
            ylabel="backward pass, ms (median)" if key == "width" else "",
            title=f"vs {xname}\n({fixed}, batch {cfgs[0]['batch']}, float32)",
        )
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 1, 2, 5 per decade, as plain numbers
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:  # below the panels, not over the data
        fig.legend(handles, labels, loc="outside lower center", ncol=3)
    save_png(fig, path)


def gemm_auto(thread_counts, shape) -> dict[str, tuple[str, dict[str, float]]]:
    """What ``--gemm auto`` picks for the main MLP (width, depth, batch ``shape``) at each thread count, and the
    medians it measured (empty when it was cached or nothing but NumPy's BLAS is installed)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    import nnlite
    from nnlite.backend import products

    width, depth, batch = shape
    net = nnlite.mlp([784, *[width] * depth, 10], seed=0)
    out = {}
    for th in thread_counts:
        with threadpool_limits(th):
            out[str(th)] = products.choose(products.step_shapes(net, batch), np.float32, th)
    return out


def main(argv=None):
    """Run the suite; returns 0."""
    args = _parser().parse_args(argv)
    quick = args.quick
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    parts = set(s.strip() for s in args.only.split(","))
    repeats = args.repeats or (3 if quick else 9)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from . import step as S

    t_start = time.perf_counter()
    import numba

    result = {
        "meta": meta(
            quick=quick,
            threads=thread_counts,
            numba=numba.__version__,
            numba_num_threads=os.environ.get("NUMBA_NUM_THREADS"),
            repeats=repeats,
        ),
        "main": [],
        "sweeps": {},
        "kernels": {},
        "first_step": {},
    }
    print(machine_header(result["meta"]["machine"]))
    result["meta"]["gemm_auto"] = gemm_auto(thread_counts, (256, 2, 64) if quick else (800, 3, 128))
    for th, (name, seconds) in result["meta"]["gemm_auto"].items():
        timing = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in seconds.items()) or "nothing else installed"
        print(f"--gemm auto at {th} thread(s) on the MLP's products: {name} ({timing})")
    json_path = out_dir / ("steps_quick.json" if quick else "steps.json")
    rules = S.RULES
    if args.no_torch:
        S.torch_runner = lambda *a, **k: None
        S.torch_available = lambda: False
    main_shape = (256, 2, 64) if quick else (800, 3, 128)
    warm = 0.2 if quick else 0.5

    if "main" in parts:
        for th in thread_counts:
            cfg = S.run_config(
                *main_shape,
                th,
                rules,
                peers=True,
                repeats=repeats,
                warmup=warm,
                budget=None if quick else 60,
                # The block method (harness.blocks): a sample is ~0.25 s of back-to-back steps, each after 0.4 s
                # asleep so that every spinning pool has parked (OpenBLAS's spins ~0.12 s after a threaded GEMM:
                # python -m benchmarks pause), the peer in its own process; disturbed rounds are run again.
                min_sample=0.0 if quick else BLOCK,
                settle=0.0 if quick else PAUSE,
                processes=not quick,  # each candidate in its own process, as harness.blocks runs peers
            )
            cfg["ratios"] = S.main_config_ratios(cfg)
            result["main"].append(cfg)
            keep_partial(json_path, result)
            print_config(cfg)
            sys.stdout.flush()

    if "sweeps" in parts:
        if quick:
            plan = {
                "width": [(w, 2, 64) for w in (128, 256)],
                "depth": [(128, d, 64) for d in (1, 2)],
                "batch": [(128, 2, b) for b in (32, 64)],
            }
        else:
            plan = {
                "width": [(w, 3, 128) for w in (256, 512, 1024, 2048, 4096)],
                "depth": [(1024, d, 128) for d in (1, 2, 4, 8)],
                "batch": [(800, 3, b) for b in (32, 128, 512)],
            }
        # every configuration in blocks after a pause, like the main one (the block method of harness)
        block = {} if quick else {"min_sample": BLOCK, "settle": PAUSE}
        sweep_repeats = args.repeats or (3 if quick else 5)  # 24 configurations of 12 candidates: ~16 min
        for key, shapes in plan.items():
            cfgs = result["sweeps"][key] = []
            for th in thread_counts:
                for w, d, b in shapes:
                    # every configuration gets all its rounds: a 12 s budget left 3 at width 4096, and one
                    # disturbed round moved a median by 1.8x (DFA's 1-thread backward, 256 against 139 ms)
                    cfgs.append(S.run_config(w, d, b, th, rules, repeats=sweep_repeats, warmup=warm, **block))
                    keep_partial(json_path, result)
            print_sweep(key, cfgs)
            sys.stdout.flush()

    if "kernels" in parts:
        from .kernels import run_kernels

        with threads(1):
            result["kernels"] = run_kernels(quick=quick, repeats=5 if quick else 15, warmup=0.05 if quick else 0.2)
        keep_partial(json_path, result)
        print_kernels(result["kernels"])

    if "first-step" in parts:
        from .firststep import run_first_step

        result["first_step"] = run_first_step(str(ROOT))
        fs = result["first_step"]
        print("\n== import + first BP step in a fresh interpreter, s ==")
        for k in ("cold", "warm"):
            v = fs[k]
            print(
                f"{k:5s} import {v['import']:.2f}  first step {v['first_step']:.3f}  second step "
                f"{v['second_step']:.3f}  import+first {v['import_plus_first_step']:.2f}"
            )

    result["meta"]["seconds"] = time.perf_counter() - t_start
    write_json(json_path, result)
    print(f"\nwrote {json_path}")
    if not args.no_plot and result["sweeps"]:
        png = out_dir / ("backward_cost_quick.png" if quick else "backward_cost.png")
        plot(result["sweeps"], png)
        print(f"wrote {png}")
    print(f"total {result['meta']['seconds']:.1f} s")
    return 0

"""Throughput of nnlite.kernels.fwht: n log2(n) rows / second, in Gop/s, 128 rows, float32 and float64.

    python -m benchmarks fwht                               # both dtypes, n = 2^10 ... 2^16
    python -m benchmarks fwht --dtypes float32 --json out.json --repeats 15
    python -m benchmarks fwht --quick                       # float32, n = 2^10, 2^11, 3 repeats: a smoke run

Columns: nnlite's jitted FWHT (``nnlite``); its NumPy twin ``x @ scipy.linalg.hadamard(n)`` (only for
n <= 2^12, where the dense matrix is cheap to hold); the ``fht-cpu`` package (in place) single-threaded when it is
importable (it is only a peer for the measurement, never a dependency of nnlite); with ``--fht-threads`` also
fht-cpu on all threads. That column is opt-in: its OpenMP threads keep spinning after each call, and interleaved
with the others on a 2-core shared machine they slowed every other column (and it measured 0.1-30 Gop/s there,
mostly below its own 1-thread speed). ``v1 (stored)`` is the first version of the kernel, the "before": a
stored baseline (``benchmarks/baselines/fwht_v1.json``, float32, 128 rows, with the machine and date it was
measured on), printed for reference, not measured now. The last columns are ratios of medians: new / v1 (against
that stored figure, so across runs and machines) and new / fht_cpu 1t.

The machine may be shared, so for each n the contenders get a busy warm-up (``--warmup`` seconds each) and then
the timed calls are interleaved round-robin by :func:`benchmarks.harness.interleave` (order rotated every round),
so a burst of foreign load hits all columns alike. Each cell is the median over ``--repeats`` rounds with the
spread min-max. The input is re-filled from a pristine copy outside the timed region (values stay bounded;
for n = 2^16 the 2 x 32 MiB float32 arrays exceed the L3 cache, so those timings include memory traffic).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
from pathlib import Path

import numpy as np

from nnlite.kernels import fwht, reference
from nnlite.runtime.threads import blas_limit

from .harness import Peer, interleave, keep_partial, machine_header, meta, timed, write_json

BASELINE = Path(__file__).resolve().parent / "baselines" / "fwht_v1.json"
V1 = "v1 (stored)"


def load_baseline(path=BASELINE):
    """The stored figures of the first kernel: the JSON document, with ``gops`` keyed by int n."""
    doc = json.loads(Path(path).read_text())
    doc["gops"] = {int(n): float(g) for n, g in doc["gops"].items()}
    return doc


def _check(pristine, fht_cpu):
    """Max relative deviation of the kernel from fht_cpu (float64), or from the twin."""
    x = pristine[:2]
    y = fwht(x.copy())
    ref = x.astype(np.float64)
    ref = fht_cpu.fht(ref.copy(), num_threads=1) if fht_cpu is not None else reference.fwht(ref)
    return {"vs_peer_rel": float(np.abs(y - ref).max() / (np.abs(ref).max() + 1e-300))}


def fht_peer(rows, n, dtype, threads):
    """The child side of the fht-cpu peer at ``threads`` threads (:class:`benchmarks.harness.Peer`): its OpenMP
    threads spin after each call, so at more than one thread it is timed in its own process."""
    import fht_cpu

    pristine = np.random.default_rng(n).standard_normal((rows, n)).astype(dtype)
    x = pristine.copy()
    run = timed(
        functools.partial(fht_cpu.fht, x, num_threads=threads), before=functools.partial(np.copyto, x, pristine)
    )
    for _ in range(5):
        run()
    return run


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks fwht", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="float32, n = 2^10 and 2^11, 3 repeats (a smoke run)")
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--min-log2n", type=int, default=10)
    parser.add_argument("--max-log2n", type=int, default=None, help="default 16 (--quick: 11)")
    parser.add_argument("--repeats", type=int, default=None, help="default 11 (--quick: 3)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of busy warm-up per contender and n")
    parser.add_argument("--twin-max-log2n", type=int, default=12)
    parser.add_argument("--dtypes", default=None, help="default float32,float64 (--quick: float32)")
    parser.add_argument("--fht-threads", action="store_true", help="add fht_cpu with all threads (see above)")
    parser.add_argument(
        "--threads",
        default="1",
        help="comma-separated thread counts (default 1): at T > 1, nnlite's fwht(x, threads=T) against fht_cpu "
        "with num_threads=T in its own process, interleaved",
    )
    parser.add_argument(
        "--min-sample",
        type=float,
        default=None,
        help="seconds of back-to-back calls per sample (default 0.25; --quick 0.02)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds of untimed sleep before each sample when --threads has a count > 1, so that every spinning "
        "pool has parked (default 0.4; --quick 0)",
    )
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    quick = args.quick
    max_log2n = args.max_log2n or (11 if quick else 16)
    repeats = args.repeats or (3 if quick else 11)
    warmup = args.warmup if args.warmup is not None else (0.02 if quick else 0.2)
    min_sample = args.min_sample if args.min_sample is not None else (0.02 if quick else 0.25)
    settle = args.settle if args.settle is not None else (0.0 if quick else 0.4)
    dtypes = args.dtypes or ("float32" if quick else "float32,float64")
    try:
        import fht_cpu
    except ImportError:
        fht_cpu = None

    def twin_1t(a):
        # one BLAS thread: OpenBLAS's worker, spinning for ~0.1 s after a 2-thread product, took a core from the
        # next 2-thread candidate (nnlite 2t and fht_cpu 2t at n <= 2^12 fell to 0.2-3 Gop/s from ~40)
        with blas_limit(1):
            return reference.fwht(a)

    peers = {"nnlite": fwht, "numpy twin": twin_1t}
    if fht_cpu is not None:
        peers["fht_cpu 1t"] = lambda a: fht_cpu.fht(a, num_threads=1)
        if args.fht_threads:
            peers["fht_cpu all"] = lambda a: fht_cpu.fht(a, num_threads=-1)
    multi = [int(t) for t in args.threads.split(",") if int(t) > 1]
    for t in multi:
        peers[f"nnlite {t}t"] = functools.partial(lambda a, t: fwht(a, threads=t), t=t)
        if fht_cpu is not None:
            peers[f"fht_cpu {t}t"] = None  # a Peer per size, built below
    baseline = load_baseline()
    names = [*peers, V1]
    ratio_names = ["new/v1"] + (["new/fht1t"] if fht_cpu is not None else [])
    ratio_names += [f"new/fht{t}t" for t in multi if fht_cpu is not None]

    info = meta(quick=quick, repeats=repeats, rows=args.rows)
    print(machine_header(info["machine"]))
    print(f"FWHT, {args.rows} rows, Gop/s = n log2(n) rows / median time [min-max over {repeats} interleaved rounds]")
    print(
        f"{V1}: the first kernel's figures, stored in {BASELINE.parent.name}/{BASELINE.name} (measured "
        f"{baseline['measured']} on {baseline['machine']}, {baseline['dtype']}, {baseline['rows']} rows): "
        f"a reference, not measured now"
    )
    if fht_cpu is None:
        print("(fht_cpu not importable: `pip install fht-cpu` to add it as a peer)")
    rng = np.random.default_rng(0)
    results = []
    for dtype in map(np.dtype, dtypes.split(",")):
        has_v1 = str(dtype) == baseline["dtype"] and args.rows == baseline["rows"]
        print(f"\n{dtype}")
        print(f"{'n':>7} " + " ".join(f"{nm:>22}" for nm in names) + " " + " ".join(f"{r:>10}" for r in ratio_names))
        for p in range(args.min_log2n, max_log2n + 1):
            n = 2**p
            pristine = rng.standard_normal((args.rows, n)).astype(dtype)
            x = pristine.copy()
            ops = n * p * args.rows
            fns = {k: f for k, f in peers.items() if f is not None and (k != "numpy twin" or p <= args.twin_max_log2n)}
            refill = functools.partial(np.copyto, x, pristine)
            cands = {k: timed(functools.partial(f, x), before=refill) for k, f in fns.items()}
            with contextlib.ExitStack() as stack:
                for t in multi if fht_cpu is not None else ():
                    kw = dict(rows=args.rows, n=n, dtype=str(dtype), threads=t)
                    peer = Peer("benchmarks.bench_fwht:fht_peer", kw, t, settle=settle)
                    cands[f"fht_cpu {t}t"] = stack.enter_context(peer)
                # A sample is the mean of back-to-back calls lasting >= --min-sample, after --settle seconds of
                # sleep (the block method): each side's threads, still spinning after its sample, took the cores
                # from the other's next one (at n = 2^11, 2 threads: 1.4 and 25 Gop/s with no settle, against
                # about 40 for each alone); a short settle lets them sleep, and a core idle that briefly wakes
                # in 0.26 ms (7 ms after 0.1 s), paid once per sample.
                times = interleave(
                    cands,
                    repeats,
                    warmup * len(cands),
                    min_sample=min_sample,
                    settle=settle if multi else 0.0,
                )
            row = {"dtype": str(dtype), "n": n, "rows": args.rows}
            cells = []
            for name in peers:
                if name not in times:
                    cells.append(f"{'-':>22}")
                    continue
                t = times[name]["t"]
                med, lo, hi = ops / t["median"] / 1e9, ops / t["max"] / 1e9, ops / t["min"] / 1e9
                row[name] = {"gops_median": med, "gops_min": lo, "gops_max": hi, "seconds": t}
                cells.append(f"{med:8.2f} [{lo:5.2f}-{hi:5.2f}]".rjust(22))
            v1 = baseline["gops"].get(n) if has_v1 else None
            cells.append(f"{v1:8.2f} (stored)".rjust(22) if v1 is not None else f"{'-':>22}")
            row[V1] = v1
            row["new/v1"] = row["nnlite"]["gops_median"] / v1 if v1 else None
            if fht_cpu is not None:
                row["new/fht1t"] = row["nnlite"]["gops_median"] / row["fht_cpu 1t"]["gops_median"]
                for t in multi:
                    row[f"new/fht{t}t"] = row[f"nnlite {t}t"]["gops_median"] / row[f"fht_cpu {t}t"]["gops_median"]
            row["check"] = _check(pristine, fht_cpu)
            results.append(row)
            keep_partial(args.json, {"meta": info, "baseline_v1": baseline, "results": results})
            ratios = " ".join(f"{row[r]:10.2f}" if row[r] is not None else f"{'-':>10}" for r in ratio_names)
            print(f"{n:>7} " + " ".join(cells) + " " + ratios, flush=True)
        c = results[-1]["check"]
        print(
            f"last size: relative max deviation from {'fht_cpu (float64)' if fht_cpu else 'the twin'}: "
            f"{c['vs_peer_rel']:.1e}"
        )
    if args.json:
        write_json(args.json, {"meta": info, "baseline_v1": baseline, "results": results})
        print(f"wrote {args.json}")
    return 0

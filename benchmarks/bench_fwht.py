"""Throughput of nnlite.kernels.fwht: n log2(n) rows / second, in Gop/s, 128 rows, float32 and float64.

Run from the repository root:

    python -m benchmarks.bench_fwht                       # both dtypes, n = 2^10 ... 2^16
    python benchmarks/bench_fwht.py --dtypes float32 --json out.json --repeats 15

Columns: nnlite's jitted FWHT (``nnlite``); the first version of that kernel, frozen in
``benchmarks/_fwht_v1.py`` (``nnlite v1``, the "before"); its NumPy twin ``x @ scipy.linalg.hadamard(n)``
(only for n <= 2^12, where the dense matrix is cheap to hold); and the ``fht-cpu`` package (in place)
single-threaded when it is importable (it is only a peer for the measurement, never a dependency of
nnlite); with ``--fht-threads`` also fht-cpu on all threads. That column is opt-in: its OpenMP threads
keep spinning after each call, and interleaved with the others on a 2-core shared machine they
slowed every other column (and it measured 0.1-30 Gop/s there, mostly below its own 1-thread speed). The last two columns are ratios of medians: new / v1 and new / fht_cpu 1t.

The machine may be shared, so for each n every contender gets a busy warm-up (``--warmup`` seconds) and
then the timed calls are interleaved round-robin (contender order rotated every round), so a burst of
foreign load hits all columns alike. Each cell is the median over ``--repeats`` rounds with the spread
min-max. The input is re-filled from a pristine copy outside the timed region (values stay bounded;
for n = 2^16 the 2 x 32 MiB float32 arrays exceed the L3 cache, so those timings include memory traffic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._fwht_v1 import fwht_v1
from nnlite.kernels import (
    fwht,
    reference,
)


def _interleaved(fns, x, pristine, repeats, warmup):
    """Median-ready timings {name: array of seconds}, rounds interleaved across ``fns``."""
    for fn in fns.values():
        np.copyto(x, pristine)
        fn(x)  # compile / first touch
        t_end = time.perf_counter() + warmup
        while time.perf_counter() < t_end:
            np.copyto(x, pristine)
            fn(x)
    names = list(fns)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            np.copyto(x, pristine)
            t0 = time.perf_counter()
            fns[name](x)
            times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def _check(pristine, fht_cpu):
    """Max relative deviation of the new kernel from the old one and from fht_cpu (or the twin)."""
    x = pristine[:2]
    y = fwht(x.copy())
    out = {"vs_v1_max_abs": float(np.abs(y - fwht_v1(x.copy())).max())}
    ref = x.astype(np.float64)
    ref = fht_cpu.fht(ref.copy(), num_threads=1) if fht_cpu is not None else reference.fwht(ref)
    out["vs_peer_rel"] = float(np.abs(y - ref).max() / (np.abs(ref).max() + 1e-300))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--min-log2n", type=int, default=10)
    parser.add_argument("--max-log2n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--warmup", type=float, default=0.2, help="seconds of busy warm-up per contender and n")
    parser.add_argument("--twin-max-log2n", type=int, default=12)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--fht-threads", action="store_true", help="add fht_cpu with all threads (see above)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    try:
        import fht_cpu
    except ImportError:
        fht_cpu = None

    peers = {"nnlite": fwht, "nnlite v1": fwht_v1, "numpy twin": reference.fwht}
    if fht_cpu is not None:
        peers["fht_cpu 1t"] = lambda a: fht_cpu.fht(a, num_threads=1)
        if args.fht_threads:
            peers["fht_cpu all"] = lambda a: fht_cpu.fht(a, num_threads=-1)
    names = list(peers)
    ratio_names = ["new/v1"] + (["new/fht1t"] if fht_cpu is not None else [])

    rng = np.random.default_rng(0)
    results = []
    print(
        f"FWHT, {args.rows} rows, Gop/s = n log2(n) rows / median time [min-max over {args.repeats} "
        f"interleaved rounds]; os.cpu_count() = {os.cpu_count()}"
    )
    if fht_cpu is None:
        print("(fht_cpu not importable: `pip install fht-cpu` to add it as a peer)")
    for dtype in args.dtypes.split(","):
        dtype = np.dtype(dtype)
        print(f"\n{dtype}")
        print(
            f"{'n':>7} " + " ".join(f"{name:>22}" for name in names) + " " + " ".join(f"{r:>10}" for r in ratio_names)
        )
        for p in range(args.min_log2n, args.max_log2n + 1):
            n = 2**p
            pristine = rng.standard_normal((args.rows, n)).astype(dtype)
            x = pristine.copy()
            ops = n * p * args.rows
            fns = {k: f for k, f in peers.items() if k != "numpy twin" or p <= args.twin_max_log2n}
            times = _interleaved(fns, x, pristine, args.repeats, args.warmup)
            row = {"dtype": str(dtype), "n": n, "rows": args.rows}
            cells = []
            for name in names:
                if name not in times:
                    cells.append(f"{'-':>22}")
                    continue
                t = times[name]
                med, lo, hi = ops / np.median(t) / 1e9, ops / t.max() / 1e9, ops / t.min() / 1e9
                row[name] = {"gops_median": med, "gops_min": lo, "gops_max": hi, "seconds_median": float(np.median(t))}
                cells.append(f"{med:8.2f} [{lo:5.2f}-{hi:5.2f}]".rjust(22))
            row["new/v1"] = row["nnlite"]["gops_median"] / row["nnlite v1"]["gops_median"]
            if fht_cpu is not None:
                row["new/fht1t"] = row["nnlite"]["gops_median"] / row["fht_cpu 1t"]["gops_median"]
            row["check"] = _check(pristine, fht_cpu)
            results.append(row)
            print(f"{n:>7} " + " ".join(cells) + " " + " ".join(f"{row[r]:10.2f}" for r in ratio_names), flush=True)
        c = results[-1]["check"]
        print(
            f"last size: max |new - v1| = {c['vs_v1_max_abs']:.1e} (same rounding, expected 0); "
            f"relative max deviation from {'fht_cpu (float64)' if fht_cpu else 'the twin'}: "
            f"{c['vs_peer_rel']:.1e}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu_count": os.cpu_count(), "results": results}, fh, indent=2)
    return results


if __name__ == "__main__":
    main()

"""Throughput of nnlite.kernels.fwht: n log2(n) rows / second, in Gop/s, float32, 128 rows.

Run from the repository root:

    python -m benchmarks.bench_fwht            # table on stdout
    python benchmarks/bench_fwht.py --json out.json --repeats 15

Columns: nnlite's jitted FWHT; its NumPy twin ``x @ scipy.linalg.hadamard(n)`` (only for n <= 2^12,
where the dense matrix is cheap to hold); and the ``fht-cpu`` package single-threaded and with all
threads, when it is importable (it is only a peer for the measurement, never a dependency of nnlite).

Each timing is the median of ``--repeats`` calls after a busy warm-up (the kernel runs for ``--warmup``
seconds right before timing, no sleep), with the spread shown as min-max over the repeats. The input is
re-filled from a pristine copy outside the timed region so values stay bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnlite.kernels import fwht  # noqa: E402
from nnlite.kernels import reference  # noqa: E402


def _time(fn, x, pristine, repeats, warmup):
    np.copyto(x, pristine)
    fn(x)  # compile / first touch
    t_end = time.perf_counter() + warmup
    while time.perf_counter() < t_end:
        np.copyto(x, pristine)
        fn(x)
    times = []
    for _ in range(repeats):
        np.copyto(x, pristine)
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--min-log2n", type=int, default=10)
    parser.add_argument("--max-log2n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of busy warm-up per measurement")
    parser.add_argument("--twin-max-log2n", type=int, default=12)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    try:
        import fht_cpu
    except ImportError:
        fht_cpu = None

    peers = {"nnlite": fwht}
    if fht_cpu is not None:
        peers["fht_cpu 1t"] = lambda a: fht_cpu.fht(a, num_threads=1)
        peers["fht_cpu all"] = lambda a: fht_cpu.fht(a, num_threads=-1)

    rng = np.random.default_rng(0)
    results = []
    names = ["nnlite", "numpy twin"] + [k for k in peers if k != "nnlite"]
    header = f"{'n':>7} " + " ".join(f"{name:>22}" for name in names)
    print(f"FWHT float32, {args.rows} rows, Gop/s = n log2(n) rows / median time "
          f"[min-max over {args.repeats} repeats]")
    if fht_cpu is None:
        print("(fht_cpu not importable: `pip install fht-cpu` to add it as a peer)")
    print(header)
    for p in range(args.min_log2n, args.max_log2n + 1):
        n = 2**p
        pristine = rng.standard_normal((args.rows, n)).astype(np.float32)
        x = pristine.copy()
        ops = n * p * args.rows
        row = {"n": n, "rows": args.rows}
        cells = []
        for name in names:
            if name == "numpy twin":
                if p > args.twin_max_log2n:
                    cells.append(f"{'-':>22}")
                    continue
                fn = reference.fwht
            else:
                fn = peers[name]
            t = _time(fn, x, pristine, args.repeats, args.warmup)
            med, lo, hi = ops / np.median(t) / 1e9, ops / t.max() / 1e9, ops / t.min() / 1e9
            row[name] = {"gops_median": med, "gops_min": lo, "gops_max": hi, "seconds_median": float(np.median(t))}
            cells.append(f"{med:8.2f} [{lo:5.2f}-{hi:5.2f}]".rjust(22))
        results.append(row)
        print(f"{n:>7} " + " ".join(cells), flush=True)
    # sanity: the timed kernel still agrees with a peer on the last size
    y = fwht(pristine[:2].copy())
    ref = pristine[:2].astype(np.float64)
    if n <= 2**args.twin_max_log2n:
        ref = reference.fwht(ref)
    elif fht_cpu is not None:
        ref = fht_cpu.fht(ref)
    else:
        ref = fwht(ref)
    err = float(np.abs(y - ref).max() / (np.abs(ref).max() + 1e-30))
    print(f"relative max error vs reference on the last size: {err:.2e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu_count": os.cpu_count(), "results": results}, fh, indent=2)
    return results


if __name__ == "__main__":
    main()

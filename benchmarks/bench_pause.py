"""How long a thread pool keeps spinning after a parallel call: the pause :func:`benchmarks.harness.blocks` needs
before a block, so that no candidate's spinning workers take the next candidate's cores.

For each pool (OpenBLAS through NumPy's matmul; PyTorch's OpenMP pool through ``torch.mm``, when PyTorch is
installed), a fresh process at ``--threads`` threads runs a square product back to back for 0.2 s, then sleeps in
5 ms windows and reads its own CPU time (``time.process_time``: every thread of the process): the pool has parked
when a window's CPU time falls under 5 % of its wall time. The figure is the median over ``--repeats`` trials
of the time to park, with its spread, and the pause ``blocks`` uses should exceed the largest.

``python -m benchmarks pause [--threads 2] [--repeats 7] [--out DIR]``: prints a table, writes ``pause.json``.
"""

from __future__ import annotations

import argparse
import sys

from .harness import fresh, machine_header, meta, result_path, summary, write_json

_CHILD = r"""
import json, sys, time
pool, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if pool == "openblas":
    import numpy as np
    a = np.random.default_rng(0).standard_normal((768, 768)).astype(np.float32)
    work = lambda: a @ a
else:
    import torch
    torch.set_num_threads(threads)
    a = torch.randn(768, 768)
    work = lambda: torch.mm(a, a)
parked = []
for _ in range(repeats):
    t_end = time.perf_counter() + 0.2
    while time.perf_counter() < t_end:
        work()
    t0 = time.perf_counter()
    c_prev, w_prev = time.process_time(), t0
    after = None
    while time.perf_counter() - t0 < 2.0:
        time.sleep(0.005)
        c, w = time.process_time(), time.perf_counter()
        if (c - c_prev) < 0.05 * (w - w_prev):
            after = w_prev - t0
            break
        c_prev, w_prev = c, w
    parked.append(2.0 if after is None else after)
    time.sleep(0.3)
print(json.dumps(parked))
"""


def park_times(pool: str, threads: int, repeats: int) -> list[float]:
    """Seconds after a parallel call until ``pool`` ("openblas" or "torch") stops using CPU, per trial."""
    return [float(v) for v in fresh(_CHILD, pool, threads, repeats, threads=threads)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks pause", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="3 trials")
    p.add_argument("--out", default="bench_results")
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    import importlib.util

    pools = ["openblas"] + ([] if args.no_torch or importlib.util.find_spec("torch") is None else ["torch"])
    print(machine_header())
    result = {"meta": meta(threads=args.threads, repeats=repeats), "pools": {}}
    print(f"{'pool':10s} {'parks after (median, ms)':>26s} {'q1-q3 (ms)':>14s} {'max (ms)':>9s}")
    for pool in pools:
        s = summary(park_times(pool, args.threads, repeats))
        result["pools"][pool] = s
        print(f"{pool:10s} {1e3 * s['median']:26.0f} {1e3 * s['q1']:6.0f}-{1e3 * s['q3']:<7.0f} {1e3 * s['max']:9.0f}")
    write_json(result_path(args.out, "pause", args.quick), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does a 2-thread step use its second core in every process? ``python -m benchmarks processes [--quick]
[--processes 10] [--threads 2] [--out DIR]``.

Starts ``--processes`` fresh interpreters one after another, each timing the BP step of
``nnlite.mlp([784, 800, 800, 800, 10])`` (tanh, SGD momentum, batch 128, float32; BLAS and Numba at ``--threads``)
in 9 blocks of 30 back-to-back steps after a 0.4 s pause, and one more at 1 thread; reports each process's
median step and minor page faults per step, the spread between the slowest and the fastest process, and whether
every 2-thread process beat the 1-thread one. Nothing else should run meanwhile (the load is recorded).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .harness import fresh, keep_partial, machine_header, meta, result_path, write_json

_CHILD = r"""
import json, resource, sys, time
import numpy as np
threads, blocks, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
from threadpoolctl import threadpool_limits
import numba
import nnlite
from nnlite.optim import SGD
sys.path.insert(0, sys.argv[4])
from benchmarks.step import nnlite_runner
nnlite.keep_freed_memory()
limits = threadpool_limits(threads)
numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 784)).astype(np.float32)
y = rng.integers(0, 10, 128)
run = nnlite_runner(nnlite.mlp([784, 800, 800, 800, 10], "tanh", seed=0), nnlite.BP(), SGD(1e-3, momentum=0.9), x, y)
for _ in range(20):
    run()
medians, faults = [], []
for _ in range(blocks):
    time.sleep(0.4)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for _ in range(steps):
        run()
    medians.append((time.perf_counter() - t0) / steps)
    faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / steps)
print(json.dumps({"block_means": medians, "faults_per_step": float(np.median(faults))}))
"""


def one_process(threads: int, blocks: int, steps: int) -> dict:
    """A fresh interpreter's block means (seconds per step) and faults per step."""
    return fresh(_CHILD, threads, blocks, steps, Path(__file__).resolve().parents[1], threads=threads)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks processes", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 processes, 3 blocks of 3 steps (a smoke run)")
    p.add_argument("--processes", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    n, blocks, steps = (2, 3, 3) if args.quick else (args.processes, 9, 30)
    import numpy as np

    print(machine_header())
    result: dict = {"meta": meta(processes=n, blocks=blocks, steps=steps), "processes": []}
    path = result_path(args.out, "processes", args.quick)
    for i in range(n):
        r = one_process(args.threads, blocks, steps)
        r["median"] = float(np.median(r["block_means"]))
        r["load"] = os.getloadavg()[0]
        result["processes"].append(r)
        print(
            f"process {i + 1:2d}, {args.threads} threads: {1e3 * r['median']:.2f} ms/step, "
            f"{r['faults_per_step']:.2f} faults/step, load {r['load']:.2f}"
        )
        keep_partial(path, result)
    one = one_process(1, blocks, steps)
    one["median"] = float(np.median(one["block_means"]))
    result["one_thread"] = one
    meds = [r["median"] for r in result["processes"]]
    result["slowest_over_fastest"] = max(meds) / min(meds)
    result["every_process_beats_one_thread"] = all(m < one["median"] for m in meds)
    print(
        f"1 thread: {1e3 * one['median']:.2f} ms/step; {args.threads} threads: fastest {1e3 * min(meds):.2f}, slowest "
        f"{1e3 * max(meds):.2f} ms (slowest / fastest {result['slowest_over_fastest']:.3f}); every process faster than "
        f"1 thread: {result['every_process_beats_one_thread']}"
    )
    write_json(path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The MLP's BP step when a core is not free: ``python -m benchmarks contention [--quick] [--out DIR]``.

Each case is a fresh interpreter running the step as a user's script does (``nnlite.mlp([784, 800, 800, 800,
10])``, BP, SGD momentum, batch 128, BLAS and Numba at T threads, 9 blocks of 30 steps each after 0.4 s asleep),
and reports per phase the median of the blocks, with the involuntary context switches and minor faults per
step. The cases: 1 and 2 threads on a quiet machine; the same with another process busy on a core; and, where
``taskset`` exists, the process pinned to one CPU. It shows the slow 2-thread state (a step no faster than one
thread's) as what it is: a step whose second core is taken, OpenBLAS's threads then sharing one.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from .harness import fresh, keep_partial, machine_header, meta, result_path, write_json

SCRIPT = """
import json, os, resource, sys, time
import numpy as np, numba
from threadpoolctl import threadpool_limits
import nnlite
from benchmarks.step import nnlite_runner
T, blocks_n, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
threadpool_limits(T)
numba.set_num_threads(min(T, numba.config.NUMBA_NUM_THREADS))
nnlite.keep_freed_memory()
rng = np.random.default_rng(0)
x, y = rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)
net = nnlite.mlp([784, 800, 800, 800, 10], "tanh", seed=0)
run = nnlite_runner(net, nnlite.BP(), nnlite.SGD(1e-3, momentum=0.9), x, y)
for _ in range(10):
    run()
ru0, blocks = resource.getrusage(resource.RUSAGE_SELF), []
for b in range(blocks_n):
    time.sleep(0.4)
    acc = {}
    for _ in range(steps):
        for k, v in run().items():
            acc[k] = acc.get(k, 0.0) + v / steps
    blocks.append(acc)
ru1 = resource.getrusage(resource.RUSAGE_SELF)
n = blocks_n * steps
out = {k: 1e3 * float(np.median([b[k] for b in blocks])) for k in blocks[0]}
out["invol_switches_per_step"] = (ru1.ru_nivcsw - ru0.ru_nivcsw) / n
out["faults_per_step"] = (ru1.ru_minflt - ru0.ru_minflt) / n
print(json.dumps(out))
"""


def run_case(threads: int, *, pinned: bool = False, blocks: int = 9, steps: int = 30) -> dict:
    return fresh(SCRIPT, threads, blocks, steps, prefix=("taskset", "-c", "0") if pinned else ())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks contention", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 blocks of 5 steps, no pinned case")
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    size = dict(blocks=3, steps=5) if args.quick else {}
    print(machine_header())
    path = result_path(args.out, "contention", args.quick)
    result = {"meta": meta(quick=args.quick), "rows": []}
    rows = result["rows"]

    def record(case, threads, **kw):
        r = {"case": case, "threads": threads, **run_case(threads, **kw, **size)}
        rows.append(r)
        print(
            f"{case:28s} {threads} thread(s): step {r['step']:7.2f} ms (forward {r['forward']:.2f}, backward "
            f"{r['backward']:.2f}, update {r['update']:.2f}), {r['invol_switches_per_step']:.2f} involuntary "
            f"switches/step",
            flush=True,
        )
        keep_partial(path, result)

    for th in (2, 1):
        record("quiet", th)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for th in (2, 1):
            record("another process busy", th)
    finally:
        busy.kill()
        busy.wait()
    if shutil.which("taskset") and not args.quick:
        for th in (2, 1):
            record("pinned to one CPU", th, pinned=True)
    write_json(path, result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where ``cnn()``'s training step spends its time, kernel by kernel: ``python -m benchmarks cnn-kernels [--threads
1,2] [--gemm numpy,mkl,openblas] [--steps 20]``.

The step is :func:`nnlite.cnn`'s default network (32-32-64 filters, 3x3, tanh, max pooling, batch 128, float32, BP,
SGD momentum 0.9); each of nnlite's kernels is wrapped by a timer for ``--steps`` steps in one process: im2col,
col2im, the matrix products (through the provider) and pooling (forward and backward). The wrappers add their own
cost, so the step is a little slower than ``python -m benchmarks cnn`` times it; the table says where the time goes,
not how fast the step is.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from typing import Any

import numpy as np


def profile(threads: int, gemm: str, steps: int = 20) -> dict[str, Any]:
    """Seconds per step of the phases and of each kernel family, for one provider and thread count."""
    import numba
    from threadpoolctl import threadpool_limits

    import nnlite as nn
    import nnlite.backend.conv_im2col as ci
    import nnlite.backend.pool as bp
    from nnlite.backend import products

    acc: dict[str, float] = collections.defaultdict(float)
    inner = products.blas.load(gemm)

    def timer(label, f):
        def g(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[label] += time.perf_counter() - t0

        return g

    class Timed:
        name, version, folds = inner.name, inner.version, inner.folds
        matmul = staticmethod(timer("products", inner.matmul))
        gemm = staticmethod(timer("products", inner.gemm))

    saved = {n: getattr(ci, n) for n in ("im2col", "col2im")}
    pools = {n: getattr(bp, n) for n in dir(bp) if n.endswith(("_forward", "_backward")) and callable(getattr(bp, n))}
    try:
        ci.im2col, ci.col2im = timer("im2col", saved["im2col"]), timer("col2im", saved["col2im"])
        for n, f in pools.items():
            setattr(bp, n, timer("pooling", f))
        with threadpool_limits(threads), products.using(Timed()):  # type: ignore[arg-type]
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            net = nn.cnn((1, 28, 28), 10, channels=(32, 32, 64), kernel_size=3, seed=0)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
            y = rng.integers(0, 10, 128)
            opt = nn.SGD(1e-3, momentum=0.9)
            for _ in range(3):
                nn.training.step(net, nn.BP(), nn.softmax_cross_entropy, opt, x, y)
            acc.clear()
            phases: dict[str, float] = collections.defaultdict(float)
            for _ in range(steps):
                tm: dict[str, float] = {}
                nn.training.step(net, nn.BP(), nn.softmax_cross_entropy, opt, x, y, timings=tm)
                for k, v in tm.items():
                    phases[k] += v
    finally:
        ci.im2col, ci.col2im = saved["im2col"], saved["col2im"]
        for n, f in pools.items():
            setattr(bp, n, f)
    return {
        "phases_s": {k: v / steps for k, v in phases.items()},
        "kernels_s": {k: v / steps for k, v in sorted(acc.items())},
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks cnn-kernels", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--gemm", default=None, help="comma-separated providers (default: every installed one)")
    p.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    args = p.parse_args(argv)
    from nnlite.backend import products

    from .harness import machine_header

    print(machine_header())
    for th in [int(t) for t in args.threads.split(",")]:
        for g in (args.gemm or ",".join(products.available())).split(","):
            r = profile(th, g, args.steps)
            print(f"{th} thread(s), {g}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in r["phases_s"].items()))
            print("  kernels: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in r["kernels_s"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

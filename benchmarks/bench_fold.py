"""What folding the update into the product saves: ``python -m benchmarks fold [--quick] [--threads 1,2]
[--gemm numpy,mkl,openblas] [--out DIR]``.

On the four weight-gradient products of the MLP 784-800-800-800-10 at batch 128 (``dW_k = dout_k^T x_k``, float32),
per provider and thread count:

- ``products``: the four products alone (each into a new array, as a gradient is made);
- ``products+sgd``: the products, then one fused SGD pass per weight (``W -= lr dW``: the unfolded plain update);
- ``folded sgd``: one GEMM per weight with ``beta = 1`` writing into ``W`` (nnlite's plain-SGD update);
- ``products+momentum``: the products, then one fused momentum pass (``v = mu v + dW; W -= lr v``);
- ``folded momentum``: one GEMM with ``beta = mu`` into ``v``, then one fused pass ``W -= lr v``.

Each variant runs in its own process (:func:`benchmarks.harness.blocks`: blocks of back-to-back calls after a pause,
medians over rounds), so one library's spinning pool never slows another's timing.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from .harness import blocks, keep_partial, machine_header, meta, write_json

SIZES, BATCH, LR, MU = (784, 800, 800, 800, 10), 128, 1e-3, 0.9
VARIANTS = ("products", "products+sgd", "folded sgd", "products+momentum", "folded momentum")


def child(variant: str, threads: int, gemm: str = "numpy", batch: int = BATCH):
    """One variant's candidate (see the module docstring), its provider loaded before the thread limit is set."""
    from threadpoolctl import threadpool_limits

    from nnlite import backend
    from nnlite.backend import products
    from nnlite.kernels.momentum import momentum_apply

    products.set_current(gemm)
    child.limits = threadpool_limits(threads)
    rng = np.random.default_rng(0)
    layers = []
    for d_in, d_out in itertools.pairwise(SIZES):
        dout = rng.standard_normal((batch, d_out)).astype(np.float32)
        x = rng.standard_normal((batch, d_in)).astype(np.float32)
        W = (rng.standard_normal((d_out, d_in)) * 0.01).astype(np.float32)
        layers.append((dout, x, W, np.zeros_like(W)))

    def run():
        t0 = time.perf_counter()
        for dout, x, W, v in layers:
            if variant == "products":
                products.matmul(dout.T, x)
            elif variant == "products+sgd":
                backend.sgd_update(W, products.matmul(dout.T, x), None, lr=LR)
            elif variant == "folded sgd":
                products.gemm(dout.T, x, W, alpha=-LR, beta=1.0)
            elif variant == "products+momentum":
                backend.sgd_update(W, products.matmul(dout.T, x), v, lr=LR, momentum=MU)
            else:
                products.gemm(dout.T, x, v, alpha=1.0, beta=MU)
                momentum_apply(W, v, lr=LR)
        return {"step": time.perf_counter() - t0}

    for _ in range(5):
        run()
    return run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks fold", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="batch 16, 1 thread, NumPy's BLAS, 2 short rounds")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    p.add_argument("--gemm", default=None, help="comma-separated providers (default: every installed one)")
    p.add_argument("--rounds", type=int, default=None, help="rounds kept (default 9)")
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    from nnlite.backend import products

    quick = args.quick
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    providers = (args.gemm or ("numpy" if quick else ",".join(products.available()))).split(",")
    batch = 16 if quick else BATCH
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("fold_quick.json" if quick else "fold.json")
    print(machine_header())
    result: dict = {"meta": meta(batch=batch, sizes=list(SIZES)), "configs": []}
    for th in thread_counts:
        for g in providers:
            cands = {
                v: ("benchmarks.bench_fold:child", dict(variant=v, threads=th, gemm=g, batch=batch)) for v in VARIANTS
            }
            res = blocks(
                cands,
                th,
                rounds=args.rounds or (2 if quick else 9),
                block=0.02 if quick else 0.25,
                pause=0.0 if quick else 0.4,
                warmup=0.05 if quick else 0.5,
                max_load=1e9 if quick else None,
                max_steal=1.0 if quick else 0.05,
            )
            ms = {v: 1e3 * res["times"][v]["step"]["median"] for v in VARIANTS}
            result["configs"].append({"threads": th, "gemm": g, "median_ms": ms, **res})
            keep_partial(path, result)
            print(f"{th} thread(s), {g}: " + ", ".join(f"{v} {t:.2f} ms" for v, t in ms.items()))
    write_json(path, result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

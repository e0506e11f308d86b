"""Minor page faults per steady-state training step of a plain :func:`nnlite.fit`, with its default
``keep_memory=True`` and with ``keep_memory=False``: ``python -m benchmarks faults [--quick] [--out DIR]``.

Each case runs in a fresh interpreter (glibc's settings are process-wide and cannot be undone): the network
(``mlp`` 784-800-800-800-10 or ``cnn()``), batch 128 on 640 random samples, SGD momentum, BLAS at the given
thread count; ``fit`` calls of two and four steps warm up (the kernels compile, the heap grows to its peak), then
``resource.getrusage`` counts the minor faults of a ``fit`` of four steps. The trained weights' SHA-256 says
whether the two settings gave the same bits.
"""

from __future__ import annotations

import argparse
import sys

from .harness import fresh, keep_partial, machine_header, meta, result_path, write_json

SCRIPT = """
import hashlib, json, resource, sys
import numpy as np
from threadpoolctl import threadpool_limits
import nnlite
model, threads, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "kept"
rng = np.random.default_rng(0)
if model == "cnn":
    x, net = rng.standard_normal((640, 1, 28, 28)).astype(np.float32), nnlite.cnn((1, 28, 28), 10, seed=0)
else:
    x, net = rng.standard_normal((640, 784)).astype(np.float32), nnlite.mlp([784, 800, 800, 800, 10], seed=0)
y = rng.integers(0, 10, 640)
opt = nnlite.SGD(0.01, momentum=0.9)
def run(steps):
    nnlite.fit(net, nnlite.BP(), nnlite.softmax_cross_entropy, opt, (x, y), batch_size=128, seed=0,
               progress=False, max_steps=steps, keep_memory=keep)
with threadpool_limits(threads):
    run(2)
    run(4)  # the heap grows in the first call of four steps too (by up to 800 faults)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    run(4)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4
digest = hashlib.sha256(b"".join(a.tobytes() for p in net.params() for a in p.values())).hexdigest()
print(json.dumps({"faults": faults, "digest": digest}))
"""


def measure(model: str, threads: int, mode: str) -> dict:
    """``{"faults": per step, "digest": of the weights}`` of one case (``mode`` "kept" or "left") in a fresh
    interpreter."""
    return fresh(SCRIPT, model, threads, mode, timeout=600)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks faults", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the MLP at one thread only")
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    cases = [("mlp", 1)] if args.quick else [(m, t) for m in ("mlp", "cnn") for t in (1, 2)]
    print(machine_header())
    path = result_path(args.out, "faults", args.quick)
    result = {"meta": meta(quick=args.quick), "rows": []}
    rows = result["rows"]
    print(f"{'model':5s} {'threads':>7s} {'kept':>10s} {'left':>10s}  kept/left  same bits")
    for model, th in cases:
        kept, left = measure(model, th, "kept"), measure(model, th, "left")
        ratio = kept["faults"] / left["faults"] if left["faults"] else float("nan")
        same = kept["digest"] == left["digest"]
        rows.append({"model": model, "threads": th, "kept": kept, "left": left, "kept_over_left": ratio})
        print(f"{model:5s} {th:7d} {kept['faults']:10.2f} {left['faults']:10.2f}  {ratio:9.4f}  {same}")
        keep_partial(path, result)
    write_json(path, result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

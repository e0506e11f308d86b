"""Import-plus-first-step time in a fresh interpreter: cold (an empty ``NUMBA_CACHE_DIR``: every kernel the step
uses is compiled) and warm (the same cache directory again: kernels load from Numba's on-disk cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import time, json
t0 = time.perf_counter()
import numpy as np
import nnlite
from nnlite import softmax_cross_entropy  # the dispatched loss, as fit() and the CLI use it
t1 = time.perf_counter()
rng = np.random.default_rng(0)
net = nnlite.mlp([784, 800, 800, 800, 10], seed=0)
x = rng.standard_normal((128, 784)).astype(np.float32); y = rng.integers(0, 10, 128)
opt = nnlite.SGD(1e-3, momentum=0.9)
def step(rule):  # the one training step fit() takes
    nnlite.training.step(net, rule, softmax_cross_entropy, opt, x, y)
t2 = time.perf_counter()
step(nnlite.BP())
t3 = time.perf_counter()
step(nnlite.BP())
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_step": t3 - t2, "second_step": t4 - t3,
                  "import_plus_first_step": t1 - t0 + t3 - t2}))
"""


def run_first_step(root):
    """{"cold": {...}, "warm": {...}} in seconds, each from a child interpreter run from ``root`` (the checkout,
    whose ``nnlite`` the child imports: the current folder comes first on ``python -c``'s path)."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="nnlite-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for which in ("cold", "warm"):
            r = subprocess.run(
                [sys.executable, "-c", _CHILD], env=env, cwd=root, capture_output=True, text=True, timeout=600
            )
            if r.returncode != 0:
                raise RuntimeError(f"first-step child failed: {r.stderr.strip()[-2000:]}")
            out[which] = json.loads(r.stdout.strip().splitlines()[-1])
    return out

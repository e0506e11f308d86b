"""``python -m benchmarks [SUBCOMMAND] ...``: every nnlite benchmark, one subcommand each (``nnlite bench ...`` runs
the same from the source checkout).

- ``step`` (the default: ``python -m benchmarks --quick`` is ``python -m benchmarks step --quick``): the training
  step per rule, sweeps, kernels vs twins, first step (:mod:`benchmarks.bench_step`);
- ``conv``: Conv2d forward + backward vs its twin path and PyTorch (:mod:`benchmarks.bench_conv`);
- ``cnn``: the ``cnn()`` training step vs the same network in PyTorch (:mod:`benchmarks.bench_cnn`);
- ``fwht``: the Walsh-Hadamard kernel's throughput (:mod:`benchmarks.bench_fwht`);
- ``projections``: the feedback projection back ends, time and memory (:mod:`benchmarks.bench_projections`);
- ``peers``: nnlite's BP and DFA steps against PyTorch's BP and a hook-based PyTorch DFA, MLP and ``cnn()``,
  each in its own process (:mod:`benchmarks.bench_peers`);
- ``processes``: the MLP's 2-thread step in ten fresh processes against the 1-thread step
  (:mod:`benchmarks.bench_processes`);
- ``pause``: how long OpenBLAS's and PyTorch's pools spin after a call, the pause the timing method needs
  (:mod:`benchmarks.bench_pause`);
- ``contention``: the MLP's step in fresh processes, quiet, with another process busy on a core and pinned to
  one CPU (:mod:`benchmarks.bench_contention`);
- ``faults``: minor page faults per steady-state step of a plain ``fit``, its memory kept or not
  (:mod:`benchmarks.bench_faults`);
- ``roofline``: each rule's step on the MLP and ``cnn()`` against the machine's product rate and memory bandwidth,
  phase by phase, and against its own products run alone (:mod:`benchmarks.bench_roofline`);
- ``fold``: the MLP's weight-gradient products alone, then an update pass, and folded into one GEMM each
  (:mod:`benchmarks.bench_fold`);
- ``cnn-kernels``: where ``cnn()``'s step spends its time, kernel by kernel (:mod:`benchmarks.bench_cnn_kernels`);
- ``bombs``: peak memory of crafted hostile files read by nnlite (:mod:`benchmarks.bench_bombs`).

Every one times through :mod:`benchmarks.harness` and records the machine in its table header and its JSON.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "step": "bench_step",
    "conv": "bench_conv",
    "cnn": "bench_cnn",
    "fwht": "bench_fwht",
    "projections": "bench_projections",
    "bombs": "bench_bombs",
    "pause": "bench_pause",
    "peers": "bench_peers",
    "processes": "bench_processes",
    "faults": "bench_faults",
    "contention": "bench_contention",
    "roofline": "bench_roofline",
    "fold": "bench_fold",
    "cnn-kernels": "bench_cnn_kernels",
}


def main(argv=None):
    """Run the subcommand named first in ``argv`` (default ``step``) with the rest; returns its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = "step"
    if argv and argv[0] in SUBCOMMANDS:
        name, argv = argv[0], argv[1:]
    elif argv and not argv[0].startswith("-"):
        print(
            f"python -m benchmarks: error: unknown benchmark {argv[0]!r} (choose from {', '.join(SUBCOMMANDS)}, "
            f"or options of the default, step: python -m benchmarks --help)",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f".{SUBCOMMANDS[name]}", __package__)
    return module.main(argv)


if __name__ == "__main__":
    sys.exit(main())

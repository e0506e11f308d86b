"""``nnlite bench ARGS...``: the benchmark suite of the source checkout, run as ``python -m benchmarks ARGS...``.

The benchmarks are not part of the installed package: they live in ``benchmarks/`` at the root of the
repository, beside the ``nnlite`` package of an editable install (``pip install -e .``). The suite runs in a child
interpreter with that root as its working folder, so ``-m benchmarks`` finds it without any change to
``sys.path``; its arguments, output and exit code pass through unchanged. Where no ``benchmarks/`` folder stands
beside the package (an installed wheel), the command fails with exit code 2.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nnlite

__all__ = ["checkout_root", "cmd_bench"]


def checkout_root() -> Path:
    """The folder that holds the imported ``nnlite`` package (the repository root of an editable install)."""
    return Path(nnlite.__file__).resolve().parent.parent


def cmd_bench(argv: Sequence[str]) -> int:
    """Run ``python -m benchmarks *argv`` from the checkout root; its exit code, or 2 without a checkout."""
    root = checkout_root()
    if not (root / "benchmarks" / "__main__.py").is_file():
        print(
            f"nnlite: error: the benchmarks are not installed: `nnlite bench` runs `python -m benchmarks` in the "
            f"nnlite repository (an editable install, pip install -e .), and there is no benchmarks/ folder "
            f"beside the nnlite package in {root}",
            file=sys.stderr,
        )
        return 2
    sys.stdout.flush()
    return subprocess.run([sys.executable, "-m", "benchmarks", *argv], cwd=root).returncode

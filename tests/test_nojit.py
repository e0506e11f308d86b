"""The kernel tests once more with Numba's JIT disabled: the jitted bodies must also be correct plain Python."""

import os
import subprocess
import sys
from pathlib import Path


def test_kernel_tests_pass_with_numba_disabled():
    root = Path(__file__).resolve().parent
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    files = sorted(str(p) for p in root.glob("test_kernels*.py")) + sorted(str(p) for p in root.glob("test_fused*.py"))
    assert files, "no kernel test files found"
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout

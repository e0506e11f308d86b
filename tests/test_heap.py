"""nnlite.keep_freed_memory: with it, glibc keeps the blocks a step frees, so the next step takes no page faults
for them; without it, each step re-faults them. Each case runs in a fresh interpreter (the settings are process-wide
and cannot be undone)."""

import json
import platform
import subprocess
import sys

CHURN = """
import json, resource, sys
import numpy as np
import nnlite
applied = nnlite.keep_freed_memory() if sys.argv[1] == "kept" else None
again = nnlite.keep_freed_memory() if sys.argv[1] == "kept" else None
def step():  # a step's arrays: a few MB each, allocated, written and freed
    arrays = [np.empty(3 << 20, np.float32) for _ in range(4)]
    for a in arrays:
        a.fill(1.0)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(json.dumps({"applied": applied, "again": again,
                  "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20}))
"""


def _churn(mode):
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_kept_memory_takes_no_page_faults_the_next_step():
    default, kept = _churn("default"), _churn("kept")
    if platform.libc_ver()[0] != "glibc":  # nothing to set: it says so and changes nothing
        assert kept["applied"] is False and kept["again"] is False
        return
    assert kept["applied"] is True and kept["again"] is True
    # 4 arrays of 12 MB: each step touches 12k pages afresh by default, none once the heap keeps them
    assert default["faults"] > 1000
    assert kept["faults"] < 50


def test_the_command_trains_with_the_memory_kept(monkeypatch, tmp_path):
    from nnlite.cli import main
    from nnlite.runtime import heap

    calls = []
    monkeypatch.setattr(heap, "_applied", None)
    monkeypatch.setattr(heap, "_apply", lambda: calls.append(1) or True)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--epochs", "1", "--train-size", "200", "--hidden", "16", "--no-progress"]) == 0
    assert calls == [1]


def test_fit_keeps_the_memory_a_step_frees_and_changes_no_bit():
    from benchmarks.bench_faults import measure

    kept, left = measure("cnn", 1, "kept"), measure("cnn", 1, "left")
    assert kept["digest"] == left["digest"]  # the same weights, bit for bit, after the same eight steps
    if platform.libc_ver()[0] != "glibc":
        return
    # cnn() at batch 128: a step maps its large arrays anew with malloc's defaults (thousands of faults a step);
    # with fit's default keep_memory=True the steady-state step takes almost none (at most 1 % as many)
    assert left["faults"] > 1000
    assert kept["faults"] <= 0.01 * left["faults"]


def test_fit_refuses_a_keep_memory_that_is_not_a_bool():
    import numpy as np
    import pytest

    import nnlite

    net = nnlite.mlp([4, 3], seed=0)
    data = (np.zeros((2, 4), np.float32), np.array([0, 1]))
    with pytest.raises(TypeError, match="keep_memory must be True or False"):
        nnlite.fit(net, nnlite.BP(), nnlite.softmax_cross_entropy, nnlite.SGD(0.1), data, keep_memory="yes")

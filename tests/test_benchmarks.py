"""Smoke test of the benchmark suite: ``--quick`` into a temporary folder writes JSON of the expected structure with
sane values, and the GEMM FLOP counts equal their closed forms. No assertion ever depends on a timing ratio."""

import json

import pytest

from benchmarks import step as S
from benchmarks.__main__ import main

PHASES = ("forward", "backward", "update", "step")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["--quick", "--out", str(out), "--no-torch"]) == 0
    return json.loads((out / "steps_quick.json").read_text()), out


def _timing_ok(t):
    assert t["n"] >= 3
    assert 0 < t["min"] <= t["q1"] <= t["median"] <= t["q3"]


def test_quick_json_structure_and_values(quick):
    res, out = quick
    assert (out / "backward_cost_quick.png").stat().st_size > 1000
    assert res["meta"]["quick"] is True and res["meta"]["threads"] == [1]
    (cfg,) = res["main"]
    assert cfg["sizes"] == [784, 256, 256, 10] and cfg["batch"] == 64
    assert set(S.RULES) | {"bp:numpy", "dfa:numpy", "bp:fit"} <= set(cfg["results"])
    for name, r in cfg["results"].items():
        _timing_ok(r["step"])
        base = name.split(":")[0]
        assert r["gemm_flops"] == S.step_flops(cfg["sizes"], cfg["batch"], base)
        assert r["gflops_per_s"] > 0 and r["gemm_fraction"] > 0
        _timing_ok(r["gemm"])
        if name != "bp:fit":
            for ph in PHASES:
                _timing_ok(r[ph])
    for k in ("dfa_over_bp", "bp_gemm_fraction", "bp_fused_over_numpy", "fit_over_bare_bp"):
        assert cfg["ratios"][k] > 0
    for key in ("width", "depth", "batch"):
        cfgs = res["sweeps"][key]
        assert len(cfgs) == 2
        for c in cfgs:
            assert set(c["results"]) == set(S.RULES)
            for r in c["results"].values():
                for ph in PHASES:
                    _timing_ok(r[ph])
    assert [c["width"] for c in res["sweeps"]["width"]] == [128, 256]
    assert [c["depth"] for c in res["sweeps"]["depth"]] == [1, 2]
    assert {"tanh_grad", "softmax_xent", "sgd_step", "adam_step", "im2col", "fwht", "ternarize"} <= set(res["kernels"])
    for r in res["kernels"].values():
        _timing_ok(r["kernel"])
        _timing_ok(r["twin"])
        assert r["speedup"] == pytest.approx(r["twin"]["median"] / r["kernel"]["median"])
    for which in ("cold", "warm"):
        fs = res["first_step"][which]
        assert fs["import"] > 0 and fs["first_step"] > 0 and fs["second_step"] > 0
        assert fs["import_plus_first_step"] == pytest.approx(fs["import"] + fs["first_step"])


def test_flops_of_the_issue_mlp_by_hand():
    sizes, n = [784, 800, 800, 800, 10], 128
    S_ = 784 * 800 + 800 * 800 * 2 + 800 * 10  # 1,915,200 weights
    assert S.step_flops(sizes, n, "bp") == 2 * n * (3 * S_ - 784 * 800)
    assert S.step_flops(sizes, n, "dfa") == 2 * n * (2 * S_ + 10 * 800)
    # DFA's GEMM FLOPs are 3/4 of BP's here (the issue quotes 0.753)
    assert S.step_flops(sizes, n, "dfa") / S.step_flops(sizes, n, "bp") == pytest.approx(0.75, abs=5e-3)


@pytest.mark.parametrize("rule", list(S.RULES) + ["torch"])
@pytest.mark.parametrize("sizes", [[784, 800, 800, 800, 10], [20, 7, 10], [5, 9, 3, 11, 4]])
def test_gemm_shapes_add_up_to_the_closed_forms(rule, sizes):
    assert S.gemm_flops(S.gemm_shapes(sizes, 13, rule)) == S.step_flops(sizes, 13, rule)

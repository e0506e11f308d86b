"""Smoke test of the benchmark suite: ``--quick`` into a temporary folder writes JSON of the expected structure with
sane values (and the machine description), for every subcommand of ``python -m benchmarks``; the harness's
statistics on known numbers; the GEMM FLOP counts equal their closed forms. No assertion ever depends on a timing
ratio."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import harness
from benchmarks import step as S
from benchmarks.__main__ import main

REPO = Path(__file__).resolve().parents[1]

PHASES = ("forward", "backward", "update", "step")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["--quick", "--out", str(out), "--no-torch"]) == 0
    return json.loads((out / "steps_quick.json").read_text()), out


def _timing_ok(t):
    assert t["n"] >= 3
    assert 0 < t["min"] <= t["q1"] <= t["median"] <= t["q3"]


def _machine_ok(m):
    """The machine description every benchmark records: CPU, vector extensions, cores, NumPy's BLAS and threads."""
    assert m["cpu"] and m["cores"] == os.cpu_count() and m["numpy"]
    assert isinstance(m["vector_extensions"], list)
    assert set(m["vector_extensions"]) <= set(harness.VECTOR_FLAGS)
    blas = [p for p in m["thread_pools"] if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] >= 1 and p["internal_api"] for p in blas)


def test_quick_json_structure_and_values(quick):
    res, out = quick
    assert (out / "backward_cost_quick.png").stat().st_size > 1000
    _machine_ok(res["meta"]["machine"])
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
    bp, dfa = cfg["results"]["bp"], cfg["results"]["dfa"]
    floors = {k: r["gemm"]["median"] + r["update"]["median"] for k, r in (("bp", bp), ("dfa", dfa))}
    assert cfg["ratios"]["dfa_floor_over_bp_floor"] == pytest.approx(floors["dfa"] / floors["bp"])
    assert cfg["ratios"]["bp_gemm_fraction_at_floor"] == pytest.approx(bp["gemm"]["median"] / floors["bp"])
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


# ---------------------------------------------------------------------------------------------------------------
# The harness


def test_summary_of_known_numbers():
    s = harness.summary([4.0, 1.0, 3.0, 2.0])  # sorted 1 2 3 4: linear-interpolated quartiles
    assert s == {"median": 2.5, "q1": 1.75, "q3": 3.25, "spread": 1.5, "min": 1.0, "max": 4.0, "n": 4}
    s = harness.summary(range(1, 10))
    assert (s["q1"], s["median"], s["q3"], s["spread"], s["n"]) == (3.0, 5.0, 7.0, 4.0, 9)
    with pytest.raises(ValueError):
        harness.summary([])


def test_interleave_rotates_and_summarises_each_phase():
    calls = []

    def cand(name, value):
        def run():
            calls.append(name)
            return {"a": value, "b": 2 * value}

        return run

    res = harness.interleave({"x": cand("x", 1.0), "y": cand("y", 3.0), "z": cand("z", 5.0)}, repeats=4, warmup=0)
    assert calls[:3] == ["x", "y", "z"]  # one warm-up round
    timed = calls[3:]
    assert [timed[3 * r] for r in range(4)] == ["x", "y", "z", "x"]  # the first candidate rotates every round
    assert sorted(timed) == ["x"] * 4 + ["y"] * 4 + ["z"] * 4
    assert res["y"]["a"]["median"] == 3.0 and res["z"]["b"]["median"] == 10.0 and res["x"]["a"]["n"] == 4


def test_blocks_finds_the_ratio_of_two_known_sleeps():
    """Two candidates in their own processes that sleep 20 and 40 ms a call: the per-round ratio is 2 (a sleep
    overshoots by the scheduler's wake-up latency, about the same for both; the bounds allow 5 ms), whatever
    order the rounds ran in."""
    cands = {
        "a": ("benchmarks.harness:sleeper", {"seconds": 0.020}),
        "b": ("benchmarks.harness:sleeper", {"seconds": 0.040}),
    }
    res = harness.blocks(cands, 1, rounds=4, block=0.12, pause=0.02, warmup=0.05, max_load=1e9, max_steal=1.0)
    assert res["reference"] == "a" and set(res["ratios"]) == {"b"}
    assert 1.8 <= res["ratios"]["b"]["t"]["median"] <= 2.1
    assert res["times"]["a"]["t"]["min"] >= 0.020 and res["times"]["b"]["t"]["min"] >= 0.040  # never less than asked
    assert res["loops"]["a"] > res["loops"]["b"] >= 2  # blocks of ~0.12 s each: twice the calls of the faster
    assert len(res["rounds"]) == 4 and res["repeated"] == 0
    assert [r["order"] for r in res["rounds"][:2]] == [["a", "b"], ["b", "a"]]  # the order alternates
    assert all(r["load"] >= 0 and 0 <= r["steal"] <= 1 for r in res["rounds"])


def test_blocks_repeats_a_disturbed_round_and_says_so():
    cands = {
        "a": ("benchmarks.harness:sleeper", {"seconds": 0.001}),
        "b": ("benchmarks.harness:sleeper", {"seconds": 0.001}),
    }
    res = harness.blocks(cands, 1, rounds=2, block=0.005, pause=0.0, warmup=0.01, max_load=-1.0, max_repeats=3)
    assert res["repeated"] == 3 and len(res["rounds"]) == 2  # every round "disturbed": 3 repeats, then kept
    with pytest.raises(ValueError, match="reference 'c'"):
        harness.blocks(cands, 1, reference="c")


def test_steal_fraction_of_known_readings():
    assert harness.steal_fraction((10.0, 1000.0), (20.0, 1100.0)) == pytest.approx(0.1)
    assert harness.steal_fraction((0.0, 0.0), (0.0, 0.0)) == 0.0
    steal, total = harness.cpu_times()
    assert 0 <= steal <= total


def test_pause_quick_times_when_the_blas_pool_parks(tmp_path):
    assert main(["pause", "--quick", "--no-torch", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "pause_quick.json").read_text())
    _machine_ok(doc["meta"]["machine"])
    s = doc["pools"]["openblas"]
    assert s["n"] == 3 and 0 <= s["min"] <= s["median"] <= s["max"] <= 2.0


def test_peers_quick_times_each_candidate_in_its_own_process(tmp_path):
    assert main(["peers", "--quick", "--no-torch", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "peers_quick.json").read_text())
    _machine_ok(doc["meta"]["machine"])
    (cfg,) = doc["configs"]
    steps = {"nnlite:bp", "nnlite:dfa"}
    gemms = {"nnlite:gemm-bp", "nnlite:gemm-dfa"}  # the MLP's products alone, each in its own process too
    assert cfg["model"] == "mlp" and cfg["threads"] == 1 and set(cfg["times"]) == steps | gemms
    for nm in steps:
        for ph in PHASES:
            _timing_ok(cfg["times"][nm][ph])
    for nm in gemms:
        assert set(cfg["times"][nm]) == {"step"}
        _timing_ok(cfg["times"][nm]["step"])
    assert cfg["quoted"]["nnlite DFA GEMMs / nnlite BP GEMMs"]["n"] == 3
    ratio = cfg["quoted"]["nnlite DFA / nnlite BP"]
    assert ratio["n"] == len(cfg["rounds"]) == 3 and ratio["min"] > 0
    assert all("load" in r and "steal" in r for r in cfg["rounds"])


def test_peers_quick_times_each_provider_and_the_plain_sgd_step(tmp_path):
    argv = ["peers", "--quick", "--no-torch", "--no-gemm", "--gemm", "numpy,openblas", "--sgd", "--out", str(tmp_path)]
    assert main(argv) == 0
    (cfg,) = json.loads((tmp_path / "peers_quick.json").read_text())["configs"]
    names = {"nnlite:bp", "nnlite:dfa", "nnlite:bp-sgd"}
    assert set(cfg["times"]) == names | {f"{n}@openblas" for n in names}
    assert {"nnlite DFA / nnlite BP [openblas]", "nnlite BP / numpy's [openblas]"} <= set(cfg["quoted"])


def test_processes_quick_records_each_fresh_process(tmp_path):
    assert main(["processes", "--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "processes_quick.json").read_text())
    _machine_ok(doc["meta"]["machine"])
    assert len(doc["processes"]) == 2 and all(len(p["block_means"]) == 3 for p in doc["processes"])
    meds = [p["median"] for p in doc["processes"]]
    assert doc["slowest_over_fastest"] == pytest.approx(max(meds) / min(meds))
    assert doc["every_process_beats_one_thread"] == all(m < doc["one_thread"]["median"] for m in meds)
    assert all(p["faults_per_step"] >= 0 for p in doc["processes"])


def test_machine_header_names_the_cpu_and_blas():
    info = harness.machine_info()
    _machine_ok(info)
    line = harness.machine_header(info)
    assert info["cpu"] in line and f"{info['cores']} cores" in line and "BLAS" in line


# ---------------------------------------------------------------------------------------------------------------
# Every subcommand: its smallest run writes JSON with the machine description


def test_step_subcommand_is_the_default(tmp_path):
    assert main(["step", "--quick", "--only", "kernels", "--no-torch", "--no-plot", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "steps_quick.json").read_text())
    _machine_ok(res["meta"]["machine"])
    assert {"tanh_grad", "im2col"} <= set(res["kernels"]) and res["main"] == []


def test_unknown_subcommand_exits_2(capsys):
    assert main(["convolution"]) == 2
    assert "conv" in capsys.readouterr().err


def test_conv_quick(tmp_path):
    out = tmp_path / "conv.json"
    assert main(["conv", "--quick", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    _machine_ok(res["meta"]["machine"])
    assert len(res["runs"]) == 2 and "partial" not in res
    for run in res["runs"]:
        assert {"nnlite", "twin"} <= set(run["paths"])
        if res["torch"]:  # the PyTorch peer, in its own child process
            assert "torch" in run["paths"] and run["nnlite_over_torch"] > 0
        for t in [*run["paths"].values(), *run["nnlite_parts"].values()]:
            _timing_ok(t)


def test_conv_sweep_quick_fits_the_cost_model(tmp_path):
    out = tmp_path / "sweep.json"
    assert main(["conv", "--sweep", "--quick", "--repeats", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    _machine_ok(res["meta"]["machine"])
    assert len(res["rows"]) == 4
    for r in res["rows"]:  # the quick shapes: C = 1, 3x3, where auto takes the direct loops, timed too
        assert r["im2col"] > 0 and r["fft"] > 0 and r["direct"] > 0 and r["picked"] == "direct"
    assert len(res["fit"]["im2col"]) == 3 and len(res["fit"]["fft"]) == 2
    assert all(c >= 0 for c in res["fit"]["im2col"] + res["fit"]["fft"])  # non-negative least squares
    assert 0 <= res["mispicked"] <= 4 and res["worst_loss"] >= 1.0


def test_fwht_quick_as_python_m_benchmarks(tmp_path):
    """Through the real entry point, ``python -m benchmarks fwht``, from the checkout."""
    out = tmp_path / "fwht.json"
    p = subprocess.run(
        [sys.executable, "-m", "benchmarks", "fwht", "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert "v1 (stored)" in p.stdout and "not measured now" in p.stdout
    res = json.loads(out.read_text())
    _machine_ok(res["meta"]["machine"])
    assert res["baseline_v1"]["measured"] and res["baseline_v1"]["machine"]
    assert [r["n"] for r in res["results"]] == [1024, 2048]
    for r in res["results"]:
        assert r["nnlite"]["gops_median"] > 0
        _timing_ok(r["nnlite"]["seconds"])
        assert r["v1 (stored)"] == res["baseline_v1"]["gops"][str(r["n"])]  # the stored figure, as stored
        assert r["new/v1"] == pytest.approx(r["nnlite"]["gops_median"] / r["v1 (stored)"])


def test_projections_quick(tmp_path):
    out = tmp_path / "projections.json"
    assert main(["projections", "--quick", "--no-opu", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    _machine_ok(res["meta"]["machine"])
    assert res["n_in"] == [10, 100] and res["n_out"] == [2400]
    assert {r["backend"] for r in res["rows"]} == {"gaussian", "fastfood", "sparse_k1", "sparse_k10"}
    for r in res["rows"]:
        _timing_ok(r["time"])
        assert r["time"]["loops"] >= 1 and r["speedup_vs_gaussian"] > 0 and r["nbytes"] > 0


def test_a_peer_runs_in_its_own_process_at_the_thread_count_asked():
    from benchmarks.harness import Peer

    with Peer("benchmarks.bench_cnn:nnlite_step", {"batch": 2}, 1) as peer:
        blas = [p for p in peer.info["thread_pools"] if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
        a, b = peer(), peer()
        assert set(a) == {"forward", "backward", "update", "step"} and all(v > 0 for v in a.values())
        assert a != b  # two samples, each timed in the child
    assert peer.proc.poll() == 0


def test_cnn_quick(tmp_path):
    out = tmp_path / "cnn.json"
    assert main(["cnn", "--quick", "--no-torch", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    (run,) = res["runs"]
    assert "partial" not in res  # the finished run's last write replaced the partial ones
    assert run["threads"] == 1 and set(run["results"]) == {"nnlite"}
    assert run["results"]["nnlite"]["step"]["n"] == 3


def test_bombs_quick(tmp_path):
    out = tmp_path / "bombs.json"
    assert main(["bombs", "--size-mb", "4", "--out", str(out)]) == 0
    bombs = json.loads(out.read_text())["bombs"]
    assert sorted(bombs) == ["checkpoint", "cifar", "idx"]
    for kind, r in bombs.items():  # each refused, in the fresh interpreter, by the nnlite of this checkout
        assert r["result"].split(":")[0] in ("ValueError", "CheckpointError"), (kind, r["result"])
        assert r["nnlite"].endswith("nnlite/__init__.py")


def test_an_interrupted_conv_sweep_keeps_the_shapes_it_timed(tmp_path, monkeypatch):
    from benchmarks import bench_conv

    real, calls = bench_conv._timings, []

    def timings(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(bench_conv, "_timings", timings)
    out = tmp_path / "sweep.json"
    with pytest.raises(KeyboardInterrupt):
        main(["conv", "--sweep", "--quick", "--repeats", "1", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["partial"] is True and [r["C"] for r in res["rows"]] == [1, 1]
    assert all(r["im2col"] > 0 and r["fft"] > 0 for r in res["rows"])


def _out(tmp_path, flag):
    return [flag, str(tmp_path / "out.json")]


# (argv, module, the function that starts one configuration, the output flag, the JSON key of the finished ones)
INTERRUPTIBLE = {
    "step": (
        ["step", "--quick", "--only", "main", "--threads", "1,1", "--no-torch", "--no-plot"],
        "bench_step",
        None,  # benchmarks.step.run_config, patched below
        None,  # --out is a folder
        "main",
    ),
    "conv": (["conv", "--quick", "--no-torch"], "bench_conv", "make_paths", "--out", "runs"),
    "cnn": (["cnn", "--quick", "--no-torch", "--threads", "1,1"], "bench_cnn", "interleave", "--out", "runs"),
    "fwht": (["fwht", "--quick"], "bench_fwht", "interleave", "--json", "results"),
    "projections": (["projections", "--quick", "--no-opu"], "bench_projections", "time_call", "--out", "rows"),
    "bombs": (["bombs", "--size-mb", "2"], "bench_bombs", "measure", "--out", "bombs"),
}


@pytest.mark.parametrize("suite", sorted(INTERRUPTIBLE))
def test_an_interrupted_suite_keeps_the_configurations_it_finished(suite, tmp_path, monkeypatch):
    """Ctrl-C during the second configuration: the JSON on disk holds the first one, marked partial (the rule of the
    house: an interrupted run keeps what it finished)."""
    import importlib

    argv, module, name, flag, finished = INTERRUPTIBLE[suite]
    target = S if name is None else importlib.import_module(f"benchmarks.{module}")
    name = name or "run_config"
    real, calls = getattr(target, name), []

    def second_call_interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(target, name, second_call_interrupted)
    argv = argv + (_out(tmp_path, flag) if flag else ["--out", str(tmp_path)])
    with pytest.raises(KeyboardInterrupt):
        main(argv)
    path = tmp_path / ("steps_quick.json" if flag is None else "out.json")
    res = json.loads(path.read_text())
    assert res["partial"] is True and len(res[finished]) == 1
    _machine_ok(res["meta"]["machine"])


def test_contention_quick_records_each_case_in_a_fresh_process(tmp_path):
    assert main(["contention", "--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "contention_quick.json").read_text())
    _machine_ok(doc["meta"]["machine"])
    cases = [(r["case"], r["threads"]) for r in doc["rows"]]
    assert cases == [("quiet", 2), ("quiet", 1), ("another process busy", 2), ("another process busy", 1)]
    for r in doc["rows"]:
        assert r["step"] >= max(r["forward"], r["backward"], r["update"]) > 0
        assert r["invol_switches_per_step"] >= 0 and r["faults_per_step"] >= 0


def test_an_interrupted_fresh_process_suite_keeps_the_cases_it_finished(tmp_path, monkeypatch):
    from benchmarks import bench_faults

    calls = []

    def measure(model, threads, mode):
        calls.append((model, threads, mode))
        if len(calls) > 2:  # the second case's first process is interrupted
            raise KeyboardInterrupt
        return {"faults": 1.0 if mode == "kept" else 100.0, "digest": "d"}

    monkeypatch.setattr(bench_faults, "measure", measure)
    with pytest.raises(KeyboardInterrupt):
        bench_faults.main(["--out", str(tmp_path)])
    doc = json.loads((tmp_path / "faults.json").read_text())
    assert doc["partial"] is True
    assert [(r["model"], r["threads"]) for r in doc["rows"]] == [("mlp", 1)]
    assert doc["rows"][0]["kept_over_left"] == pytest.approx(0.01)


def test_roofline_counts_every_product_of_a_step():
    """The MLP 784-800-800-800-10 at batch 128: BP's step is the forward products, the error products of the
    blocks above the first, and the weight-gradient products, which the folded update runs; DFA replaces the
    error products by one projection of the 10-wide error onto the 800-wide unified feedback."""
    from benchmarks.bench_roofline import count

    per_sample = {"forward": 784 * 800 + 2 * 800 * 800 + 800 * 10}
    bp, dfa = count("mlp", "bp"), count("mlp", "dfa")
    flops = {r: {k: v["flops"] / (2 * 128) for k, v in c["phases"].items()} for r, c in (("bp", bp), ("dfa", dfa))}
    assert flops["bp"] == {"forward": per_sample["forward"], "backward": 2 * 800 * 800 + 10 * 800,
                           "update": per_sample["forward"]}  # fmt: skip
    assert flops["dfa"]["backward"] == 10 * 800 and flops["dfa"]["update"] == per_sample["forward"]
    assert bp["folded"] and dfa["folded"]
    # the update's products read their output (beta != 0): W, or the momentum
    assert all(reads for phase, *_, reads, _item in bp["products"] if phase == "update")
    assert not any(reads for phase, *_, reads, _item in bp["products"] if phase != "update")


def test_roofline_and_fold_quick_runs_write_their_results(tmp_path):
    assert main(["roofline", "--quick", "--gemm", "numpy", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "roofline_quick.json").read_text())
    (cfg,) = res["configs"]
    assert cfg["gemm"] == "numpy" and cfg["flop_rate"] > 0 and cfg["bandwidth"] > 0
    assert [(r["model"], r["rule"]) for r in cfg["rows"]] == [("mlp", "bp"), ("mlp", "dfa")]
    for row in cfg["rows"]:
        assert row["step_over_products"] == row["step_s"] / row["products_s"]
        for ph in row["phases"].values():
            assert ph["roofline_s"] >= ph["flops"] / cfg["flop_rate"] and ph["measured_s"] > 0
    assert (tmp_path / "roofline_quick.png").stat().st_size > 1000
    assert main(["fold", "--quick", "--out", str(tmp_path)]) == 0
    fold = json.loads((tmp_path / "fold_quick.json").read_text())
    assert set(fold["configs"][0]["median_ms"]) == {
        "products", "products+sgd", "folded sgd", "products+momentum", "folded momentum"
    }  # fmt: skip


def test_the_cnn_kernel_table_times_each_kernel_family_and_restores_them():
    import nnlite.backend.conv_im2col as ci
    from benchmarks.bench_cnn_kernels import profile

    before = ci.im2col
    r = profile(1, "numpy", steps=1)
    assert set(r["kernels_s"]) == {"im2col", "col2im", "pooling", "products"}
    assert all(v > 0 for v in r["kernels_s"].values())
    assert sum(r["kernels_s"].values()) < r["phases_s"]["step"]  # parts of the step, not more than it
    assert ci.im2col is before  # the timers are gone afterwards

"""The sweep runner (nnlite.experiments.sweep) on a Dask LocalCluster of 2 worker processes: same bits as in
process, resume, a worker killed mid-run, a failing run recorded, an existing cluster left running."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from nnlite.experiments.records import check_runs, execute, run_key  # noqa: E402
from nnlite.experiments.run import run  # noqa: E402
from nnlite.experiments.sweep import BLAS_ENV, dry_run, sweep  # noqa: E402
from nnlite.training.io import json_clean, write_json  # noqa: E402

TINY = {"rule": "dfa", "hidden": [16], "epochs": 1, "train_size": 256, "final_alignment": 32}
#: About a second per run on one core: long enough to kill a worker in the middle of one.
LONG = {"rule": "dfa", "hidden": [64], "epochs": 150, "train_size": 1437, "final_alignment": 32}


def _runs(variations, seeds):
    return [
        {"variation": name, "seed": s, "options": {**options, "seed": s}}
        for name, options in variations.items()
        for s in seeds
    ]


def _comparable(result):
    """A run's result as its JSON file holds it, timings removed."""
    r = json.loads(json.dumps(json_clean(result)))
    r["history"].pop("seconds")
    r.pop("seconds")
    return r


def _records(out, runs):
    return {run_key(r["options"]): json.loads((out / f"{run_key(r['options'])}.json").read_text()) for r in runs}


def _assert_same_as_in_process(out, runs):
    for key, rec in _records(out, runs).items():
        assert rec["status"] == "ok", rec["error"]
        assert rec["key"] == key and rec["worker"].startswith("tcp://")
        assert _comparable(rec["result"]) == _comparable(run(rec["options"]))


@pytest.fixture(scope="module")
def cluster():
    """A cluster the tests start (2 single-threaded worker processes) and a client of their own on it."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, env=BLAS_ENV, dashboard_address=None
        ) as c,
        distributed.Client(c) as client,
    ):
        yield c, client


def test_run_keys_and_run_checks():
    options = {**TINY, "seed": 3}
    text = json.dumps(options, sort_keys=True, separators=(",", ":"))
    assert run_key(options) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert run_key(dict(reversed(options.items()))) == run_key(options)
    assert run_key({**options, "seed": 4}) != run_key(options)
    with pytest.raises(ValueError, match="'seed' is 1"):
        check_runs([{"variation": "a", "seed": 1, "options": {**TINY, "seed": 2}}])
    with pytest.raises(ValueError, match="runs 0 and 1 have the same options"):
        check_runs(_runs({"a": TINY, "b": TINY}, [0]))
    with pytest.raises(ValueError, match="keys 'variation', 'seed' and 'options'"):
        check_runs([{"seed": 0, "options": {"seed": 0}}])


def test_a_sweep_on_its_own_cluster_equals_the_runs_in_process(tmp_path, monkeypatch):
    started = []

    class Recorded(distributed.LocalCluster):
        def __init__(self, **kwargs):
            started.append((self, kwargs))
            super().__init__(**kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    runs = _runs({"dfa": TINY, "bp": {**TINY, "rule": "bp"}}, [0, 1])
    events = []
    summary = sweep(runs, tmp_path, workers=2, on_event=events.append)
    assert (summary.total, summary.skipped, summary.submitted, summary.ok, summary.failed) == (4, 0, 4, 4, 0)
    _assert_same_as_in_process(tmp_path, runs)
    # the cluster it started: 2 one-thread worker processes, BLAS at one thread, shut down at the end
    ((cluster, kwargs),) = started
    assert kwargs["n_workers"] == 2 and kwargs["threads_per_worker"] == 1 and kwargs["processes"] is True
    assert all(kwargs["env"][k] == "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    assert cluster.status.name == "closed"
    # progress: start, one "done" per run with running counts, end
    assert events[0] == {"event": "start", "total": 4, "skipped": 0, "submitted": 4}
    done = [e for e in events if e["event"] == "done"]
    assert [e["done"] for e in done] == [1, 2, 3, 4] and [e["running"] for e in done] == [3, 2, 1, 0]
    assert {(e["variation"], e["seed"]) for e in done} == {(r["variation"], r["seed"]) for r in runs}
    assert all(e["status"] == "ok" and e["seconds"] >= 0 for e in done)
    assert events[-1] == {"event": "end", "summary": summary.to_dict()} and len(events) == 6


def test_an_existing_cluster_runs_the_sweep_and_keeps_running(tmp_path, cluster):
    c, client = cluster
    runs = _runs({"dfa": TINY}, [0, 1])
    summary = sweep(runs, tmp_path, scheduler=c.scheduler_address)
    assert summary.ok == 2
    workers = set(client.scheduler_info()["workers"])
    assert {rec["worker"] for rec in _records(tmp_path, runs).values()} <= workers
    assert c.status.name == "running" and len(workers) == 2
    assert client.submit(sum, [1, 2]).result() == 3
    with pytest.raises(ValueError, match="workers applies to the local cluster"):
        sweep(runs, tmp_path, scheduler=c.scheduler_address, workers=2)


def test_a_second_sweep_resumes(tmp_path, cluster):
    address = cluster[0].scheduler_address
    runs = _runs({"dfa": TINY, "fa": {**TINY, "rule": "fa"}}, [0, 1])
    assert sweep(runs, tmp_path, scheduler=address).submitted == 4
    again = sweep(runs, tmp_path, scheduler=address)
    assert (again.skipped, again.submitted, again.ok) == (4, 0, 0)
    gone = run_key(runs[2]["options"])
    before = {k: rec["finished"] for k, rec in _records(tmp_path, runs).items()}
    (tmp_path / f"{gone}.json").unlink()
    third = sweep(runs, tmp_path, scheduler=address)
    assert (third.skipped, third.submitted, third.ok) == (3, 1, 1)
    after = {k: rec["finished"] for k, rec in _records(tmp_path, runs).items()}
    assert [k for k in before if before[k] != after[k]] == [gone]
    assert sweep(runs, tmp_path, scheduler=address, rerun=True).submitted == 4


def test_a_failing_run_is_recorded_and_the_others_complete(tmp_path, cluster):
    address = cluster[0].scheduler_address
    runs = _runs({"ok": TINY, "zero": {**TINY, "hidden": [0]}, "neck": {**TINY, "bottleneck": [1, 100]}}, [0])
    summary = sweep(runs, tmp_path, scheduler=address)
    bad = {run_key(runs[1]["options"]), run_key(runs[2]["options"])}
    assert (summary.submitted, summary.ok, summary.failed) == (3, 1, 2) and set(summary.failed_keys) == bad
    records = _records(tmp_path, runs)
    zero, neck = records[run_key(runs[1]["options"])], records[run_key(runs[2]["options"])]
    for rec in (zero, neck):
        assert rec["status"] == "failed" and rec["result"] is None
        assert rec["worker"].startswith("tcp://") and rec["started"] <= rec["finished"]  # caught on the worker
        assert rec["traceback"].startswith("Traceback") and "nnlite/experiments/run.py" in rec["traceback"]
    assert zero["error"].startswith("ConfigError") and "'hidden' (--hidden)" in zero["error"]
    assert neck["error"].startswith("ConfigError") and "'bottleneck' (--bottleneck) 1:100" in neck["error"]
    assert records[run_key(runs[0]["options"])]["status"] == "ok"
    # a failed run is tried again by the next sweep; a done one is not
    again = sweep(runs, tmp_path, scheduler=address)
    assert (again.skipped, again.submitted, again.failed) == (1, 2, 2)


def test_a_worker_killed_mid_run_is_replaced_and_the_sweep_completes(tmp_path, cluster):
    c, client = cluster
    client.wait_for_workers(2)
    runs = _runs({"long": LONG}, [0, 1, 2])
    before = set(client.run(os.getpid).values())
    killed = []

    def kill_one_running():
        def probe(dask_worker):
            return os.getpid(), len(dask_worker.state.executing)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            for pid, executing in client.run(probe).values():
                if executing:
                    time.sleep(0.2)  # well inside the run
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_running)
    killer.start()
    events = []
    try:
        summary = sweep(runs, tmp_path, scheduler=c.scheduler_address, on_event=events.append)
    finally:
        killer.join()
    assert len(killed) == 1 and killed[0] in before
    assert (summary.submitted, summary.ok, summary.failed) == (3, 3, 0)
    _assert_same_as_in_process(tmp_path, runs)
    client.wait_for_workers(2, timeout=30)  # the nanny restarted the killed worker
    assert killed[0] not in set(client.run(os.getpid).values())


def test_dry_run_counts_done_runs_and_estimates_cpu_time(tmp_path):
    dfa_options = {**TINY, "batch_size": 64}  # 256 samples: 4 steps per epoch
    runs = _runs({"dfa": dfa_options, "bp": {**dfa_options, "rule": "bp", "epochs": 3}}, [0, 1])
    checked = check_runs(runs)
    write_json(tmp_path / f"{checked[0][0]}.json", execute(*checked[0]))
    plan = dry_run(runs, tmp_path)
    assert (plan["runs"], plan["done"], plan["to_run"]) == (4, 1, 3)
    dfa, bp = plan["variations"]["dfa"], plan["variations"]["bp"]
    assert (dfa["seeds"], dfa["to_run"], dfa["steps_per_run"], bp["steps_per_run"]) == (2, 1, 4, 12)
    assert dfa["step_seconds"] > 0 and bp["cpu_seconds"] == pytest.approx(bp["step_seconds"] * 12 * 2)
    assert plan["cpu_seconds"] == pytest.approx(dfa["step_seconds"] * 4 + bp["cpu_seconds"])
    assert plan["cpu_seconds_all"] == pytest.approx(dfa["cpu_seconds"] + bp["cpu_seconds"])
    broken = dry_run(_runs({"zero": {**TINY, "hidden": [0]}}, [0]), tmp_path)
    assert "--hidden" in broken["variations"]["zero"]["error"] and broken["cpu_seconds"] is None
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())  # only finished files

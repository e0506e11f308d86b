"""Sweep records under faults (nnlite.experiments.lock, records, sweep): one sweep per folder (a held lock refuses
a second, a dead holder's lock is taken over), one spec per folder, damaged records detected and run again, a full
disk mid-sweep, an unreachable scheduler. Tiny runs on the embedded digits data set."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")

from nnlite.experiments import sweep as sweep_module  # noqa: E402
from nnlite.experiments.folder import FolderInUseError, claim_folder  # noqa: E402
from nnlite.experiments.lock import LOCK_NAME, LockError, folder_lock  # noqa: E402
from nnlite.experiments.quality import load_checked  # noqa: E402
from nnlite.experiments.records import check_runs, execute, is_done, read_record, run_key  # noqa: E402
from nnlite.experiments.sweep import BLAS_ENV, SchedulerUnreachable, sweep  # noqa: E402
from nnlite.training.io import write_json  # noqa: E402

TINY = {"rule": "dfa", "hidden": [8], "epochs": 1, "train_size": 64, "final_alignment": 16}


def _runs(seeds, **extra):
    return [{"variation": "tiny", "seed": s, "options": {**TINY, **extra, "seed": s}} for s in seeds]


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, env=BLAS_ENV, dashboard_address=None
    ) as c:
        yield c.scheduler_address


_HOLDER = """
import sys, time
from nnlite.experiments.lock import folder_lock
with folder_lock(sys.argv[1], "the other spec"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_held_lock_refuses_a_second_sweep_and_a_dead_ones_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockError, match=rf"pid {holder.pid} on {socket.gethostname()} .*the other spec"):
            sweep(_runs([0]), tmp_path)
        assert not any(p.name.endswith(".json") for p in tmp_path.iterdir())  # nothing run, nothing written
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (tmp_path / LOCK_NAME).exists()  # released on exit
    # a lock file left by a process that died (killed: no cleanup) is taken over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "then"}))
    with folder_lock(tmp_path, "mine") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        with folder_lock(tmp_path, "mine"):  # re-entrant in one process
            pass
        assert path.exists()
    assert not path.exists()


def _experiment(tmp_path, name="tiny", seeds=(0,), **extra):
    from nnlite.experiments.folder import experiment_of
    from nnlite.experiments.spec import load_spec_text

    text = f'name = "{name}"\ntitle = "t"\n[base]\nhidden = [8]\nepochs = 1\ntrain_size = 64\n'
    spec = load_spec_text(text, str(tmp_path / f"{name}.toml"))
    return experiment_of(spec, _runs(seeds, **extra), quick=False, dataset=None, overrides=extra)


def test_a_folder_of_another_experiment_is_refused(tmp_path):
    meta = _experiment(tmp_path)
    folder = tmp_path / "f"
    claim_folder(folder, meta)
    before = (folder / "spec.json").read_text()
    claim_folder(folder, _experiment(tmp_path, seeds=(0, 1)))  # the same experiment, other seeds: fine
    others = (_experiment(tmp_path, name="other"), _experiment(tmp_path, epochs=2))
    for other, says in zip(others, ("the spec is 'tiny' there, 'other' now", "row 'tiny': epochs = 1 there, 2 now")):
        with pytest.raises(FolderInUseError, match="holds another experiment " + re.escape(f"({says}")):
            claim_folder(folder, other)
    assert json.loads((folder / "spec.json").read_text())["seeds"] == [0, 1] and before
    bare = tmp_path / "bare"
    write_json(bare / "0123456789abcdef.json", {"not": "a spec"})
    with pytest.raises(FolderInUseError, match=r"run records but no experiment record"):
        claim_folder(bare, meta)


def test_a_truncated_or_edited_record_is_detected_rerun_and_never_aggregated(tmp_path, address):
    runs = _runs([0, 1, 2])
    assert sweep(runs, tmp_path, scheduler=address).ok == 3
    keys = [run_key(r["options"]) for r in runs]
    paths = [tmp_path / f"{k}.json" for k in keys]
    assert all(read_record(p)[1] is None and is_done(p) for p in paths)
    edited = json.loads(paths[0].read_text())
    edited["result"]["test_acc"] = 0.99  # a better number, typed in by hand
    paths[0].write_text(json.dumps(edited, indent=1))
    paths[1].write_bytes(paths[1].read_bytes()[:500])  # truncated
    assert read_record(paths[0])[1] == "checksum mismatch: the file was edited or damaged"
    assert read_record(paths[1])[1] == "not valid JSON: truncated or damaged"
    records, skipped = load_checked(tmp_path)
    assert [r["key"] for r in records] == [keys[2]]
    assert sorted((s["file"], s["reason"].split(":")[0]) for s in skipped) == sorted(
        [(paths[0].name, "checksum mismatch"), (paths[1].name, "not valid JSON")]
    )
    events = []
    again = sweep(runs, tmp_path, scheduler=address, on_event=events.append)
    assert (again.skipped, again.submitted, again.ok, again.damaged) == (1, 2, 2, 2)
    assert sorted(e["file"] for e in events if e["event"] == "damaged") == sorted(str(p) for p in paths[:2])
    assert all(read_record(p)[1] is None for p in paths)
    assert json.loads(paths[0].read_text())["result"]["test_acc"] != 0.99


def test_a_full_disk_mid_sweep_keeps_the_finished_runs_and_names_the_file(tmp_path, address, monkeypatch):
    runs = _runs([0, 1, 2])
    written = []
    real = sweep_module.write_json

    def write_until_full(path, obj, **kwargs):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, obj, **kwargs)
        written.append(path)

    monkeypatch.setattr(sweep_module, "write_json", write_until_full)
    with pytest.raises(OSError, match=r"could not write .*[0-9a-f]{16}\.json: No space left on device") as info:
        sweep(runs, tmp_path, scheduler=address)
    assert info.value.errno == errno.ENOSPC
    assert len(written) == 2 and all(read_record(p)[1] is None for p in written)  # kept, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)  # no partial file, no lock
    monkeypatch.setattr(sweep_module, "write_json", real)
    assert sweep(runs, tmp_path, scheduler=address).skipped == 2  # the next sweep resumes


def test_an_unreachable_scheduler_fails_within_seconds(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port on the loopback that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert sweep_module.CONNECT_TIMEOUT <= 10
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", 1.0)
    t = time.monotonic()
    with pytest.raises(SchedulerUnreachable, match=rf"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s"):
        sweep(_runs([0]), tmp_path, scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - t < 8
    with pytest.raises(SchedulerUnreachable):
        sweep_module.scheduler_workers(f"tcp://127.0.0.1:{port}", timeout=1.0)


def test_records_carry_a_checksum_of_options_and_content(tmp_path):
    ((key, r),) = check_runs(_runs([0]))
    record = execute(key, r)
    path = tmp_path / f"{key}.json"
    write_json(path, record)
    assert read_record(path) == (json.loads(path.read_text()), None)
    moved = tmp_path / "0000000000000000.json"
    path.rename(moved)
    assert "its name is not its key's" in read_record(moved)[1]
    doc = json.loads(moved.read_text())
    doc.pop("checksum")
    write_json(path, doc)
    assert read_record(path)[1].startswith("no checksum")

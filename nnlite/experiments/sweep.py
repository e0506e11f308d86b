"""The sweep runner: many runs (:func:`nnlite.experiments.run.run`) on a Dask distributed cluster.

A run to execute is ``{"variation": str, "seed": int, "options": dict}`` (``options`` include ``seed``). Its key is
the first 16 hex digits of the SHA-256 of its options' canonical JSON (:func:`run_key`), and its result is one
JSON file, ``<key>.json`` in the results folder, written atomically by the client as soon as the run finishes
(:func:`nnlite.training.io.write_json`), so an interrupted sweep keeps every finished run and the next one resumes.

Scheduling, retries and lost workers are Dask's: every run is one task (``client.submit(..., pure=False,
retries=...)``); a worker that dies mid-run is restarted by its nanny and the scheduler gives its runs to another
worker (up to ``distributed.scheduler.allowed-failures`` deaths per run, after which the run is recorded as
failed). A run whose options fail is caught on the worker and recorded as failed with its error and traceback;
it never stops the sweep. Data sets are not shipped: each worker process loads its data set once and keeps it.

The folder is held with :func:`~nnlite.experiments.lock.folder_lock` for the length of a sweep (a second sweep into
it is refused, naming the first); a record whose checksum fails (truncated, edited) is run again, never trusted; a
record that cannot be written (a full disk) stops the sweep with the file named, the runs already written kept.

Dask is an optional dependency (the ``sweep`` extra), imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._validation import own_path
from ..config import build
from ..config.builders import blas_threads
from ..training.io import own_file, write_json
from .lock import folder_lock
from .records import check_runs, execute, is_done, make_record, read_record, run_key, run_seconds, seal
from .run import _DATA, _data, config_of  # the per-process data cache run() uses

__all__ = ["BLAS_ENV", "CONNECT_TIMEOUT", "SchedulerUnreachable", "SweepSummary", "dry_run", "run_key"]
__all__ += ["scheduler_workers", "sweep"]  # run_key: from .records

#: The environment of every worker process of the cluster :func:`sweep` starts: one BLAS thread per worker
#: (one worker per core). ``run`` also limits BLAS to one thread while it trains (its ``threads`` default).
BLAS_ENV: dict[str, str] = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

Event = dict[str, Any]

#: Seconds to wait for a ``scheduler=`` address to answer before the sweep gives up with :class:`SchedulerUnreachable`.
CONNECT_TIMEOUT = 5.0


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler at the address given did not answer within :data:`CONNECT_TIMEOUT` seconds."""


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did.

    Attributes
    ----------
    total : int
        Runs asked for.
    skipped : int
        Runs already done (a result with status "ok" in the folder), not run again.
    submitted : int
        Runs given to the cluster.
    ok, failed : int
        Submitted runs that finished with status "ok" / "failed".
    failed_keys : tuple of str
        The keys of the failed runs, in the order they finished.
    seconds : float
        Wall time of the sweep, cluster start and stop included.
    damaged : int
        Result files found damaged (truncated, edited: their checksum fails) and run again.
    """

    total: int
    skipped: int
    submitted: int
    ok: int
    failed: int
    failed_keys: tuple[str, ...]
    seconds: float
    damaged: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict (``failed_keys`` as a list)."""
        d = asdict(self)
        d["failed_keys"] = list(self.failed_keys)
        return d


def _connect(scheduler: str, timeout: float) -> Any:
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {scheduler} within {timeout:g} s ({exc}); start one there "
            f"(dask scheduler) or leave the scheduler out to run on a local cluster"
        ) from None


def scheduler_workers(scheduler: str, timeout: float = CONNECT_TIMEOUT) -> int:
    """The number of worker threads of the cluster at ``scheduler`` (connecting for at most ``timeout`` s).

    Raises
    ------
    SchedulerUnreachable
        Nothing answered in time.
    """
    with _connect(scheduler, timeout) as client:
        info = client.scheduler_info()
    return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Client on ``scheduler``, or on a LocalCluster started here and shut down on leaving (errors too)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with _connect(scheduler, CONNECT_TIMEOUT) as client:  # closes the client only: the cluster is not ours
            yield client
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, env=dict(BLAS_ENV), dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def sweep(
    runs: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    rerun: bool = False,
    retries: int = 2,
    on_event: Callable[[Event], Any] | None = None,
    what: str = "",
    experiment: str | None = None,
) -> SweepSummary:
    """Execute ``runs`` on a Dask cluster and write one result file per run to ``out_dir``.

    Parameters
    ----------
    runs : sequence of dict
        Each ``{"variation": str, "seed": int, "options": dict}``, ``options`` those of
        :func:`~nnlite.experiments.run.run` including ``seed``; no two runs with the same options.
    out_dir : path
        The results folder (created when missing): ``<key>.json`` per run (:func:`run_key`).
    scheduler : str, optional
        The address of a running cluster's scheduler (``"tcp://host:port"``); the sweep connects to it (within
        :data:`CONNECT_TIMEOUT` seconds, else :class:`SchedulerUnreachable`) and leaves it running. Default:
        start a ``distributed.LocalCluster`` of one single-threaded worker process per core (BLAS at one thread,
        :data:`BLAS_ENV`) and shut it down at the end, also on an error or an interrupt.
    workers : int, optional
        The number of worker processes of that local cluster (not with ``scheduler``).
    rerun : bool
        Run everything again. Default: resume, skipping the runs whose result has status "ok" and a valid
        checksum (failed runs and damaged files are run again).
    retries : int
        Dask's retries of a task that raised (a run's own errors are recorded, not raised; a lost worker is the
        scheduler's ``allowed-failures``).
    on_event : callable, optional
        Called in the calling thread with a dict for each event: ``{"event": "damaged", "file", "reason"}`` for
        each result file that fails its check (it is run again); ``{"event": "start", "total", "skipped",
        "submitted"}``; ``{"event": "done", "key", "variation", "seed", "status", "error", "seconds", "done",
        "failed", "running"}`` after each run's file is written (``error`` the first line of a failed run's error,
        else None; ``seconds`` the run's wall time; ``done`` and ``failed`` count this sweep's finished runs,
        ``running`` those submitted and not finished); ``{"event": "end", "summary"}``
        (:meth:`SweepSummary.to_dict`).
    what : str
        What is swept (e.g. the spec's name), written into the folder's lock for a second sweep's message.
    experiment : str, optional
        The key of the experiment the runs belong to (:func:`~nnlite.experiments.folder.experiment_of`): every
        record written carries it, and a record of another experiment is never taken as done.

    Returns
    -------
    SweepSummary

    Raises
    ------
    ValueError, TypeError
        A malformed run, two runs with the same options, or bad ``workers``/``retries``.
    LockError
        Another process is sweeping into ``out_dir``.
    SchedulerUnreachable
        ``scheduler`` did not answer.
    OSError
        A record could not be written ("could not write <path>: ..."); the records already written are kept.
    """
    t0 = time.perf_counter()
    checked = check_runs(runs)
    if workers is not None:
        if scheduler is not None:
            raise ValueError("workers applies to the local cluster: not with scheduler=")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    out = Path(out_dir)
    emit = on_event if on_event is not None else (lambda event: None)
    with folder_lock(out, what):
        todo: list[tuple[str, dict[str, Any]]] = []
        damaged = 0
        for k, r in checked:
            path = Path(own_path(own_file(out, f"{k}.json")))  # a link where a record goes: refused before any run
            record, problem = read_record(path)
            if problem not in (None, "missing"):
                damaged += 1
                emit({"event": "damaged", "file": str(path), "reason": problem})
            foreign = record is not None and experiment is not None and record.get("experiment") != experiment
            if rerun or record is None or record["status"] != "ok" or foreign:
                todo.append((k, r))
        skipped = len(checked) - len(todo)
        emit({"event": "start", "total": len(checked), "skipped": skipped, "submitted": len(todo)})
        ok, failed_keys = 0, list[str]()
        if todo:
            ok, failed_keys = _submit_and_collect(todo, out, scheduler, workers, retries, emit, experiment)
    summary = SweepSummary(
        total=len(checked),
        skipped=skipped,
        submitted=len(todo),
        ok=ok,
        failed=len(failed_keys),
        failed_keys=tuple(failed_keys),
        seconds=time.perf_counter() - t0,
        damaged=damaged,
    )
    emit({"event": "end", "summary": summary.to_dict()})
    return summary


def _submit_and_collect(
    todo: list[tuple[str, dict[str, Any]]],
    out: Path,
    scheduler: str | None,
    workers: int | None,
    retries: int,
    emit: Callable[[Event], Any],
    experiment: str | None,
) -> tuple[int, list[str]]:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]  # task keys unique to this sweep: a shared cluster may hold another's
    ok, failed_keys = 0, list[str]()
    with _client(scheduler, workers) as client:
        by_task: dict[str, tuple[str, dict[str, Any]]] = {}
        pending: dict[str, Any] = {}  # task key -> Future, until its file is written
        for key, r in todo:
            fut = client.submit(execute, key, r, key=f"nnlite-run-{key}-{token}", pure=False, retries=retries)
            by_task[fut.key], pending[fut.key] = (key, r), fut
        try:
            for fut in as_completed(list(pending.values())):
                key, r = by_task[fut.key]
                if fut.status == "finished":
                    record = fut.result()
                elif fut.status == "error":  # the task itself failed: a worker lost too often (KilledWorker)
                    record = make_record(key, r, None, None, exc=fut.exception(), tb=fut.traceback())
                else:  # cancelled or lost by the cluster
                    record = make_record(key, r, None, None, exc=RuntimeError(f"the cluster {fut.status} the task"))
                if experiment is not None:
                    record = seal({**record, "experiment": experiment})
                _write(out, f"{key}.json", record)
                pending.pop(fut.key).release()
                if record["status"] == "ok":
                    ok += 1
                else:
                    failed_keys.append(key)
                done = ok + len(failed_keys)
                emit(
                    {
                        "event": "done",
                        "key": key,
                        "variation": r["variation"],
                        "seed": r["seed"],
                        "status": record["status"],
                        "error": first_line(record.get("error")),
                        "seconds": run_seconds(record),
                        "done": done,
                        "failed": len(failed_keys),
                        "running": len(todo) - done,
                    }
                )
        finally:
            if pending:  # an error or an interrupt: do not leave our runs on a cluster we may not own
                client.cancel(list(pending.values()))
    return ok, failed_keys


def first_line(error: str | None) -> str | None:
    """The first line of a recorded error (None stays None)."""
    return None if error is None else (error.strip().splitlines() or [""])[0]


def _write(out: Path, name: str, record: dict[str, Any]) -> None:
    path = Path(own_file(out, name))
    try:
        write_json(path, record, own=True)
    except OSError as exc:
        why = exc.strerror or os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(exc.errno or errno.EIO, f"could not write {path}: {why}") from exc


# -- dry run --------------------------------------------------------------------------------------------------------
def _step_seconds(options: Mapping[str, Any]) -> tuple[float, int]:
    """(seconds of one training step after a warm-up step, steps of the whole run) for ``options``, in process."""
    config = config_of(options)
    built = build(config, _data(config))
    net, rule, optimizer, loss, train = built.net, built.rule, built.optimizer, built.loss, built.train
    x, y = train[0][: config.batch_size], train[1][: config.batch_size]
    threads = blas_threads(config, net)
    limit: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=threads, user_api="blas")
    from ..runtime.blocks import BlockRunner
    from ..training.step import step as training_step

    seconds, blocks = 0.0, BlockRunner()
    with limit:
        for _ in range(2):  # the first step warms up (kernels compiled, buffers allocated); the second is timed
            t = time.perf_counter()
            training_step(net, rule, loss, optimizer, x, y, blocks=blocks)  # fit's step, through its executor
            seconds = time.perf_counter() - t
    rule.close()
    return seconds, config.epochs * math.ceil(train[0].shape[0] / config.batch_size)


def dry_run(
    runs: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, experiment: str | None = None
) -> dict[str, Any]:
    """What :func:`sweep` would do with ``runs`` and ``out_dir``, and an estimate of its CPU time; runs nothing.

    Returns
    -------
    dict
        ``runs`` (total), ``done`` (already done: a result with status "ok"), ``to_run``, ``cpu_seconds`` (the
        estimate for the runs to do; None when a variation's options fail), ``cpu_seconds_all`` (for every run)
        and ``variations``: per variation, ``seeds`` (its number of runs), ``to_run``, ``step_seconds``,
        ``steps_per_run`` and ``cpu_seconds`` (for all its seeds), or ``error`` when its options fail.

    Notes
    -----
    One training step of each variation (its first run's options) is timed in this process on one batch after a
    warm-up step; a run's CPU time is estimated as ``step_seconds * epochs * ceil(N_train / batch_size)``. It
    leaves out evaluation, alignment and data loading, so it is a lower bound of the sweep's CPU time; divide by
    the number of workers for the wall time.
    """
    checked = check_runs(runs)
    out = Path(out_dir)
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, r in checked:
        groups.setdefault(r["variation"], []).append((key, r))
    variations: dict[str, dict[str, Any]] = {}
    total_all: float | None = 0.0
    total_todo: float | None = 0.0
    n_done = 0
    for name, members in groups.items():
        done = sum(is_done(out / f"{key}.json", experiment) for key, _ in members)
        n_done += done
        entry: dict[str, Any] = {"seeds": len(members), "to_run": len(members) - done}
        try:
            step, steps = _step_seconds(members[0][1]["options"])
        except Exception as exc:  # report every variation's problem at once
            entry["error"] = f"{type(exc).__name__}: {exc}"
            total_all = total_todo = None
        else:
            entry.update(step_seconds=step, steps_per_run=steps, cpu_seconds=step * steps * len(members))
            if total_all is not None and total_todo is not None:
                total_all += step * steps * len(members)
                total_todo += step * steps * entry["to_run"]
        variations[name] = entry
    _DATA.clear()  # the data sets timed here are not kept in this (the client's) process
    return {
        "runs": len(checked),
        "done": n_done,
        "to_run": len(checked) - n_done,
        "cpu_seconds": total_todo,
        "cpu_seconds_all": total_all,
        "variations": variations,
    }

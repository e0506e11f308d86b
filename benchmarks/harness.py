"""The one timing harness of every benchmark: candidates interleaved round-robin after a busy warm-up, the statistics
of their samples, the thread limits, and the description of the machine that goes with every table and JSON file.

- :func:`interleave` runs candidates (name -> callable returning ``{phase: seconds}``) in rounds, the order rotating
  each round, so that the load of a shared machine falls on all of them alike; :func:`timed` makes such a
  callable from a plain function (timed around the call, with optional untimed set-up before it).
- :func:`summary` is the statistics of one list of samples: median, quartiles, spread (interquartile range),
  min, max, n.
- :func:`threads` limits BLAS (threadpoolctl), Numba and PyTorch to n threads.
- :func:`blocks` is the method a figure against a peer is quoted from (``peers``): each candidate in its own
  process at one thread count, rounds alternating them in blocks of back-to-back calls (~0.25 s) after a pause
  that lets every spinning pool park, medians of per-round ratios with their spread, load and steal recorded per
  round, a disturbed round repeated.
- :class:`Peer` is a candidate that runs in its own interpreter (a peer library at its own best: its thread pool
  never competes with OpenBLAS's spinning threads), driven one call at a time so that it interleaves like any
  other candidate; :func:`serve_peer` is its other end.
- :func:`machine_info` / :func:`machine_header`: CPU model, vector extensions, core count, numpy's BLAS build and
  the threading of every loaded thread pool (threadpoolctl); :func:`meta` puts them in a result's ``meta`` block
  and :func:`write_json` writes a result (atomically, NaN as null); :func:`keep_partial` writes what an unfinished
  run has finished so far, after each configuration, so that an interrupted run keeps it.
- :func:`fresh` runs a script in a fresh interpreter and returns the JSON it prints (for what is process-wide:
  thread pools, heap settings, CPU affinity); :func:`result_path` is a suite's JSON file in ``--out``.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Phases = dict[str, float]
Candidate = Callable[[], Phases]
Stats = dict[str, float]

#: The /proc/cpuinfo flags reported as vector extensions (x86 and Arm), when the CPU has them.
VECTOR_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "asimd",
    "sve",
    "sve2",
)


# -- statistics -----------------------------------------------------------------------------------------------------
def summary(samples: Sequence[float]) -> Stats:
    """Median, first and third quartiles (linear interpolation, numpy's default), their spread ``q3 - q1``, min,
    max and the number of samples."""
    v = np.asarray(samples, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no samples")
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {
        "median": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "spread": float(q3 - q1),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


# -- the heap -------------------------------------------------------------------------------------------------------
def keep_heap() -> bool:
    """:func:`nnlite.keep_freed_memory` in this process: every candidate, nnlite's and the peers' (each child calls
    it too), runs with the heap settings that the ``nnlite`` command trains with.

    Without them, glibc hands freed memory back and the next step re-faults every page of its new arrays, on
    both sides (docs/design.md §7 has the counts and times). Returns whether it took effect.
    """
    from nnlite.runtime.heap import keep_freed_memory

    return keep_freed_memory()


# -- interleaving ---------------------------------------------------------------------------------------------------
#: The block method's sample: back-to-back calls lasting at least this long (seconds) ...
BLOCK = 0.25
#: ... each after this long asleep with every process idle, so that every spinning pool has parked (OpenBLAS's
#: workers stop 129 ms after a 2-thread product on the reference machine, PyTorch's pool after 5 ms:
#: ``python -m benchmarks pause``).
PAUSE = 0.4


def timed(fn: Callable[[], Any], before: Callable[[], Any] | None = None) -> Candidate:
    """A candidate timing ``fn()`` (phase ``"t"``); ``before()``, when given, runs first, outside the timing."""

    def run() -> Phases:
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        return {"t": time.perf_counter() - t0}

    return run


def _call(cand: Candidate, loops: int) -> Phases:
    """``cand``'s phases, averaged over ``loops`` calls (a :class:`Peer` makes them back to back in its process)."""
    call_many = getattr(cand, "call_many", None)
    if call_many is not None:
        return call_many(loops)
    total = cand()
    for _ in range(loops - 1):
        for ph, v in cand().items():
            total[ph] += v
    return {ph: v / loops for ph, v in total.items()}


def interleave(
    cands: Mapping[str, Candidate],
    repeats: int,
    warmup: float,
    *,
    budget: float | None = None,
    min_sample: float = 0.0,
    settle: float = 0.0,
    rounds_out: list[dict[str, Any]] | None = None,
    samples_out: dict[str, list[Phases]] | None = None,
    max_steal: float | None = None,
    max_load: float | None = None,
) -> dict[str, dict[str, Stats]]:
    """Run ``cands`` round-robin and return name -> phase -> :func:`summary` (seconds).

    A busy warm-up runs whole rounds for at least ``warmup`` seconds (at least one round; no sleep: an idle CPU and
    idle BLAS threads slow the call that follows). Then ``repeats`` rounds are timed (fewer if ``budget`` seconds
    would be exceeded, but at least 3), the order rotating each round. With ``min_sample``, one sample of a
    candidate is the mean of as many calls as last at least that long (from its fastest warm-up call's own time);
    ``settle`` seconds of untimed sleep come before every timed sample (spinning BLAS and OpenMP pools park
    before the next candidate's block: the block method of :func:`blocks`, in one process). Calls
    :func:`keep_heap` first.

    ``rounds_out``, when given, receives per timed round its load average, the largest CPU-steal fraction of its
    samples and the order; ``samples_out`` receives every candidate's per-round phases (for per-round ratios,
    :func:`round_ratios`). With ``max_steal`` or ``max_load``, a round whose steal or load exceeds them is run
    again (at most ``repeats`` times in all) and counted as ``"repeated"`` in the last round's record.
    """
    keep_heap()
    names = list(cands)
    fastest = dict.fromkeys(names, math.inf)
    t_end = time.perf_counter() + warmup
    rounds = 0
    while rounds < 1 or time.perf_counter() < t_end:
        for nm in names:
            # A call's own time (its largest phase), not the wall time around it, and the fastest of the warm-up:
            # a Peer's wall time includes the pipe and its settle sleeps, and the first call after a pause pays
            # for waking threads; either made min_sample ask for too few calls per sample, each sample then
            # dominated by that first call (fht_cpu at 2 threads and n = 2^11: 2.7 Gop/s instead of 34 alone).
            fastest[nm] = min(fastest[nm], max(cands[nm]().values()))
        rounds += 1
    per_call = fastest
    loops = {nm: max(1, math.ceil(min_sample / max(per_call[nm], 1e-9))) if min_sample else 1 for nm in names}
    if budget is not None:
        per_round = sum(per_call[nm] * loops[nm] for nm in names) + settle * len(names)
        repeats = max(3, min(repeats, int(budget / max(per_round, 1e-9))))
    samples: dict[str, list[Phases]] = {nm: [] for nm in names}
    kept, repeated, r = 0, 0, 0
    while kept < repeats:
        got: dict[str, Phases] = {}
        worst_steal = 0.0
        order = [names[(i + r) % len(names)] for i in range(len(names))]
        r += 1
        for nm in order:
            if settle:
                time.sleep(settle)
            before = cpu_times()
            got[nm] = _call(cands[nm], loops[nm])
            worst_steal = max(worst_steal, steal_fraction(before, cpu_times()))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        disturbed = (max_steal is not None and worst_steal > max_steal) or (max_load is not None and load > max_load)
        if disturbed and repeated < repeats:
            repeated += 1
            continue
        kept += 1
        for nm in names:
            samples[nm].append(got[nm])
        if rounds_out is not None:
            rounds_out.append({"load": load, "steal": worst_steal, "order": order, "repeated": repeated})
    if samples_out is not None:
        samples_out.update(samples)
    out: dict[str, dict[str, Stats]] = {}
    for nm, s in samples.items():
        out[nm] = {ph: summary([d[ph] for d in s]) for ph in s[0]}
        if min_sample:
            for st in out[nm].values():
                st["loops"] = loops[nm]
    return out


class Peer:
    """A candidate built and timed in a child interpreter: ``target`` (``"module:function"``) is called there with
    ``kwargs`` and must return a candidate; each call of the :class:`Peer` asks the child for one sample.

    The child is started with ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` at ``threads``
    (the peer sets its own pool too), in the checkout root. Before and after each sample the parent sleeps
    ``settle`` seconds, untimed: OpenBLAS's idle threads spin for about 0.1 s after a call, and a peer's OpenMP
    threads after theirs, so neither side's spinning falls on the other's timing. The timing itself is taken in
    the child. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, target: str, kwargs: Mapping[str, Any], threads: int, *, settle: float = 0.2) -> None:
        root = Path(__file__).resolve().parents[1]
        env = dict(
            os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        )
        code = f"from benchmarks.harness import serve_peer; serve_peer({target!r}, {json.dumps(dict(kwargs))!r})"
        self.settle = settle
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root, env=env
        )
        ready = self._read()
        self.info = ready.get("info", {})

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process ended (exit code {self.proc.wait()})")
        return json.loads(line)

    def __call__(self) -> Phases:
        return self.call_many(1)

    def call_many(self, loops: int) -> Phases:
        """One sample: the phases averaged over ``loops`` back-to-back calls in the child."""
        assert self.proc.stdin is not None
        time.sleep(self.settle)
        self.proc.stdin.write(f"run {int(loops)}\n")
        self.proc.stdin.flush()
        out = self._read()
        time.sleep(self.settle)
        return {k: float(v) for k, v in out.items()}

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_peer(target: str, kwargs_json: str) -> None:
    """The child side of :class:`Peer`: build the candidate, say ``ready`` (with the peer's thread pools), then
    answer each ``run [N]`` line with one sample's phases (averaged over N calls) as JSON until standard input
    closes."""
    keep_heap()  # the parent's interleave() keeps nnlite's heap: the peer's is kept alike
    mod, fn = target.split(":")
    cand = getattr(importlib.import_module(mod), fn)(**json.loads(kwargs_json))
    from threadpoolctl import threadpool_info

    pools = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads")} for p in threadpool_info()]
    print(json.dumps({"ready": True, "info": {"thread_pools": pools}}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "run":
            break
        loops = int(words[1]) if len(words) > 1 else 1
        print(json.dumps(_call(cand, loops)), flush=True)


# -- blocks in separate processes ---------------------------------------------------------------------------------
#: A round is repeated when a block in it lost more than this fraction of its CPU time to steal (another guest
#: on the host), or when the 1-minute load average exceeds ``LOAD_PER_CORE`` per core (something else ran).
MAX_STEAL = 0.05
LOAD_PER_CORE = 1.5


def cpu_times() -> tuple[float, float]:
    """(steal, total) CPU jiffies of the whole machine from /proc/stat, or (0, 0) where there is none."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0, 0.0
    values = [float(v) for v in fields]
    return (values[7] if len(values) > 7 else 0.0), sum(values[:8])


def steal_fraction(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The fraction of CPU time stolen between two :func:`cpu_times` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def blocks(
    cands: Mapping[str, tuple[str, Mapping[str, Any]]],
    threads: int,
    *,
    rounds: int = 9,
    block: float = 0.25,
    pause: float = 0.4,
    warmup: float = 1.0,
    reference: str | None = None,
    max_steal: float = MAX_STEAL,
    max_load: float | None = None,
    max_repeats: int | None = None,
) -> dict[str, Any]:
    """Time candidates each in its own process, alternating in blocks (figures against a peer are quoted from it).

    Parameters
    ----------
    cands : mapping
        name -> (``"module:function"``, kwargs): the function, called in the candidate's own interpreter, returns
        a candidate (a callable returning ``{phase: seconds}``, e.g. from :func:`timed`).
    threads : int
        The thread count of every candidate (``OMP``/``MKL``/``OPENBLAS_NUM_THREADS`` of its process; the function
        sets its own pools to it too).
    rounds : int
        Rounds kept. Each round runs every candidate once, in an order that rotates from round to round.
    block : float
        Seconds of back-to-back calls per sample, sized from each candidate's fastest warm-up call.
    pause : float
        Seconds slept before every block, while every process is idle: spinning thread pools (OpenBLAS's workers,
        PyTorch's OpenMP threads) park before the next block starts. ``python -m benchmarks pause`` measures it.
    warmup : float
        Seconds of calls per candidate before the rounds (first calls compile, fault pages in, size pools).
    reference : str, optional
        The candidate the ratios are taken against (default the first).
    max_steal, max_load : float
        A round in which a block lost more than ``max_steal`` of the CPU to steal, or after which the 1-minute
        load average exceeds ``max_load`` (default ``LOAD_PER_CORE`` per core), is run again, up to
        ``max_repeats`` times in all (default ``rounds``); the repeated rounds are counted in the result.

    Returns
    -------
    dict
        ``"times"``: name -> phase -> :func:`summary` of the per-block mean call times; ``"ratios"``: name ->
        phase -> :func:`summary` of the per-round ratios ``name / reference`` (the figure to quote: the median and
        its spread); ``"samples"``: name -> the kept rounds' phases, in round order (any other ratio per round);
        ``"rounds"``: per kept round its load average, the largest steal fraction of its blocks and
        the order; ``"repeated"``: rounds run again; ``"loops"``: calls per block; the method's settings.
    """
    names = list(cands)
    if not names:
        raise ValueError("no candidates")
    reference = names[0] if reference is None else reference
    if reference not in cands:
        raise ValueError(f"reference {reference!r} is not a candidate ({', '.join(names)})")
    max_load = LOAD_PER_CORE * (os.cpu_count() or 1) if max_load is None else max_load
    max_repeats = rounds if max_repeats is None else max_repeats
    workers: dict[str, Peer] = {}
    try:
        for nm in names:  # started one at a time: no candidate's set-up overlaps another's timing
            target, kwargs = cands[nm]
            workers[nm] = Peer(target, kwargs, threads, settle=0.0)
        loops = {}
        for nm in names:
            fastest, t_end = math.inf, time.perf_counter() + warmup
            while fastest == math.inf or time.perf_counter() < t_end:
                fastest = min(fastest, max(workers[nm].call_many(1).values()))
            loops[nm] = max(1, math.ceil(block / max(fastest, 1e-9)))
        samples: dict[str, list[Phases]] = {nm: [] for nm in names}
        kept: list[dict[str, Any]] = []
        repeated = 0
        r = 0
        while len(kept) < rounds:
            order = [names[(i + r) % len(names)] for i in range(len(names))]
            r += 1
            got: dict[str, Phases] = {}
            worst_steal = 0.0
            for nm in order:
                time.sleep(pause)
                before = cpu_times()
                got[nm] = workers[nm].call_many(loops[nm])
                worst_steal = max(worst_steal, steal_fraction(before, cpu_times()))
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
            if (worst_steal > max_steal or load > max_load) and repeated < max_repeats:
                repeated += 1
                continue
            for nm in names:
                samples[nm].append(got[nm])
            kept.append({"load": load, "steal": worst_steal, "order": order})
    finally:
        for w in workers.values():
            w.close()
    times = {nm: {ph: summary([d[ph] for d in s]) for ph in s[0]} for nm, s in samples.items()}
    ratios = {
        nm: {
            ph: summary([a[ph] / b[ph] for a, b in zip(samples[nm], samples[reference]) if b.get(ph)])
            for ph in samples[nm][0]
            if ph in samples[reference][0]
        }
        for nm in names
        if nm != reference
    }
    return {
        "times": times,
        "ratios": ratios,
        "samples": samples,
        "reference": reference,
        "rounds": kept,
        "repeated": repeated,
        "loops": loops,
        "method": {
            "threads": threads,
            "block": block,
            "pause": pause,
            "warmup": warmup,
            "max_steal": max_steal,
            "max_load": max_load,
        },
    }


def round_ratios(samples: Mapping[str, Sequence[Phases]], a: str, b: str, phase: str) -> Stats:
    """:func:`summary` of the per-round ratios ``a / b`` of ``phase`` (rounds paired by index): the figure a
    suite quotes, with its spread, rather than the ratio of two medians."""
    return summary([x[phase] / y[phase] for x, y in zip(samples[a], samples[b])])


def sleeper(seconds: float) -> Candidate:
    """A candidate that sleeps ``seconds`` per call (phase ``"t"``): the harness's test subject."""
    return timed(lambda: time.sleep(seconds))


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Limit BLAS (threadpoolctl), Numba and PyTorch (when already imported) to ``n`` threads."""
    import numba
    from threadpoolctl import threadpool_limits

    nb_prev = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch_prev = None
    torch = sys.modules.get("torch")
    try:
        if torch is not None:
            torch_prev = torch.get_num_threads()
            torch.set_num_threads(n)
        with threadpool_limits(n):
            yield
    finally:
        numba.set_num_threads(nb_prev)
        if torch is not None and torch_prev is not None:
            torch.set_num_threads(torch_prev)


# -- the machine ----------------------------------------------------------------------------------------------------
def _cpuinfo() -> tuple[str | None, set[str]]:
    model, flags = None, set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model is None:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def _blas_build() -> dict[str, Any] | None:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # numpy < 1.26, or a build without this section: informational only
        return None
    return {k: blas.get(k) for k in ("name", "version", "openblas configuration")}


def machine_info() -> dict[str, Any]:
    """CPU model, vector extensions, core count, Python and NumPy versions, NumPy's BLAS build and every loaded
    thread pool with its threading layer and thread count (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    model, flags = _cpuinfo()
    pools = [
        {k: p.get(k) for k in ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")}
        for p in threadpool_info()
    ]
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "arch": platform.machine(),
        "vector_extensions": [f for f in VECTOR_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas_build": _blas_build(),
        "gemm_providers": _providers(),
        "thread_pools": pools,
    }


def _providers() -> dict[str, str]:
    """nnlite's matrix-product providers installed here, each with its library's version."""
    from nnlite.backend import products

    return {name: products.blas.load(name).version for name in products.available()}


def machine_header(info: Mapping[str, Any] | None = None) -> str:
    """One line for the top of a table: CPU, cores, vector extensions, NumPy and its BLAS with its threading."""
    info = machine_info() if info is None else info
    blas = ", ".join(
        f"{p['internal_api']} {p['version']} {p.get('architecture') or ''} {p.get('threading_layer') or ''} "
        f"{p['num_threads']} thr".replace("  ", " ")
        for p in info["thread_pools"]
        if p["user_api"] == "blas"
    )
    vec = " ".join(info["vector_extensions"]) or "none reported"
    gemm = "; ".join(f"{k}: {v}" for k, v in (info.get("gemm_providers") or {}).items())
    return (
        f"machine: {info['cpu']}, {info['cores']} cores, {vec}; numpy {info['numpy']}, BLAS {blas or 'not loaded'}"
        + (f"\nmatrix-product providers: {gemm}" if gemm else "")
    )


def meta(**extra: Any) -> dict[str, Any]:
    """The ``meta`` block of a result: date, machine, load average, and ``extra``."""
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        **extra,
    }


def write_json(path: str | os.PathLike, result: Any) -> None:
    """Write ``result`` as JSON (atomically; NaN/inf as null; NumPy scalars as numbers)."""
    from nnlite.training.io import write_json as _write

    _write(path, result)


def result_path(out_dir: str | os.PathLike, name: str, quick: bool = False) -> Path:
    """``<out_dir>/<name>.json`` (``<name>_quick.json`` for a ``--quick`` run), the folder made if missing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out / (f"{name}_quick.json" if quick else f"{name}.json")


def fresh(
    script: str,
    *args: object,
    threads: int | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 900,
) -> Any:
    """Run ``script`` (``python -c``) in a fresh interpreter from the checkout root with ``args``, and return the
    JSON value on the last line of its standard output. With ``threads``, ``OMP``/``MKL``/``OPENBLAS_NUM_THREADS``
    are set to it; ``prefix`` goes before the interpreter (``taskset -c 0``). For what is process-wide: thread
    pools at start, glibc's heap settings, the CPU affinity."""
    env = dict(os.environ)
    if threads is not None:
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    root = Path(__file__).resolve().parents[1]
    cmd = [*prefix, sys.executable, "-c", script, *(str(a) for a in args)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, cwd=root, timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def keep_partial(path: str | os.PathLike | None, result: dict) -> None:
    """Write what a suite has finished so far, marked ``"partial": true`` (atomically, :func:`write_json`), so that
    an interrupted run keeps every configuration it finished; the suite's last write replaces it with the whole
    result (no ``partial`` key). Nothing is written when ``path`` is None."""
    if path:
        write_json(path, {**result, "partial": True})

"""Benchmark of the random projections: time per projection and memory held.

Gaussian (dense BLAS) vs Fastfood vs Sparse (k nonzeros per row), and the lightonml OPU *simulator*
(a CPU emulation: its time says nothing about the optical device), over n_in in {10, 100, 1000} and
n_out in {2400, 65536}, batch 128, float32, all in one run (``--quick``: n_in 10 and 100, n_out 2400, 3 repeats).

    python -m benchmarks projections [--quick] [--out benchmarks/results/projections.json] [--repeats 7]

Prints the machine, a table (median time per call, spread = interquartile range over the repeats, speed ratio
t_Gaussian / t_backend, nbytes), the crossover (smallest n_in at which each back end beats dense), and the
feedback memory each back end needs for a 1000-class network with 65536 feedback units. Writes the JSON. Each
back end is timed by :func:`benchmarks.harness.interleave` after a busy warm-up, one sample being the mean of as
many calls as last 20 ms.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
from pathlib import Path

import numpy as np

from nnlite.projections import OPU, Fastfood, Gaussian, Sparse
from nnlite.projections import fastfood as _ff_module

from .harness import BLOCK, PAUSE, interleave, keep_partial, machine_header, meta, timed, write_json

N_IN = (10, 100, 1000)
N_OUT = (2400, 65536)
QUICK_N_IN, QUICK_N_OUT = (10, 100), (2400,)
BATCH = 128
SPARSE_K = (1, 10)


def fwht_source():
    f = _ff_module.fwht
    return f"{f.__module__}.{getattr(f, '__qualname__', f.__name__)}"


def time_call(fn, repeats, quick=False, warmup_s=0.2):
    """The harness's statistics (seconds per call) of ``repeats`` samples, after a busy warm-up. A sample is a
    block: ``fn`` called back to back for at least :data:`~benchmarks.harness.BLOCK` seconds (the count is
    ``loops``), after :data:`~benchmarks.harness.PAUSE` seconds asleep; ``quick`` takes 0.02 s blocks without
    the pause."""
    block = {"min_sample": 0.02} if quick else {"min_sample": BLOCK, "settle": PAUSE}
    return interleave({"p": timed(fn)}, repeats, warmup_s, **block)["p"]["t"] | {"repeats": repeats}


def build(name, n_in, n_out, seed=0):
    if name == "gaussian":
        return Gaussian(n_in, n_out, seed=seed)
    if name == "fastfood":
        return Fastfood(n_in, n_out, seed=seed)
    if name.startswith("sparse_k"):
        k = int(name[len("sparse_k") :])
        return Sparse(n_in, n_out, min(k, n_in), seed=seed)
    if name == "opu_simulator":
        return OPU(n_in, n_out, simulated=True, seed=seed)
    raise ValueError(name)


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:8.1f} us"
    if s < 1:
        return f"{s * 1e3:8.2f} ms"
    return f"{s:8.3f} s "


def fmt_bytes(b):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{b} B"
        b /= 1024


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks projections", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n_in 10 and 100, n_out 2400, 3 repeats (a smoke run)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "projections.json"))
    ap.add_argument("--repeats", type=int, default=None, help="default 7 (--quick: 3)")
    ap.add_argument("--no-opu", action="store_true", help="skip the OPU simulator")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads (default 1: Fastfood and Sparse are single-threaded, so the ratio "
        "compares like with like; 0 leaves BLAS as it is)",
    )
    args = ap.parse_args(argv)
    from contextlib import nullcontext

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if args.blas_threads > 0 and threadpool_limits is None:
        raise SystemExit("--blas-threads needs threadpoolctl (pip install threadpoolctl), or pass 0")
    limit = threadpool_limits(limits=args.blas_threads, user_api="blas") if args.blas_threads > 0 else nullcontext()
    with limit:
        run(args)
    return 0


def run(args):
    n_ins, n_outs = (QUICK_N_IN, QUICK_N_OUT) if args.quick else (N_IN, N_OUT)
    repeats = args.repeats or (3 if args.quick else 7)
    info = meta(quick=args.quick, repeats=repeats, blas_threads=args.blas_threads)
    backends = ["gaussian", "fastfood"] + [f"sparse_k{k}" for k in SPARSE_K]
    if not args.no_opu:
        backends.append("opu_simulator")
    rng = np.random.default_rng(0)
    rows = []
    for n_out in n_outs:
        for n_in in n_ins:
            e = rng.standard_normal((BATCH, n_in)).astype(np.float32) / BATCH
            for name in backends:
                p = build(name, n_in, n_out)
                out = p(e)
                assert out.dtype == np.float32 and out.shape == (BATCH, n_out)
                if name == "opu_simulator":
                    p.open()
                t = time_call(functools.partial(p, e), repeats, quick=args.quick)
                if name == "opu_simulator":
                    p.close()
                rows.append(
                    {
                        "backend": name,
                        "n_in": n_in,
                        "n_out": n_out,
                        "batch": BATCH,
                        "dtype": "float32",
                        "nbytes": p.nbytes,
                        "time": t,
                    }
                )
                keep_partial(args.out, {"meta": info, "batch": BATCH, "dtype": "float32", "rows": rows})
                del p

    def get(name, n_in, n_out):
        return next(r for r in rows if (r["backend"], r["n_in"], r["n_out"]) == (name, n_in, n_out))

    for r in rows:
        r["speedup_vs_gaussian"] = get("gaussian", r["n_in"], r["n_out"])["time"]["median"] / r["time"]["median"]

    print(machine_header(info["machine"]))
    print(
        f"Projection time, batch {BATCH}, float32; median of {repeats} repeats (IQR); "
        f"speed = t_Gaussian / t_backend (>1: faster than dense)"
    )
    print(
        f"fwht: {fwht_source()}   BLAS threads: {args.blas_threads or 'default'}, "
        f"1-min load average after the run {os.getloadavg()[0]:.1f}"
    )
    print("OPU: lightonml's CPU *simulator* (complex64 matrix product), not the optical device\n")
    head = f"{'n_out':>6} {'n_in':>5} {'backend':>14} {'median':>11} {'IQR':>11} {'speed':>7} {'nbytes':>11}"
    print(head)
    print("-" * len(head))
    for n_out in n_outs:
        for n_in in n_ins:
            for name in backends:
                r = get(name, n_in, n_out)
                t = r["time"]
                print(
                    f"{n_out:>6} {n_in:>5} {name:>14} {fmt_time(t['median']):>11} {fmt_time(t['spread']):>11} "
                    f"{r['speedup_vs_gaussian']:>6.2f}x {fmt_bytes(r['nbytes']):>11}"
                )
        print()

    crossover = {}
    print("Crossover (dense stops winning): smallest measured n_in at which the back end is faster than dense")
    for name in backends[1:]:
        for n_out in n_outs:
            r = [get(name, n_in, n_out)["speedup_vs_gaussian"] for n_in in n_ins]
            wins = [n_in for n_in, ri in zip(n_ins, r) if ri > 1.0]
            c = min(wins) if wins else None
            # where log(speed) crosses 0, linear in log(n_in) between the two measured points that bracket it
            est = None
            for (a, ra), (b, rb) in zip(zip(n_ins, r), zip(n_ins[1:], r[1:])):
                if ra <= 1.0 < rb:
                    f = -math.log(ra) / (math.log(rb) - math.log(ra))
                    est = math.exp(math.log(a) + f * (math.log(b) - math.log(a)))
                    break
            crossover[f"{name}@{n_out}"] = {"min_measured_n_in_faster": c, "interpolated_n_in": est}
            print(
                f"  {name:>14}, n_out={n_out:>6}: "
                + (f"n_in >= {c}" if c is not None else f"dense wins at every n_in <= {n_ins[-1]}")
                + (f"  (interpolated crossover n_in ~ {est:.0f})" if est is not None else "")
            )

    C, L = 1000, 65536
    mem = {}
    if C in n_ins and L in n_outs:
        mem = {name: get(name, C, L)["nbytes"] for name in backends}
        mem["gaussian (check: 65536 x 1000 x 4)"] = L * C * 4
        if "opu_simulator" in mem:
            mem["opu_simulator (host, its complex64 matrix)"] = mem.pop("opu_simulator")
        mem["opu_hardware (host; matrix is physical)"] = 0
        print(f"\nFeedback memory for a {C}-class network with {L} feedback units (float32):")
        for k, v in mem.items():
            print(f"  {k:>38}: {fmt_bytes(v):>11}  ({v} B)")

    result = {
        "meta": info,
        "batch": BATCH,
        "dtype": "float32",
        "n_in": list(n_ins),
        "n_out": list(n_outs),
        "sparse_k": list(SPARSE_K),
        "fwht": fwht_source(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "opu_note": "lightonml simulator on CPU, not the optical device",
        "rows": rows,
        "crossover_min_n_in": crossover,
        "memory_1000_classes_65536_units": mem,
    }
    write_json(args.out, result)
    print(f"\nwrote {args.out}")

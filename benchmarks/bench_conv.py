"""Conv2d forward + backward (dW, db, dx): nnlite vs its NumPy twin path vs PyTorch's CPU conv2d.

    python -m benchmarks conv [--quick] [--repeats 9] [--threads 1,2] [--chunks 1,2,full] [--out results/conv.json]
    python -m benchmarks conv --sweep [--out results/conv_sweep.json]

``--sweep`` times im2col and the FFT on 88 shapes at one thread (batch 64; C 1-128, F 32-64, 3x3 and 5x5
kernels, 7-32 pixels wide, "same" padding) and fits the cost model of
:func:`nnlite.backend.conv.conv2d_algorithm` to them (non-negative least squares on relative error),
printing the coefficients next to the ones nnlite ships and the shapes on which the shipped rule picks the
slower algorithm.

Shapes (float32, 5x5 kernels, padding 2, stride 1): 128x3x32x32 -> 64 filters and 128x64x16x16 -> 64 filters
(``--quick``: 8x3x16x16 -> 8 and 8x8x8x8 -> 8, one thread, 3 repeats: a smoke run).

- ``nnlite``: :func:`nnlite.backend.conv.conv2d_forward` + :func:`~nnlite.backend.conv.conv2d_backward`
  with ``algorithm="auto"``, what :class:`nnlite.Conv2d` runs: the FFT convolution of
  :mod:`nnlite.backend.conv_fft` where :func:`~nnlite.backend.conv.conv2d_algorithm` picks it (64 -> 64),
  else im2col (3 -> 64): Numba im2col/col2im of :mod:`nnlite.kernels` + three OpenBLAS GEMMs per chunk of
  samples, chunks sized by :func:`~nnlite.backend.conv.conv2d_chunk_size`. At T threads both cut the batch
  over T threads of one-thread BLAS;
- ``im2col`` (where ``nnlite`` is the FFT): the im2col path on the same shape;
- ``chunk=k`` / ``chunk=full`` (``--chunks``): im2col with k samples per chunk / the whole batch as one chunk;
- ``twin``: im2col with the NumPy twins of im2col/col2im (:mod:`nnlite.kernels.reference`) swapped in, so the
  GEMMs are identical and only the unfolding differs;
- ``torch`` (when importable, an optional peer, never a dependency): ``F.conv2d`` + autograd ``backward``.

Each path runs at 1 and 2 threads (:func:`benchmarks.harness.threads`). nnlite and the twin are interleaved by
:func:`benchmarks.harness.interleave` after a busy warm-up, so that the load of a shared machine falls on both
alike. PyTorch runs in its own process (:class:`benchmarks.harness.Peer`), interleaved with them sample by sample,
on the same data (seeded, its result checked against nnlite's): in the same process its OpenMP threads, still
spinning after each call, starved OpenBLAS's 2 threads (nnlite 2.5 s instead of 0.2 s per call here, even with
OMP_WAIT_POLICY=PASSIVE). Medians and interquartile spreads are reported, and the ratios
nnlite/torch, nnlite/im2col and twin/nnlite. A breakdown of the im2col path (im2col, each GEMM, transposes,
col2im; per chunk, one BLAS thread, summed over the batch's chunks) says where its time goes, and the bytes the
forward pass caches for the backward one are printed: im2col's (``x``) next to those of the full-batch columns
the unchunked path used to keep, and the FFT's (the input's spectra).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
from pathlib import Path

import numpy as np

from nnlite.backend import conv as conv_ops
from nnlite.backend import conv_im2col
from nnlite.kernels import col2im, im2col
from nnlite.kernels import reference as twin

from .harness import BLOCK, PAUSE, Peer, interleave, keep_partial, machine_header, meta, threads, timed, write_json

SHAPES = [(128, 3, 32, 32, 64), (128, 64, 16, 16, 64)]
QUICK_SHAPES = [(8, 3, 16, 16, 8), (8, 8, 8, 8, 8)]
K, PAD = 5, 2
ROOT = Path(__file__).resolve().parents[1]


def _twin_im2col(x, kh, kw, stride=1, padding=0, out=None):
    cols = twin.im2col(x, kh, kw, stride, padding)
    if out is None:
        return cols
    out[...] = cols
    return out


def _twin_col2im(cols, x_shape, kh, kw, stride=1, padding=0, out=None):
    dx = twin.col2im(cols, x_shape, kh, kw, stride, padding)
    if out is None:
        return dx
    out[...] = dx
    return out


def make_paths(N, C, H, W, F, chunks=()):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    Wt = (rng.standard_normal((F, C, K, K)) * np.sqrt(2.0 / (C * K * K))).astype(np.float32)
    b = np.zeros(F, np.float32)
    out, cache = conv_ops.conv2d_forward(x, Wt, b, 1, PAD)
    dout = rng.standard_normal(out.shape).astype(np.float32)

    def nnlite_path(chunk=None, algorithm="auto"):
        _, cache = conv_ops.conv2d_forward(x, Wt, b, 1, PAD, chunk=chunk, algorithm=algorithm)
        return conv_ops.conv2d_backward(dout, cache, Wt)

    def twin_path():
        saved = conv_im2col.im2col, conv_im2col.col2im
        conv_im2col.im2col, conv_im2col.col2im = _twin_im2col, _twin_col2im
        try:
            return nnlite_path(algorithm="im2col")
        finally:
            conv_im2col.im2col, conv_im2col.col2im = saved

    algorithm = conv_ops.conv2d_algorithm(C, H, W, F, K, K, 1, PAD)
    paths = {"nnlite": nnlite_path, "twin": twin_path}
    if algorithm == "fft":  # what auto runs is the FFT: time im2col beside it
        paths["im2col"] = lambda: nnlite_path(algorithm="im2col")
    for c in chunks:
        paths[f"chunk={c}"] = lambda c=c: nnlite_path(N if c == "full" else int(c), algorithm="im2col")

    # the parts of the default path, chunk by chunk as one thread runs them (buffers reused, like the op)
    P, CK = H * W, C * K * K
    nc = cache[-1]
    starts = range(0, N, nc)
    cbuf = np.zeros((CK, nc * P), np.float32)
    W2 = Wt.reshape(F, -1)
    a = W2 @ cbuf
    D2 = np.empty((F, nc * P), np.float32)
    outb = np.empty((nc, F, P), np.float32)
    dx = np.empty_like(x)

    def each(f):
        return lambda: [f(n0) for n0 in starts if n0 + nc <= N]

    def unfold(n0):
        return im2col(x[n0 : n0 + nc], K, K, 1, PAD, out=cbuf)

    parts = {"im2col (x2)": each(lambda n0: (unfold(n0), unfold(n0)))}  # forward, and again in the backward pass
    if F * P >= conv_ops.PER_SAMPLE_OUTPUTS:  # the forward as the op runs it: per sample, the bias a tap
        ones = np.ones((CK + 1, nc * P), np.float32)
        Wa = np.concatenate([W2, b.reshape(F, 1)], axis=1)
        parts["gemm forward (per sample)"] = each(
            lambda n0: [np.matmul(Wa, ones[:, i * P : (i + 1) * P], out=outb[i]) for i in range(nc)]
        )
    else:
        parts["gemm forward"] = each(lambda n0: np.matmul(W2, cbuf, out=a))
        parts["to NCHW + bias"] = each(
            lambda n0: np.add(a.reshape(F, nc, P).transpose(1, 0, 2), b.reshape(1, F, 1), out=outb)
        )
    parts |= {
        "dout to (F, n_c*P)": each(
            lambda n0: D2.reshape(F, nc, P).__setitem__(
                Ellipsis, dout[n0 : n0 + nc].reshape(nc, F, P).transpose(1, 0, 2)
            )
        ),
        "gemm dW": each(lambda n0: cbuf @ D2.T),
        "db": each(lambda n0: D2.sum(axis=1)),
        "gemm dcols": each(lambda n0: np.matmul(W2.T, D2, out=cbuf)),
        "col2im": each(lambda n0: col2im(cbuf, (nc, C, H, W), K, K, 1, PAD, out=dx[n0 : n0 + nc])),
    }
    fft_cache = conv_ops.conv2d_forward(x, Wt, b, 1, PAD, algorithm="fft")[1]
    memory = {
        "algorithm": algorithm,
        "chunk": nc,
        "cache_bytes": int(sum(v.nbytes for v in cache if isinstance(v, np.ndarray))),
        "fft_cache_bytes": int(sum(X.nbytes for _, _, X in fft_cache.parts)),
        "full_cols_bytes": CK * N * P * 4,
    }
    return paths, parts, memory


def _timings(fns, repeats, warmup, quick=False):
    """name -> :func:`benchmarks.harness.summary` of ``fns`` (plain functions) interleaved in blocks
    (:data:`~benchmarks.harness.BLOCK` seconds of back-to-back calls after :data:`~benchmarks.harness.PAUSE`
    asleep); ``quick`` times single calls without pauses."""
    block = {} if quick else {"min_sample": BLOCK, "settle": PAUSE}
    res = interleave({k: timed(f) for k, f in fns.items()}, repeats, warmup, **block)
    return {k: v["t"] for k, v in res.items()}


def torch_conv(N, C, H, W, F, threads):
    """The child side of the PyTorch peer (:class:`benchmarks.harness.Peer`): torch's conv2d forward + autograd
    backward on the same seeded data as :func:`make_paths`, checked against nnlite's result first."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    Wt = (rng.standard_normal((F, C, K, K)) * np.sqrt(2.0 / (C * K * K))).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(Wt).requires_grad_(True)
    bt = torch.zeros(F, requires_grad=True)
    dt = torch.from_numpy(rng.standard_normal((N, F, H, W)).astype(np.float32))

    def path():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, stride=1, padding=PAD).backward(dt)
        return xt.grad, wt.grad, bt.grad

    # the peer computes the same thing as nnlite (same seeded data as make_paths)
    mine = make_paths(N, C, H, W, F)[0]["nnlite"]()
    for a, t in zip(mine, path()):
        t = t.numpy()
        assert np.abs(a - t).max() <= 1e-3 * max(1.0, np.abs(t).max()), "nnlite and torch disagree"
    for _ in range(3):
        path()
    return timed(path)


#: The sweep also times the direct loops on shapes with this many input channels or fewer (they are slow beyond:
#: :data:`nnlite.kernels.conv_direct.DIRECT_CHANNELS` is where "auto" stops taking them).
DIRECT_SWEEP_CHANNELS = 8


def sweep_shapes():
    """(C, F, K, H) of the cost-model sweep: every combination whose C*F*H*H is at most the issue's shape's."""
    import itertools

    return [
        (C, F, K, H)
        for C, F, K, H in itertools.product([1, 8, 32, 64, 128], [32, 64], [3, 5], [7, 14, 16, 28, 32])
        if C * F * H * H <= 128 * 64 * 16 * 16 * 1.1
    ]


def _features(C, F, K, H):
    from nnlite.backend.conv_fft import fft_grid

    L1, L2 = fft_grid(H, H, K // 2, K // 2)
    P, KK, Q = H * H, K * K, L1 * (L2 // 2 + 1)
    im2col = np.array([P * KK * C * F, P * KK * C, P * F], dtype=np.float64) / 1e9
    fft = np.array([Q * C * F, (C + F) * L1 * L2 * np.log2(L1 * L2)], dtype=np.float64) / 1e9
    return im2col, fft


def run_sweep(repeats=5, N=64, shapes=None, on_row=None, quick=False):
    """Time the algorithms per shape (interleaved, one thread; the direct loops on few channels only) and fit the
    im2col/FFT model; returns the JSON record (``mispicked``: shapes where a timed algorithm beat auto's pick).
    ``on_row(rows)``, when given, is called with the rows so far after each shape (to keep them if interrupted)."""
    from scipy.optimize import nnls

    rows = []
    with threads(1):
        for C, F, K, H in shapes or sweep_shapes():
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N, C, H, H)).astype(np.float32)
            Wt = (rng.standard_normal((F, C, K, K)) * 0.05).astype(np.float32)
            d = rng.standard_normal((N, F, H, H)).astype(np.float32)

            def path(alg, x=x, Wt=Wt, d=d, K=K):
                cache = conv_ops.conv2d_forward(x, Wt, None, 1, K // 2, algorithm=alg)[1]
                return conv_ops.conv2d_backward(d, cache, Wt)

            algs = ("im2col", "fft", "direct") if C <= DIRECT_SWEEP_CHANNELS else ("im2col", "fft")
            t = _timings({a: (lambda a=a: path(a)) for a in algs}, repeats, 0.0, quick=quick)
            row = {"C": C, "F": F, "K": K, "H": H, **{a: t[a]["median"] for a in algs}}
            row["picked"] = conv_ops.conv2d_algorithm(C, H, H, F, K, K, 1, K // 2)
            rows.append(row)
            if on_row is not None:
                on_row(rows)
            direct = f", direct {row['direct'] * 1e3:6.1f} ms" if "direct" in row else ""
            print(
                f"  C {C:3d} F {F:3d} {K}x{K} {H:2d}x{H:<2d}: im2col {row['im2col'] * 1e3:6.1f} ms, fft "
                f"{row['fft'] * 1e3:6.1f} ms{direct}, fft/im2col {row['fft'] / row['im2col']:.2f}, "
                f"auto picks {row['picked']}"
            )
    fit = {}
    for alg in ("im2col", "fft"):
        A = np.array([_features(r["C"], r["F"], r["K"], r["H"])[alg == "fft"] * N / r[alg] for r in rows])
        fit[alg] = [float(c) for c in nnls(A, np.ones(len(rows)))[0]]

    def best(r):
        return min(r[a] for a in ("im2col", "fft", "direct") if a in r)

    slower = [r for r in rows if r[r["picked"]] > 1.05 * best(r)]
    return {
        "rows": rows,
        "fit": fit,
        "shipped": {"im2col": list(conv_ops.IM2COL_COST), "fft": list(conv_ops.FFT_COST)},
        "mispicked": len(slower),
        "worst_loss": max((r[r["picked"]] / best(r) for r in rows), default=1.0),
    }


def _parser():
    ap = argparse.ArgumentParser(prog="python -m benchmarks conv", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small shapes, 1 thread, 3 repeats (a smoke run)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (default 9; --quick 3)")
    ap.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2; --quick 1)")
    ap.add_argument(
        "--warmup", type=float, default=None, help="seconds of busy warm-up per shape and thread count (default 1)"
    )
    ap.add_argument("--chunks", default="", help="extra nnlite paths: samples per chunk, e.g. 1,2,full")
    ap.add_argument(
        "--settle",
        type=float,
        default=None,
        help="untimed sleep (s) before each block, so that every spinning pool has parked (default 0.4; --quick 0): "
        "OpenBLAS's threads, still spinning after its multi-threaded GEMMs, slowed the next path 81 -> 111 ms",
    )
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="fit the im2col/FFT cost model on 88 shapes (1 thread)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    return ap


def _ms(t):
    return f"{t['median'] * 1e3:.0f} ms [{t['spread'] * 1e3:.0f}]"


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.sweep:
        res = {"meta": meta(sweep=True, repeats=args.repeats or 5, threads=[1])}
        print(machine_header(res["meta"]["machine"]))
        print("im2col vs FFT (vs direct, C <= 8) convolution, forward + backward, float32, batch 64, one thread:")

        def keep(rows):  # an interrupted sweep keeps the shapes it timed (written atomically, marked partial)
            keep_partial(args.out, {**res, "rows": rows})

        res.update(
            run_sweep(
                args.repeats or 5, shapes=sweep_shapes()[:4] if args.quick else None, on_row=keep, quick=args.quick
            )
        )
        print(f"fitted (s per 1e9 units): im2col {res['fit']['im2col']}, fft {res['fit']['fft']}")
        print(f"shipped:                  im2col {res['shipped']['im2col']}, fft {res['shipped']['fft']}")
        print(
            f"the shipped rule picks the slower algorithm (by > 5 %) on {res['mispicked']} of {len(res['rows'])} "
            f"shapes; the worst costs {100 * (res['worst_loss'] - 1):.0f} %"
        )
        if args.out:
            write_json(args.out, res)
            print(f"wrote {args.out}")
        return 0
    quick = args.quick
    repeats = args.repeats or (3 if quick else 9)
    warmup = args.warmup if args.warmup is not None else (0.05 if quick else 1.0)
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    torch = None
    if not args.no_torch:
        if importlib.util.find_spec("torch") is None:
            print("torch is not importable: the PyTorch peer is skipped (pip install torch, CPU wheel)")
        else:
            torch = True  # imported in the child process only
    results = {"meta": meta(quick=quick, repeats=repeats, threads=thread_counts), "torch": torch, "runs": []}
    print(machine_header(results["meta"]["machine"]))
    print(
        f"Conv2d forward+backward (dW, db, dx), float32, {K}x{K}, padding {PAD}; median [interquartile spread] of "
        f"{repeats} interleaved repeats"
    )
    chunks = [c for c in args.chunks.split(",") if c]
    for N, C, H, W, F in QUICK_SHAPES if quick else SHAPES:
        paths, parts, memory = make_paths(N, C, H, W, F, chunks)
        print(
            f"{N}x{C}x{H}x{W} -> {F}: nnlite (Conv2d's 'auto') runs {memory['algorithm']}; im2col: "
            f"{memory['chunk']} samples per chunk, the forward cache holds {memory['cache_bytes'] / 1e6:.1f} MB "
            f"(x; the full-batch columns would be {memory['full_cols_bytes'] / 1e6:.1f} MB); FFT: the cache holds "
            f"{memory['fft_cache_bytes'] / 1e6:.1f} MB (the input's spectra)"
        )
        for th in thread_counts:
            cands = {k: timed(f) for k, f in paths.items()}
            with contextlib.ExitStack() as stack:
                if torch is not None:  # in its own process, alternating with nnlite in blocks
                    cands["torch"] = stack.enter_context(
                        Peer("benchmarks.bench_conv:torch_conv", dict(N=N, C=C, H=H, W=W, F=F, threads=th), th)
                    )
                settle = args.settle if args.settle is not None else (0.0 if quick else PAUSE)
                with threads(th):  # the block method: ~0.25 s of back-to-back calls per sample, after a pause
                    res = interleave(cands, repeats, warmup, settle=settle, min_sample=0.0 if quick else BLOCK)
            s = {k: v["t"] for k, v in res.items()}
            with threads(1):
                p = _timings(parts, repeats, 0.0, quick=quick)
            row = {"shape": [N, C, H, W, F], "threads": th, "paths": s, "nnlite_parts": p, "memory": memory}
            med = {k: v["median"] for k, v in s.items()}
            line = f"{N}x{C}x{H}x{W} -> {F}, {th} thread(s): " + ", ".join(f"{k} {_ms(v)}" for k, v in s.items())
            line += f" | twin/nnlite {med['twin'] / med['nnlite']:.2f}"
            if "im2col" in med:
                row["nnlite_over_im2col"] = med["nnlite"] / med["im2col"]
                line += f" | nnlite/im2col {row['nnlite_over_im2col']:.2f}"
            if "torch" in med:
                row["nnlite_over_torch"] = med["nnlite"] / med["torch"]
                line += f" | nnlite/torch {row['nnlite_over_torch']:.2f}"
            print(line)
            print(
                "    im2col parts (1 thread): "
                + ", ".join(f"{k} {v['median'] * 1e3:.1f}" for k, v in p.items())
                + f" (sum {sum(v['median'] for v in p.values()) * 1e3:.0f} ms)"
            )
            results["runs"].append(row)
            keep_partial(args.out, results)
    if args.out:
        write_json(args.out, results)
        print(f"wrote {args.out}")
    return 0

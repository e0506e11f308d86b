"""Benchmark of Conv2d forward + backward (dW, db, dx): nnlite vs its NumPy twin path vs PyTorch's CPU conv2d.

Shapes (float32, 5x5 kernels, padding 2, stride 1): 128x3x32x32 -> 64 filters and 128x64x16x16 -> 64 filters.

- ``nnlite``: :func:`nnlite.ops.conv.conv2d_forward` + :func:`~nnlite.ops.conv.conv2d_backward` (Numba
  im2col/col2im of :mod:`nnlite.kernels` + three OpenBLAS GEMMs per chunk of samples, chunks sized by
  :func:`~nnlite.ops.conv.conv2d_chunk_size`; at T threads, the chunks are dealt to T threads of one-thread BLAS);
- ``chunk=k`` / ``chunk=full`` (``--chunks``): the same with k samples per chunk / the whole batch as one chunk;
- ``twin``: the same two functions with the NumPy twins of im2col/col2im (:mod:`nnlite.kernels.reference`)
  swapped in, so the GEMMs are identical and only the unfolding differs;
- ``torch`` (when importable, an optional peer, never a dependency): ``F.conv2d`` + autograd ``backward``.

Each path runs at 1 and 2 threads (threadpoolctl for BLAS, numba.set_num_threads, torch.set_num_threads). nnlite
and the twin are timed round-robin (one call of each, repeated), after a busy warm-up, so that the load of a
shared machine falls on both alike. PyTorch runs in a child process started right after, on the same data
(seeded): in the same process its OpenMP threads, still spinning after each call, starved OpenBLAS's 2 threads
(nnlite 2.5 s instead of 0.2 s per call here, even with OMP_WAIT_POLICY=PASSIVE). Medians and interquartile
ranges are reported, and the ratios nnlite/torch and twin/nnlite. A breakdown of the nnlite path (im2col, each
GEMM, transposes, col2im; per chunk, one BLAS thread, summed over the batch's chunks) says where the time goes,
and the bytes the forward pass caches for the backward one (``x``) are printed next to those of the full-batch
columns the unchunked path used to keep.

    python benchmarks/bench_conv.py [--repeats 9] [--threads 1,2] [--chunks 1,2,full] [--out results/conv.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nnlite.ops.conv as conv_ops
from nnlite.kernels import col2im, im2col
from nnlite.kernels import reference as twin

SHAPES = [(128, 3, 32, 32, 64), (128, 64, 16, 16, 64)]
K, PAD = 5, 2


def busy_warmup(fns, seconds):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for f in fns:
            f()


def round_robin(fns, repeats, settle=0.0):
    """Samples (seconds) of each function, timed in turns, with ``settle`` untimed seconds of sleep after each
    call (lets OpenBLAS's worker threads, which spin for a while after a multi-threaded GEMM, go to sleep
    before the next path runs)."""
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            s = time.perf_counter()
            f()
            samples[name].append(time.perf_counter() - s)
            if settle:
                time.sleep(settle)
    return samples


def stats(ts):
    ts = np.asarray(ts)
    q1, med, q3 = np.percentile(ts, [25, 50, 75])
    return {"median_ms": 1e3 * med, "iqr_ms": 1e3 * (q3 - q1), "min_ms": 1e3 * ts.min()}


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

    def nnlite_path(chunk=None):
        _, cache = conv_ops.conv2d_forward(x, Wt, b, 1, PAD, chunk=chunk)
        return conv_ops.conv2d_backward(dout, cache, Wt)

    def twin_path():
        saved = conv_ops.im2col, conv_ops.col2im
        conv_ops.im2col, conv_ops.col2im = _twin_im2col, _twin_col2im
        try:
            return nnlite_path()
        finally:
            conv_ops.im2col, conv_ops.col2im = saved

    paths = {"nnlite": nnlite_path, "twin": twin_path}
    for c in chunks:
        paths[f"chunk={c}"] = lambda c=c: nnlite_path(N if c == "full" else int(c))

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

    parts = {
        "im2col (x2)": each(lambda n0: im2col(x[n0 : n0 + nc], K, K, 1, PAD, out=cbuf)),
        "gemm forward": each(lambda n0: np.matmul(W2, cbuf, out=a)),
        "to NCHW + bias": each(lambda n0: np.add(a.reshape(F, nc, P).transpose(1, 0, 2), b.reshape(1, F, 1), out=outb)),
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
    memory = {
        "chunk": nc,
        "cache_bytes": int(sum(v.nbytes for v in cache if isinstance(v, np.ndarray))),
        "full_cols_bytes": CK * N * P * 4,
    }
    return paths, parts, memory


def torch_child(N, C, H, W, F, threads, repeats, warmup):
    """Run in a child process: median/IQR of torch's conv2d forward + autograd backward."""
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
    busy_warmup([path], warmup)
    return stats(round_robin({"torch": path}, repeats)["torch"])


def run_torch(shape, threads, repeats, warmup):
    import subprocess

    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        f"import bench_conv as b; print(json.dumps(b.torch_child(*{list(shape)!r}, {threads}, {repeats}, "
        f"{warmup})))"
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of busy warm-up per shape and thread count")
    ap.add_argument("--chunks", default="", help="extra nnlite paths: samples per chunk, e.g. 1,2,full")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="untimed sleep (s) after each timed call; use ~0.3 with 'full' at 2 threads: OpenBLAS's "
        "threads, still spinning after its multi-threaded GEMMs, slowed the next path 81 -> 111 ms",
    )
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    import numba
    from threadpoolctl import threadpool_limits

    torch = None
    if not args.no_torch:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            print("torch is not importable: the PyTorch peer is skipped (pip install torch, CPU wheel)")
        else:
            torch = True  # imported in the child process only
    results = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch,
        "runs": [],
    }
    threads = [int(t) for t in args.threads.split(",")]
    print(
        f"Conv2d forward+backward (dW, db, dx), float32, {K}x{K}, padding {PAD}; median [IQR] of "
        f"{args.repeats} round-robin repeats"
    )
    chunks = [c for c in args.chunks.split(",") if c]
    for N, C, H, W, F in SHAPES:
        paths, parts, memory = make_paths(N, C, H, W, F, chunks)
        print(
            f"{N}x{C}x{H}x{W} -> {F}: {memory['chunk']} samples per chunk; the forward cache holds "
            f"{memory['cache_bytes'] / 1e6:.1f} MB (x), the full-batch columns would be "
            f"{memory['full_cols_bytes'] / 1e6:.1f} MB"
        )
        for th in threads:
            numba.set_num_threads(min(th, numba.config.NUMBA_NUM_THREADS))
            with threadpool_limits(th):
                busy_warmup(list(paths.values()), args.warmup)
                s = {k: stats(v) for k, v in round_robin(paths, args.repeats, args.settle).items()}
            with threadpool_limits(1):
                p = {k: stats(v) for k, v in round_robin(parts, args.repeats).items()}
            p["im2col (x2)"] = {k: 2 * v for k, v in p["im2col (x2)"].items()}
            if torch is not None:
                s["torch"] = run_torch((N, C, H, W, F), th, args.repeats, args.warmup)
            row = {"shape": [N, C, H, W, F], "threads": th, "paths": s, "nnlite_parts": p, "memory": memory}
            med = {k: v["median_ms"] for k, v in s.items()}
            line = f"{N}x{C}x{H}x{W} -> {F}, {th} thread(s): " + ", ".join(
                f"{k} {v['median_ms']:.0f} ms [{v['iqr_ms']:.0f}]" for k, v in s.items()
            )
            line += f" | twin/nnlite {med['twin'] / med['nnlite']:.2f}"
            if "torch" in med:
                row["nnlite_over_torch"] = med["nnlite"] / med["torch"]
                line += f" | nnlite/torch {row['nnlite_over_torch']:.2f}"
            print(line)
            print(
                "    nnlite parts (1 thread): "
                + ", ".join(f"{k} {v['median_ms']:.1f}" for k, v in p.items())
                + f" (sum {sum(v['median_ms'] for v in p.values()):.0f} ms)"
            )
            results["runs"].append(row)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()

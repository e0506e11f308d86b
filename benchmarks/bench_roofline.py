"""How far each rule's step is from the machine's limit: ``python -m benchmarks roofline [--quick] [--threads 1,2]
[--gemm NAME] [--out DIR]``.

For each rule's training step on the MLP 784-800-800-800-10 and on :func:`nnlite.cnn`'s default network (batch 128,
float32, SGD with momentum 0.9, the update folded into the products where the rule allows):

- the FLOPs and bytes of every phase (forward with the loss, the rule's backward step, the update), counted on one
  real step: every matrix product the step makes is logged through the provider (its shape, and whether it reads
  its output: a folded update), and the elementwise passes are counted from the arrays each layer reads and writes;
- the machine's measured product rate (the provider's SGEMM on the network's largest product shape, best of
  several calls) and memory bandwidth (``c = a + b`` on arrays far larger than the caches);
- each phase's time, measured with the block method (every candidate in its own process, blocks of back-to-back
  steps after a pause, medians), and its roofline time ``sum over products of max(FLOPs / rate, bytes / bandwidth)
  + elementwise bytes / bandwidth``; their ratio is the fraction of the limit the phase reaches;
- each step against its own products run alone on the same provider (the floor the goals compare with).

The figure (``roofline.png``) draws each step's measured phases beside their roofline times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .harness import blocks, keep_partial, machine_header, meta, write_json

LR, MOMENTUM, BATCH = 1e-3, 0.9, 128
MLP_SIZES = [784, 800, 800, 800, 10]
MLP_RULES = ("bp", "fa", "dfa", "sdfa", "drtp", "usf", "kp", "ifa", "dkp", "lafs")
CNN_RULES = ("bp", "dfa")


def _net(model: str, seed: int = 0):
    import nnlite

    if model == "mlp":
        return nnlite.mlp(MLP_SIZES, "tanh", seed=seed)
    return nnlite.cnn((1, 28, 28), 10, channels=(32, 32, 64), kernel_size=3, seed=seed)


def make_rule(name: str, seed: int = 1):
    """The rule ``name`` with its defaults (KP and DKP with a feedback learning rate and no decay)."""
    import nnlite

    if name in ("kp", "dkp"):
        return {"kp": nnlite.KP, "dkp": nnlite.DKP}[name](lr=LR, weight_decay=0.0, seed=seed)
    cls = {
        c.__name__.lower(): c
        for c in (nnlite.BP, nnlite.FA, nnlite.DFA, nnlite.SDFA, nnlite.DRTP, nnlite.USF, nnlite.IFA, nnlite.LAFS)
    }[name]
    return cls() if name in ("bp", "usf") else cls(seed=seed)


def _data(model: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (BATCH, MLP_SIZES[0]) if model == "mlp" else (BATCH, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, BATCH)


class Counter:
    """A provider wrapper that logs every product ``(phase, M, N, K, reads its output)``."""

    def __init__(self, inner):
        self.inner, self.phase, self.log = inner, "forward", []
        self.name, self.version, self.path = inner.name, inner.version, inner.path

    @property
    def folds(self):
        return self.inner.folds

    def matmul(self, a, b, out=None):
        self.log.append((self.phase, a.shape[0], b.shape[1], a.shape[1], False, a.itemsize))
        return self.inner.matmul(a, b, out)

    def gemm(self, a, b, c, *, alpha=1.0, beta=0.0):
        self.log.append((self.phase, a.shape[0], b.shape[1], a.shape[1], beta != 0.0, a.itemsize))
        self.inner.gemm(a, b, c, alpha=alpha, beta=beta)


def count(model: str, rule: str, gemm: str = "numpy") -> dict[str, Any]:
    """FLOPs and bytes per phase of one step (see the module docstring), and the products it made."""
    import nnlite
    from nnlite.backend import products
    from nnlite.backend.lazy import defer
    from nnlite.layers import Conv2d

    net, r = _net(model), make_rule(rule)
    opt = nnlite.SGD(LR, momentum=MOMENTUM)
    x, y = _data(model)
    counter = Counter(products.blas.load(gemm))
    with products.using(counter):  # type: ignore[arg-type]
        out, caches = net.forward(x, train=True)
        _, e = nnlite.softmax_cross_entropy(out.reshape(out.shape[0], -1), y)
        counter.phase = "backward"
        fold = bool(opt.folds and r.folds_updates)
        with defer(fold):
            rs = r.step(net, caches, e, y)
        counter.phase = "update"
        opt.step(net.params(), rs.grads)
        r.commit(net, rs)
    zero = {"flops": 0.0, "product_bytes": 0.0, "other_bytes": 0.0}
    phases: dict[str, dict[str, float]] = {p: dict(zero) for p in ("forward", "backward", "update")}
    for phase, M, N, K, reads, item in counter.log:
        phases[phase]["flops"] += 2.0 * M * N * K
        phases[phase]["product_bytes"] += item * (M * K + K * N + M * N * (2 if reads else 1))
    # elementwise passes: each layer that is not a product reads its input and writes its output (forward), reads
    # the incoming gradient and what it kept and writes the outgoing one (backward); im2col writes and reads its
    # columns; the update reads and writes each parameter and its momentum (the folded GEMM's share is counted above)
    shape = tuple(net.input_shape)
    for layer in net.layers:
        nxt = tuple(layer.output_shape(shape))
        n_in, n_out = BATCH * int(np.prod(shape)) * 4, BATCH * int(np.prod(nxt)) * 4
        if isinstance(layer, Conv2d):
            W = layer.params["W"]
            cols = BATCH * int(np.prod(nxt[1:])) * int(np.prod(W.shape[1:])) * 4
            phases["forward"]["other_bytes"] += n_in + cols
            phases["backward"]["other_bytes"] += n_in + 2 * cols + n_in
        elif not getattr(layer, "is_weight", False):
            phases["forward"]["other_bytes"] += n_in + n_out
            phases["backward"]["other_bytes"] += 2 * n_out + n_in
        shape = nxt
    for p in net.params():
        for v in p.values():
            phases["update"]["other_bytes"] += 4 * v.nbytes
    return {"phases": phases, "products": [list(e) for e in counter.log], "folded": fold}


def machine_limits(gemm: str, threads: int, shape: tuple[int, int, int]) -> dict[str, float]:
    """The provider's best SGEMM rate (FLOP/s) on ``shape`` (M, N, K) and the memory bandwidth (bytes/s) of
    ``c = a + b`` on 64 MiB arrays, at ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    from nnlite.backend import products

    p = products.blas.load(gemm)
    with threadpool_limits(threads):
        M, N, K = shape
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
        c = np.empty((M, N), np.float32)
        best = np.inf
        for _ in range(30):
            t0 = time.perf_counter()
            p.matmul(a, b, c)
            best = min(best, time.perf_counter() - t0)
        n = 16 << 20
        u, v, w = np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32)
        bw = np.inf
        for _ in range(8):
            t0 = time.perf_counter()
            np.add(u, v, out=w)
            bw = min(bw, time.perf_counter() - t0)
    return {"flop_rate": 2.0 * M * N * K / best, "bandwidth": 3.0 * n * 4 / bw}


def step_child(model: str, rule: str, threads: int, gemm: str = "numpy", products_only: bool = False):
    """A candidate process: one training step of ``rule`` (phases timed), or only the products that step makes."""
    from threadpoolctl import threadpool_limits

    import nnlite
    from nnlite.backend import products

    products.set_current(gemm)
    step_child.limits = threadpool_limits(threads)  # after every library is loaded
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if products_only:
        log = count(model, rule, gemm)["products"]
        rng = np.random.default_rng(0)
        work = []
        for _, M, N, K, reads, _item in log:
            work.append(
                (
                    rng.standard_normal((M, K)).astype(np.float32),
                    rng.standard_normal((K, N)).astype(np.float32),
                    np.zeros((M, N), np.float32),
                    reads,
                )
            )

        def run():
            t0 = time.perf_counter()
            for a, b, c, reads in work:
                products.gemm(a, b, c, beta=1.0 if reads else 0.0)
            return {"step": time.perf_counter() - t0}

    else:
        from .step import nnlite_runner

        net, r = _net(model), make_rule(rule)
        x, y = _data(model)
        run = nnlite_runner(net, r, nnlite.SGD(LR, momentum=MOMENTUM), x, y)
    for _ in range(5):
        run()
    return run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks roofline", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the MLP, BP and DFA, 1 thread, 2 short rounds")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    p.add_argument("--gemm", default="auto", help="matrix-product provider (default auto: the measured choice)")
    p.add_argument("--rounds", type=int, default=None, help="rounds kept (default 5)")
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    from nnlite.backend import products

    quick = args.quick
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    cases = [("mlp", r) for r in (("bp", "dfa") if quick else MLP_RULES)]
    cases += [] if quick else [("cnn", r) for r in CNN_RULES]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("roofline_quick.json" if quick else "roofline.json")
    print(machine_header())
    result: dict[str, Any] = {"meta": meta(batch=BATCH), "configs": []}
    for th in thread_counts:
        gemm = args.gemm
        if gemm == "auto":
            gemm = products.choose(products.step_shapes(_net("mlp"), BATCH), np.float32, th)[0]
        limits = machine_limits(gemm, th, (BATCH, 800, 800))
        cands = {}
        for model, rule in cases:
            for only in (False, True):
                cands[f"{model}:{rule}{':products' if only else ''}"] = (
                    "benchmarks.bench_roofline:step_child",
                    dict(model=model, rule=rule, threads=th, gemm=gemm, products_only=only),
                )
        res = blocks(
            cands,
            th,
            rounds=args.rounds or (2 if quick else 5),
            block=0.02 if quick else 0.25,
            pause=0.0 if quick else 0.4,
            warmup=0.05 if quick else 0.5,
            max_load=1e9 if quick else None,
            max_steal=1.0 if quick else 0.05,
        )
        rows = []
        for model, rule in cases:
            c = count(model, rule, gemm)
            t = res["times"][f"{model}:{rule}"]
            floor = res["times"][f"{model}:{rule}:products"]["step"]["median"]
            row = {
                "model": model,
                "rule": rule,
                "folded": c["folded"],
                "step_s": t["step"]["median"],
                "products_s": floor,
                "step_over_products": t["step"]["median"] / floor,
                "phases": {},
            }
            for ph, v in c["phases"].items():
                compute = v["flops"] / limits["flop_rate"]
                roof = max(compute, v["product_bytes"] / limits["bandwidth"]) + v["other_bytes"] / limits["bandwidth"]
                row["phases"][ph] = {
                    **v,
                    "measured_s": t[ph]["median"],
                    "roofline_s": roof,
                    "fraction_of_limit": roof / t[ph]["median"] if t[ph]["median"] else None,
                }
            rows.append(row)
        result["configs"].append(
            {
                "threads": th,
                "gemm": gemm,
                "version": products.blas.load(gemm).version,
                **limits,
                "rows": rows,
                "load": [r["load"] for r in res["rounds"]],
                "steal": [r["steal"] for r in res["rounds"]],
            }
        )
        keep_partial(path, result)
        print(
            f"\n{th} thread(s), provider {gemm}: {limits['flop_rate'] / 1e9:.1f} GFLOP/s (SGEMM {BATCH}x800x800), "
            f"{limits['bandwidth'] / 1e9:.1f} GB/s (c = a + b)"
        )
        print(f"  {'step':12s} {'ms':>7s} {'/prod':>6s}  " + "  ".join(f"{ph:>22s}" for ph in c["phases"]))
        for row in rows:
            cells = "  ".join(
                f"{v['measured_s'] * 1e3:6.2f} ms {100 * (v['fraction_of_limit'] or 0):5.1f}% lim"
                for v in row["phases"].values()
            )
            print(
                f"  {row['model'] + ':' + row['rule']:12s} {row['step_s'] * 1e3:7.2f} "
                f"{row['step_over_products']:6.3f}  {cells}"
            )
    write_json(path, result)
    figure(result, out / ("roofline_quick.png" if quick else "roofline.png"))
    print(f"\nwrote {path}")
    return 0


def figure(result: dict[str, Any], path: Path) -> None:
    """Each step's measured phases (solid) beside their roofline times (hatched), one panel per thread count, drawn
    for the documentation's text column (:mod:`nnlite.figures`: no text under 9 pt on the page)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnlite.figures import DPI, WIDTH_IN, save_png

    configs = result["configs"]
    fig, axes = plt.subplots(len(configs), 1, figsize=(WIDTH_IN, 3.3 * len(configs) + 0.5), squeeze=False)
    colors = {"forward": "#4c72b0", "backward": "#dd8452", "update": "#55a868"}
    for ax, cfg in zip(axes[:, 0], configs):
        names = [f"{r['model']}:{r['rule']}" for r in cfg["rows"]]
        xs = np.arange(len(names))
        for shift, key, hatch in ((-0.2, "measured_s", None), (0.2, "roofline_s", "//")):
            bottom = np.zeros(len(names))
            for ph, col in colors.items():
                v = np.array([r["phases"][ph][key] * 1e3 for r in cfg["rows"]])
                label = ph if hatch is None else None
                alpha = 1.0 if hatch is None else 0.45
                ax.bar(xs + shift, v, 0.38, bottom=bottom, color=col, hatch=hatch, alpha=alpha, label=label)
                bottom += v
        ax.set_xticks(xs, names, rotation=40, ha="right", fontsize=9)
        ax.set_ylabel("ms per step", fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
        ax.set_title(f"{cfg['threads']} thread(s), {cfg['gemm']}: measured | roofline (hatched)", fontsize=10)
        ax.legend(fontsize=9, ncol=3, loc="upper right")
    fig.tight_layout()
    save_png(fig, path, dpi=DPI)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

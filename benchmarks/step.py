"""Cost of one training step, split into forward (with the loss) / backward (the rule) / update (the optimizer).

Every candidate of one configuration (the rules, the exact GEMMs of each rule's step timed in isolation, PyTorch's
step, nnlite with its fused kernels switched off) runs in one process, interleaved round-robin after a busy warm-up
by :func:`benchmarks.harness.interleave`, and the result is the median of the repeats with its quartiles.

GEMM FLOPs of a step (``2 m k n`` per product; elementwise work is not counted), for an MLP with layer widths
``d_0 .. d_L`` (``d_L = C`` classes), batch ``N``, ``S = sum_k d_k d_{k+1}``:

- forward ``2 N S``; the backward's ``dW`` products ``2 N S``;
- BP and FA add the ``dx`` products of every layer but the first, ``2 N (S - d_0 d_1)``;
- DFA adds one projection of ``e``, ``2 N C l_max`` (unified layout);
- IFA adds the projection to the first hidden layer, ``2 N C d_1``, and the forward carries
  ``2 N sum_{k=1}^{L-2} d_k d_{k+1}``;
- LAFS adds, per hidden layer, its readout and the projection of its local error, ``4 N C l_max`` each.
"""

from __future__ import annotations

import contextlib
import math
import os
import time

import numpy as np

import nnlite
from nnlite import backend as dispatch
from nnlite import mlp, softmax_cross_entropy, training  # the dispatched loss, as fit() and the CLI use it
from nnlite.optim import SGD
from nnlite.runtime.blocks import BlockRunner

from .harness import LOAD_PER_CORE, MAX_STEAL, Peer, interleave, round_ratios, threads

RULES = ("bp", "fa", "dfa", "dfa_par", "ifa", "lafs")
LR, MOMENTUM = 1e-3, 0.9


def make_rule(name, seed=1):
    return {
        "bp": lambda: nnlite.BP(),
        "fa": lambda: nnlite.FA(seed=seed),
        "dfa": lambda: nnlite.DFA(seed=seed),
        "dfa_par": lambda: nnlite.DFA(seed=seed, parallel=True),
        "ifa": lambda: nnlite.IFA(seed=seed),
        "lafs": lambda: nnlite.LAFS(seed=seed),
    }[name]()


def sizes_of(width, depth, d_in=784, n_classes=10):
    return [d_in] + [width] * depth + [n_classes]


# -- FLOPs and the exact GEMMs of a step ----------------------------------------------------------------------------
def gemm_shapes(sizes, n, rule):
    """The matrix products of one step of ``rule``, as ``(kind, a_shape, b_shape)``.

    ``kind`` is ``"nt"`` (``A @ B.T``), ``"tn"`` (``A.T @ B``) or ``"nn"`` (``A @ B``), laid out as nnlite calls them.
    """
    L = len(sizes) - 1
    C = sizes[-1]
    hidden = sizes[1:-1]
    l_max = max(hidden) if hidden else 0
    ops = [("nt", (n, sizes[k]), (sizes[k + 1], sizes[k])) for k in range(L)]  # forward x @ W.T
    ops += [("tn", (n, sizes[k + 1]), (n, sizes[k])) for k in range(L)]  # dW = delta.T @ x
    base = rule.split(":")[0]
    if base in ("bp", "fa", "torch"):
        ops += [("nn", (n, sizes[k + 1]), (sizes[k + 1], sizes[k])) for k in range(1, L)]  # dx = delta @ W
    elif base in ("dfa", "dfa_par"):
        ops += [("nt", (n, C), (l_max, C))]  # e @ B.T
    elif base == "ifa":
        ops += [("nt", (n, C), (sizes[1], C))]
        ops += [("nt", (n, sizes[k]), (sizes[k + 1], sizes[k])) for k in range(1, L - 1)]  # carry delta @ W.T
    elif base == "lafs":
        for _ in hidden:
            ops += [("nn", (n, l_max), (l_max, C)), ("nt", (n, C), (l_max, C))]
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return ops


def gemm_flops(ops):
    total = 0
    for kind, a, b in ops:
        m, k = (a[1], a[0]) if kind == "tn" else a
        cols = b[0] if kind == "nt" else b[1]
        total += 2 * m * k * cols
    return int(total)


def step_flops(sizes, n, rule):
    """GEMM FLOPs of one step, from the closed forms of the module docstring (tests hold gemm_shapes to them)."""
    L = len(sizes) - 1
    C, hidden = sizes[-1], sizes[1:-1]
    S = sum(sizes[k] * sizes[k + 1] for k in range(L))
    f = 4 * n * S
    base = rule.split(":")[0]
    if base in ("bp", "fa", "torch"):
        f += 2 * n * (S - sizes[0] * sizes[1])
    elif base in ("dfa", "dfa_par"):
        f += 2 * n * C * max(hidden)
    elif base == "ifa":
        f += 2 * n * C * sizes[1] + 2 * n * sum(sizes[k] * sizes[k + 1] for k in range(1, L - 1))
    elif base == "lafs":
        f += 4 * n * C * max(hidden) * len(hidden)
    return int(f)


def gemm_runner(ops, rng, mats=None, matmul=None):
    """A callable running the products of ``ops`` on fixed random float32 operands (outputs allocated as nnlite
    allocates them); ``mats``, when given, are the ``(kind, A, B)`` operands to use instead (PyTorch's tensors for
    its own products: ``@`` runs either library's); ``matmul``, when given, runs them (nnlite's provider in force,
    :func:`nnlite.backend.products.matmul`)."""
    if mats is None:
        mats = [
            (kind, rng.standard_normal(a).astype(np.float32), rng.standard_normal(b).astype(np.float32))
            for kind, a, b in ops
        ]

    mm = matmul or (lambda a, b: a @ b)

    def run():
        t0 = time.perf_counter()
        for kind, A, B in mats:
            if kind == "nt":
                mm(A, B.T)
            elif kind == "tn":
                mm(A.T, B)
            else:
                mm(A, B)
        return {"step": time.perf_counter() - t0}

    return run


# -- candidates -----------------------------------------------------------------------------------------------------
def numpy_path():
    """Switch nnlite's fused kernels off (every op and optimizer takes its NumPy path): the 'before' of this work."""
    return dispatch.fused_kernels(False)


def nnlite_runner(net, rule, opt, x, y, fused=True):
    blocks = BlockRunner()

    def run():
        ctx = contextlib.nullcontext() if fused else numpy_path()
        times: dict[str, float] = {}
        with ctx:  # the one training step fit() takes (the rule's own change included)
            training.step(net, rule, softmax_cross_entropy, opt, x, y, blocks=blocks, timings=times)
        return times

    return run


def fit_runner(net, rule, x, y, steps=4):
    """Per-step time inside :func:`nnlite.fit` (its loop overhead included), ``steps`` batches per call."""
    xs = np.concatenate([x] * steps)
    ys = np.concatenate([y] * steps)
    opt = SGD(LR, momentum=MOMENTUM)

    def run():
        t0 = time.perf_counter()
        nnlite.fit(
            net, rule, softmax_cross_entropy, opt, (xs, ys), epochs=1, batch_size=x.shape[0], seed=0, progress=False
        )
        return {"step": (time.perf_counter() - t0) / steps}

    return run


def torch_runner(sizes, x, y, threads):
    """PyTorch's step on the same MLP (tanh, CE, SGD momentum), or None when torch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    return torch_step_phases(torch.nn.Sequential(*layers), x, y)


def torch_step_phases(model, x, y):
    """A candidate timing one PyTorch training step of ``model`` on ``(x, y)``: cross-entropy, SGD with momentum,
    split into forward (with the loss), backward and update like nnlite's."""
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def run():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xt), yt)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return {"forward": t1 - t0, "backward": t2 - t1, "update": t3 - t2, "step": t3 - t0}

    return run


def torch_peer(width, depth, batch, threads, seed=0):
    """The child side of the PyTorch peer (:class:`benchmarks.harness.Peer`): the same data as :func:`run_config`
    draws from ``seed``, and :func:`torch_runner`'s step at ``threads`` threads, warmed up."""
    rng = np.random.default_rng(seed)
    sizes = sizes_of(width, depth)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    run = torch_runner(sizes, x, y, threads)
    if run is None:
        raise ImportError("torch is not importable in the peer process")
    for _ in range(20):
        run()
    return run


def rule_child(width, depth, batch, threads, name, seed=0):
    """The child side of one candidate of :func:`run_config` in its own process (``processes=True``): ``name`` is a
    rule (``"bp"``, ``"dfa"``, ...), ``"<rule>:numpy"`` (fused kernels off), ``"bp:fit"`` (the step inside
    :func:`nnlite.fit`) or ``"gemm:<rule>"`` (the rule's products alone), built from ``seed`` as in-process."""
    import numba
    from threadpoolctl import threadpool_limits

    rule_child.limits = threadpool_limits(threads)  # kept for the process's life
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    rng = np.random.default_rng(seed)
    sizes = sizes_of(width, depth)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    base, _, kind = name.partition(":")
    if base == "gemm":
        run = gemm_runner(gemm_shapes(sizes, batch, kind), rng)
    elif kind == "fit":
        run = fit_runner(mlp(sizes, "tanh", seed=seed), make_rule(base), x, y)
    else:
        net = mlp(sizes, "tanh", seed=seed)
        run = nnlite_runner(net, make_rule(base), SGD(LR, momentum=MOMENTUM), x, y, fused=kind != "numpy")
    for _ in range(5):
        run()
    return run


def torch_available():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def run_config(
    width,
    depth,
    batch,
    n_threads,
    rules=RULES,
    *,
    peers=False,
    repeats=7,
    warmup=0.5,
    budget=None,
    seed=0,
    min_sample=0.0,
    settle=0.0,
    processes=False,
):
    """Measure one (width, depth, batch, threads) configuration.

    Returns a dict with the configuration, each rule's phases, GEMM FLOPs, the isolated GEMM time of its exact
    products (``gemm``), the fraction of that GEMM peak its step reaches, and with ``peers`` PyTorch's step,
    nnlite's step with fused kernels off (``<rule>:numpy``) and the per-step time inside fit (``bp:fit``).
    ``dfa_par`` is ``DFA(parallel=True)``: at T threads, T workers with one BLAS thread each. Every nnlite
    candidate trains its own network and optimizer, all built from ``seed``.

    With ``processes``, every candidate runs in its own process (:func:`benchmarks.harness.blocks`: blocks of
    ``min_sample`` seconds after ``settle`` asleep, ``repeats`` rounds) instead of interleaved in this one.
    """
    if processes:
        return _run_config_processes(
            width, depth, batch, n_threads, rules, peers, repeats, warmup, seed, min_sample, settle
        )
    rng = np.random.default_rng(seed)
    sizes = sizes_of(width, depth)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    def net_opt():
        """One network and optimizer per candidate, all from ``seed`` (no shared weights or momentum)."""
        return mlp(sizes, "tanh", seed=seed), SGD(LR, momentum=MOMENTUM)

    cands = {}
    stack = contextlib.ExitStack()  # the peer processes, closed when the configuration is measured
    for r in rules:
        net, opt = net_opt()
        cands[r] = nnlite_runner(net, make_rule(r), opt, x, y)
        cands["gemm:" + r] = gemm_runner(gemm_shapes(sizes, batch, r), rng)
    if peers:
        for r in ("bp", "dfa"):
            if r in rules:
                net, opt = net_opt()
                cands[r + ":numpy"] = nnlite_runner(net, make_rule(r), opt, x, y, fused=False)
        cands["bp:fit"] = fit_runner(net_opt()[0], make_rule("bp"), x, y)
        if torch_available():  # in its own process (its OpenMP pool must not compete with OpenBLAS's threads)
            peer = Peer(
                "benchmarks.step:torch_peer",
                dict(width=width, depth=depth, batch=batch, threads=n_threads, seed=seed),
                n_threads,
            )
            stack.enter_context(peer)
            cands["torch"] = peer
            cands["gemm:torch"] = gemm_runner(gemm_shapes(sizes, batch, "torch"), rng)
    rounds: list = []
    samples: dict = {}
    check = {"max_steal": MAX_STEAL, "max_load": LOAD_PER_CORE * (os.cpu_count() or 1)} if settle else {}
    with stack, threads(n_threads):
        res = interleave(
            cands,
            repeats,
            warmup,
            budget=budget,
            min_sample=min_sample,
            settle=settle,
            rounds_out=rounds,
            samples_out=samples,
            **check,
        )
    return _config_result(width, depth, batch, n_threads, sizes, res, samples, rounds)


def _run_config_processes(width, depth, batch, n_threads, rules, peers, repeats, warmup, seed, block, pause):
    """:func:`run_config` with each candidate in its own process (:func:`benchmarks.harness.blocks`)."""
    from .harness import blocks

    names = []
    for r in rules:
        names += [r, "gemm:" + r]
    if peers:
        names += [r + ":numpy" for r in ("bp", "dfa") if r in rules] + ["bp:fit"]
    kw = dict(width=width, depth=depth, batch=batch, threads=n_threads, seed=seed)
    cands = {nm: ("benchmarks.step:rule_child", dict(kw, name=nm)) for nm in names}
    if peers and torch_available():
        cands["torch"] = ("benchmarks.step:torch_peer", kw)
        cands["gemm:torch"] = ("benchmarks.step:rule_child", dict(kw, name="gemm:torch"))
    got = blocks(
        cands,
        n_threads,
        rounds=repeats,
        block=block or 0.02,
        pause=pause,
        warmup=warmup,
        max_load=None if pause else 1e9,
        max_steal=MAX_STEAL if pause else 1.0,
    )
    out = _config_result(
        width, depth, batch, n_threads, sizes_of(width, depth), got["times"], got["samples"], got["rounds"]
    )
    out["method"] = dict(got["method"], processes=True, repeated=got["repeated"])
    return out


def _config_result(width, depth, batch, n_threads, sizes, res, samples, rounds):
    """One configuration's record from its candidates' statistics, per-round samples and rounds."""
    out = {"width": width, "depth": depth, "batch": batch, "threads": n_threads, "sizes": sizes, "results": {}}
    out["rounds"] = rounds
    out["round_ratios"] = {
        f"{a}/{b}": round_ratios(samples, a, b, "step")
        for a, b in (("bp", "torch"), ("dfa", "bp"), ("dfa_par", "dfa"), ("fa", "bp"))
        if a in samples and b in samples
    }
    for nm, r in res.items():
        if nm.startswith("gemm:"):
            continue
        entry = {ph: v for ph, v in r.items()}
        base = nm.split(":")[0]
        flops = step_flops(sizes, batch, base)
        entry["gemm_flops"] = flops
        entry["gflops_per_s"] = flops / r["step"]["median"] / 1e9
        g = res.get("gemm:" + base)
        if g is not None:
            entry["gemm"] = g["step"]
            entry["gemm_fraction"] = g["step"]["median"] / r["step"]["median"]
        out["results"][nm] = entry
    return out


def floor(result):
    """A step's floor: its GEMMs timed alone plus its update phase (seconds), or None without both.

    Neither can hide behind the other: the GEMMs run on every thread there is, and the update (SGD momentum reads
    ``p``, ``v`` and ``g`` and writes ``p`` and ``v``, five passes over the 1.9M parameters) is bound by memory
    bandwidth, which a second thread does not widen. No work around the GEMMs brings a step below it.
    """
    if "gemm" not in result or "update" not in result:
        return None
    return result["gemm"]["median"] + result["update"]["median"]


def main_config_ratios(cfg):
    """The ratios of the issue's goals from one configuration's results, and the floors' (:func:`floor`)."""
    r = cfg["results"]
    med = {k: v["step"]["median"] for k, v in r.items()}
    floors = {k: floor(v) for k, v in r.items()}
    out = {}
    if floors.get("bp") and "torch" in med:
        out["bp_floor_over_torch"] = floors["bp"] / med["torch"]
    if floors.get("bp") and floors.get("dfa"):
        out["dfa_floor_over_bp_floor"] = floors["dfa"] / floors["bp"]
    if floors.get("bp"):
        out["bp_gemm_fraction_at_floor"] = r["bp"]["gemm"]["median"] / floors["bp"]
    per_round = {k: v["median"] for k, v in cfg.get("round_ratios", {}).items()}  # medians of per-round ratios
    if "bp" in med and "dfa" in med:
        out["dfa_over_bp"] = per_round.get("dfa/bp", med["dfa"] / med["bp"])
    if "bp" in med and "dfa_par" in med:
        out["dfa_par_over_dfa"] = per_round.get("dfa_par/dfa", med["dfa_par"] / med["dfa"])
    if "torch" in med and "bp" in med:
        out["bp_over_torch"] = per_round.get("bp/torch", med["bp"] / med["torch"])
        out["torch_gemm_fraction"] = r["torch"].get("gemm_fraction", math.nan)
    if "bp" in med:
        out["bp_gemm_fraction"] = r["bp"].get("gemm_fraction", math.nan)
        out["bp_gemm_flops"] = r["bp"]["gemm_flops"]
    for k in ("bp", "dfa"):
        if k + ":numpy" in med:
            out[k + "_fused_over_numpy"] = med[k] / med[k + ":numpy"]
    if "bp:fit" in med:
        out["fit_over_bare_bp"] = med["bp:fit"] / med["bp"]
    return out

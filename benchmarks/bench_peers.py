"""nnlite's step against PyTorch's, and nnlite's DFA against DFA written in PyTorch the way its users write it:
``python -m benchmarks peers [--quick] [--threads 1,2] [--rounds 9] [--out DIR]``.

Candidates, each in its own process at the same thread count (:func:`benchmarks.harness.blocks`: blocks of
back-to-back steps after a pause with every process idle, medians of per-round ratios with their spread):

- ``nnlite:bp``, ``nnlite:dfa``: one training step of nnlite (forward with the loss, the rule, SGD momentum), as
  :func:`nnlite.fit` runs it;
- ``torch:bp``: the same network in PyTorch, autograd;
- ``torch:dfa``: DFA in PyTorch as TinyDFA, biotorch and Launay et al.'s ``AsymmetricSequential`` do it: the
  forward pass keeps each hidden block's output and cuts the graph at its input; the loss's backward gives the
  output layer's gradients and ``e``; one product projects ``e`` through Launay et al.'s unified feedback matrix,
  and each hidden block's output is handed its slice with ``h_k.backward(e B_k^T)`` (a hook injecting the
  projection, the same products).

- ``torch:biotorch``: biotorch's own DFA layers (``BioModule(net, mode="dfa")``, biotorch 0.0.16, installed with
  ``pip install --no-deps biotorch``: its layers import only torch), stepped as its training loop steps them: the
  model's forward takes the targets and the loss and computes ``e`` with ``autograd.grad``, then
  ``loss.backward()`` runs the whole backward pass, each layer's hook replacing the gradient it sends down with
  ``e B_k``;
- ``nnlite:gemm-bp``, ``nnlite:gemm-dfa``, ``torch:gemm-bp`` (the MLP only): the matrix products of one step and
  nothing else, with NumPy's BLAS as nnlite calls it and with PyTorch's: the floor under each step. Their ratios
  say how much of a step ratio is the BLAS library's.

Networks: the MLP 784-800-800-800-10 (tanh) and :func:`nnlite.cnn`'s default (three 3x3 conv blocks 32/32/64,
tanh, max pooling, a linear classifier) on 1x28x28, batch 128, float32, softmax cross-entropy, SGD lr 1e-3
momentum 0.9. Ratios quoted: nnlite BP / torch BP, nnlite DFA / nnlite BP, nnlite DFA / torch DFA, and the GEMM
floors: nnlite's BP products / PyTorch's, nnlite's DFA products / its BP products.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from .harness import blocks, keep_partial, machine_header, meta, write_json

LR, MOMENTUM = 1e-3, 0.9
MLP_SIZES = (784, 800, 800, 800, 10)
CHANNELS, KERNEL = (32, 32, 64), 3


def _data(model: str, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (batch, MLP_SIZES[0]) if model == "mlp" else (batch, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, batch)


def _provider(gemm: str, threads: int, shapes=None):
    """Load the matrix-product provider ``gemm`` (a name, or ``auto``: measured on ``shapes`` at ``threads``) and
    make it the process's; the thread limit is set after it is loaded, so every BLAS pool gets it."""
    from threadpoolctl import threadpool_limits

    from nnlite.backend import products

    if gemm == "auto":
        with threadpool_limits(threads):
            gemm = products.choose(shapes or [(128, 128, 128, False, False)], np.float32, threads)[0]
    products.set_current(gemm)
    return threadpool_limits(threads)  # after every library is loaded


def nnlite_child(model: str, rule: str, batch: int, threads: int, seed: int = 0, gemm: str = "numpy",
                 momentum: float = MOMENTUM):  # fmt: skip
    """The candidate of an nnlite process: one step of ``rule`` ("bp" or "dfa") on ``model``, warmed up, its
    products on the provider ``gemm``."""
    import numba

    import nnlite
    from nnlite.backend import products
    from nnlite.optim import SGD

    from .step import nnlite_runner

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    x, y = _data(model, batch, seed)
    net = (
        nnlite.mlp(list(MLP_SIZES), "tanh", seed=seed)
        if model == "mlp"
        else nnlite.cnn((1, 28, 28), 10, channels=CHANNELS, kernel_size=KERNEL, seed=seed)
    )
    nnlite_child.limits = _provider(gemm, threads, products.step_shapes(net, batch))  # kept for the process's life
    r = nnlite.BP() if rule == "bp" else nnlite.DFA(seed=seed + 1)
    run = nnlite_runner(net, r, SGD(LR, momentum=momentum), x, y)
    for _ in range(5):
        run()
    return run


def _torch_blocks(model: str):
    """The network as a list of PyTorch blocks (a weight layer and what follows it up to the next one)."""
    import torch

    if model == "mlp":
        sizes = MLP_SIZES
        return [
            torch.nn.Sequential(
                torch.nn.Linear(sizes[k], sizes[k + 1]), *([torch.nn.Tanh()] if k < len(sizes) - 2 else [])
            )
            for k in range(len(sizes) - 1)
        ]
    out, c_in = [], 1
    for c in CHANNELS:
        out.append(
            torch.nn.Sequential(
                torch.nn.Conv2d(c_in, c, KERNEL, padding=KERNEL // 2), torch.nn.Tanh(), torch.nn.MaxPool2d(2)
            )
        )
        c_in = c
    out.append(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c_in * 3 * 3, 10)))
    return out


def check_biotorch_dfa(bio, x, y, lossf) -> None:
    """Raise unless ``bio`` (biotorch's ``BioModule`` in DFA mode over the MLP's blocks) trains its last hidden
    layer by DFA: ``dW = ((e B) ⊙ tanh'(a))^T h`` with ``e`` the loss's gradient at the output and ``B`` the top
    layer's ``weight_backward``. PyTorch 2.13 warns that biotorch's non-full backward hooks are deprecated; this
    says they still do what biotorch means. Gradients are cleared afterwards."""
    import torch

    lin = [m for m in bio.module.modules() if isinstance(m, torch.nn.Linear)]
    bio.zero_grad()
    lossf(bio(x, y, lossf), y).backward()
    got = lin[-2].weight.grad.clone()
    bio.zero_grad()
    with torch.no_grad():
        h = x
        for layer in lin[:-2]:
            h = torch.tanh(layer(h))
        top = torch.tanh(lin[-2](h))
        e = (torch.softmax(lin[-1](top), 1) - torch.nn.functional.one_hot(y, lin[-1].out_features)) / len(y)
        want = ((e @ lin[-1].weight_backward) * (1 - top**2)).T @ h
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-6):
        raise RuntimeError("biotorch's DFA layers did not give the DFA update under this PyTorch")


def torch_child(model: str, rule: str, batch: int, threads: int, seed: int = 0):
    """The candidate of a PyTorch process: one step of BP (autograd) or of DFA (hooks), warmed up."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y = _data(model, batch, seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    parts = _torch_blocks(model)
    net = torch.nn.Sequential(*parts)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = torch.nn.CrossEntropyLoss()
    if rule == "biotorch":  # biotorch's own DFA layers (BioModule, mode "dfa"), trained as its training loop does
        import contextlib

        from biotorch.module.biomodule import BioModule

        with contextlib.redirect_stdout(sys.stderr):  # it reports the conversion on stdout, the Peer's channel
            bio = BioModule(net, mode="dfa", output_dim=10)
        if model == "mlp":
            check_biotorch_dfa(bio, xt, yt, lossf)
        opt = torch.optim.SGD(bio.parameters(), lr=LR, momentum=MOMENTUM)
    if rule == "dfa":
        shapes, h = [], torch.zeros(1, *x.shape[1:])
        with torch.no_grad():
            for p in parts[:-1]:
                h = p(h)
                shapes.append(tuple(h.shape[1:]))
        widths = [int(np.prod(s)) for s in shapes]
        B = torch.randn(10, max(widths)) / float(np.sqrt(10 * max(widths)))  # unified: one matrix, sliced

    def run():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if rule == "bp":
            loss = lossf(net(xt), yt)
            t1 = time.perf_counter()
            loss.backward()
        elif rule == "biotorch":  # biotorch.training.functions.train: the model takes targets and the loss
            loss = lossf(bio(xt, yt, lossf), yt)  # its forward also takes dL/d(output) (autograd.grad)
            t1 = time.perf_counter()
            loss.backward()  # every layer's backward hook swaps the gradient it sends down for e B_k
        else:
            outs, h = [], xt
            for p in parts[:-1]:
                h = p(h.detach())  # the block sees its input as a constant: the graph is cut between blocks
                outs.append(h)
            logits = parts[-1](h.detach())
            logits.retain_grad()
            loss = lossf(logits, yt)
            t1 = time.perf_counter()
            loss.backward()  # the output block's gradients, and e = dL/dlogits
            proj = logits.grad @ B  # one projection of e for every hidden block
            for k, h_k in enumerate(outs):
                h_k.backward(proj[:, : widths[k]].reshape(h_k.shape))
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return {"forward": t1 - t0, "backward": t2 - t1, "update": t3 - t2, "step": t3 - t0}

    for _ in range(5):
        run()
    return run


def gemm_child(lib: str, rule: str, batch: int, threads: int, seed: int = 0, gemm: str = "numpy"):
    """The candidate of a process that runs only the matrix products of one MLP step of ``rule`` ("bp" or "dfa"),
    with nnlite's provider ``gemm`` (``lib="nnlite"``: the products as nnlite calls them) or PyTorch's
    (``lib="torch"``): the floor each library's step stands on (:func:`benchmarks.step.gemm_shapes`)."""
    from .step import gemm_runner, gemm_shapes

    ops = gemm_shapes(list(MLP_SIZES), batch, rule)
    if lib == "nnlite":
        from nnlite.backend import products

        shapes = products.step_shapes(__import__("nnlite").mlp(list(MLP_SIZES), seed=0), batch)
        gemm_child.limits = _provider(gemm, threads, shapes)
        run = gemm_runner(ops, np.random.default_rng(seed), matmul=products.matmul)
    else:
        import torch

        torch.set_num_threads(threads)
        gen = torch.Generator().manual_seed(seed)
        mats = [(kind, torch.randn(a, generator=gen), torch.randn(b, generator=gen)) for kind, a, b in ops]
        run = gemm_runner(ops, None, mats)

    for _ in range(5):
        run()
    return run


def _parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks peers", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="batch 16, 1 thread, the MLP, 3 short rounds (a smoke run)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    p.add_argument("--models", default=None, help="comma-separated: mlp, cnn (default both)")
    p.add_argument("--rounds", type=int, default=None, help="rounds kept (default 9)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 128)")
    p.add_argument("--pause", type=float, default=0.4, help="seconds asleep before each block (default 0.4)")
    p.add_argument("--block", type=float, default=0.25, help="seconds of back-to-back steps per block (0.25)")
    p.add_argument("--no-torch", action="store_true", help="nnlite's candidates only")
    p.add_argument("--no-gemm", action="store_true", help="leave out the MLP's products timed alone")
    p.add_argument(
        "--gemm",
        default=None,
        help="comma-separated matrix-product providers for nnlite's candidates (numpy, mkl, openblas, auto; "
        "default: every installed one, --quick: numpy); numpy's keep the plain names (nnlite:bp), the others get @NAME",
    )
    p.add_argument("--sgd", action="store_true", help="also nnlite's BP step with plain SGD (no momentum)")
    p.add_argument("--out", default="bench_results")
    return p


RATIOS = (
    ("nnlite BP / torch BP", "nnlite:bp", "torch:bp"),
    ("nnlite DFA / nnlite BP", "nnlite:dfa", "nnlite:bp"),
    ("nnlite DFA / torch DFA", "nnlite:dfa", "torch:dfa"),
    ("torch DFA / torch BP", "torch:dfa", "torch:bp"),
    ("nnlite DFA / biotorch DFA", "nnlite:dfa", "torch:biotorch"),
    ("biotorch DFA / torch BP", "torch:biotorch", "torch:bp"),
    ("nnlite BP GEMMs / torch BP GEMMs", "nnlite:gemm-bp", "torch:gemm-bp"),
    ("nnlite DFA GEMMs / nnlite BP GEMMs", "nnlite:gemm-dfa", "nnlite:gemm-bp"),
)


def _at(name: str, gemm: str) -> str:
    """The candidate ``name`` (``nnlite:...``) on provider ``gemm``: NumPy's keeps the plain name."""
    return name if gemm == "numpy" or not name.startswith("nnlite:") else f"{name}@{gemm}"


PROVIDER_RATIOS = (
    ("nnlite BP / torch BP", "nnlite:bp", "torch:bp"),
    ("nnlite DFA / nnlite BP", "nnlite:dfa", "nnlite:bp"),
    ("nnlite DFA / torch DFA", "nnlite:dfa", "torch:dfa"),
    ("nnlite DFA / biotorch DFA", "nnlite:dfa", "torch:biotorch"),
    ("nnlite BP GEMMs / torch BP GEMMs", "nnlite:gemm-bp", "torch:gemm-bp"),
    ("nnlite DFA GEMMs / nnlite BP GEMMs", "nnlite:gemm-dfa", "nnlite:gemm-bp"),
    ("nnlite BP step / its GEMMs", "nnlite:bp", "nnlite:gemm-bp"),
    ("nnlite DFA step / its GEMMs", "nnlite:dfa", "nnlite:gemm-dfa"),
    ("nnlite BP plain-SGD step / its GEMMs", "nnlite:bp-sgd", "nnlite:gemm-bp"),
    ("nnlite BP GEMMs / numpy's", "nnlite:gemm-bp", "nnlite:gemm-bp@numpy"),
    ("nnlite BP / numpy's", "nnlite:bp", "nnlite:bp@numpy"),
)


def ratios_of(res: dict, phase: str = "step", providers: tuple[str, ...] = ("numpy",)) -> dict[str, dict]:
    """Per quoted ratio, the summary of its per-round values (from the blocks' samples kept in ``res``); the
    nnlite ratios once per provider (labelled ``[NAME]`` for all but NumPy's)."""
    from .harness import summary

    out = {}
    per_block = res["samples"]
    pairs = list(RATIOS)
    for g in providers:
        if g == "numpy":
            continue
        for label, a, b in PROVIDER_RATIOS:
            b2 = "nnlite:gemm-bp" if b == "nnlite:gemm-bp@numpy" else ("nnlite:bp" if b == "nnlite:bp@numpy" else b)
            pairs.append((f"{label} [{g}]", _at(a, g), b2 if b.endswith("@numpy") else _at(b, g)))
    pairs += [(f"{label}", a, b) for label, a, b in PROVIDER_RATIOS[6:9]]
    for label, a, b in pairs:
        if a in per_block and b in per_block and label not in out:
            out[label] = summary([x[phase] / y[phase] for x, y in zip(per_block[a], per_block[b])])
    return out


def main(argv=None):
    args = _parser().parse_args(argv)
    quick = args.quick
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    models = (args.models or ("mlp" if quick else "mlp,cnn")).split(",")
    rounds = args.rounds or (3 if quick else 9)
    batch = args.batch or (16 if quick else 128)
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    with_biotorch = with_torch and importlib.util.find_spec("biotorch") is not None
    from nnlite.backend import products

    providers = tuple((args.gemm or ("numpy" if quick else ",".join(products.available()))).split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("peers_quick.json" if quick else "peers.json")
    print(machine_header())
    versions = {g: products.blas.load(g).version for g in providers if g != "auto"}
    result = {
        "meta": meta(batch=batch, rounds=rounds, pause=args.pause, block=args.block, providers=versions),
        "configs": [],
    }
    for model in models:
        for th in thread_counts:
            cands = {
                _at(f"nnlite:{r}", g): (
                    "benchmarks.bench_peers:nnlite_child",
                    dict(model=model, rule=r, batch=batch, threads=th, gemm=g),
                )
                for g in providers
                for r in ("bp", "dfa")
            }
            if args.sgd:
                for g in providers:
                    cands[_at("nnlite:bp-sgd", g)] = (
                        "benchmarks.bench_peers:nnlite_child",
                        dict(model=model, rule="bp", batch=batch, threads=th, gemm=g, momentum=0.0),
                    )
            if with_torch:
                for r in ("bp", "dfa") + (("biotorch",) if with_biotorch else ()):
                    cands[f"torch:{r}"] = (
                        "benchmarks.bench_peers:torch_child",
                        dict(model=model, rule=r, batch=batch, threads=th),
                    )
            if model == "mlp" and not args.no_gemm:  # the products alone: the floor under each step
                for g in providers:
                    for r in ("bp", "dfa"):
                        cands[_at(f"nnlite:gemm-{r}", g)] = (
                            "benchmarks.bench_peers:gemm_child",
                            dict(lib="nnlite", rule=r, batch=batch, threads=th, gemm=g),
                        )
                if with_torch:
                    cands["torch:gemm-bp"] = (
                        "benchmarks.bench_peers:gemm_child",
                        dict(lib="torch", rule="bp", batch=batch, threads=th),
                    )
            res = blocks(
                cands,
                th,
                rounds=rounds,
                block=0.02 if quick else args.block,
                pause=0.0 if quick else args.pause,
                warmup=0.05 if quick else 1.0,
                max_load=1e9 if quick else None,
                max_steal=1.0 if quick else 0.05,
            )
            row = {"model": model, "threads": th, **res, "quoted": ratios_of(res, providers=providers)}
            result["configs"].append(row)
            keep_partial(path, result)
            print(f"\n{model}, {th} thread(s), batch {batch}: step medians (ms), per-round ratios median [q1, q3]")
            for nm, t in res["times"].items():
                ms = {ph: 1e3 * v["median"] for ph, v in t.items()}
                phases = ", ".join(f"{ph} {ms[ph]:.2f}" for ph in ("forward", "backward", "update") if ph in ms)
                print(f"  {nm:16s} {ms['step']:8.2f} ms" + (f"   ({phases})" if phases else ""))
            for label, s in row["quoted"].items():
                print(f"  {label:34s} {s['median']:.3f} [{s['q1']:.3f}, {s['q3']:.3f}]")
            loads = [r["load"] for r in res["rounds"]]
            steals = [r["steal"] for r in res["rounds"]]
            print(
                f"  load {min(loads):.2f}-{max(loads):.2f}, steal max {max(steals):.3f}, "
                f"rounds repeated {res['repeated']}"
            )
    write_json(path, result)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

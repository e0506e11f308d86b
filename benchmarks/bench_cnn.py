"""The ``cnn()`` training step against the same network in PyTorch: ``python -m benchmarks cnn [--quick]
[--threads 1,2] [--repeats 9] [--batch 128] [--min-sample 0.25] [--out results/cnn.json]``.

The network is :func:`nnlite.cnn`'s default on 1x28x28 images (three ``Conv2d 3x3 -> tanh -> MaxPool2d(2)``
blocks with 32, 32, 64 filters, then ``Dense(576 -> 10)``), softmax cross-entropy, SGD with momentum 0.9, batch
128, float32, trained with BP; PyTorch's twin has the same layers (``nn.Conv2d(padding=1)``, ``nn.Tanh``,
``nn.MaxPool2d(2)``, ``nn.Linear``). One step is forward, loss, backward and update, timed in three phases on both
sides. PyTorch runs in its own process (:class:`benchmarks.harness.Peer`) at the same thread count, interleaved
with nnlite's step in blocks (:func:`benchmarks.harness.blocks`' method): a sample is the mean of back-to-back steps
lasting ``--min-sample`` seconds (a training loop's steady state), each after ``--settle`` seconds asleep (so that
every spinning pool has parked); a round whose load or CPU steal is too high is run again; the ratio quoted is the
median of the per-round ratios, with its quartiles.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

import numpy as np

from .harness import (
    LOAD_PER_CORE,
    MAX_STEAL,
    Peer,
    interleave,
    keep_partial,
    machine_header,
    meta,
    round_ratios,
    threads,
    write_json,
)
from .step import LR, MOMENTUM, nnlite_runner, torch_step_phases

CHANNELS, KERNEL = (32, 32, 64), 3


def _data(batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch)


def nnlite_step(batch, seed=0):
    """nnlite's candidate: one BP step of :func:`nnlite.cnn` (the step suite's phase timing of an nnlite step)."""
    import nnlite
    from nnlite.optim import SGD

    x, y = _data(batch, seed)
    net = nnlite.cnn((1, 28, 28), 10, channels=CHANNELS, kernel_size=KERNEL, seed=seed)
    return nnlite_runner(net, nnlite.BP(), SGD(LR, momentum=MOMENTUM), x, y)


def torch_step(batch, threads, seed=0):
    """The child side of the PyTorch peer: the same network, data and optimizer, warmed up."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y = _data(batch, seed)
    layers, c_in = [], 1
    for c in CHANNELS:
        layers += [torch.nn.Conv2d(c_in, c, KERNEL, padding=KERNEL // 2), torch.nn.Tanh(), torch.nn.MaxPool2d(2)]
        c_in = c
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(c_in * 3 * 3, 10))
    run = torch_step_phases(model, x, y)  # the step suite's timing of a PyTorch step (same optimizer, loss)
    for _ in range(5):
        run()
    return run


def _parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks cnn", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="batch 16, 1 thread, 3 repeats (a smoke run)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2; --quick 1)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 9; --quick 3)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 128; --quick 16)")
    p.add_argument(
        "--min-sample",
        type=float,
        default=None,
        help="a sample is the mean of back-to-back steps lasting at least this long, s (default 0.25; --quick 0): "
        "nnlite's process sleeps while the peer runs, and a step after 0.2 s asleep ran 26 -> 55 ms at 2 threads "
        "(the two woken threads shared one core for a while), which a training loop never pays",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=None,
        help="untimed sleep after each sample, s (default 0.3; --quick 0): the other side's threads stop spinning",
    )
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    return p


def _ms(t):
    return f"{t['median'] * 1e3:8.2f} [{t['q1'] * 1e3:.2f}-{t['q3'] * 1e3:.2f}]"


def main(argv=None):
    args = _parser().parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 9)
    batch = args.batch or (16 if quick else 128)
    min_sample = args.min_sample if args.min_sample is not None else (0.0 if quick else 0.25)
    settle = args.settle if args.settle is not None else (0.0 if quick else 0.4)
    thread_counts = [int(t) for t in (args.threads or ("1" if quick else "1,2")).split(",")]
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    result = {
        "meta": meta(
            quick=quick, repeats=repeats, batch=batch, threads=thread_counts, min_sample=min_sample, settle=settle
        ),
        "runs": [],
    }
    print(machine_header(result["meta"]["machine"]))
    print(
        f"cnn() BP training step, batch {batch}, 1x28x28, float32 (channels {CHANNELS}, {KERNEL}x{KERNEL}); "
        f"ms, median [q1-q3] of {repeats} interleaved repeats (each the mean of steps lasting >= {min_sample} s, "
        f"then {settle} s asleep); "
        "PyTorch in its own process"
    )
    for th in thread_counts:
        rounds: list = []
        samples: dict = {}
        cands = {"nnlite": nnlite_step(batch)}
        peer = Peer("benchmarks.bench_cnn:torch_step", {"batch": batch, "threads": th}, th) if with_torch else None
        try:
            if peer is not None:
                cands["torch"] = peer
            check = {} if quick else {"max_steal": MAX_STEAL, "max_load": LOAD_PER_CORE * (os.cpu_count() or 1)}
            with threads(th):
                res = interleave(
                    cands,
                    repeats,
                    0.2 if quick else 1.0,
                    min_sample=min_sample,
                    settle=settle,
                    rounds_out=rounds,
                    samples_out=samples,
                    **check,
                )
        finally:
            if peer is not None:
                peer.close()
        row = {"threads": th, "results": res, "rounds": rounds}
        print(f"\n{th} thread(s): {'':8s} {'forward':>24s} {'backward':>24s} {'update':>24s} {'step':>24s}")
        for nm, r in res.items():
            print(f"  {nm:14s} " + " ".join(f"{_ms(r[ph]):>24s}" for ph in ("forward", "backward", "update", "step")))
        if "torch" in res:
            ratio = round_ratios(samples, "nnlite", "torch", "step")  # the median of per-round ratios
            row["nnlite_over_torch"] = ratio["median"]
            row["nnlite_over_torch_rounds"] = ratio
            print(f"  nnlite/torch step: {ratio['median']:.2f} [{ratio['q1']:.2f}, {ratio['q3']:.2f}] per round")
        result["runs"].append(row)
        keep_partial(args.out, result)
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0

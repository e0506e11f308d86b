"""Every Numba kernel of :mod:`nnlite.kernels` (and :mod:`nnlite.kernels.fused`) against its NumPy twin, on shapes of
the training step (float32), interleaved, median of repeats. The twin of a loop kernel (im2col, pooling, fwht,
ternarize) is in :mod:`nnlite.kernels.reference`; that of a fused kernel is the equation it fuses, in
:mod:`nnlite.ops` (activations, losses, updates).

In-place kernels (fwht, the optimizer updates) are run on scratch copies refreshed outside the timed call.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from nnlite import kernels as K
from nnlite.kernels import fused as F
from nnlite.kernels import reference as R
from nnlite.ops import activations, losses, updates

from .harness import BLOCK, PAUSE, interleave, timed

#: The loop kernels: every kernel of nnlite.kernels that has a twin in nnlite.kernels.reference.
_LOOP_KERNELS = R.__all__
#: The kernels, and their NumPy twins under the same names.
KERNEL = SimpleNamespace(**{n: getattr(F, n) for n in F.__all__}, **{n: getattr(K, n) for n in _LOOP_KERNELS})
TWIN = SimpleNamespace(
    tanh_grad=activations.tanh_backward,
    sigmoid_grad=activations.sigmoid_backward,
    relu_grad=activations.relu_backward,
    softmax_xent=losses.softmax_cross_entropy,
    column_sums=lambda x: x.sum(axis=0),
    sgd_step=updates.sgd_step,
    adam_step=updates.adam_step,
    rmsprop_step=updates.rmsprop_step,
    **{n: getattr(R, n) for n in _LOOP_KERNELS},
)


def _cases(quick):
    rng = np.random.default_rng(0)
    f = np.float32
    n = 64 if quick else 128
    d = 256 if quick else 800
    P = 100_000 if quick else 1_915_200  # parameters of the 784-800-800-800-10 MLP
    img = rng.standard_normal((n // 4 if quick else 32, 16, 28, 28)).astype(f)
    dout = rng.standard_normal((n, d)).astype(f)
    y = np.tanh(rng.standard_normal((n, d))).astype(f)
    z = rng.standard_normal((n, 10)).astype(f)
    lab = rng.integers(0, 10, n)
    p, g, m = (rng.standard_normal(P).astype(f) for _ in range(3))
    v = np.abs(rng.standard_normal(P)).astype(f)
    cols = K.im2col(img, 5, 5, 1, 2)
    mp_out, mp_arg = K.maxpool2d_forward(img, 2, 2)
    ap_out = K.avgpool2d_forward(img, 2, 2)
    h = rng.standard_normal((n, 1024 if quick else 4096)).astype(f)
    x_fft = rng.standard_normal((n // 4 if quick else n, 16 if quick else 64, 16, 16)).astype(f)
    grid = rng.standard_normal((16, 20, *x_fft.shape[:2])).astype(f)  # an FFT conv's 16 rows of its 20x20 grid
    bias = rng.standard_normal(x_fft.shape[1]).astype(f)
    cases = {
        "tanh_grad": (f"({n}, {d})", lambda M: M.tanh_grad(dout, y)),
        "sigmoid_grad": (f"({n}, {d})", lambda M: M.sigmoid_grad(dout, y)),
        "relu_grad": (f"({n}, {d})", lambda M: M.relu_grad(dout, y)),
        "softmax_xent": (f"({n}, 10)", lambda M: M.softmax_xent(z, lab)),
        "column_sums": (f"({n}, {d})", lambda M: M.column_sums(dout)),
        "sgd_step": (f"({P},) momentum", lambda M: M.sgd_step(p, g, m, lr=1e-6, momentum=0.9)),
        "adam_step": (f"({P},)", lambda M: M.adam_step(p, g, m, v, lr_t=1e-6, beta1=0.9, beta2=0.999, eps=1e-8)),
        "rmsprop_step": (f"({P},)", lambda M: M.rmsprop_step(p, g, v, lr=1e-6, rho=0.9, eps=1e-8)),
        "im2col": (f"{img.shape} k5 p2", lambda M: M.im2col(img, 5, 5, 1, 2)),
        "col2im": (f"{cols.shape}", lambda M: M.col2im(cols, img.shape, 5, 5, 1, 2)),
        "maxpool2d_forward": (f"{img.shape} 2x2", lambda M: M.maxpool2d_forward(img, 2, 2)),
        "maxpool2d_backward": (f"{mp_out.shape}", lambda M: M.maxpool2d_backward(mp_out, mp_arg, img.shape, 2, 2)),
        "avgpool2d_forward": (f"{img.shape} 2x2", lambda M: M.avgpool2d_forward(img, 2, 2)),
        "avgpool2d_backward": (f"{ap_out.shape}", lambda M: M.avgpool2d_backward(ap_out, img.shape, 2, 2)),
        "fwht": (f"{h.shape}", lambda M: M.fwht(h.copy())),
        "ternarize": (f"({n}, {d})", lambda M: M.ternarize(dout, 0.1)),
        "to_spatial_major": (f"{x_fft.shape}", lambda M: M.to_spatial_major(x_fft)),
        "from_spatial_major": (f"{grid.shape} -> 16x16", lambda M: M.from_spatial_major(grid, 16, 16, bias)),
    }
    return cases


def run_kernels(quick=False, repeats=15, warmup=0.2):
    """name -> {"shape", "kernel", "twin" (timing dicts), "speedup" (twin median / kernel median)}.

    A sample is a block of back-to-back calls (:data:`~benchmarks.harness.BLOCK`) after a pause
    (:data:`~benchmarks.harness.PAUSE`); ``quick`` times single calls without pauses."""
    out = {}
    block = {} if quick else {"min_sample": BLOCK, "settle": PAUSE}
    for name, (shape, fn) in _cases(quick).items():
        cands = {"kernel": timed(functools.partial(fn, KERNEL)), "twin": timed(functools.partial(fn, TWIN))}
        res = interleave(cands, repeats, warmup, **block)
        out[name] = {
            "shape": shape,
            "kernel": res["kernel"]["t"],
            "twin": res["twin"]["t"],
            "speedup": res["twin"]["t"]["median"] / res["kernel"]["t"]["median"],
        }
    return out

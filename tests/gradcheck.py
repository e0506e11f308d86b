"""Central finite differences in float64, for checking hand-derived backward passes."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """d f / d x by central differences; ``f`` returns a Python float and reads ``x`` (modified in place)."""
    g = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, b):
    """max |a - b| / max(|a|, |b|, tiny): a relative error over the whole array."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-12)
    return float(np.abs(a - b).max(initial=0.0) / scale)

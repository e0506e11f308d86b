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


#: The relative error check_layer_gradients allows (float64 central differences).
TOL = 1e-6


def check_layer_gradients(layer, x, rng, train=True):
    """Compare ``layer.backward`` with finite differences of ``sum(forward(x) * R)`` for x and every param."""
    out, cache = layer.forward(x, train)
    R = rng.standard_normal(out.shape)

    def loss():
        return float((layer.forward(x, train)[0] * R).sum())

    dx, grads = layer.backward(R, cache)
    assert rel_error(dx, numerical_gradient(loss, x)) < TOL
    assert set(grads) == set(layer.params or {})
    for name, p in (layer.params or {}).items():
        assert grads[name].shape == p.shape
        assert rel_error(grads[name], numerical_gradient(loss, p)) < TOL, name

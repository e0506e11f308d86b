"""BatchNorm (nnlite.layers.normalization): the training forward and backward, and the running statistics,
which converge and which evaluation uses and leaves untouched.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``
(gradcheck.check_layer_gradients)."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients, rel_error
from hypothesis import given
from hypothesis import strategies as st

from nnlite.layers import BatchNorm


# -- batch norm ----------------------------------------------------------------------------------------------------
@given(
    st.integers(3, 6),
    st.integers(1, 4),
    st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.integers(0, 2**31 - 1),
)
def test_batchnorm_train_backward_matches_finite_differences(N, D, hw, seed):
    # N >= 3: with two values per feature xhat is always +-1 and the output does not depend on x (up to eps),
    # so the gradient is ~1e-5 and a relative error measures only the rounding of the finite differences.
    rng = np.random.default_rng(seed)
    layer = BatchNorm(D, dtype=np.float64)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, D)
    layer.params["beta"][...] = rng.standard_normal(D)
    shape = (N, D) if hw is None else (N, D) + hw
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.standard_normal()
    out, _ = layer.forward(x, train=True)
    axes = (0,) if hw is None else (0, 2, 3)
    bs = (1, D) if hw is None else (1, D, 1, 1)
    ref = (x - x.mean(axis=axes).reshape(bs)) / np.sqrt(x.var(axis=axes).reshape(bs) + layer.eps)
    ref = ref * layer.params["gamma"].reshape(bs) + layer.params["beta"].reshape(bs)
    assert rel_error(out, ref) < 1e-12
    check_layer_gradients(layer, x, rng, train=True)


@pytest.mark.parametrize("shape", [(64, 3), (16, 3, 4, 5)])
def test_batchnorm_eval_uses_running_statistics_which_converge(shape):
    rng = np.random.default_rng(0)
    layer = BatchNorm(3, momentum=0.1)
    mu = np.array([1.0, -2.0, 0.5])
    sd = np.array([0.5, 2.0, 3.0])
    bs = (1, 3) if len(shape) == 2 else (1, 3, 1, 1)
    for _ in range(200):
        x = (rng.standard_normal(shape) * sd.reshape(bs) + mu.reshape(bs)).astype(np.float32)
        layer.forward(x, train=True)
    assert np.all(np.abs(layer.buffers["running_mean"] - mu) < 0.1 * sd)
    np.testing.assert_allclose(layer.buffers["running_var"], sd**2, rtol=0.15)
    layer.params["gamma"][...] = [1.0, 2.0, 3.0]
    x = (rng.standard_normal(shape) * 5 + 7).astype(np.float32)  # far from the running statistics
    out, cache = layer.forward(x, train=False)
    rm, rv = (layer.buffers[k].reshape(bs) for k in ("running_mean", "running_var"))
    ref = (x - rm) / np.sqrt(rv + layer.eps) * layer.params["gamma"].reshape(bs)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    before = {k: v.copy() for k, v in layer.buffers.items()}
    layer.forward(x, train=False)
    for k in before:
        np.testing.assert_array_equal(layer.buffers[k], before[k])  # eval does not touch them
    # eval backward: the statistics are constants
    R = rng.standard_normal(out.shape).astype(np.float32)
    dx, g = layer.backward(R, cache)
    np.testing.assert_allclose(dx, R * layer.params["gamma"].reshape(bs) / np.sqrt(rv + layer.eps), rtol=1e-5)
    assert np.abs(layer.forward(x, train=True)[0].mean(axis=(0,) if len(shape) == 2 else (0, 2, 3))).max() < 1e-4

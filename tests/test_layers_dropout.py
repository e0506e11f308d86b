"""Dropout (nnlite.layers.dropout, nnlite.ops.dropout): the backward of a fixed mask, the mask's expectation,
evaluation mode and seeding.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``
(gradcheck.check_layer_gradients)."""

import numpy as np
from gradcheck import TOL, numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st

from nnlite.layers import Dropout
from nnlite.ops.dropout import dropout_backward, dropout_forward


# -- dropout --------------------------------------------------------------------------------------------------------
@given(st.floats(0.0, 0.9), st.integers(0, 2**31 - 1))
def test_dropout_fixed_mask_backward_matches_finite_differences(p, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 2, 3, 4))
    out, mask = dropout_forward(x, p, rng, train=True)
    if p == 0:
        assert mask is None and out is x
        return
    assert set(np.unique(mask)) <= {0.0, 1.0 / (1.0 - p)}
    R = rng.standard_normal(x.shape)
    g = numerical_gradient(lambda: float((dropout_forward(x, p, None, mask=mask)[0] * R).sum()), x)
    assert rel_error(dropout_backward(R, mask), g) < TOL


def test_dropout_layer_mask_expectation_eval_and_seed():
    x = np.full((200, 50, 10), 3.0, dtype=np.float32)
    layer = Dropout(0.3, seed=5)
    out, mask = layer.forward(x, train=True)
    assert out.dtype == np.float32
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 3.0) < 0.03  # E[out] = x
    np.testing.assert_allclose(out[out != 0], 3.0 / 0.7, rtol=1e-6)
    dx, g = layer.backward(np.ones_like(x), mask)
    np.testing.assert_array_equal(dx, mask)
    v = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.carry(v, mask), v * mask)
    ev, cache = layer.forward(x, train=False)
    assert ev is x and layer.backward(v, cache)[0] is v and layer.carry(v, cache) is v
    a = Dropout(0.5, seed=1).forward(x, train=True)[1]
    b = Dropout(0.5, seed=1).forward(x, train=True)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(layer.forward(x)[1], layer.forward(x)[1])  # a new mask every step

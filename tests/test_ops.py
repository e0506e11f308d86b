"""Every op's backward against central finite differences (float64), losses' e against their value, dtypes."""

import numpy as np
import pytest
from gradcheck import numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

from nnlite.ops import activations as act
from nnlite.ops.dense import dense_backward, dense_forward
from nnlite.ops.losses import binary_cross_entropy, mean_squared_error, softmax, softmax_cross_entropy

ACTS = {
    "tanh": (act.tanh_forward, act.tanh_backward),
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward),
    "relu": (act.relu_forward, act.relu_backward),
    "abs": (act.abs_forward, act.abs_backward),
    "identity": (act.identity_forward, act.identity_backward),
    "leaky_relu_0.01": (lambda x: act.leaky_relu_forward(x, 0.01), lambda d, c: act.leaky_relu_backward(d, c, 0.01)),
    "leaky_relu_-0.5": (lambda x: act.leaky_relu_forward(x, -0.5), lambda d, c: act.leaky_relu_backward(d, c, -0.5)),
}


def _away_from_kinks(x):
    # ReLU, |x| and leaky ReLU have a kink at 0: keep finite differences off it.
    x[np.abs(x) < 1e-3] = 0.5
    return x


@given(seed=seeds(), n=st.integers(1, 5), d=st.integers(1, 6), name=st.sampled_from(sorted(ACTS)))
def test_activation_backward_matches_finite_differences(seed, n, d, name):
    rng = np.random.default_rng(seed)
    fwd, bwd = ACTS[name]
    x = _away_from_kinks(rng.uniform(-3, 3, (n, d)))
    R = rng.standard_normal((n, d))
    y, cache = fwd(x)
    dx = bwd(R, cache)
    num = numerical_gradient(lambda: float((fwd(x)[0] * R).sum()), x)
    assert rel_error(dx, num) < 1e-6


def test_leaky_relu_negative_slope_values():
    x = np.array([[-2.0, 3.0]])
    y, c = act.leaky_relu_forward(x, -0.5)
    np.testing.assert_array_equal(y, [[1.0, 3.0]])
    np.testing.assert_array_equal(act.leaky_relu_backward(np.ones_like(x), c, -0.5), [[-0.5, 1.0]])


def test_sigmoid_does_not_overflow():
    y, _ = act.sigmoid_forward(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))
    np.testing.assert_allclose(y, [[0.0, 0.5, 1.0]], atol=1e-7)
    assert y.dtype == np.float32


@given(seed=seeds(), n=st.integers(1, 5), din=st.integers(1, 6), dout=st.integers(1, 6), bias=st.booleans())
def test_dense_backward_matches_finite_differences(seed, n, din, dout, bias):
    rng = np.random.default_rng(seed)
    x, W = rng.standard_normal((n, din)), rng.standard_normal((dout, din))
    b = rng.standard_normal(dout) if bias else None
    R = rng.standard_normal((n, dout))

    def f():
        return float((dense_forward(x, W, b)[0] * R).sum())

    _, cache = dense_forward(x, W, b)
    dx, dW, db = dense_backward(R, cache, W, need_db=bias)
    assert rel_error(dx, numerical_gradient(f, x)) < 1e-6
    assert rel_error(dW, numerical_gradient(f, W)) < 1e-6
    if bias:
        assert rel_error(db, numerical_gradient(f, b)) < 1e-6
    else:
        assert db is None


def test_dense_feedback_and_need_dx():
    rng = np.random.default_rng(0)
    x, W, B = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    R = rng.standard_normal((3, 5))
    dx, dW, _ = dense_backward(R, x, W, feedback=B)
    np.testing.assert_allclose(dx, R @ B)
    dx0, dW0, _ = dense_backward(R, x, W, need_dx=False)
    assert dx0 is None
    np.testing.assert_array_equal(dW0, dW)


LOSSES = [softmax_cross_entropy, binary_cross_entropy, mean_squared_error]


@given(seed=seeds(), n=st.integers(1, 6), c=st.integers(2, 6), loss=st.sampled_from(LOSSES))
def test_loss_error_is_gradient_of_value(seed, n, c, loss):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-4, 4, (n, c))
    y = rng.integers(0, c, n)
    _, e = loss(z, y)
    num = numerical_gradient(lambda: loss(z, y)[0], z)
    assert rel_error(e, num) < 1e-6


def test_cross_entropy_is_stable_for_large_logits():
    z = np.array([[1000.0, 0.0], [0.0, -1000.0]], dtype=np.float32)
    loss, e = softmax_cross_entropy(z, np.array([1, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(e))
    np.testing.assert_allclose(loss, 500.0, rtol=1e-6)
    l2, e2 = binary_cross_entropy(z, np.array([1, 0]))
    assert np.isfinite(l2) and np.all(np.isfinite(e2))
    np.testing.assert_allclose(softmax(z.copy()).sum(axis=1), 1.0, rtol=1e-6)


def test_loss_rejects_bad_labels():
    z = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"\[0, 3\).*max 3"):
        softmax_cross_entropy(z, np.array([0, 3]))
    with pytest.raises(TypeError, match="integers"):
        softmax_cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        mean_squared_error(z, np.array([0, 1, 2]))


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activations_keep_float32(name):
    fwd, bwd = ACTS[name]
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y, c = fwd(x)
    assert y.dtype == np.float32
    assert bwd(np.ones_like(y), c).dtype == np.float32


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_keep_float32(loss):
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    value, e = loss(z, np.array([0, 1, 2, 0]))
    assert isinstance(value, float) and e.dtype == np.float32


def test_dense_keeps_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W, b = rng.standard_normal((2, 3)).astype(np.float32), np.zeros(2, np.float32)
    a, c = dense_forward(x, W, b)
    dx, dW, db = dense_backward(np.ones_like(a), c, W)
    assert {a.dtype, dx.dtype, dW.dtype, db.dtype} == {np.dtype(np.float32)}

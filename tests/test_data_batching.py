"""Tests of nnlite.data.batching and the input checks nnlite.data re-exports: batches(), one_hot(),
check_inputs() and check_labels()."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite.data import batches, check_inputs, check_labels, one_hot

# ------------------------------------------------------------------------------------------------------------------
# batches and one_hot


def _orders(x, **kw):
    return np.concatenate([xb for xb, _ in batches(x, x.copy(), **kw)])


@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), seed=st.integers(0, 2**32 - 1))
def test_batches_seeded_order_covers_each_sample_once(n, batch_size, seed):
    x = np.arange(n)
    y = np.arange(n) * 10
    got = list(batches(x, y, batch_size, rng=seed))
    assert [len(xb) for xb, _ in got] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
    order = np.concatenate([xb for xb, _ in got])
    assert sorted(order.tolist()) == list(range(n))
    for xb, yb in got:
        np.testing.assert_array_equal(yb, xb * 10)  # x and y stay paired
    np.testing.assert_array_equal(order, _orders(x, batch_size=batch_size, rng=seed))
    np.testing.assert_array_equal(order, _orders(x, batch_size=batch_size, rng=np.random.default_rng(seed)))


def test_batches_shuffles_and_generator_advances():
    x = np.arange(100)
    a = _orders(x, batch_size=10, rng=0)
    assert not np.array_equal(a, x)
    assert not np.array_equal(a, _orders(x, batch_size=10, rng=1))
    g = np.random.default_rng(0)
    first, second = _orders(x, batch_size=10, rng=g), _orders(x, batch_size=10, rng=g)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)


def test_batches_drop_last_unshuffled_views_and_errors():
    x = np.arange(20.0).reshape(10, 2)
    got = list(batches(x, None, 4, shuffle=False, drop_last=True))
    assert len(got) == 2 and all(yb is None for _, yb in got)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in got]), x[:8])
    assert np.shares_memory(got[0][0], x)
    assert [len(b) for b, _ in batches(x, None, 4, rng=0)] == [4, 4, 2]
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        batches(x, np.arange(9), 4)  # raised at the call, not at the first next()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            batches(x, None, bad)


def test_one_hot():
    y = np.array([2, 0, 1, 2])
    for dtype in (np.float32, np.float64):
        oh = one_hot(y, 3, dtype)
        assert oh.dtype == dtype and oh.shape == (4, 3)
        np.testing.assert_array_equal(oh.argmax(1), y)
        np.testing.assert_array_equal(oh.sum(1), 1)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\), got max 2"):
        one_hot(y, 2)


# ------------------------------------------------------------------------------------------------------------------
# check_inputs / check_labels


def test_check_inputs_accepts_good_batches():
    x = np.zeros((3, 784), np.float32)
    assert check_inputs(x, n_features=784, ndim=2) is x
    img = np.zeros((2, 1, 28, 28), np.float64)
    assert check_inputs(img, n_features=784, ndim=4) is img


@pytest.mark.parametrize(
    "x, kw, exc, message",
    [
        ([[0.0, 1.0]], {}, TypeError, "x must be a numpy array, got list"),
        (np.zeros((2, 3), np.int64), {}, TypeError, "x must be a floating-point array (float32 or float64), got int64"),
        (np.zeros((2, 3), np.float32), {"ndim": 4}, ValueError, "x must have 4 dimensions, got 2"),
        (np.zeros((2, 783), np.float32), {"n_features": 784}, ValueError, "x: expected 784 features, got 783"),
        (np.zeros((0, 784), np.float32), {"n_features": 784}, ValueError, "x is an empty batch"),
        (np.ones((), np.float32), {}, ValueError, "must have a batch dimension"),
    ],
)
def test_check_inputs_rejects(x, kw, exc, message):
    with pytest.raises(exc) as err:
        check_inputs(x, **kw)
    assert message in str(err.value)


def test_check_inputs_counts_nonfinite_values():
    x = np.ones((4, 5), np.float32)
    x[0, 1], x[2, 2], x[3, 4] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"^inputs contains 3 NaN/inf values$"):
        check_inputs(x, name="inputs")


@pytest.mark.parametrize(
    "y, kw, exc, message",
    [
        ([1, 2], {}, TypeError, "labels must be a numpy array, got list"),
        (np.array([1.0, 2.0]), {}, TypeError, "labels must be an integer array, got float64"),
        (np.array([[1, 2]]), {}, ValueError, "labels must be 1-D (N,), got shape (1, 2)"),
        (np.array([1, 12, 3]), {}, ValueError, "labels must be in [0, 10), got max 12"),
        (np.array([1, -1, 3]), {}, ValueError, "labels must be in [0, 10), got min -1"),
        (np.array([1, 2, 3]), {"n": 4}, ValueError, "got 3 labels for 4 samples"),
        (np.array([], np.int64), {}, ValueError, "labels are empty"),
    ],
)
def test_check_labels_rejects(y, kw, exc, message):
    with pytest.raises(exc) as err:
        check_labels(y, 10, **kw)
    assert message in str(err.value)


def test_check_labels_accepts_every_integer_type():
    for dtype in (np.uint8, np.int32, np.int64):
        y = np.array([0, 9, 3], dtype)
        assert check_labels(y, 10, n=3) is y

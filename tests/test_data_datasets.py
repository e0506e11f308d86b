"""Tests of nnlite.data.datasets: the embedded digits data set, the Dataset record, the name and dtype checks
of load(), and standardization with the training statistics."""

import numpy as np
import pytest

from nnlite import data
from nnlite.data import load

# ------------------------------------------------------------------------------------------------------------------
# digits and the Dataset record


def test_digits_loads_offline_with_fixed_stratified_split(clean_env):
    d = load("digits", download=False)
    assert d.name == "digits" and d.n_classes == 10 and d.shape == (64,)
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.y_train.shape == (1437,) and d.y_test.shape == (360,)
    both = np.concatenate([d.x_train, d.x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    np.testing.assert_array_equal(both * 16, np.round(both * 16))  # exactly the 0..16 counts divided by 16
    # stratified: every class's share of the test set is its share of the whole, to within one sample
    y_all = np.concatenate([d.y_train, d.y_test])
    expected = np.bincount(y_all) * 360 / len(y_all)
    assert np.all(np.abs(np.bincount(d.y_test, minlength=10) - expected) < 1)
    again = load("digits")
    for a, b in zip(
        (d.x_train, d.y_train, d.x_test, d.y_test), (again.x_train, again.y_train, again.x_test, again.y_test)
    ):
        np.testing.assert_array_equal(a, b)


def test_digits_split_is_a_partition_of_sklearn_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    d = load("digits")
    ours = np.concatenate([d.x_train, d.x_test]) * 16
    theirs = bunch.data

    # same multiset of (image, label) rows
    def key(x, y):
        return sorted(map(bytes, np.concatenate([x, y[:, None]], axis=1).astype(np.uint8)))

    assert key(ours, np.concatenate([d.y_train, d.y_test])) == key(theirs, bunch.target)


def test_digits_images_float64_and_unpacking():
    d = load("digits", flatten=False, dtype=np.float64)
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_train.dtype == np.float64 and d.shape == (1, 8, 8)
    flat = load("digits")
    np.testing.assert_array_equal(d.x_train.reshape(1437, 64), flat.x_train.astype(np.float64))
    (x_tr, y_tr), (x_te, y_te) = flat
    assert x_tr is flat.x_train and y_tr is flat.y_train and x_te is flat.x_test and y_te is flat.y_test


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as err:
        load("imagenet")
    for known in data.KNOWN_DATASETS:
        assert known in str(err.value)


def test_non_float_dtype_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        load("digits", dtype=np.int32)


# ------------------------------------------------------------------------------------------------------------------
# standardization


@pytest.mark.parametrize("flatten", [True, False])
def test_standardize_uses_train_statistics_for_both_splits(flatten):
    raw = load("digits", flatten=flatten)
    d = load("digits", flatten=flatten, standardize=True)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.mean.dtype == np.float32 and d.std.dtype == np.float32
    axes = (0,) if flatten else (0, 2, 3)
    mu = raw.x_train.astype(np.float64).mean(axis=axes, keepdims=True)[0]
    sd = np.maximum(raw.x_train.astype(np.float64).std(axis=axes, keepdims=True)[0], data.STD_FLOOR)
    assert d.mean.shape == ((64,) if flatten else (1, 1, 1))
    np.testing.assert_allclose(d.mean, mu, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d.std, sd, rtol=1e-6)
    np.testing.assert_allclose(d.x_train, (raw.x_train - mu) / sd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.x_test, (raw.x_test - mu) / sd, rtol=1e-5, atol=1e-5)
    train_std = d.x_train.std(axis=axes)
    varying = (sd > data.STD_FLOOR).ravel()
    np.testing.assert_allclose(d.x_train.mean(axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(train_std.ravel()[varying], 1.0, rtol=1e-4)
    if flatten:  # digits has constant-zero pixels: they are centred, never divided by zero
        constant = raw.x_train.std(axis=0) == 0
        assert constant.any() and np.isfinite(d.x_test).all()
        assert np.all(d.x_train[:, constant] == 0)

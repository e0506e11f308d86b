"""Hostile inputs at the library's API, one test item per input, grouped by class of failure: NaN and inf, the dtype
contract at the layer API, and empty batches. The other classes are in tests/test_hostile_signals.py (wrong
backward signals), tests/test_hostile_files.py (checkpoint and data files and data arguments) and
tests/test_hostile_args.py (constructor and call arguments, and the positive controls); crafted files that try
to exhaust memory are tests/test_hostile.py's. Each item asserts the exact exception class and a key part of its
message, or the correct value.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnlite as nn
from nnlite import backend as dispatch
from nnlite.kernels import maxpool2d_backward, maxpool2d_forward
from nnlite.kernels import reference as ref
from nnlite.ops import losses

# ----------------------------------------------------------------------------------------------------------------
# NaN and inf


class TestNanInf:
    @given(
        pos=st.tuples(st.integers(0, 2), st.integers(0, 2)),
        value=st.sampled_from([np.nan, -np.inf, np.inf]),
        dtype=st.sampled_from([np.float32, np.float64]),
    )
    def test_maxpool_output_is_np_max_with_nan_or_inf_anywhere_in_the_window(self, pos, value, dtype):
        x = np.arange(9, dtype=dtype).reshape(1, 1, 3, 3)
        x[0, 0, pos[0], pos[1]] = value
        out, _ = nn.MaxPool2d(3).forward(x)
        np.testing.assert_array_equal(out.ravel(), [np.max(x)])

    def test_maxpool_nan_second_in_its_window(self):
        # the example: a NaN anywhere but first in its window was dropped
        x = np.array([[[[1.0, np.nan], [0.0, 0.0]]]], np.float32)
        out, _ = nn.MaxPool2d(2).forward(x)
        assert np.isnan(out).all()

    @given(seed=st.integers(0, 2**31 - 1), stride=st.sampled_from([None, 1, (2, 1)]))
    def test_maxpool_kernel_equals_twin_with_nan_and_inf(self, seed, stride):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2, 2, 5, 6)).astype(np.float32)
        for value, share in ((np.nan, 0.15), (np.inf, 0.1), (-np.inf, 0.1)):
            x[rng.random(x.shape) < share] = value
        out, arg = maxpool2d_forward(x, 3, 2, stride)
        out_r, arg_r = ref.maxpool2d_forward(x, 3, 2, stride)
        np.testing.assert_array_equal(out, out_r)
        np.testing.assert_array_equal(arg, arg_r)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        np.testing.assert_allclose(
            maxpool2d_backward(dout, arg, x.shape, 3, 2, stride),
            ref.maxpool2d_backward(dout, arg_r, x.shape, 3, 2, stride),
            rtol=1e-6,
        )

    def test_maxpool_backward_routes_the_gradient_to_the_nan(self):
        x = np.array([[[[1.0, 5.0], [np.nan, 0.0]]]], np.float32)
        layer = nn.MaxPool2d(2)
        _, cache = layer.forward(x)
        dx, _ = layer.backward(np.full((1, 1, 1, 1), 3.0, np.float32), cache)
        np.testing.assert_array_equal(dx, [[[[0.0, 0.0], [3.0, 0.0]]]])

    @pytest.mark.parametrize(
        "z,want",
        [([np.inf, 0.0], [1.0, 0.0]), ([0.0, np.inf, np.inf], [0.0, 0.5, 0.5]), ([-np.inf, 2.0], [0.0, 1.0])],
    )
    def test_softmax_of_infinite_logits_is_the_limit(self, z, want):
        np.testing.assert_array_equal(losses.softmax(np.array([z], np.float32))[0], want)

    def test_log_softmax_of_inf_and_zero(self):
        np.testing.assert_array_equal(losses.log_softmax(np.array([[np.inf, 0.0]]))[0], [0.0, -np.inf])

    @pytest.mark.parametrize("fused", [True, False])
    def test_softmax_cross_entropy_of_inf_at_the_label_is_zero(self, fused):
        with dispatch.fused_kernels(fused):
            loss, e = nn.softmax_cross_entropy(np.array([[np.inf, 0.0], [0.0, 0.0]], np.float32), np.array([0, 1]))
        assert loss == pytest.approx(np.log(2) / 2)
        np.testing.assert_allclose(e, [[0.0, 0.0], [0.25, -0.25]], atol=1e-7)

    @pytest.mark.parametrize("fused", [True, False])
    def test_softmax_cross_entropy_of_inf_elsewhere_is_inf_with_a_finite_error(self, fused):
        with dispatch.fused_kernels(fused):
            loss, e = nn.softmax_cross_entropy(np.array([[np.inf, 0.0]], np.float32), np.array([1]))
        assert loss == np.inf
        np.testing.assert_array_equal(e, [[1.0, -1.0]])

    @given(seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from([np.float32, np.float64]))
    def test_fused_softmax_xent_equals_twin_with_infinite_logits(self, seed, dtype):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((6, 4)).astype(dtype)
        z[rng.random(z.shape) < 0.25] = np.inf
        z[rng.random(z.shape) < 0.25] = -np.inf
        z[:, 0] = np.where(np.isneginf(z).all(axis=1), 0.0, z[:, 0])  # no row of -inf only (0/0 in both)
        y = rng.integers(0, 4, 6)
        with dispatch.fused_kernels(True):
            loss, e = nn.softmax_cross_entropy(z, y)
        loss_r, e_r = losses.softmax_cross_entropy(z, y)
        assert np.isfinite(e).all()
        np.testing.assert_allclose(e, e_r, rtol=1e-6, atol=1e-7)
        assert loss == pytest.approx(loss_r, rel=1e-5) or loss == loss_r == np.inf

    @pytest.mark.parametrize("z,label", [(np.inf, 0), (-np.inf, 1)])
    def test_binary_cross_entropy_of_a_right_infinite_logit_is_zero(self, z, label):
        # column 0 is the label's: +inf there, or -inf in the other column, is the right answer
        logits = np.array([[z, -np.inf if label == 0 else np.inf]], np.float32)[:, :: -1 if label else 1]
        loss, e = nn.binary_cross_entropy(np.ascontiguousarray(logits), np.array([0]))
        assert loss == 0.0
        np.testing.assert_array_equal(e, [[0.0, 0.0]])

    def test_binary_cross_entropy_of_a_wrong_infinite_logit_is_inf(self):
        loss, e = nn.binary_cross_entropy(np.array([[-np.inf, np.inf]], np.float32), np.array([0]))
        assert loss == np.inf
        np.testing.assert_array_equal(e, [[-1.0, 1.0]])

    def test_predict_refuses_nan_input_naming_the_sample(self):
        net = nn.mlp([3, 4, 2], seed=0)
        x = np.zeros((5, 3), np.float32)
        x[3, 1] = np.nan
        with pytest.raises(ValueError, match=r"NaN or inf.*sample 3"):
            net.predict(x, batch_size=2)

    def test_predict_refuses_inf_input(self):
        net = nn.mlp([3, 4, 2], seed=0)
        with pytest.raises(ValueError, match=r"NaN or inf.*sample 0"):
            net.predict(np.full((2, 3), np.inf, np.float32))

    @pytest.mark.parametrize("model", ["mlp", "cnn"])
    def test_forward_in_evaluation_mode_keeps_nan_to_its_sample(self, model):
        if model == "mlp":
            net, shape = nn.mlp([6, 5, 3], seed=0), (4, 6)
        else:
            net, shape = nn.cnn((1, 8, 8), 3, channels=(2, 2, 2), seed=0), (4, 1, 8, 8)
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        clean = net.forward(x, train=False)[0]
        x[1].flat[5] = np.nan  # one feature (pixel) of sample 1
        out = net.forward(x, train=False)[0]
        assert np.isnan(out[1]).all()
        np.testing.assert_array_equal(np.delete(out, 1, axis=0), np.delete(clean, 1, axis=0))


# ----------------------------------------------------------------------------------------------------------------
# The dtype contract at the layer API

FORWARD_LAYERS = {
    "Dense": (lambda: nn.Dense(3, 2, rng=0), (2, 3)),
    "Tanh": (nn.Tanh, (2, 3)),
    "Sigmoid": (nn.Sigmoid, (2, 3)),
    "ReLU": (nn.ReLU, (2, 3)),
    "Abs": (nn.Abs, (2, 3)),
    "Identity": (nn.Identity, (2, 3)),
    "LeakyReLU": (nn.LeakyReLU, (2, 3)),
    "Dropout": (lambda: nn.Dropout(0.5, seed=0), (2, 3)),
    "BatchNorm": (lambda: nn.BatchNorm(3), (2, 3)),
    "Flatten": (nn.Flatten, (2, 3)),
    "Conv2d": (lambda: nn.Conv2d(1, 2, 3, rng=0), (2, 1, 4, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 1, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 1, 4, 4)),
}

BAD_DTYPES = {"int64": np.int64, "bool": np.bool_, "float16": np.float16, "complex64": np.complex64, "object": object}


class TestDtypeContract:
    @pytest.mark.parametrize("dtype", sorted(BAD_DTYPES))
    @pytest.mark.parametrize("name", sorted(FORWARD_LAYERS))
    def test_layer_forward_refuses_non_float32_float64_input(self, name, dtype):
        make, shape = FORWARD_LAYERS[name]
        x = np.ones(shape).astype(BAD_DTYPES[dtype])
        with pytest.raises(TypeError, match=rf"{name} expects float32 or float64 input, got {np.dtype(x.dtype)}"):
            make().forward(x)

    @pytest.mark.parametrize("name", sorted(FORWARD_LAYERS))
    def test_layer_forward_refuses_a_list(self, name):
        make, shape = FORWARD_LAYERS[name]
        with pytest.raises(TypeError, match=rf"{name} expects a numpy array.*got list"):
            make().forward(np.ones(shape).tolist())

    @pytest.mark.parametrize("name", ["Dense", "Conv2d", "BatchNorm"])
    def test_layer_forward_refuses_input_of_another_float_dtype_than_its_own(self, name):
        make, shape = FORWARD_LAYERS[name]
        with pytest.raises(TypeError, match=rf"{name} is float32 but its input is float64"):
            make().forward(np.ones(shape, np.float64))

    def test_dense_forward_of_a_nested_list(self):
        # the example: AttributeError ('list' object has no attribute 'ndim')
        with pytest.raises(TypeError, match="Dense expects a numpy array"):
            nn.Dense(1, 1).forward([[1.0]])

    def test_dropout_on_float16(self):
        with pytest.raises(TypeError, match="Dropout expects float32 or float64 input, got float16"):
            nn.Dropout(0.5, seed=0).forward(np.ones((2, 3), np.float16))

    @pytest.mark.parametrize("kind", ["float16", "list"])
    def test_loss_refuses_logits_that_are_not_float32_or_float64(self, kind):
        z = np.ones((2, 3), np.float16)
        with pytest.raises(TypeError, match="logits must be"):
            nn.mean_squared_error(z if kind == "float16" else z.tolist(), np.array([0, 1]))

    def test_data_load_refuses_float16(self):
        with pytest.raises(TypeError, match="float32 or float64, got float16"):
            nn.data.load("digits", dtype=np.float16)

    def test_dense_carry_refuses_v_of_another_width(self):
        with pytest.raises(ValueError, match=r"Dense.carry expects v of shape \(N, 3\), got \(2, 5\)"):
            nn.Dense(3, 2).carry(np.ones((2, 5), np.float32), None)


# ----------------------------------------------------------------------------------------------------------------
# Empty batches

LOSSES = {
    "softmax_cross_entropy": nn.softmax_cross_entropy,
    "ops.softmax_cross_entropy": losses.softmax_cross_entropy,
    "binary_cross_entropy": nn.binary_cross_entropy,
    "mean_squared_error": nn.mean_squared_error,
}


class TestEmpty:
    @pytest.mark.parametrize("name", sorted(LOSSES))
    def test_loss_of_an_empty_batch(self, name):
        with pytest.raises(ValueError, match=r"empty batch: logits have shape \(0, 3\)"):
            LOSSES[name](np.zeros((0, 3), np.float32), np.zeros(0, np.int64))

    @pytest.mark.parametrize("name", sorted(LOSSES))
    def test_loss_with_no_classes(self, name):
        with pytest.raises(ValueError, match="no classes"):
            LOSSES[name](np.zeros((2, 0), np.float32), np.zeros(2, np.int64))

    def test_forward_of_an_empty_batch(self):
        with pytest.raises(ValueError, match="empty batch"):
            nn.mlp([3, 4, 2], seed=0).forward(np.zeros((0, 3), np.float32))

    def test_predict_of_an_empty_batch(self):
        with pytest.raises(ValueError, match="empty batch"):
            nn.mlp([3, 4, 2], seed=0).predict(np.zeros((0, 3), np.float32))

    def test_batch_norm_training_on_an_empty_batch(self):
        with pytest.raises(ValueError, match="more than one value per feature"):
            nn.BatchNorm(3).forward(np.zeros((0, 3), np.float32))

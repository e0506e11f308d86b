"""Hostile inputs at the library's API: one test item is one hostile input, grouped by class of failure.

Each item asserts the exact exception class and a key part of its message, or the correct value. The classes:
backward passes given a wrong signal, NaN and inf, the dtype contract at the layer API, empty batches, checkpoint
files that are not checkpoints, data files and data arguments, and constructor arguments. (Crafted files that
try to exhaust memory are tests/test_hostile.py's.) ``TestValidInputStillWorks`` holds the positive controls: what
the checks must keep accepting.
"""

import hashlib
import io
import json
import os
import pickle
import re
import stat
import struct
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnlite as nn
from nnlite import checkpoint as ckpt
from nnlite.data import read_cifar_batch
from nnlite.kernels import dispatch, maxpool2d_backward, maxpool2d_forward
from nnlite.kernels import reference as ref
from nnlite.ops import activations as act
from nnlite.ops import conv as conv_ops
from nnlite.ops import dense as dense_ops
from nnlite.ops import dropout as dropout_ops
from nnlite.ops import losses
from nnlite.ops import normalization as bn_ops

#: nnlite.checkpoint.CheckpointError (looked up so that this file also runs against older commits).
CheckpointError = getattr(ckpt, "CheckpointError", type("CheckpointErrorMissing", (Exception,), {}))


def shapes_in(msg_shape_a, msg_shape_b):
    """A regex that matches a message naming both shapes (in either order)."""
    a, b = re.escape(str(tuple(msg_shape_a))), re.escape(str(tuple(msg_shape_b)))
    return rf"({a}.*{b}|{b}.*{a})"


def unblock_fifo_after(path, seconds=5.0):
    """From ``seconds`` on, keep opening the FIFO ``path`` for writing and closing it, so that whatever blocks on
    opening it for reading (once or again and again) sees end-of-file instead of hanging the test run. Returns the
    event that stops it."""
    stop = threading.Event()

    def release():
        stop.wait(seconds)
        while not stop.is_set():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # succeeds only while a reader waits
            except OSError:
                pass
            stop.wait(0.05)

    threading.Thread(target=release, daemon=True).start()
    return stop


# ----------------------------------------------------------------------------------------------------------------
# Backward passes given a wrong signal

LAYERS = {
    "Dense": (lambda: nn.Dense(4, 3, rng=0), (5, 4), True),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1, rng=0), (3, 2, 5, 5), True),
    "Tanh": (nn.Tanh, (5, 4), True),
    "Sigmoid": (nn.Sigmoid, (5, 4), True),
    "ReLU": (nn.ReLU, (5, 4), True),
    "Abs": (nn.Abs, (5, 4), True),
    "Identity": (nn.Identity, (5, 4), True),
    "LeakyReLU": (lambda: nn.LeakyReLU(-0.5), (5, 4), True),
    "Dropout": (lambda: nn.Dropout(0.5, seed=0), (5, 4), True),
    "Dropout-eval": (lambda: nn.Dropout(0.5, seed=0), (5, 4), False),
    "BatchNorm": (lambda: nn.BatchNorm(4), (5, 4), True),
    "BatchNorm-images": (lambda: nn.BatchNorm(2), (3, 2, 4, 4), True),
    "BatchNorm-eval": (lambda: nn.BatchNorm(4), (5, 4), False),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (3, 2, 4, 4), True),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (3, 2, 4, 4), True),
    "Flatten": (nn.Flatten, (3, 2, 4, 4), True),
}

#: Wrong douts, made from the right one: more samples, fewer, one that broadcasts, one reshaped to as many
#: elements.
WRONG_DOUT = {
    "more-samples": lambda d: np.concatenate([d, d[:2]]),
    "fewer-samples": lambda d: d[:-1].copy(),
    "broadcasts": lambda d: np.ascontiguousarray(d[..., :1]),
    "reshaped": lambda d: d.reshape(d.shape[0], -1).T.copy() if d.ndim == 2 else d.reshape(d.shape[0], -1),
}


def _forward(name):
    make, shape, train = LAYERS[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out, cache = layer.forward(x, train)
    return layer, out, cache


class TestBackwardShapes:
    @pytest.mark.parametrize("wrong", sorted(WRONG_DOUT))
    @pytest.mark.parametrize("name", sorted(LAYERS))
    def test_layer_backward_refuses_dout_of_another_shape(self, name, wrong):
        layer, out, cache = _forward(name)
        dout = WRONG_DOUT[wrong](np.ones_like(out))
        assert dout.shape != out.shape
        with pytest.raises(ValueError, match=shapes_in(dout.shape, out.shape)):
            layer.backward(dout, cache)

    @pytest.mark.parametrize("name", sorted(LAYERS))
    def test_layer_backward_refuses_dout_of_another_dtype(self, name):
        layer, out, cache = _forward(name)
        with pytest.raises(TypeError, match=r"float64.*float32"):
            layer.backward(np.ones(out.shape, np.float64), cache)

    @pytest.mark.parametrize("name", ["Dense", "ReLU", "Flatten"])
    def test_layer_backward_refuses_a_list(self, name):
        layer, out, cache = _forward(name)
        with pytest.raises(TypeError, match="numpy array"):
            layer.backward(np.ones_like(out).tolist(), cache)

    def test_conv2d_backward_does_not_use_3_of_5_samples(self):
        # the example: the chunked executor used to slice the 5-sample dout to the cache's 3
        layer, out, cache = _forward("Conv2d")
        with pytest.raises(ValueError, match=shapes_in((5, 3, 5, 5), (3, 3, 5, 5))):
            layer.backward(np.ones((5, 3, 5, 5), np.float32), cache)

    @given(shape=st.lists(st.integers(0, 7), min_size=1, max_size=3).map(tuple))
    def test_dense_backward_refuses_every_other_shape(self, shape):
        layer = nn.Dense(4, 3, rng=0)
        out, cache = layer.forward(np.ones((5, 4), np.float32))
        if shape == out.shape:
            return
        with pytest.raises(ValueError, match=shapes_in(shape, out.shape)):
            layer.backward(np.ones(shape, np.float32), cache)

    def test_weight_layer_refuses_feedback_of_another_dtype(self):
        layer, out, cache = _forward("Dense")
        with pytest.raises(TypeError, match="feedback is float64"):
            layer.backward(np.ones_like(out), cache, feedback=layer.W.astype(np.float64))

    @pytest.mark.parametrize(
        "op",
        ["dense", "conv2d", "tanh", "sigmoid", "relu", "leaky_relu", "abs", "dropout", "batchnorm"],
    )
    def test_backward_op_refuses_dout_with_more_samples(self, op):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((3, 4))
        if op == "dense":
            W = rng.standard_normal((2, 4))
            out, cache = dense_ops.dense_forward(x, W)
            call = lambda d: dense_ops.dense_backward(d, cache, W)  # noqa: E731
        elif op == "conv2d":
            W = rng.standard_normal((2, 1, 3, 3))
            out, cache = conv_ops.conv2d_forward(rng.standard_normal((3, 1, 5, 5)), W)
            call = lambda d: conv_ops.conv2d_backward(d, cache, W)  # noqa: E731
        elif op == "leaky_relu":
            out, cache = act.leaky_relu_forward(x, 0.1)
            call = lambda d: act.leaky_relu_backward(d, cache, 0.1)  # noqa: E731
        elif op == "dropout":
            out, cache = dropout_ops.dropout_forward(x, 0.5, np.random.default_rng(0))
            call = lambda d: dropout_ops.dropout_backward(d, cache)  # noqa: E731
        elif op == "batchnorm":
            out, cache = bn_ops.batchnorm_forward(x, np.ones(4), np.zeros(4))
            call = lambda d: bn_ops.batchnorm_backward(d, cache)  # noqa: E731
        else:
            out, cache = getattr(act, f"{op}_forward")(x)
            call = lambda d: getattr(act, f"{op}_backward")(d, cache)  # noqa: E731
        dout = np.ones((out.shape[0] + 2, *out.shape[1:]))
        with pytest.raises(ValueError, match=shapes_in(dout.shape, out.shape)):
            call(dout)


RULES = {
    "bp": lambda: nn.BP(),
    "fa": lambda: nn.FA(seed=0),
    "dfa": lambda: nn.DFA(seed=0),
    "ifa": lambda: nn.IFA(seed=0),
    "lafs": lambda: nn.LAFS(seed=0),
    "usf": lambda: nn.USF(),
    "frsf": lambda: nn.FRSF(seed=0),
    "brsf": lambda: nn.BRSF(seed=0),
    "kp": lambda: nn.KP(lr=0.1, weight_decay=0.0, seed=0),
    "drtp": lambda: nn.DRTP(seed=0),
    "sdfa": lambda: nn.SDFA(seed=0),
}

#: Wrong output errors for a batch of 6 and 3 outputs.
WRONG_E = {
    "more-samples": (8, 3),
    "fewer-samples": (2, 3),
    "one-sample": (1, 3),
    "wider": (6, 4),
    "flat": (18,),
}


def _rule_case():
    net = nn.mlp([4, 5, 3], seed=0)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    out, caches = net.forward(x)
    return net, caches, nn.softmax_cross_entropy(out, y)[1], y


class TestRuleSignals:
    @pytest.mark.parametrize("wrong", sorted(WRONG_E))
    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_refuses_e_of_another_shape(self, rule, wrong):
        net, caches, _, y = _rule_case()
        e = np.ones(WRONG_E[wrong], np.float32)
        with pytest.raises(ValueError, match=shapes_in(e.shape, (6, 3))):
            RULES[rule]().gradients(net, caches, e, y)

    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_refuses_e_of_another_dtype(self, rule):
        net, caches, e, y = _rule_case()
        with pytest.raises(TypeError, match="e is float64, but the network is float32"):
            RULES[rule]().gradients(net, caches, e.astype(np.float64), y)

    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_refuses_labels_of_another_length(self, rule):
        net, caches, e, y = _rule_case()
        with pytest.raises(ValueError, match=r"labels y have shape \(4,\).*6 samples"):
            RULES[rule]().gradients(net, caches, e, y[:4])

    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_refuses_caches_of_another_network(self, rule):
        net, _, e, y = _rule_case()
        other = nn.Sequential([nn.Dense(4, 3, rng=0)])
        caches = other.forward(np.ones((6, 4), np.float32))[1]
        with pytest.raises(ValueError, match="another network"):
            RULES[rule]().gradients(net, caches, e, y)

    def test_drtp_refuses_labels_out_of_range(self):
        net, caches, e, y = _rule_case()
        with pytest.raises(ValueError, match=r"labels y must be in \[0, 3\), got min -1"):
            nn.DRTP(seed=0).gradients(net, caches, e, np.array([0, 1, 2, 0, 1, -1]))

    def test_lafs_refuses_local_errors_of_another_count(self):
        net, caches, e, _ = _rule_case()
        with pytest.raises(ValueError, match="2 local errors for 1 hidden blocks"):
            nn.LAFS(seed=0).gradients_from_errors(net, caches, e, [e, e])


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


# ----------------------------------------------------------------------------------------------------------------
# Checkpoint files


def _good_checkpoint(tmp_path):
    net = nn.Sequential([nn.Dense(3, 4, rng=0), nn.BatchNorm(4), nn.ReLU(), nn.Dense(4, 2, rng=1)])
    path = tmp_path / "good.npz"
    nn.save(net, path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return path, arrays, json.loads(str(arrays["__spec__"]))


def _write(folder, arrays):
    path = folder / "bad.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def _with_spec(arrays, spec):
    return {**arrays, "__spec__": np.array(json.dumps(spec))}


def _edit(arrays, **members):
    out = dict(arrays)
    for k, v in members.items():
        k = k.replace("__", ".")
        if v is None:
            del out[k]
        else:
            out[k] = v
    return out


def _spec_edit(spec, fn):
    s = json.loads(json.dumps(spec))
    fn(s)
    return s


def _npy_bytes(a, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


#: name -> (a function (tmp_path, good path, arrays, spec) -> the file, the message's key part)
BAD_CHECKPOINTS = {
    "truncated-half": (lambda t, p, a, s: _bytes(t, p.read_bytes()[: p.stat().st_size // 2]), "truncated or corrupt"),
    "truncated-10-bytes": (lambda t, p, a, s: _bytes(t, p.read_bytes()[:10]), "truncated or corrupt"),
    "empty": (lambda t, p, a, s: _bytes(t, b""), r"is empty \(0 bytes\)"),
    "text": (lambda t, p, a, s: _bytes(t, b"hello, not a zip file at all"), "not a zip archive"),
    "npy": (lambda t, p, a, s: _bytes(t, _npy_bytes(np.zeros(3))), r"is an \.npy file"),
    "npy-object": (lambda t, p, a, s: _bytes(t, _npy_bytes(np.array([1, "a"], object), True)), r"is an \.npy file"),
    "missing-weight": (lambda t, p, a, s: _write(t, _edit(a, layer3__param__W=None)), "lacks layer3.param.W"),
    "missing-spec": (lambda t, p, a, s: _write(t, {k: v for k, v in a.items() if k != "__spec__"}), "lacks __spec__"),
    "complex-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.complex64))),
        "param.W is complex64 in the file, but the layer is float32",
    ),
    "float64-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.float64))),
        "param.W is float64 in the file, but the layer is float32",
    ),
    "int-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.int32))),
        "param.W is int32 in the file",
    ),
    "float32-weights-in-a-float64-spec": (
        lambda t, p, a, s: _write(
            t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0]["config"].update(dtype="float64")))
        ),
        "param.W is float32 in the file, but the layer is float64",
    ),
    "running-var-of-shape-1": (
        lambda t, p, a, s: _write(t, _edit(a, layer1__buffer__running_var=np.array([2.0], np.float32))),
        r"running_var has shape \(1,\) in the file, but its configuration needs \(4,\)",
    ),
    "object-member": (lambda t, p, a, s: _object_member(t, a), "object array"),
    "format-99": (lambda t, p, a, s: _write(t, _with_spec(a, {**s, "format": 99})), "format 99 is not one"),
    "format-missing": (
        lambda t, p, a, s: _write(t, _with_spec(a, {k: v for k, v in s.items() if k != "format"})),
        "format None is not one",
    ),
    "spec-not-json": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.array("{not json")}), "not valid JSON"),
    "spec-a-list": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.array("[1, 2]")}), "must be a JSON object"),
    "spec-an-int-array": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.arange(3)}), "must be one JSON string"),
    "spec-without-layers": (
        lambda t, p, a, s: _write(t, _with_spec(a, {k: v for k, v in s.items() if k != "layers"})),
        "layers must be a non-empty list",
    ),
    "layer-without-config": (
        lambda t, p, a, s: _write(t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0].pop("config")))),
        "layer 0 must be an object",
    ),
    "unknown-config-key": (
        lambda t, p, a, s: _write(t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0]["config"].update(bogus=1)))),
        "bad configuration.*bogus",
    ),
    "input-shape-that-does-not-fit": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "input_shape": [5]})),
        "does not describe a network",
    ),
    "frozen-unit-out-of-range": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "frozen_units": {"0": [99]}})),
        "does not describe a network.*frozen units",
    ),
    "frozen-units-bad-key": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "frozen_units": {"x": [1]}})),
        "frozen_units must map block numbers",
    ),
    "nan-weights": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=np.full_like(a["layer0.param.W"], np.nan))),
        "holds 12 NaN/inf values",
    ),
    "negative-running-var": (
        lambda t, p, a, s: _write(t, _edit(a, layer1__buffer__running_var=np.full(4, -1.0, np.float32))),
        "negative variances",
    ),
    "folder": (lambda t, p, a, s: _folder(t), "is a folder"),
    "fifo": (lambda t, p, a, s: _fifo(t), "not a regular file"),
}


def _bytes(folder, data):
    path = folder / "bad.npz"
    path.write_bytes(data)
    return path


def _object_member(folder, arrays):
    import zipfile

    path = folder / "bad.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in arrays.items():
            if k == "layer0.param.W":
                v = np.array([[1, "x"]], dtype=object)
            zf.writestr(k + ".npy", _npy_bytes(v, allow_pickle=True))
    return path


def _folder(folder):
    path = folder / "folder.npz"
    path.mkdir()
    return path


def _fifo(folder):
    path = folder / "fifo.npz"
    os.mkfifo(path)
    return path


class TestCheckpointFiles:
    @pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
    def test_load_refuses_with_checkpoint_error_naming_the_file(self, tmp_path, case):
        good, arrays, spec = _good_checkpoint(tmp_path)
        make, key = BAD_CHECKPOINTS[case]
        (tmp_path / "case").mkdir()
        path = make(tmp_path / "case", good, arrays, spec)
        unblocker = unblock_fifo_after(path) if stat.S_ISFIFO(os.lstat(path).st_mode) else None
        try:
            with pytest.raises(CheckpointError, match=key) as err:
                nn.load(path)
        finally:
            if unblocker is not None:
                unblocker.set()
        msg = str(err.value)
        assert str(path) in msg and "allow_pickle" not in msg
        assert isinstance(err.value, ValueError)

    def test_load_refuses_a_rule_state_of_another_dtype(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.KP(lr=0.1, weight_decay=0.0, seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        with np.load(tmp_path / "m.npz") as f:
            arrays = {k: f[k] for k in f.files}
        arrays["rule.B1"] = arrays["rule.B1"].astype(np.float64)
        path = _write(tmp_path, arrays)
        with pytest.raises(CheckpointError, match="B1 is float64, expected float32"):
            nn.load(path, rule=nn.KP(lr=0.1, weight_decay=0.0))

    def test_load_refuses_a_brsf_state_without_its_generator(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.BRSF(seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        with np.load(tmp_path / "m.npz") as f:
            arrays = {k: f[k] for k in f.files if k != "rule.rng"}
        path = _write(tmp_path, arrays)
        with pytest.raises(CheckpointError, match="generator 'rng'"):
            nn.load(path, rule=nn.BRSF(seed=0))


# ----------------------------------------------------------------------------------------------------------------
# Data files and data arguments


def _idx(arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _cifar_pickle(labels):
    x = np.zeros((len(labels), 3072), np.uint8)
    return pickle.dumps({b"data": x, b"labels": labels}, protocol=4)


def _serve(tmp_path, payload=b"the payload\n" * 100):
    src = tmp_path / "served.bin"
    src.write_bytes(payload)
    return src.as_uri(), hashlib.sha256(payload).hexdigest(), payload


class TestData:
    def test_standardize_with_an_empty_training_split(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NNLITE_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        root = tmp_path / "mnist"
        root.mkdir()
        rng = np.random.default_rng(0)
        files = {
            "train-images-idx3-ubyte": np.zeros((0, 28, 28), np.uint8),
            "train-labels-idx1-ubyte": np.zeros(0, np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)).astype(np.uint8),
            "t10k-labels-idx1-ubyte": np.arange(4).astype(np.uint8),
        }
        for name, arr in files.items():
            (root / name).write_bytes(_idx(arr))
        with pytest.raises(ValueError, match="training split is empty"):
            nn.data.load("mnist", root=tmp_path, download=False, standardize=True)

    @pytest.mark.parametrize("labels", [[1.7, 2.2], [True, False], ["1", "2"]], ids=["float", "bool", "str"])
    def test_cifar_labels_that_are_not_integers(self, labels):
        with pytest.raises(ValueError, match="labels must be integers"):
            read_cifar_batch(_cifar_pickle(labels), "b")

    @pytest.mark.parametrize("kind", ["fifo", "folder"])
    def test_download_never_replaces_a_special_file(self, tmp_path, kind):
        url, sha, _ = _serve(tmp_path)
        dest = tmp_path / "dest.bin"
        os.mkfifo(dest) if kind == "fifo" else dest.mkdir()
        with pytest.raises(ValueError, match="nnlite replaces only regular files"):
            nn.data.download_file(url, dest, sha)
        mode = os.lstat(dest).st_mode
        assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISDIR(mode)

    def test_download_gets_the_umask_mode_not_mkstemp_0600(self, tmp_path):
        url, sha, _ = _serve(tmp_path)
        old = os.umask(0o022)
        try:
            nn.data.download_file(url, tmp_path / "new.bin", sha)
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o644

    def test_download_writes_through_a_symlink(self, tmp_path):
        url, sha, payload = _serve(tmp_path)
        target, link = tmp_path / "target.bin", tmp_path / "link.bin"
        target.write_bytes(b"old")
        link.symlink_to(target)
        nn.data.download_file(url, link, sha)
        assert link.is_symlink() and target.read_bytes() == payload

    def test_a_fifo_under_a_cifar_layout_name_is_not_read(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NNLITE_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        fifo = tmp_path / "cifar-10-python.tar.gz"
        os.mkfifo(fifo)
        unblocker = unblock_fifo_after(fifo)
        try:
            with pytest.raises(nn.data.DataNotFoundError):
                nn.data.load("cifar10", root=tmp_path, download=False)
        finally:
            unblocker.set()

    @pytest.mark.parametrize("flag", ["standardize", "flatten", "download"])
    def test_load_flags_must_be_booleans(self, flag):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'no'"):
            nn.data.load("digits", **{flag: "no"})

    def test_batches_of_a_list(self):
        with pytest.raises(TypeError, match="x must be a numpy array"):
            list(nn.data.batches([[1.0], [2.0]], None, 1))


# ----------------------------------------------------------------------------------------------------------------
# Constructor and call arguments


def _two_block_case():
    net = nn.mlp([4, 5, 3], seed=0)
    out, caches = net.forward(np.ones((2, 4), np.float32))
    return net, caches, np.ones((2, 3), np.float32) / 2


ARGUMENTS = {
    "Adam(betas=(0.9,))": (lambda: nn.Adam(betas=(0.9,)), TypeError, r"betas must be a pair"),
    "Adam(betas=0.9)": (lambda: nn.Adam(betas=0.9), TypeError, r"betas must be a pair"),
    "Adam(betas=('a', 'b'))": (lambda: nn.Adam(betas=("a", "b")), TypeError, r"betas\[0\] must be a number"),
    "Adam(betas=(0.9, 1.0))": (lambda: nn.Adam(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0, 1\)"),
    "Adam(lr='x')": (lambda: nn.Adam(lr="x"), TypeError, "lr must be a number"),
    "Adam(eps=nan)": (lambda: nn.Adam(eps=float("nan")), ValueError, "eps must be finite"),
    "SGD(lr=None)": (lambda: nn.SGD(lr=None), TypeError, "lr must be a number"),
    "SGD(lr=True)": (lambda: nn.SGD(lr=True), TypeError, "lr must be a number, got True"),
    "SGD(lr=[1])": (lambda: nn.SGD(lr=[1]), TypeError, "lr must be a number"),
    "SGD(nesterov='no')": (
        lambda: nn.SGD(0.1, momentum=0.9, nesterov="no"),
        TypeError,
        "nesterov must be True or False",
    ),
    "RMSprop(rho='a')": (lambda: nn.RMSprop(rho="a"), TypeError, "rho must be a number"),
    "FA(feedbacks=[None])": (
        lambda: nn.FA(feedbacks=[None]).gradients(*_two_block_case()),
        ValueError,
        r"one entry per block \(2\), got 1",
    ),
    "FA(feedbacks=3)": (lambda: nn.FA(feedbacks=3), TypeError, "feedbacks must be a list"),
    "FA(feedbacks=[None, list])": (lambda: nn.FA(feedbacks=[None, [[1.0]]]), TypeError, "feedback 1 must be a numpy"),
    "FA(feedbacks=[None, float64])": (
        lambda: nn.FA(feedbacks=[None, np.ones((3, 5))]).gradients(*_two_block_case()),
        TypeError,
        "feedback 1 is float64, but the network is float32",
    ),
    "KP(feedbacks='B')": (lambda: nn.KP(0.1, 0.0, feedbacks="B"), TypeError, "feedbacks must be a list"),
    "DFA(projection='gaussian')": (lambda: nn.DFA(projection="gaussian"), TypeError, "Projection object"),
    "IFA(projection='gaussian')": (lambda: nn.IFA(projection="gaussian"), TypeError, "Projection object"),
    "LAFS(projection=3)": (lambda: nn.LAFS(projection=3), TypeError, "Projection object"),
    "DFA(parallel='yes')": (lambda: nn.DFA(parallel="yes"), TypeError, "parallel must be True or False"),
    "DRTP(normalize='no')": (lambda: nn.DRTP(normalize="no"), TypeError, "normalize must be True or False"),
    "LeakyReLU('a')": (lambda: nn.LeakyReLU("a"), TypeError, "slope must be a number"),
    "predict(batch_size=0)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=0),
        ValueError,
        "batch_size must be a positive integer",
    ),
    "predict(batch_size=-1)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=-1),
        ValueError,
        "batch_size must be a positive integer",
    ),
    "predict(batch_size=1.5)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=1.5),
        ValueError,
        "batch_size must be a positive integer",
    ),
}


class TestArguments:
    @pytest.mark.parametrize("case", list(ARGUMENTS))
    def test_argument_error_is_nnlites_own(self, case):
        call, exc, key = ARGUMENTS[case]
        with pytest.raises(exc, match=key):
            call()


# ----------------------------------------------------------------------------------------------------------------
# Positive controls: what the checks must keep accepting (not hostile inputs; not counted)


class TestValidInputStillWorks:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("name", sorted(LAYERS))
    def test_layer_round_trip_in_its_dtype(self, name, dtype):
        make, shape, train = LAYERS[name]
        layer = make()
        if dtype == np.float64 and hasattr(layer, "dtype"):
            layer = type(layer).from_config({**layer.config(), "dtype": "float64"})
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        out, cache = layer.forward(x, train)
        dx, _ = layer.backward(np.ones_like(out), cache)
        assert out.dtype == dx.dtype == dtype and dx.shape == x.shape

    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_takes_the_error_of_its_own_batch(self, rule):
        net, caches, e, y = _rule_case()
        grads = RULES[rule]().gradients(net, caches, e, y)
        assert all(np.isfinite(g).all() for d in grads for g in d.values())

    def test_checkpoint_round_trip_with_rule_state(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.BRSF(seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        back = nn.load(tmp_path / "m.npz", rule=nn.BRSF(seed=0))
        x = np.ones((2, 4), np.float32)
        np.testing.assert_array_equal(back.predict(x), net.predict(x))

    def test_finite_binary_cross_entropy_is_unchanged(self):
        z = np.random.default_rng(0).standard_normal((5, 3)) * 10
        y = np.array([0, 1, 2, 0, 1])
        t = losses.one_hot(y, 3, z.dtype)
        want = float((np.logaddexp(0, z) - t * z).sum()) / 5
        assert nn.binary_cross_entropy(z, y)[0] == pytest.approx(want, rel=1e-12)

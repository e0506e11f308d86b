"""Hostile inputs at the library's API, one test item per input (see tests/test_hostile_values.py for the
whole list of classes): backward passes and rules given a wrong signal. Each item asserts the exact exception class
and a key part of its message.
"""

import numpy as np
import pytest
from hostile_helpers import shapes_in
from hypothesis import given
from hypothesis import strategies as st
from rule_cases import maker, registered

import nnlite as nn
from nnlite.ops import activations as act
from nnlite.ops import conv as conv_ops
from nnlite.ops import dense as dense_ops
from nnlite.ops import dropout as dropout_ops
from nnlite.ops import normalization as bn_ops

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


#: Every registered rule (the registry's, so a new rule is held to these checks with no edit here).
RULES = {name: maker(name, seed=0) for name in registered()}

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

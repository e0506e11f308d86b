"""fit's, the optimizers', the network's and the rules' arguments are checked before any step changes anything."""

import numpy as np
import pytest

import nnlite as nn


# -- arguments ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_max_steps_must_be_a_positive_integer(digits, bad):
    net = nn.mlp([64, 10], seed=0)
    w0 = net.layers[0].params["W"].copy()
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        nn.fit(
            net,
            nn.BP(),
            nn.softmax_cross_entropy,
            nn.optim.SGD(0.1),
            (digits.x_train, digits.y_train),
            max_steps=bad,
            progress=False,
        )
    np.testing.assert_array_equal(net.layers[0].params["W"], w0)


def test_max_steps_takes_exactly_that_many_steps(digits):
    net = nn.mlp([64, 10], seed=0)

    class Count(nn.optim.SGD):
        n = 0

        def step(self, params, grads):
            Count.n += 1
            super().step(params, grads)

    nn.fit(
        net,
        nn.BP(),
        nn.softmax_cross_entropy,
        Count(0.1),
        (digits.x_train, digits.y_train),
        epochs=5,
        batch_size=100,
        max_steps=3,
        progress=False,
    )
    assert Count.n == 3


@pytest.mark.parametrize("bad", ["abc", 1.5, -3])
def test_fit_seed_is_checked(digits, bad):
    net = nn.mlp([64, 10], seed=0)
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        nn.fit(
            net,
            nn.BP(),
            nn.softmax_cross_entropy,
            nn.optim.SGD(0.1),
            (digits.x_train, digits.y_train),
            seed=bad,
            progress=False,
        )


def test_batchnorm_with_one_sample_left_over_is_refused_before_training(digits):
    net = nn.mlp([64, 16, 10], seed=0, batch_norm=True)
    w0 = net.layers[0].params["W"].copy()
    x, y = digits.x_train[:129], digits.y_train[:129]
    with pytest.raises(ValueError, match=r"one value per feature; choose a batch size .* \(e\.g\. 65\)"):
        nn.fit(net, nn.BP(), nn.softmax_cross_entropy, nn.optim.SGD(0.1), (x, y), batch_size=64, progress=False)
    np.testing.assert_array_equal(net.layers[0].params["W"], w0)
    assert 129 % 65 != 1
    # a conv BatchNorm normalises over H x W too: one image is enough
    net = nn.cnn((1, 8, 8), 10, channels=(4,), batch_norm=True, seed=0)
    h = nn.fit(
        net,
        nn.BP(),
        nn.softmax_cross_entropy,
        nn.optim.SGD(0.01),
        (x.reshape(-1, 1, 8, 8), y),
        batch_size=64,
        progress=False,
    )
    assert h.epoch == [1]


def test_a_stateful_optimizer_refuses_another_network(digits):
    x, y = digits.x_train[:64], digits.y_train[:64]
    opt = nn.optim.Adam(1e-3)
    nn.fit(nn.mlp([64, 10], seed=0), nn.BP(), nn.softmax_cross_entropy, opt, (x, y), progress=False)
    with pytest.raises(ValueError, match="holds state for another network's parameters"):
        nn.fit(nn.mlp([64, 10], seed=0), nn.BP(), nn.softmax_cross_entropy, opt, (x, y), progress=False)


@pytest.mark.parametrize(
    "opt", [lambda: nn.optim.SGD(0.1, momentum=0.9), lambda: nn.optim.Adam(), lambda: nn.optim.RMSprop()]
)
@pytest.mark.parametrize(
    "grads, err, match",
    [
        (lambda p: [list(d.values()) for d in p], TypeError, r"gradients\[0\] must be a dict"),
        (lambda p: [{k: v.tolist() for k, v in d.items()} for d in p], TypeError, "must be a numpy array"),
        (
            lambda p: [{k: v.astype(np.complex64) for k, v in d.items()} for d in p],
            TypeError,
            "is complex64, its parameter is float32",
        ),
        (
            lambda p: [{k: v.astype(np.float64) for k, v in d.items()} for d in p],
            TypeError,
            "is float64, its parameter is float32",
        ),
        (lambda p: {0: p[0]}, TypeError, "must be lists of dicts"),
    ],
)
def test_optimizer_step_refuses_bad_gradients_before_changing_anything(opt, grads, err, match):
    net = nn.mlp([4, 3, 2], seed=0)
    o = opt()
    before = [{k: v.copy() for k, v in d.items()} for d in net.params()]
    with pytest.raises(err, match=match):
        o.step(net.params(), grads(net.params()))
    assert o.t == 0 and o.state == []
    for a, b in zip(before, net.params()):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda net: net.set_frozen_units(5, [0]), r"k must name a hidden block in \[0, 2\), got 5"),
        (lambda net: net.bottleneck(True, 1), "k must name a hidden block"),
        (lambda net: net.backward_block(9, None, None), r"k must name a block in \[0, 3\), got 9"),
        (lambda net: net.carry_block(-1, None, None), "k must name a block"),
        (lambda net: net.weight_layer(3), "k must name a block"),
    ],
)
def test_block_indices_out_of_range_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(nn.mlp([4, 3, 3, 2], seed=0))


def test_network_flags_and_shapes_are_checked():
    net = nn.mlp([4, 3, 2], seed=0)
    with pytest.raises(TypeError, match="train must be True or False, got 'no'"):
        net.forward(np.zeros((1, 4), np.float32), train="no")
    with pytest.raises(TypeError, match="input_shape must be a tuple"):
        nn.Sequential([nn.Dense(3, 2)], input_shape="3")
    with pytest.raises(ValueError, match="input_shape entries must be a positive integer"):
        nn.Sequential([nn.Dense(3, 2)], input_shape=(0,))


@pytest.mark.parametrize(
    "make",
    [
        lambda s: nn.DFA(seed=s),
        lambda s: nn.LAFS(seed=s),
        lambda s: nn.IFA(seed=s),
        lambda s: nn.FA(seed=s),
        lambda s: nn.rules.KP(0.01, 0.0, seed=s),
        lambda s: nn.rules.BRSF(seed=s),
        lambda s: nn.rules.FRSF(seed=s),
        lambda s: nn.rules.DRTP(seed=s),
    ],
)
@pytest.mark.parametrize("bad", ["abc", -1, 1.5])
def test_rule_seeds_are_checked_at_construction(make, bad):
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        make(bad)


def test_the_conv_executor_refuses_a_dout_of_another_shape():
    from nnlite.backend import conv as conv_exec

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    W = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    out, cache = conv_exec.conv2d_forward(x, W, None, stride=1, padding=1)
    dout = rng.standard_normal((5, 4, 6, 6)).astype(np.float32)
    with pytest.raises(
        ValueError, match=r"dout has shape \(5, 4, 6, 6\), but the forward pass's output has shape \(3, 4, 6, 6\)"
    ):
        conv_exec.conv2d_backward(dout, cache, W)
    dx, dW, db = conv_exec.conv2d_backward(dout[:3], cache, W)
    assert dx.shape == x.shape and dW.shape == W.shape

"""Dropout (nnlite.layers.dropout, nnlite.ops.dropout): the backward of a fixed mask, the mask's expectation,
evaluation mode and seeding.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``
(gradcheck.check_layer_gradients)."""

import numpy as np
import pytest
from gradcheck import TOL, numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st

import nnlite as nn
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


# -- channel dropout (PyTorch's Dropout2d) -------------------------------------------------------------------------
def test_channel_dropout_masks_whole_channels_at_the_rate_p():
    p = 0.3
    layer = Dropout(p, seed=0, channels=True)
    x = np.random.default_rng(1).standard_normal((200, 50, 3, 4)).astype(np.float32)
    out, cache = layer.forward(x)
    assert out.dtype == np.float32 and cache.mask.dtype == np.float32
    assert cache.mask.shape == (200, 50, 1, 1) and cache.shape == x.shape
    scale = np.float32(1 / (1 - p))
    assert set(np.unique(cache.mask)) <= {np.float32(0), scale}
    ratio = out / x  # constant within each (sample, channel): 0 or 1/(1-p)
    np.testing.assert_allclose(ratio, np.broadcast_to(cache.mask, x.shape), rtol=1e-6)
    dropped = float((cache.mask == 0).mean())
    n = cache.mask.size  # binomial: 5 standard deviations
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_channel_dropout_backward_and_carry_use_the_mask():
    p = 0.5
    layer = Dropout(p, seed=2, channels=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 2, 3)).astype(np.float32)
    out, cache = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, grads = layer.backward(dout, cache)
    keep = cache.mask != 0
    assert grads == {} and dx.dtype == np.float32
    np.testing.assert_array_equal(dx, np.where(keep, dout / np.float32(1 - p), np.float32(0)))
    np.testing.assert_array_equal(layer.carry(dout, cache), dx)  # IFA: the same linear map
    with pytest.raises(ValueError, match="shape"):
        layer.backward(dout[:, :, :1], cache)


def test_channel_dropout_seeding_eval_mode_and_config():
    x = np.random.default_rng(0).standard_normal((5, 3, 4, 4))
    a, b = Dropout(0.4, seed=7, channels=True), Dropout(0.4, seed=7, channels=True)
    np.testing.assert_array_equal(a.forward(x)[0], b.forward(x)[0])
    assert a.forward(x, train=False)[0] is x
    assert a.config() == {"p": 0.4, "seed": 7, "channels": True}
    assert Dropout(0.4, seed=7).config() == {"p": 0.4, "seed": 7}  # element dropout's config as before
    assert Dropout.from_config(a.config()).channels is True
    assert repr(a) == "Dropout(0.4, channels=True)"
    with pytest.raises(ValueError, match="whole channels"):
        a.forward(x[:, :, 0, 0])
    with pytest.raises(TypeError, match="channels"):
        Dropout(0.4, channels="yes")


def test_channel_dropout_checkpoint_round_trip(tmp_path):
    from nnlite.network import Sequential

    net = Sequential(
        [nn.Conv2d(2, 3, 3, rng=0), nn.Dropout(0.5, seed=3, channels=True), nn.Flatten(), nn.Dense(12, 2, rng=1)],
        input_shape=(2, 4, 4),
    )
    nn.save(net, tmp_path / "m.npz")
    back = nn.load(tmp_path / "m.npz")
    assert back.layers[1].channels is True and back.layers[1].p == 0.5
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x, train=False)[0], net.forward(x, train=False)[0])
    fresh = nn.Dropout(0.5, seed=3, channels=True)  # the saved seed draws the same masks again
    h = net.layers[0].forward(x)[0]
    np.testing.assert_array_equal(back.layers[1].forward(h)[0], fresh.forward(h)[0])

"""The conv-net layers together and the cnn() builder: float32 stays float32 through every layer, cnn() fits
the MNIST and CIFAR shapes, checkpoints keep batch norm's running statistics, and bad input raises clear
errors."""

import numpy as np
import pytest

import nnlite
from nnlite.layers import AvgPool2d, BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d


# -- dtypes ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv2d(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 6)),
        (lambda: MaxPool2d(2), (2, 3, 6, 6)),
        (lambda: AvgPool2d(3, 2), (2, 3, 7, 7)),
        (lambda: Flatten(), (2, 3, 4, 4)),
        (lambda: BatchNorm(3), (4, 3, 5, 5)),
        (lambda: BatchNorm(3), (8, 3)),
        (lambda: Dropout(0.5, seed=0), (4, 3, 5, 5)),
    ],
)
def test_float32_in_float32_out(make, shape):
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for train in (True, False):
        out, cache = layer.forward(x, train)
        assert out.dtype == np.float32
        dout = np.ones_like(out)
        if layer.is_weight:
            dx, g = layer.backward(dout, cache, feedback=layer.new_feedback(1))
        else:
            dx, g = layer.backward(dout, cache)
        assert dx.dtype == np.float32 and dx.shape == x.shape
        assert all(v.dtype == np.float32 for v in g.values())
        assert set(g) == set(layer.params or {})
        assert layer.carry(x, cache).dtype == np.float32
    for v in list((layer.params or {}).values()) + list(getattr(layer, "buffers", {}).values()):
        assert v.dtype == np.float32


# -- the builder, checkpoints, blocks ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, flat", [((1, 28, 28), 64 * 3 * 3), ((3, 32, 32), 64 * 4 * 4)])
def test_cnn_fits_mnist_and_cifar_shapes(shape, flat):
    net = nnlite.cnn(shape, 10, batch_norm=True, dropout=0.1, seed=0)
    assert net.n_blocks == 4
    assert net.layer_shapes[-2] == (flat,) and net.block_shapes[-1] == (10,)
    # params(): per block, the weight layer then its batch norm
    names = [tuple(sorted(p)) for p in net.params()]
    assert names == [("W", "b"), ("beta", "gamma")] * 3 + [("W", "b")]
    assert net.block_param_slices() == [[0, 1], [2, 3], [4, 5], [6]]
    out, _ = net.forward(np.zeros((2,) + shape, np.float32))
    assert out.shape == (2, 10) and out.dtype == np.float32


def test_checkpoint_round_trip_with_batchnorm(tmp_path):
    rng = np.random.default_rng(0)
    net = nnlite.cnn((1, 12, 12), 4, channels=(4, 6, 5), kernel_size=3, batch_norm=True, dropout=0.2, seed=3)
    x = rng.standard_normal((16, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    opt = nnlite.SGD(0.1)
    for _ in range(3):
        out, caches = net.forward(x, train=True)
        _, e = nnlite.softmax_cross_entropy(out, y)
        opt.step(net.params(), nnlite.BP().gradients(net, caches, e, y))
    bn = net.layers[1]
    assert not np.allclose(bn.buffers["running_mean"], 0)  # the running statistics moved
    path = tmp_path / "cnn.npz"
    nnlite.save(net, path)
    net2 = nnlite.load(path)
    assert [type(l) for l in net2.layers] == [type(l) for l in net.layers]
    np.testing.assert_array_equal(net2.layers[1].buffers["running_var"], bn.buffers["running_var"])
    np.testing.assert_array_equal(net2.predict(x), net.predict(x))
    assert repr(net2) == repr(net)


def test_bad_inputs_raise_clear_errors():
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(TypeError):
        conv.forward(np.zeros((2, 3, 5, 5), np.int64))
    with pytest.raises(ValueError, match="does not fit"):
        Conv2d(3, 4, 5).forward(np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="feedback"):
        out, cache = conv.forward(np.zeros((1, 3, 5, 5), np.float32))
        conv.backward(out, cache, feedback=np.zeros((4, 3, 2, 2), np.float32))
    for bad in (
        dict(c_in=0, c_out=2, kernel_size=3),
        dict(c_in=2, c_out=2, kernel_size=0),
        dict(c_in=2, c_out=2, kernel_size=3, stride=0),
        dict(c_in=2, c_out=2, kernel_size=3, padding=-1),
        dict(c_in=2, c_out=2, kernel_size=3, init="nope"),
    ):
        with pytest.raises(ValueError):
            Conv2d(**bad)
    with pytest.raises(TypeError):
        Conv2d(2, 2, 2.5)
    with pytest.raises(ValueError, match="does not fit"):
        MaxPool2d(3).output_shape((1, 2, 2))
    with pytest.raises(ValueError):
        MaxPool2d(0)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        BatchNorm(4).forward(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="more than one value"):
        BatchNorm(4).forward(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError):
        BatchNorm(4, momentum=0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="too small"):
        nnlite.cnn((1, 4, 4))
    with pytest.raises(ValueError, match="odd"):
        nnlite.cnn(kernel_size=4)
    net = nnlite.cnn((1, 8, 8), 3, channels=(2, 2, 2), kernel_size=3)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        net.forward(np.zeros((2, 1, 9, 8), np.float32))

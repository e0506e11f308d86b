"""The builders' options: dropout, input dropout and batch norm in mlp(), input dropout in cnn()."""

import hashlib

import numpy as np
import pytest

import nnlite as nn
from nnlite.models import cnn, mlp

# sha256 of every parameter (names sorted, raw bytes) computed with the builders as they were before
# dropout/batch_norm/input_dropout were added: the defaults must keep drawing the very same weights.
CHECKSUMS = {
    "mlp-small": "26735448ee8f698aac78000385c72e2e58f14fa13bcab95f75ebc7ff0149acad",
    "mlp-relu64": "703928e1504f4977a4737ac24e6b4a1839e2ffbf1a9ed875727f5484be4a997e",
    "cnn": "1196bb95a97ccb4828484c03505959c484113820f34241e14f2cd05afe16f814",
}


def _checksum(net: nn.Sequential) -> str:
    h = hashlib.sha256()
    for p in net.params():
        for k in sorted(p):
            h.update(k.encode())
            h.update(np.ascontiguousarray(p[k]).tobytes())
    return h.hexdigest()


def _weight_layers_only(net: nn.Sequential) -> nn.Sequential:
    return nn.Sequential([net.weight_layer(k) for k in range(net.n_blocks)])


def _types(net: nn.Sequential) -> list[str]:
    return [type(layer).__name__ for layer in net.layers]


def test_defaults_draw_the_same_weights_as_before():
    assert _checksum(mlp([20, 16, 12, 5], seed=0)) == CHECKSUMS["mlp-small"]
    assert _checksum(mlp([10, 8, 3], "relu", dtype=np.float64, seed=0)) == CHECKSUMS["mlp-relu64"]
    assert _checksum(cnn((1, 12, 12), 3, channels=(4, 4), seed=0)) == CHECKSUMS["cnn"]


def test_mlp_structure_follows_the_papers_code_order():
    net = mlp([6, 5, 4, 3], dropout=0.1, input_dropout=0.1, batch_norm=True, seed=0)
    block = ["Dense", "Dropout", "Tanh", "BatchNorm"]
    assert _types(net) == ["Dropout"] + block + block + ["Dense"]
    assert net.blocks == [(1, 5), (5, 9), (9, 10)]  # the input Dropout is a parameter-free prefix
    assert net.feedback_sizes == [5, 4] and net.n_outputs == 3 and net.input_shape == (6,)
    assert [l.p for l in net.layers if isinstance(l, nn.Dropout)] == [0.1, 0.1, 0.1]
    assert _types(mlp([6, 5, 3], dropout=0.5, seed=0)) == ["Dense", "Dropout", "Tanh", "Dense"]
    assert _types(mlp([6, 5, 3], batch_norm=True, seed=0)) == ["Dense", "Tanh", "BatchNorm", "Dense"]
    assert _types(mlp([6, 3], dropout=0.5, batch_norm=True, seed=0)) == ["Dense"]  # no hidden layer


def test_cnn_input_dropout_is_a_prefix():
    net = cnn((1, 12, 12), 3, channels=(4, 4), input_dropout=0.1, seed=0)
    assert _types(net)[:2] == ["Dropout", "Conv2d"] and net.blocks[0][0] == 1
    assert _checksum(net) == CHECKSUMS["cnn"]


@pytest.mark.parametrize(
    "options", [{"dropout": 0.5}, {"input_dropout": 0.1}, {"dropout": 0.1, "input_dropout": 0.1, "batch_norm": True}]
)
def test_weights_do_not_depend_on_dropout(options):
    plain, other = mlp([8, 7, 6, 3], seed=3), mlp([8, 7, 6, 3], seed=3, **options)
    assert _checksum(plain) == _checksum(_weight_layers_only(other))


def test_dropout_seeds_follow_the_builder_seed():
    a, b, c = (mlp([8, 7, 3], dropout=0.5, input_dropout=0.1, seed=s) for s in (1, 1, 2))
    seeds = [[l.seed for l in n.layers if isinstance(l, nn.Dropout)] for n in (a, b, c)]
    assert seeds[0] == seeds[1] != seeds[2]
    x = np.ones((4, 8), np.float32)
    assert np.array_equal(a.forward(x, train=True)[0], b.forward(x, train=True)[0])


def test_input_dropout_acts_only_in_training_mode():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 20)).astype(np.float32)
    plain, dropped = mlp([20, 9, 4], seed=5), mlp([20, 9, 4], input_dropout=0.3, seed=5)
    out, caches = dropped.forward(x, train=True)
    mask = caches[0]  # the input Dropout's scaled keep-mask: the first Dense saw x * mask
    assert out.dtype == np.float32 and mask.dtype == np.float32 and mask.shape == x.shape
    assert set(np.unique(mask).tolist()) == {0.0, float(np.float32(1 / 0.7))}
    np.testing.assert_array_equal(out, plain.forward(x * mask, train=False)[0])  # same weights, masked input
    np.testing.assert_array_equal(dropped.forward(x, train=False)[0], plain.forward(x, train=False)[0])
    assert not np.array_equal(out, plain.forward(x, train=True)[0])


def test_cnn_input_dropout_eval_equals_the_plain_net():
    x = np.random.default_rng(1).random((3, 1, 12, 12), dtype=np.float32)
    plain = cnn((1, 12, 12), 3, channels=(4, 4), seed=0)
    dropped = cnn((1, 12, 12), 3, channels=(4, 4), input_dropout=0.2, seed=0)
    np.testing.assert_array_equal(dropped.forward(x, train=False)[0], plain.forward(x, train=False)[0])
    assert dropped.forward(x, train=True)[0].dtype == np.float32


def test_mlp_with_everything_trains_under_dfa_in_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 10)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    net = mlp([10, 8, 8, 3], dropout=0.1, input_dropout=0.1, batch_norm=True, seed=0)
    out, caches = net.forward(x, train=True)
    _, e = nn.softmax_cross_entropy(out, y)
    grads = nn.DFA(seed=0).gradients(net, caches, e, y)
    assert len(grads) == len(net.params())
    for g, p in zip(grads, net.params()):
        for k in p:
            assert g[k].dtype == np.float32 and g[k].shape == p[k].shape and np.all(np.isfinite(g[k]))


@pytest.mark.parametrize("name", ["dropout", "input_dropout"])
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_invalid_probabilities_are_refused(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\), got"):
        mlp([4, 3, 2], **{name: value})
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\), got"):
        cnn((1, 8, 8), 2, channels=(2,), **{name: value})


def test_non_numeric_probabilities_are_refused():
    with pytest.raises(TypeError, match="input_dropout must be a number"):
        mlp([4, 3, 2], input_dropout="0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout must be finite"):
        mlp([4, 3, 2], dropout=float("nan"))

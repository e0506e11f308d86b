"""DRTP and sign-DFA (nnlite.rules.drtp): DFA of a substituted vector, both layouts, dense and conv."""

import numpy as np
import pytest
from fitting import fashion_accuracy

import nnlite as nn


def _parts(net, seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *net.input_shape))
    y = rng.integers(0, net.n_outputs, n)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out.reshape(n, -1), y)
    return caches, e, y


NETS = [
    lambda: nn.mlp([7, 6, 5, 4], "tanh", seed=0, dtype=np.float64),
    lambda: nn.cnn((1, 8, 8), 4, channels=(3, 4), dtype=np.float64, seed=0),
]


@pytest.mark.parametrize("layout", ["unified", "independent"])
@pytest.mark.parametrize("make_net", NETS)
def test_drtp_is_dfa_of_the_target(layout, make_net):
    net = make_net()
    caches, e, y = _parts(net)
    t = -np.eye(net.n_outputs)[y] / len(y)
    g_drtp, s_drtp = nn.DRTP(seed=3, layout=layout).gradients_and_signals(net, caches, e, y)
    s_dfa = nn.DFA(seed=3, layout=layout).signals(net, caches, t, y)
    g_dfa = nn.DFA(seed=3, layout=layout).gradients(net, caches, t, y)
    for a, b in zip(s_drtp, s_dfa):
        np.testing.assert_array_equal(a, b)
    pos = net.block_param_slices()
    hidden = [j for k in range(net.n_blocks - 1) for j in pos[k]]
    for j in hidden:
        assert all(np.array_equal(g_drtp[j][k], g_dfa[j][k]) for k in g_drtp[j])
    # the output block gets e, not the target
    out_grads = nn.DFA(seed=3, layout=layout).gradients(net, caches, e, y)
    for j in pos[-1]:
        assert all(np.array_equal(g_drtp[j][k], out_grads[j][k]) for k in g_drtp[j])


@pytest.mark.parametrize("layout", ["unified", "independent"])
@pytest.mark.parametrize("make_net", NETS)
def test_sdfa_is_dfa_of_the_sign_of_the_error(layout, make_net):
    net = make_net()
    caches, e, y = _parts(net)
    _, s = nn.SDFA(seed=4, layout=layout).gradients_and_signals(net, caches, e, y)
    s_dfa = nn.DFA(seed=4, layout=layout).signals(net, caches, np.sign(e) / len(y), y)
    for a, b in zip(s, s_dfa):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(s[0], nn.DFA(seed=4, layout=layout).signals(net, caches, e, y)[0])


def test_drtp_needs_labels():
    net = NETS[0]()
    caches, e, _ = _parts(net)
    with pytest.raises(ValueError, match="labels"):
        nn.DRTP(seed=0).gradients(net, caches, e)


@pytest.mark.parametrize(
    "make,opt,threshold",
    [(lambda: nn.SDFA(seed=1), lambda: nn.Adam(3e-3), 0.78), (lambda: nn.DRTP(seed=1), lambda: nn.Adam(1e-3), 0.70)],
)
def test_drtp_and_sdfa_learn_fashion_mnist(fashion_mnist, make, opt, threshold):
    # 3x256 tanh, one epoch on 10 000 images; measured sDFA 78.8 % (Adam 3e-3; 74.9 % at 1e-3), DRTP 78.3 %
    acc = fashion_accuracy(fashion_mnist, make(), opt(), hidden=(256, 256, 256))
    assert acc >= threshold, acc

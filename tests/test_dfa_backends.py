"""DFA learns through every projection back end about as well as through the dense Gaussian matrix."""

import numpy as np
import pytest
from fitting import fashion_accuracy

import nnlite as nn
from nnlite.projections import OPU, Fastfood, Gaussian, Sparse


@pytest.fixture(scope="module")
def gaussian_accuracy(fashion_mnist):
    return fashion_accuracy(fashion_mnist, nn.DFA(projection=Gaussian(10, 256, seed=1)), nn.Adam(1e-3))


@pytest.mark.parametrize(
    "name,make",
    [
        ("fastfood", lambda: Fastfood(10, 256, seed=1)),
        ("sparse", lambda: Sparse(10, 256, 3, seed=1)),
        ("opu-simulator", lambda: OPU(10, 256, simulated=True, seed=1)),
    ],
)
def test_dfa_learns_through_each_back_end(fashion_mnist, gaussian_accuracy, name, make):
    acc = fashion_accuracy(fashion_mnist, nn.DFA(projection=make()), nn.Adam(1e-3))
    assert gaussian_accuracy >= 0.78
    assert acc >= gaussian_accuracy - 0.03, (name, acc, gaussian_accuracy)


def _tiny_forward():
    """A 8-16-16-4 tanh MLP's forward pass on 5 samples: (net, caches, output error, labels)."""
    net = nn.mlp([8, 16, 16, 4], "tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0])
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    return net, caches, e, y


def test_lafs_runs_on_fastfood_and_refuses_the_opu():
    net, caches, e, y = _tiny_forward()
    ff = nn.LAFS(projection=Fastfood(4, 16, seed=0))
    dfa = nn.DFA(projection=ff.projection)
    g = ff.gradients_from_errors(net, caches, e, [e, e])
    for a, b in zip(g, dfa.gradients(net, caches, e, y)):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(NotImplementedError, match="transpose"):
        nn.LAFS(projection=OPU(4, 16, simulated=True, seed=0)).gradients(net, caches, e, y)


def test_alignment_with_the_opu_skips_the_readouts_it_cannot_compute():
    from nnlite.alignment import measure

    net, caches, e, y = _tiny_forward()
    a = measure(net, nn.DFA(projection=OPU(4, 16, simulated=True, seed=0)), caches, e, y)
    assert len(a.signal_cos) == 2 and all(-1 <= c <= 1 for c in a.signal_cos)
    assert a.error_angle == [] and a.readout_acc == []
    b = measure(net, nn.DFA(projection=Fastfood(4, 16, seed=0)), caches, e, y)
    assert len(b.error_angle) == 2 and len(b.readout_acc) == 2

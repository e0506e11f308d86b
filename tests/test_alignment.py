"""Alignment (nnlite.alignment): exact values on cases whose answer is known, and independent recomputations."""

import math

import numpy as np
import pytest

import nnlite as nn
from nnlite.alignment import measure


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    net = nn.mlp([10, 12, 11, 4], "tanh", seed=seed, dtype=np.float64)
    x = rng.standard_normal((n, 10))
    y = rng.integers(0, 4, n)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    return net, caches, e, y


def test_bp_is_perfectly_aligned_with_itself():
    net, caches, e, y = _batch()
    a = measure(net, nn.BP(), caches, e, y)
    np.testing.assert_allclose(a.signal_cos, 1.0, rtol=1e-12)
    np.testing.assert_allclose(a.signal_cos_std, 0.0, atol=1e-7)
    np.testing.assert_allclose(a.update_cos, 1.0, rtol=1e-12)


def test_negated_signal_gives_minus_one():
    class NegBP(nn.BP):
        def gradients_and_signals(self, net, caches, e, y=None):
            g, s = super().gradients_and_signals(net, caches, -e, y)
            return g, s

    net, caches, e, y = _batch()
    a = measure(net, NegBP(), caches, e, y)
    np.testing.assert_allclose(a.signal_cos, -1.0, rtol=1e-12)
    np.testing.assert_allclose(a.signal_angle, 180.0, rtol=1e-6)
    np.testing.assert_allclose(a.update_cos, -1.0, rtol=1e-12)


def test_dfa_alignment_reports_local_errors_and_readouts():
    net, caches, e, y = _batch()
    a = measure(net, nn.DFA(seed=0), caches, e, y)
    assert len(a.signal_cos) == 2 and len(a.update_cos) == 3
    assert a.update_cos[-1] == pytest.approx(1.0)  # the output block gets e under every rule
    assert all(-1 <= c <= 1 for c in a.signal_cos)
    assert len(a.error_angle) == 2 and all(0 <= v <= 180 for v in a.error_angle)
    assert len(a.readout_acc) == 2 and all(0 <= v <= 1 for v in a.readout_acc)
    assert measure(net, nn.FA(seed=0), caches, e, y).error_angle == []


def _by_hand_cos(a, b):
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return np.array([float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v)) for u, v in zip(a, b)])


@pytest.mark.parametrize("layout", ["unified", "independent"])
def test_dfa_alignment_equals_an_independent_computation(layout):
    # Every number of measure() recomputed here from B_k, the caches and BP's signals, with plain NumPy:
    # a wrong error-angle or readout formula (e.g. radians, the angle to -e, argmax over the batch) fails.
    net, caches, e, y = _batch(n=24, seed=3)
    rule = nn.DFA(seed=5, layout=layout)
    a = measure(net, rule, caches, e, y)
    _, c = nn.BP().gradients_and_signals(net, caches, e, y)
    for k in range(net.n_blocks - 1):
        B = rule.feedback_matrix(net, k)  # (l_k, C)
        h = caches.block_outputs[k]
        g = e @ B.T
        cos = _by_hand_cos(g, c[k])
        assert a.signal_cos[k] == pytest.approx(cos.mean(), rel=1e-10)
        assert a.signal_cos_std[k] == pytest.approx(cos.std(), rel=1e-8)
        assert a.signal_angle[k] == pytest.approx(np.degrees(np.arccos(cos)).mean(), rel=1e-10)
        z = h @ B
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        e_k = (p - np.eye(4)[y]) / len(y)
        angle = np.degrees(np.arccos(_by_hand_cos(e_k, e))).mean()
        assert a.error_angle[k] == pytest.approx(angle, rel=1e-10)
        assert a.readout_acc[k] == pytest.approx(float(np.mean(z.argmax(axis=1) == y)), abs=0)


def test_readout_accuracy_of_a_perfect_readout_is_the_networks_accuracy():
    # one hidden layer, B_1 = W_2.T: the readout h_1 @ B_1 is the network's own logits (without bias), so its
    # accuracy is the network's accuracy on the batch and the local error e_1 is e (angle 0)
    rng = np.random.default_rng(0)
    net = nn.mlp([6, 9, 3], "tanh", bias=False, seed=1, dtype=np.float64)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    from nnlite.projections import Gaussian

    rule = nn.DFA(projection=Gaussian.from_matrix(net.layers[2].W.T.copy()))
    a = measure(net, rule, caches, e, y)
    assert a.readout_acc == [pytest.approx(float(np.mean(out.argmax(axis=1) == y)), abs=0)]
    assert a.error_angle[0] == pytest.approx(0.0, abs=1e-5)
    assert math.isclose(a.signal_cos[0], 1.0, rel_tol=1e-12)

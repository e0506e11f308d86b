"""The knobs the authors' runs need (issue 22, item 1): each pinned to its equation."""

import numpy as np
import pytest

import nnlite as nn
from nnlite.config import ConfigError, RunConfig
from nnlite.config.builders import build_rule
from nnlite.rules import registry

# -- the hidden signal's batch scale: error_scale="sum" --------------------------------------------------------

SCALED = ["dfa", "lafs", "drtp", "sdfa", "ifa"]


def _two_sgd_steps(net, rule, x, y, hidden_lr, out_lr, steps=3):
    """Plain SGD with one lr for the hidden blocks' parameters and another for the output block's."""
    slices = net.block_param_slices()
    out_idx = set(slices[-1])
    for _ in range(steps):
        out, caches = net.forward(x)
        _, e = nn.softmax_cross_entropy(out, y)
        grads = rule.gradients(net, caches, e, y)
        params = net.params()
        hid = [i for i in range(len(params)) if i not in out_idx]
        nn.SGD(hidden_lr).step([params[i] for i in hid], [grads[i] for i in hid])
        nn.SGD(out_lr).step([params[i] for i in sorted(out_idx)], [grads[i] for i in sorted(out_idx)])
    return [v.copy() for p in net.params() for v in p.values()]


@pytest.mark.parametrize("name", SCALED)
def test_summed_error_equals_mean_error_with_hidden_lr_times_n(name):
    rng = np.random.default_rng(0)
    N = 16  # a power of two: the scaling is exact
    x, y = rng.standard_normal((N, 8)).astype(np.float32), rng.integers(0, 3, N)
    summed = _two_sgd_steps(
        nn.mlp([8, 7, 6, 5, 3], seed=0), registry.make(name, seed=1, error_scale="sum"), x, y, 0.05, 0.05
    )
    mean = _two_sgd_steps(nn.mlp([8, 7, 6, 5, 3], seed=0), registry.make(name, seed=1), x, y, 0.05 * N, 0.05)
    for a, b in zip(summed, mean):
        assert a.dtype == np.float32
        assert np.array_equal(a, b)  # bit for bit: N and lr N are exact


@pytest.mark.parametrize("name", SCALED)
def test_summed_error_scales_hidden_gradients_by_n_and_keeps_the_output_block(name):
    rng = np.random.default_rng(1)
    N = 8
    net = nn.mlp([8, 7, 6, 3], seed=0)
    x, y = rng.standard_normal((N, 8)).astype(np.float32), rng.integers(0, 3, N)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    gs = registry.make(name, seed=1, error_scale="sum").gradients(net, caches, e, y)
    gm = registry.make(name, seed=1).gradients(net, caches, e, y)
    out_idx = set(net.block_param_slices()[-1])
    for i, (a, b) in enumerate(zip(gs, gm)):
        for k in a:
            assert a[k].dtype == np.float32
            want = b[k] if i in out_idx else b[k] * np.float32(N)
            assert np.array_equal(a[k], want), (i, k)


@pytest.mark.parametrize("name", SCALED)
def test_error_scale_repr_round_trips_and_is_checked(name):
    cls = registry.info(name).cls
    rule = cls(seed=3, error_scale="sum")
    assert "error_scale='sum'" in repr(rule)
    assert "error_scale" not in repr(cls(seed=3))
    assert repr(eval(repr(rule), vars(nn))) == repr(rule)
    with pytest.raises(ValueError, match="error_scale"):
        cls(error_scale="total")


def test_error_scale_config_field_applies_to_the_direct_rules_and_ifa():
    assert {r for r, i in registry.RULES.items() if i.error_scale} == set(SCALED)
    cfg = RunConfig(rule="dfa", error_scale="sum")
    assert "error_scale='sum'" in repr(build_rule(cfg, nn.mlp([4, 3, 2]), "dfa", {"feedback": 0}))
    with pytest.raises(ConfigError, match=r"'error_scale' \(--error-scale\) applies to dfa"):
        RunConfig(rule="bp", error_scale="sum")

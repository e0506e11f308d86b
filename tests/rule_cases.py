"""The rules the tests run, read from the rule registry: a registered rule is in every parametrised rule test
with no edit here, and the contract every rule keeps is checked by the functions below."""

import numpy as np

import nnlite as nn
from nnlite.rules import registry

#: Arguments every rule's constructor is offered (each takes those it names): KP's feedback lr and decay.
ARGUMENTS = {"lr": 0.1, "weight_decay": 0.001}


def registered() -> list[str]:
    """The registered rule names, now."""
    return list(registry.names())


def maker(name, seed=1, **extra):
    """A zero-argument factory of rule ``name`` with ``seed`` (where it takes one) and :data:`ARGUMENTS`."""
    return lambda: registry.make(name, seed=seed, **{**ARGUMENTS, **extra})


def check_nonzero_finite_hidden_gradients(rule):
    """Each hidden block's gradients are finite and not all zero, every signal reaches its feedback point, and
    ``gradients`` agrees with ``gradients_and_signals``."""
    rng = np.random.default_rng(0)
    net = nn.mlp([8, 7, 6, 5, 3], "tanh", seed=0)
    x, y = rng.standard_normal((16, 8)).astype(np.float32), rng.integers(0, 3, 16)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    grads, signals = rule.gradients_and_signals(net, caches, e, y)
    assert len(grads) == len(net.params()) and len(signals) == net.n_blocks - 1
    for k, pos in enumerate(net.block_param_slices()[:-1]):
        for j in pos:
            for name, g in grads[j].items():
                assert np.isfinite(g).all(), (k, name)
                assert g.dtype == np.float32, (rule, k, name, g.dtype)
                assert np.abs(g).max() > 0, (rule, k, name)
        assert np.abs(signals[k]).max() > 0
    assert rule.gradients(net, caches, e, y)[0]["W"].tolist() == grads[0]["W"].tolist()
    rule.close()


def check_same_seed_same_bits(make):
    """Two rules made alike give bit-identical gradients over a few training steps."""
    runs = []
    for _ in range(2):
        net, rule, opt = nn.mlp([6, 5, 4, 3], seed=0), make(), nn.SGD(0.1)
        x = np.random.default_rng(1).standard_normal((8, 6)).astype(np.float32)
        y = np.arange(8) % 3
        for _ in range(3):
            out, caches = net.forward(x)
            _, e = nn.softmax_cross_entropy(out, y)
            grads = rule.gradients(net, caches, e, y)
            opt.step(net.params(), grads)
            rule.after_step(net, grads)
        runs.append([v.copy() for p in net.params() for v in p.values()])
        rule.close()
    assert all(np.array_equal(a, b) for a, b in zip(*runs))

"""A step is an object: ``nnlite.training.step`` gives the gradients, the signals and the rule's own pending
change bound to that step, and committing it applies exactly that change, whatever was computed in between.

Every registered rule is checked (the stateful ones are the point: DKP's B_k, Local's heads, DTP's and DDTP's
inverse mappings, KP's B_k, brSF's redraws): measuring alignment on another batch between a step's gradients
and its commit changes nothing, bit for bit."""

import numpy as np
import pytest
from rule_cases import maker, registered

import nnlite as nn
from nnlite import training
from nnlite.alignment import measure
from nnlite.rules import registry

SIZES = [20, 16, 12, 5]  # the reproduction: a 20-16-12-5 net


def _batches(n=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((size, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], size)) for _ in range(n)
    ]


def _state(net, rule):
    """Every array of the network and the rule, copied."""
    return [v.copy() for p in net.params() for v in p.values()] + [
        np.array(v, copy=True) for _, v in sorted(rule.state().items())
    ]


def _same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert np.array_equal(u, v), "a measurement between a step and its commit changed the training"


def _run(name, measure_between, api, fold=True):
    """Three steps of rule ``name``; with ``measure_between``, alignment measured on another batch between each
    step's gradients and its commit, through the step object (``api="step"``) or a loop of one's own
    (``api="loop"``: ``gradients``, ``optimizer.step``, ``after_step``)."""
    net, rule, opt = nn.mlp(SIZES, "tanh", seed=0), maker(name)(), nn.SGD(0.1)
    data = _batches()
    for t in range(3):
        xa, ya = data[t]
        xb, yb = data[3]
        if api == "step":
            s = training.step(net, rule, nn.softmax_cross_entropy, opt, xa, ya, commit=False, fold=fold)
            if measure_between:
                out, caches = net.forward(xb)
                _, e = nn.softmax_cross_entropy(out, yb)
                measure(net, rule, caches, e, yb)
            s.commit()
            s.commit()  # once only
        else:
            if measure_between:  # the reproduction: measure on one batch, then train on another
                out, caches = net.forward(xb)
                _, e = nn.softmax_cross_entropy(out, yb)
                measure(net, rule, caches, e, yb)
            out, caches = net.forward(xa)
            _, e = nn.softmax_cross_entropy(out, ya)
            grads = rule.gradients(net, caches, e, ya)
            if measure_between:
                out, caches = net.forward(xb)
                _, eb = nn.softmax_cross_entropy(out, yb)
                measure(net, rule, caches, eb, yb)
            opt.step(net.params(), grads)
            rule.after_step(net, grads)
    return _state(net, rule)


@pytest.mark.parametrize("api", ["step", "loop"])
@pytest.mark.parametrize("name", registered())
def test_measuring_between_a_step_and_its_commit_changes_nothing(name, api):
    _same(_run(name, False, api), _run(name, True, api))


@pytest.mark.parametrize("name", ["dkp", "local"])
def test_the_reproduction_dkp_b_k_and_local_heads_are_the_unmeasured_runs(name):
    # measured on one batch, trained on another: DKP's B_k and Local's heads learn from the trained batch only
    measured, plain = _run(name, True, "loop"), _run(name, False, "loop")
    n = len(nn.mlp(SIZES, "tanh", seed=0).params()) * 2  # W and b of each layer come first
    assert len(measured) > n  # the rule's own arrays are compared
    _same(plain[n:], measured[n:])


@pytest.mark.parametrize("name", registered())
def test_the_step_is_the_loop_of_ones_own(name):
    """training.step commits what the hand-written step (gradients, optimizer, after_step) applies, bit for bit
    (with the update computed as that loop computes it: gradient, then update)."""
    _same(_run(name, False, "step", fold=False), _run(name, False, "loop"))


@pytest.mark.parametrize("name", registered())
def test_the_folded_step_is_the_loop_of_ones_own_to_rounding(name):
    """Folded into the products, the update sums in another order: the same parameters to a few float32 ulps."""
    folded, loop = _run(name, False, "step"), _run(name, False, "loop")
    assert len(folded) == len(loop)
    for u, v in zip(folded, loop):
        if u.dtype.kind == "f":
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
        else:  # a generator's state: the same draws
            assert np.array_equal(u, v)


def test_a_rule_that_learns_from_its_step_refuses_a_copy_of_its_gradients():
    net, rule = nn.mlp(SIZES, "tanh", seed=0), nn.DKP(lr=0.1, weight_decay=0.0, seed=1)
    x, y = _batches(1)[0]
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    grads = rule.gradients(net, caches, e, y)
    with pytest.raises(ValueError, match="needs the gradients this rule returned"):
        rule.after_step(net, [dict(g) for g in grads])


def test_the_step_holds_loss_signals_and_change_and_a_nan_loss_commits_nothing():
    net, rule, opt = nn.mlp(SIZES, "tanh", seed=0), nn.DKP(lr=0.1, weight_decay=0.0, seed=1), nn.SGD(0.1)
    x, y = _batches(1)[0]
    s = training.step(net, rule, nn.softmax_cross_entropy, opt, x, y, commit=False)
    assert s.finite and len(s.signals) == 2 and len(s.rule_step.change) == 2
    assert s.grads is s.rule_step.grads and s.grads.change is s.rule_step.change
    before = _state(net, rule)
    s = training.step(net, rule, lambda out, y: (float("nan"), out), opt, x, y)
    assert not s.finite
    _same(before, _state(net, rule))


@pytest.mark.parametrize("opt", [nn.SGD(0.1, momentum=0.9), nn.Adam(1e-3), nn.RMSprop(1e-3)])
def test_an_optimizer_gives_a_fresh_copy_of_itself(opt):
    net = nn.mlp(SIZES, "tanh", seed=0)
    grads = [{k: np.ones_like(v) for k, v in p.items()} for p in net.params()]
    opt.step(net.params(), grads)
    new = opt.fresh()
    assert type(new) is type(opt) and new.lr == opt.lr and new.t == 0 and new.state == []
    assert opt.t == 1 and opt.state  # the original keeps its own
    other = nn.mlp(SIZES, "tanh", seed=1)
    new.step(other.params(), grads)  # bound to no network: it takes another's


def test_every_rule_declares_its_family():
    for entry in registry.RULES.values():
        assert entry.family == entry.cls.family != "other", entry.name


@pytest.mark.parametrize("name", ["dkp", "local", "dtp", "kp", "brsf"])
@pytest.mark.parametrize("mode", ["one-pass", "authors"])
def test_fit_with_alignment_every_step_trains_as_without(name, mode):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((48, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], 48)
    runs = []
    for every in (None, 1):
        net, rule = nn.mlp(SIZES, "tanh", seed=0), maker(name)()
        h = nn.fit(net, rule, nn.softmax_cross_entropy, nn.SGD(0.1), (x, y), epochs=2, batch_size=16, seed=0,
                   progress=False, alignment_every=every, alignment_mode=mode)  # fmt: skip
        assert len(h.alignment) == (6 if every else 0)
        runs.append(_state(net, rule))
    _same(*runs)


@pytest.mark.parametrize("name", ["bp", "dkp", "local", "dtp"])
def test_a_step_is_freed_when_its_last_reference_goes(name):
    # no reference cycle between a step and its gradients: its arrays go at once, not at the next collection
    import gc
    import weakref

    net, rule, opt = nn.mlp(SIZES, "tanh", seed=0), maker(name)(), nn.SGD(0.1)
    x, y = _batches(1)[0]
    gc.disable()
    try:
        s = training.step(net, rule, nn.softmax_cross_entropy, opt, x, y)
        probe = weakref.ref(s.grads[0]["W"])
        del s
        assert probe() is None
    finally:
        gc.enable()

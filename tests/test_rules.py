"""Identity properties of the rules (float64, hypothesis-drawn sizes and depths), seeds, and learning on real data."""

import math

import numpy as np
import pytest
from fitting import fashion_accuracy
from gradcheck import numerical_gradient, rel_error
from hypothesis import given
from hypothesis import strategies as st
from rule_cases import check_nonzero_finite_hidden_gradients, check_same_seed_same_bits, maker, registered
from strategies import seeds

import nnlite as nn
from nnlite.projections import Gaussian

ACT = st.sampled_from(["tanh", "sigmoid", "leaky_relu:-0.5", "abs", "relu"])


def _setup(seed, sizes, activation, n=4):
    rng = np.random.default_rng(seed)
    net = nn.mlp(sizes, activation, dtype=np.float64, seed=rng)
    x = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    return net, x, y, caches, e


def _assert_same_grads(a, b, tol=1e-12):
    assert len(a) == len(b)
    for ga, gb in zip(a, b):
        assert ga.keys() == gb.keys()
        for k in ga:
            assert rel_error(ga[k], gb[k]) <= tol, k


@given(seed=seeds(), sizes=st.lists(st.integers(2, 9), min_size=3, max_size=6), activation=ACT)
def test_fa_with_feedback_equal_to_weights_is_bp(seed, sizes, activation):
    net, x, y, caches, e = _setup(seed, sizes, activation)
    B = [None] + [net.weight_layer(k).params["W"].copy() for k in range(1, net.n_blocks)]
    _assert_same_grads(nn.FA(feedbacks=B).gradients(net, caches, e, y), nn.BP().gradients(net, caches, e, y))


@given(seed=seeds(), sizes=st.lists(st.integers(2, 9), min_size=3, max_size=6), activation=ACT)
def test_fa_with_random_feedback_differs_from_bp(seed, sizes, activation):
    net, x, y, caches, e = _setup(seed, sizes, activation)
    fa = nn.FA(seed=seed).gradients(net, caches, e, y)
    bp = nn.BP().gradients(net, caches, e, y)
    # the output layer is identical under every rule; the first layer is not (random feedback)
    _assert_same_grads(fa[-1:], bp[-1:])
    assert rel_error(fa[0]["W"], bp[0]["W"]) > 1e-6 or np.abs(bp[0]["W"]).max() < 1e-12


@given(
    seed=seeds(),
    d=st.integers(2, 8),
    h=st.integers(2, 9),
    c=st.integers(2, 6),
    activation=ACT,
    rule=st.sampled_from(["dfa", "ifa", "lafs-e"]),
)
def test_direct_rules_with_B_equal_W2_T_are_bp_on_one_hidden_layer(seed, d, h, c, activation, rule):
    net, x, y, caches, e = _setup(seed, [d, h, c], activation)
    P = Gaussian.from_matrix(net.weight_layer(1).params["W"].T.copy())  # B_1 = W_2.T, shape (h, c)
    bp = nn.BP().gradients(net, caches, e, y)
    if rule == "dfa":
        got = nn.DFA(projection=P).gradients(net, caches, e, y)
    elif rule == "ifa":
        got = nn.IFA(projection=P).gradients(net, caches, e, y)
    else:
        got = nn.LAFS(projection=P).gradients_from_errors(net, caches, e, [e])
    _assert_same_grads(got, bp)


@given(
    seed=seeds(),
    sizes=st.lists(st.integers(2, 9), min_size=4, max_size=6),
    activation=ACT,
    layout=st.sampled_from(["unified", "independent"]),
)
def test_lafs_with_output_error_is_dfa(seed, sizes, activation, layout):
    net, x, y, caches, e = _setup(seed, sizes, activation)
    dfa = nn.DFA(layout=layout, seed=seed + 1)
    lafs = nn.LAFS(layout=layout, seed=seed + 1)
    got = lafs.gradients_from_errors(net, caches, e, [e] * (net.n_blocks - 1))
    _assert_same_grads(got, dfa.gradients(net, caches, e, y))
    # ... and with its own local errors it is not DFA
    own = lafs.gradients(net, caches, e, y)
    assert rel_error(own[0]["W"], got[0]["W"]) > 1e-8


@given(
    seed=seeds(),
    sizes=st.lists(st.integers(2, 7), min_size=3, max_size=5),
    activation=st.sampled_from(["tanh", "sigmoid", "leaky_relu:-0.5"]),
    layout=st.sampled_from(["unified", "independent"]),
)
def test_lafs_update_is_the_gradient_of_each_local_loss(seed, sizes, activation, layout):
    net, x, y, caches, e = _setup(seed, sizes, activation)
    lafs = nn.LAFS(layout=layout, seed=seed)
    grads = lafs.gradients(net, caches, e, y)
    pos = net.block_param_slices()
    for k in range(net.n_blocks - 1):
        s, end = net.blocks[k]
        h_in = x if k == 0 else caches.block_outputs[k - 1]

        def local_loss():
            h = h_in
            for layer in net.layers[s:end]:
                h, _ = layer.forward(h, True)
            return nn.softmax_cross_entropy(lafs.readout(net, k, h), y)[0]

        assert math.isclose(local_loss(), lafs.local_losses(net, caches, y)[k], rel_tol=1e-12)
        for name, p in net.layers[s].params.items():
            num = numerical_gradient(local_loss, p)
            assert rel_error(grads[pos[k][0]][name], num) < 1e-6, (k, name)


@given(seed=seeds(), sizes=st.lists(st.integers(2, 9), min_size=4, max_size=6))
def test_unified_feedback_is_a_scaled_prefix(seed, sizes):
    net, x, y, caches, e = _setup(seed, sizes, "tanh")
    dfa = nn.DFA(seed=seed)
    dfa.setup(net)
    l_max, C = max(net.feedback_sizes), net.n_outputs
    B = dfa.projection.matrix() if hasattr(dfa.projection, "matrix") else dfa.feedback_matrix(net, 0)
    B = np.asarray(B)
    assert B.shape == (l_max, C)
    for k, l in enumerate(net.feedback_sizes):
        np.testing.assert_allclose(dfa.feedback_matrix(net, k), math.sqrt(l_max / l) * B[:l], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("layout", ["unified", "independent"])
def test_feedback_entries_have_variance_one_over_lk_C(layout):
    net = nn.mlp([20, 2000, 500, 100, 10], "tanh", seed=0)
    dfa = nn.DFA(layout=layout, seed=3)
    dfa.setup(net)
    C = net.n_outputs
    for k, l in enumerate(net.feedback_sizes):
        B = dfa.feedback_matrix(net, k).astype(np.float64)
        n = B.size
        # sample variance of n Gaussian entries has relative std sqrt(2/(n-1)); allow 5 of those
        assert abs(B.var() * l * C - 1.0) < 5 * math.sqrt(2.0 / (n - 1)), (k, B.var() * l * C)
        assert abs(B.mean()) < 5 / math.sqrt(l * C * n)
    if layout == "independent":
        B0, B1 = dfa.feedback_matrix(net, 1), dfa.feedback_matrix(net, 2)
        assert not np.allclose(B0[:100] / B0[:100].std(), B1 / B1.std())  # its own rows, not a shared prefix


def test_direct_rules_skip_dx_products():
    calls = []
    net = nn.mlp([5, 6, 7, 3], "tanh", seed=0, dtype=np.float64)
    for layer in net.layers:
        if layer.is_weight:
            orig = layer.backward

            def spy(dout, cache, *, feedback=None, need_dx=True, _orig=orig):
                calls.append(need_dx)
                return _orig(dout, cache, feedback=feedback, need_dx=need_dx)

            layer.backward = spy
    x = np.random.default_rng(0).standard_normal((4, 5))
    y = np.array([0, 1, 2, 0])
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    for rule in (nn.DFA(seed=0), nn.LAFS(seed=0), nn.IFA(seed=0)):
        calls.clear()
        rule.gradients(net, caches, e, y)
        assert calls == [False] * 3, type(rule).__name__
    calls.clear()
    nn.BP().gradients(net, caches, e, y)
    assert sorted(calls) == [False, True, True]


def test_ifa_signals_carry_forward_through_weights():
    net, x, y, caches, e = _setup(2, [5, 6, 7, 8, 3], "tanh")
    ifa = nn.IFA(seed=4)
    g = ifa.signals(net, caches, e, y)
    # g_2 = delta_1 @ W_2.T, with delta_1 = g_1 * f'(a_1)
    delta1 = g[0] * (1 - caches.block_outputs[0] ** 2)
    np.testing.assert_allclose(g[1], delta1 @ net.weight_layer(1).params["W"].T, rtol=1e-12)
    delta2 = g[1] * (1 - caches.block_outputs[1] ** 2)
    np.testing.assert_allclose(g[2], delta2 @ net.weight_layer(2).params["W"].T, rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: nn.FA(seed=s),
        lambda s: nn.DFA(seed=s),
        lambda s: nn.IFA(seed=s),
        lambda s: nn.LAFS(seed=s),
        lambda s: nn.DFA(seed=s, layout="independent"),
        lambda s: nn.BRSF(seed=s),
        lambda s: nn.FRSF(seed=s),
        lambda s: nn.KP(lr=0.05, weight_decay=1e-3, seed=s),
        lambda s: nn.DRTP(seed=s),
        lambda s: nn.SDFA(seed=s),
    ],
)
def test_same_seed_same_feedback_and_same_run(make):
    def run(seed):
        d = nn.data.load("digits")
        net = nn.mlp([64, 32, 32, 10], "tanh", seed=0)
        rule = make(seed)
        nn.fit(
            net,
            rule,
            nn.softmax_cross_entropy,
            nn.SGD(0.05, momentum=0.9),
            (d.x_train, d.y_train),
            epochs=1,
            batch_size=64,
            seed=0,
            progress=False,
        )
        return [p[k].copy() for p in net.params() for k in sorted(p)]

    a, b, c = run(7), run(7), run(8)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


@pytest.mark.parametrize(
    "rule",
    [
        nn.BP(),
        nn.FA(seed=0),
        nn.DFA(seed=0),
        nn.IFA(seed=0),
        nn.LAFS(seed=0),
        nn.USF(),
        nn.BRSF(seed=0),
        nn.FRSF(seed=0),
        nn.KP(lr=0.1, weight_decay=0.01, seed=0),
        nn.DRTP(seed=0),
        nn.SDFA(seed=0),
    ],
)
def test_rules_keep_float32(rule):
    net = nn.mlp([6, 8, 7, 3], "tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    grads, sig = rule.gradients_and_signals(net, caches, e, y)
    assert all(g.dtype == np.float32 for d in grads for g in d.values())
    assert all(s.dtype == np.float32 for s in sig)


def test_rule_errors_are_clear():
    net = nn.mlp([4, 5, 3], "tanh", seed=0)
    with pytest.raises(ValueError, match="layout"):
        nn.DFA(layout="shared")
    with pytest.raises(ValueError, match="at least 5 outputs"):
        nn.DFA(projection=Gaussian(3, 4, seed=0)).setup(net)
    with pytest.raises(ValueError, match="takes 4 inputs"):
        nn.DFA(projection=Gaussian(4, 5, seed=0)).setup(net)
    with pytest.raises(ValueError, match="no hidden block"):
        nn.DFA(seed=0).setup(nn.mlp([4, 3], seed=0))


# -- learning on real data ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,make,threshold",
    [
        ("fa", lambda: nn.FA(seed=1), 0.78),
        ("dfa", lambda: nn.DFA(seed=1), 0.78),
        ("lafs", lambda: nn.LAFS(seed=1), 0.78),
        ("ifa", lambda: nn.IFA(seed=1), 0.70),
    ],
)
def test_rules_learn_fashion_mnist(fashion_mnist, name, make, threshold):
    acc = fashion_accuracy(fashion_mnist, make(), nn.Adam(1e-3))
    assert acc >= threshold, (name, acc)


# -- the rule interface -------------------------------------------------------------------------------------------
#: Every registered rule (read from the registry), and variants of their arguments.
ALL_RULES = [
    *(maker(name) for name in registered()),
    lambda: nn.DFA(seed=1, layout="independent", parallel=True),
    lambda: nn.USF(scale=None),
    lambda: nn.DRTP(seed=1, layout="independent"),
]


@pytest.mark.parametrize("make", ALL_RULES)
def test_every_rule_gives_nonzero_finite_hidden_gradients(make):
    # a port of these rules elsewhere shipped a bug that zeroed every hidden gradient: each hidden block's
    # weight gradient must be finite and not all zero, and every signal must reach its feedback point
    check_nonzero_finite_hidden_gradients(make())


@pytest.mark.parametrize("make", ALL_RULES)
def test_every_rule_gives_the_same_bits_from_the_same_seed(make):
    check_same_seed_same_bits(make)


@pytest.mark.parametrize("make", ALL_RULES)
def test_every_rule_repr_round_trips_its_arguments(make):
    rule = make()
    again = eval(repr(rule), {**vars(nn), "Gaussian": Gaussian})
    assert type(again) is type(rule) and repr(again) == repr(rule)
    net = nn.mlp([5, 4, 4, 3], seed=0)
    x, y = np.zeros((2, 5), np.float32), np.array([0, 1])
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    a, b = rule.gradients(net, caches, e, y), again.gradients(net, caches, e, y)
    assert all(np.array_equal(u[k], v[k]) for u, v in zip(a, b) for k in u)  # same arguments, same rule
    assert repr(rule) == repr(make())  # set-up does not change what the repr says


@pytest.mark.parametrize("make", [m for m in ALL_RULES if not isinstance(m(), nn.BP)])
def test_a_rule_bound_to_one_network_refuses_another(make):
    rule = make()
    net = nn.mlp([5, 4, 4, 3], seed=0)
    rule.setup(net)
    rule.setup(nn.mlp([5, 4, 4, 3], seed=1))  # the same shape: fine
    with pytest.raises(ValueError, match="use a new rule per network"):
        rule.setup(nn.mlp([5, 6, 4, 3], seed=0))


@pytest.mark.parametrize("layout", ["unified", "independent"])
def test_feedback_without_normalisation_has_unit_variance_entries(layout):
    # Launay et al.'s "no norm": B = U, U ~ N(0, 1), sliced without 1/sqrt(l_max C) and sqrt(l_max / l_k)
    net = nn.mlp([6, 400, 100, 10], "tanh", seed=0)
    rule = nn.DFA(seed=2, layout=layout, normalize=False)
    normed = nn.DFA(seed=2, layout=layout)
    for k, l_k in enumerate((400, 100)):
        B = rule.feedback_matrix(net, k).astype(np.float64)
        assert B.shape == (l_k, 10)
        n = B.size
        assert abs(B.var() - 1.0) < 5 * np.sqrt(2.0 / n), (k, B.var())  # 5 sigma of the sample variance
        # the same U as the normalised rule, only rescaled: B_k = sqrt(l_k C) * (normalised B_k)
        np.testing.assert_allclose(B, np.sqrt(l_k * 10) * normed.feedback_matrix(net, k), rtol=1e-5, atol=1e-6)
    for make in (nn.LAFS, nn.DRTP, nn.SDFA):
        r = make(seed=2, normalize=False)
        np.testing.assert_array_equal(
            r.feedback_matrix(net, 1), nn.DFA(seed=2, normalize=False).feedback_matrix(net, 1)
        )
        assert "normalize=False" in repr(r) and eval(repr(r), vars(nn)).feedback.normalize is False
    ifa = nn.IFA(seed=2, normalize=False)
    x = np.zeros((3, 6), np.float32)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, np.array([0, 1, 2]))
    g = ifa.signals(net, caches, e)[0]
    np.testing.assert_allclose(g, e @ nn.DFA(seed=2, normalize=False).feedback_matrix(net, 0).T, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make", [nn.DFA, nn.DRTP, nn.SDFA])
def test_bp_points_get_the_signal_of_the_block_above(make):
    # Launay et al.'s code has no feedback point before its classifier (Table 4) or after lin1 (Fig. 4): there
    # the block receives BP's signal from the block above, sent down from that block's own signal
    rng = np.random.default_rng(0)
    net = nn.mlp([6, 7, 5, 4, 3], "tanh", seed=0, dtype=np.float64)
    x, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    out, caches = net.forward(x)
    _, e = nn.softmax_cross_entropy(out, y)
    bp_grads, bp_signals = nn.BP().gradients_and_signals(net, caches, e, y)
    plain_grads, plain = make(seed=1).gradients_and_signals(net, caches, e, y)
    K, blocks = net.n_blocks, net.block_param_slices()

    def block_of(j):
        return next(b for b, sl in enumerate(blocks) if j in sl)

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)

    for points, exact_from in (([-1], K - 2), ([-1, -2], K - 3), ([2, 1, 0], 0)):  # the top points: BP exactly
        grads, signals = make(seed=1, bp_points=points).gradients_and_signals(net, caches, e, y)
        for k in range(K - 1):
            close(signals[k], bp_signals[k] if k >= exact_from else plain[k])
        for j, want in enumerate(bp_grads):
            for name in want:
                close(grads[j][name], want[name] if block_of(j) >= exact_from else plain_grads[j][name])
    # a bottom point: block 0's signal is block 1's dx from its own projected signal
    grads, signals = make(seed=1, bp_points=[0]).gradients_and_signals(net, caches, e, y)
    close(signals[0], net.backward_block(1, plain[1], caches)[0])
    close(signals[1], plain[1])
    for j in blocks[1] + blocks[2] + blocks[3]:
        for name in grads[j]:
            close(grads[j][name], plain_grads[j][name])
    assert not np.allclose(grads[0]["W"], plain_grads[0]["W"])
    assert "bp_points=[0]" in repr(make(seed=1, bp_points=[0]))
    with pytest.raises(ValueError, match="not feedback points"):
        make(seed=1, bp_points=[3]).gradients(net, caches, e, y)
    with pytest.raises(ValueError, match="twice"):
        make(seed=1, bp_points=[0, 0])

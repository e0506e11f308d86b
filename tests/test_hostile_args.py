"""Hostile inputs at the library's API, one test item per input: constructor and call arguments; and
``TestValidInputStillWorks``, the positive controls: what the checks must keep accepting.
"""

import numpy as np
import pytest
from test_hostile_signals import LAYERS, RULES, _rule_case  # the signal tests' cases

import nnlite as nn
from nnlite.ops import losses

# ----------------------------------------------------------------------------------------------------------------
# Constructor and call arguments


def _two_block_case():
    net = nn.mlp([4, 5, 3], seed=0)
    out, caches = net.forward(np.ones((2, 4), np.float32))
    return net, caches, np.ones((2, 3), np.float32) / 2


ARGUMENTS = {
    "Adam(betas=(0.9,))": (lambda: nn.Adam(betas=(0.9,)), TypeError, r"betas must be a pair"),
    "Adam(betas=0.9)": (lambda: nn.Adam(betas=0.9), TypeError, r"betas must be a pair"),
    "Adam(betas=('a', 'b'))": (lambda: nn.Adam(betas=("a", "b")), TypeError, r"betas\[0\] must be a number"),
    "Adam(betas=(0.9, 1.0))": (lambda: nn.Adam(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0, 1\)"),
    "Adam(lr='x')": (lambda: nn.Adam(lr="x"), TypeError, "lr must be a number"),
    "Adam(eps=nan)": (lambda: nn.Adam(eps=float("nan")), ValueError, "eps must be finite"),
    "SGD(lr=None)": (lambda: nn.SGD(lr=None), TypeError, "lr must be a number"),
    "SGD(lr=True)": (lambda: nn.SGD(lr=True), TypeError, "lr must be a number, got True"),
    "SGD(lr=[1])": (lambda: nn.SGD(lr=[1]), TypeError, "lr must be a number"),
    "SGD(nesterov='no')": (
        lambda: nn.SGD(0.1, momentum=0.9, nesterov="no"),
        TypeError,
        "nesterov must be True or False",
    ),
    "RMSprop(rho='a')": (lambda: nn.RMSprop(rho="a"), TypeError, "rho must be a number"),
    "FA(feedbacks=[None])": (
        lambda: nn.FA(feedbacks=[None]).gradients(*_two_block_case()),
        ValueError,
        r"one entry per block \(2\), got 1",
    ),
    "FA(feedbacks=3)": (lambda: nn.FA(feedbacks=3), TypeError, "feedbacks must be a list"),
    "FA(feedbacks=[None, list])": (lambda: nn.FA(feedbacks=[None, [[1.0]]]), TypeError, "feedback 1 must be a numpy"),
    "FA(feedbacks=[None, float64])": (
        lambda: nn.FA(feedbacks=[None, np.ones((3, 5))]).gradients(*_two_block_case()),
        TypeError,
        "feedback 1 is float64, but the network is float32",
    ),
    "KP(feedbacks='B')": (lambda: nn.KP(0.1, 0.0, feedbacks="B"), TypeError, "feedbacks must be a list"),
    "DFA(projection='gaussian')": (lambda: nn.DFA(projection="gaussian"), TypeError, "Projection object"),
    "IFA(projection='gaussian')": (lambda: nn.IFA(projection="gaussian"), TypeError, "Projection object"),
    "LAFS(projection=3)": (lambda: nn.LAFS(projection=3), TypeError, "Projection object"),
    "DFA(parallel='yes')": (lambda: nn.DFA(parallel="yes"), TypeError, "parallel must be True or False"),
    "DRTP(normalize='no')": (lambda: nn.DRTP(normalize="no"), TypeError, "normalize must be True or False"),
    "LeakyReLU('a')": (lambda: nn.LeakyReLU("a"), TypeError, "slope must be a number"),
    "predict(batch_size=0)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=0),
        ValueError,
        "batch_size must be a positive integer",
    ),
    "predict(batch_size=-1)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=-1),
        ValueError,
        "batch_size must be a positive integer",
    ),
    "predict(batch_size=1.5)": (
        lambda: nn.mlp([3, 2], seed=0).predict(np.ones((2, 3), np.float32), batch_size=1.5),
        ValueError,
        "batch_size must be a positive integer",
    ),
}


class TestArguments:
    @pytest.mark.parametrize("case", list(ARGUMENTS))
    def test_argument_error_is_nnlites_own(self, case):
        call, exc, key = ARGUMENTS[case]
        with pytest.raises(exc, match=key):
            call()


# ----------------------------------------------------------------------------------------------------------------
# Positive controls: what the checks must keep accepting (not hostile inputs; not counted)


class TestValidInputStillWorks:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("name", sorted(LAYERS))
    def test_layer_round_trip_in_its_dtype(self, name, dtype):
        make, shape, train = LAYERS[name]
        layer = make()
        if dtype == np.float64 and hasattr(layer, "dtype"):
            layer = type(layer).from_config({**layer.config(), "dtype": "float64"})
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        out, cache = layer.forward(x, train)
        dx, _ = layer.backward(np.ones_like(out), cache)
        assert out.dtype == dx.dtype == dtype and dx.shape == x.shape

    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_rule_takes_the_error_of_its_own_batch(self, rule):
        net, caches, e, y = _rule_case()
        grads = RULES[rule]().gradients(net, caches, e, y)
        assert all(np.isfinite(g).all() for d in grads for g in d.values())

    def test_checkpoint_round_trip_with_rule_state(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.BRSF(seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        back = nn.load(tmp_path / "m.npz", rule=nn.BRSF(seed=0))
        x = np.ones((2, 4), np.float32)
        np.testing.assert_array_equal(back.predict(x), net.predict(x))

    def test_finite_binary_cross_entropy_is_unchanged(self):
        z = np.random.default_rng(0).standard_normal((5, 3)) * 10
        y = np.array([0, 1, 2, 0, 1])
        t = losses.one_hot(y, 3, z.dtype)
        want = float((np.logaddexp(0, z) - t * z).sum()) / 5
        assert nn.binary_cross_entropy(z, y)[0] == pytest.approx(want, rel=1e-12)

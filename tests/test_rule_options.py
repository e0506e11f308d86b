"""A new rule with a learned feedback and two options is its class and one registration: declared here, in the
test, it appears in ``train --help`` and its checks, ``compare`` (which says who runs without its option), spec
validation, RunConfig and the builders, with no other edit; and measuring between its step and its commit
changes nothing."""

import json
import textwrap

import numpy as np
import pytest
from cli_helpers import _run

import nnlite as nn
from nnlite import training
from nnlite.alignment import measure
from nnlite.config import ConfigError, RunConfig
from nnlite.config.builders import build_rule
from nnlite.experiments.spec import SpecError, load_spec
from nnlite.rules import registry
from nnlite.rules.base import RuleStep
from nnlite.rules.direct import DirectRule
from nnlite.rules.dkp import LearnedFeedback
from nnlite.rules.options import Option

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


class Echo(DirectRule):
    """A direct rule whose ``B_k`` learn (a test's rule): ``g_k = e @ B_k.T``; after each step
    ``B_k <- B_k - rate (h_k^T e + shrink B_k)``."""

    name = "echo"
    feedback_class = LearnedFeedback
    options = (
        Option("rate", "float", None, "the B_k's learning rate (default 0.01)", "nonnegative"),
        Option("shrink", "float", None, "the B_k's decay (default 0)", "nonnegative"),
    )

    def __init__(self, rate=0.01, shrink=0.0, projection=None, layout="unified", seed=None, parallel=False):
        super().__init__(projection, layout, seed, parallel)
        self.rate, self.shrink = float(rate), float(shrink)

    def projected(self, net, e, y):
        return e

    def step(self, net, caches, e, y=None):
        grads, g = DirectRule.gradients_and_signals(self, net, caches, e, y)
        h = caches.block_outputs
        return RuleStep(grads, g, [h[k].reshape(len(e), -1).T @ e for k in range(len(g))])

    def _commit(self, net, step):
        for k, G in enumerate(step.change):
            M = self.feedback.block_rows(k)
            M -= self.rate * (G * (1.0 / self.feedback.scales[k]) + self.shrink * M)

    def state(self):
        return {"M": self.feedback.M}

    def load_state(self, state):
        self.feedback.M[...] = state["M"]

    def _repr_args(self):
        return {"rate": self.rate, "shrink": self.shrink, **super()._repr_args()}


@pytest.fixture
def echo():
    registry.register(Echo)
    yield "echo"
    registry.unregister("echo")


def test_its_options_are_flags_of_train_and_checked(echo, capsys, tmp_path):
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0 and "--echo-rate" in out and "--echo-shrink" in out and "echo: the B_k's decay" in out
    code, _, err = _run(["train", "--rule", "dfa", "--echo-rate", "0.1", "--out", str(tmp_path / "a")], capsys)
    assert code == 2 and "--echo-rate applies to echo, not --rule dfa" in err.splitlines()[-1]
    code, _, err = _run(["train", "--rule", "echo", "--echo-shrink", "-1", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "--echo-shrink" in err
    argv = ["train", "--rule", "echo", "--echo-rate", "0.05", "--train-size", "64", "--epochs", "1"]
    code, _, err = _run([*argv, "--no-progress", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err


def test_runconfig_and_the_builders_take_them(echo):
    config = RunConfig(rule="echo", echo_rate=0.05, echo_shrink=0.5)
    assert config.echo_rate == 0.05 and config.rule_options == {"echo_rate": 0.05, "echo_shrink": 0.5}
    assert RunConfig.from_mapping(config.to_dict()) == config
    assert config.replace(echo_rate=None).rule_options == {"echo_shrink": 0.5}
    rule = build_rule(config, nn.mlp([8, 6, 3], seed=0), "echo", {"feedback": 1})
    assert isinstance(rule, Echo) and (rule.rate, rule.shrink) == (0.05, 0.5)
    with pytest.raises(ConfigError, match=r"'echo_rate' \(--echo-rate\) applies to echo, not 'rule' \(--rule\) dfa"):
        RunConfig(rule="dfa", echo_rate=0.05)
    with pytest.raises(ConfigError, match="echo_shrink"):
        RunConfig(rule="echo", echo_shrink=-1.0)


def test_compare_gives_its_options_to_it_and_says_who_runs_without(echo, capsys, tmp_path):
    argv = ["compare", "--rules", "dfa,echo", "--echo-rate", "0.05", "--train-size", "64", "--epochs", "1"]
    code, _, err = _run([*argv, "--no-progress", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    assert "--echo-rate 0.05 goes to echo; dfa runs without it" in err
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert "Echo(rate=0.05" in doc["config"]["rule_repr"]["echo"]


def test_its_options_pass_spec_validation(echo, tmp_path):
    text = """
    name = "t"
    title = "t"
    [base]
    rule = "{rule}"
    hidden = [8]
    echo_rate = 0.05
    [[variation]]
    name = "a"
    """
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(text.format(rule="echo")))
    assert load_spec(p).base["echo_rate"] == 0.05
    p.write_text(textwrap.dedent(text.format(rule="dfa")))
    with pytest.raises(SpecError, match="echo_rate"):
        load_spec(p)


def test_measuring_between_its_step_and_its_commit_changes_nothing(echo):
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((16, 20)).astype(np.float32), rng.integers(0, 5, 16)) for _ in range(2)]
    runs = []
    for measured in (False, True):
        net, rule, opt = nn.mlp([20, 16, 12, 5], "tanh", seed=0), Echo(rate=0.1, seed=1), nn.SGD(0.1)
        rule.setup(net)
        start = rule.feedback.M.copy()
        for _ in range(3):
            s = training.step(net, rule, nn.softmax_cross_entropy, opt, *data[0], commit=False)
            if measured:
                out, caches = net.forward(data[1][0])
                measure(net, rule, caches, nn.softmax_cross_entropy(out, data[1][1])[1], data[1][1])
            s.commit()
        runs.append(rule.feedback.M.copy())
    assert np.array_equal(*runs) and not np.array_equal(runs[0], start)  # learned, from the trained batch only


def test_the_registry_says_what_it_declares(echo):
    entry = registry.info("echo")
    assert entry.family == "direct" and [o.param for o in entry.options] == ["rate", "shrink"]
    assert set(registry.option_table()) >= {"echo_rate", "echo_shrink", "kp_lr", "local_beta", "dtp_noise"}

"""One run (nnlite.experiments.run): the command's options, validated; deterministic; measured."""

import numpy as np
import pytest

import nnlite as nn
from nnlite.config import builders
from nnlite.experiments.run import RUN_OPTIONS, config_of, run

SMALL = {"rule": "dfa", "epochs": 1, "train_size": 320, "hidden": [32, 32]}


def _without_times(result):
    h = dict(result["history"])
    h.pop("seconds")
    return {**result, "history": h, "seconds": None}


def test_a_run_is_deterministic_and_equals_fit_in_process():
    a, b = run(SMALL), run(SMALL)
    assert _without_times(a) == _without_times(b)
    # the same run by hand, as nnlite train builds it: same accuracy to the last bit
    ds = nn.data.load("digits")
    config = config_of(SMALL)
    seeds = builders.stream_seeds(0)
    net = builders.build_net(config, ds, seeds)
    rule = builders.build_rule(config, net, "dfa", seeds)
    opt = nn.SGD(0.02, momentum=0.9)
    split = (ds.x_train[:320], ds.y_train[:320]), (ds.x_test, ds.y_test)
    built = builders.Built(config, ds, *split, seeds, net, rule, opt, nn.softmax_cross_entropy)
    h = builders.fit_config(built)
    assert h.test_acc[-1] == a["test_acc"] and h.train_loss[-1] == a["train_loss"]
    fa = a["final_alignment"]
    assert fa["n_samples"] == 128 and len(fa["signal_cos"]) == 2 and len(fa["readout_acc"]) == 2


@pytest.mark.parametrize(
    "options,message",
    [
        ({"rule": "dfa", "epoch": 1}, "unknown option 'epoch'"),
        ({"rule": "xyz"}, "invalid choice"),
        ({"rule": "fa", "layout": "independent"}, r"'layout' \(--layout\)"),
        ({"hidden": "wide"}, "hidden"),
        ({"standardize": "yes"}, "switch"),
        ({"epochs": True}, "boolean"),
        ({"final_alignment": -1}, "final_alignment"),
    ],
)
def test_bad_run_options_are_clear_errors(options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        run(options)


def test_run_options_are_the_commands_and_knobs_reach_the_run():
    assert {"rule", "hidden", "no_normalize", "bottleneck", "final_alignment"} <= set(RUN_OPTIONS)
    r = run({**SMALL, "no_normalize": True, "bottleneck": [1, 5], "final_alignment": 0})
    assert "normalize=False" in r["rule_repr"] and r["final_alignment"] is None
    assert np.isfinite(r["test_acc"])

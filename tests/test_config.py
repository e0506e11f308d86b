"""The run config (nnlite.config): one table of options behind the command line and the specs, checks that name
the option, build(config), and networks from a layers list (Launay et al.'s Table 4 CNN)."""

import dataclasses
import textwrap

import numpy as np
import pytest

import nnlite as nn
from nnlite import cli
from nnlite.config import ConfigError, RunConfig, build, options
from nnlite.experiments.run import run
from nnlite.models import from_layers

#: Launay et al.'s Table 4 network as their code builds it (lightonai/principled-dfa-training): three 5x5
#: convolutions 3 -> 32 -> 64 -> 64 with padding 2, each tanh -> BN -> MaxPool(3, 2), then 576 -> 128 -> 10.
TABLE4 = [
    {"type": "dropout", "p": 0.1, "channels": True},
    *[
        entry
        for filters in (32, 64, 64)
        for entry in (
            {"type": "conv2d", "filters": filters, "kernel": 5, "padding": 2, "init": "uniform"},
            {"type": "tanh"},
            {"type": "batchnorm"},
            {"type": "maxpool2d", "kernel": 3, "stride": 2},
        )
    ],
    {"type": "flatten"},
    {"type": "dense", "units": 128, "init": "uniform"},
    {"type": "dropout", "p": 0.5},
    {"type": "tanh"},
    {"type": "batchnorm"},
    {"type": "dense", "units": 10, "init": "uniform"},
]


def test_launay_table4_cnn_from_a_list_has_its_shapes_and_parameters():
    net = from_layers(TABLE4, (3, 32, 32), seed=0)
    convs = [layer for layer in net.layers if isinstance(layer, nn.Conv2d)]
    assert [(c.W.shape) for c in convs] == [(32, 3, 5, 5), (64, 32, 5, 5), (64, 64, 5, 5)]
    # 32 -> 15 -> 7 -> 3 under MaxPool(3, 2): 64 * 3 * 3 = 576 features into the classifier
    assert net.feedback_sizes == [32 * 15 * 15, 64 * 7 * 7, 64 * 3 * 3, 128]
    dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)]
    assert [d.W.shape for d in dense] == [(128, 576), (10, 128)]
    conv = 3 * 32 * 25 + 32 + 32 * 64 * 25 + 64 + 64 * 64 * 25 + 64
    bn = 2 * (32 + 64 + 64 + 128)
    assert sum(v.size for p in net.params() for v in p.values()) == conv + bn + 576 * 128 + 128 + 128 * 10 + 10
    out, _ = net.forward(np.zeros((2, 3, 32, 32), np.float32))
    assert out.shape == (2, 10) and out.dtype == np.float32
    # PyTorch's default: weights and biases uniform in +-1/sqrt(fan_in)
    b = dense[0].b
    assert np.abs(b).max() <= 1 / np.sqrt(576) and np.abs(b).max() > 0


@pytest.mark.parametrize(
    "entries, message",
    [
        ([{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "dense", "units": 10}], r"layers\[1\] \(dense\)"),
        ([{"type": "dense", "unit": 10}], r"layers\[0\] \(dense\): unknown key 'unit'"),
        ([{"type": "dense"}], r"layers\[0\] \(dense\): missing 'units'"),
        ([{"type": "conv3d"}], r"layers\[0\]: unknown type 'conv3d'"),
        ([{"type": "maxpool2d", "kernel": 9}, {"type": "flatten"}], r"layers\[0\] \(maxpool2d\)"),
        ([{"type": "dropout", "p": 1.5}], r"layers\[0\] \(dropout\) p"),
        ([{"type": "tanh"}], "no dense or conv2d"),
        ("dense", "non-empty list"),
    ],
)
def test_a_bad_layers_list_is_refused_naming_the_entry(entries, message):
    with pytest.raises((ValueError, TypeError), match=message):
        from_layers(entries, (1, 8, 8), seed=0)


def test_every_field_is_one_flag_with_the_same_default():
    parser = cli.build_parser()
    train = parser.parse_args(["train"])
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    defaults.update({o.name: None for o in options() if o.rules})  # a rule's declared option: not given
    for opt in options():
        if opt.flag:
            assert getattr(train, opt.name) == defaults[opt.name], opt.name
        else:
            assert not hasattr(train, opt.name), opt.name


def test_a_spec_row_means_what_the_command_line_means():
    argv = ["train", "--rule", "dfa", "--hidden", "64x2", "--bottleneck", "1:5", "--no-normalize", "--lr", "0.01"]
    from_flags = cli.build.config_of(cli.build_parser().parse_args(argv))
    from_row = RunConfig.from_mapping(
        {"rule": "dfa", "hidden": [64, 64], "bottleneck": [1, 5], "no_normalize": True, "lr": 0.01}
    )
    assert from_flags == from_row and from_row.hidden == (64, 64)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epoch": 1}, "unknown option 'epoch'"),
        ({"rule": "xyz"}, r"'rule' \(--rule\): invalid choice: 'xyz'"),
        ({"hidden": "wide"}, r"'hidden' \(--hidden\)"),
        ({"epochs": True}, r"'epochs' \(--epochs\): takes an integer, got the boolean True"),
        ({"rule": "fa", "layout": "independent"}, r"'layout' \(--layout\) applies to dfa, lafs, drtp, sdfa"),
        ({"optimizer": "adam", "momentum": 0.5}, r"'momentum' \(--momentum\) applies to sgd"),
        ({"final_alignment": -1}, "'final_alignment': expected a non-negative integer"),
        ({"model": "cnn", "layers": TABLE4}, r"'layers' \(--layers\) describes the whole network"),
    ],
)
def test_config_errors_name_the_option(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        RunConfig.from_mapping(values)
    assert info.value.fields


def test_build_makes_what_the_config_says():
    config = RunConfig(rule="kp", hidden=(16,), optimizer="sgd", lr=0.05, train_size=64, dtype="float64")
    built = build(config)
    assert built.net.feedback_sizes == [16] and built.net.params()[0]["W"].dtype == np.float64
    assert repr(built.rule) == repr(nn.KP(lr=0.05, weight_decay=0.0, seed=built.seeds["feedback"]))
    assert isinstance(built.optimizer, nn.SGD) and built.optimizer.lr == 0.05 and built.optimizer.momentum == 0.0
    assert built.train[0].shape == (64, 64)


def test_a_spec_row_with_a_layers_list_trains():
    layers = [
        {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1},
        {"type": "tanh"},
        {"type": "maxpool2d", "kernel": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
    ]
    result = run({"layers": layers, "rule": "dfa", "epochs": 3})
    assert result["test_acc"] > 0.75  # digits, 10 classes: chance is 0.1 (0.87 when written)
    assert len(result["final_alignment"]["signal_cos"]) == 1
    with pytest.raises(ConfigError, match="10 classes"):
        run({"layers": layers[:-1] + [{"type": "dense", "units": 3}], "epochs": 1})


def test_a_spec_with_a_layers_list_loads_and_its_rows_train(tmp_path):
    from nnlite.experiments.spec import SpecError, expand, load_spec

    text = """
    name = "layers"
    title = "a network from a list"
    [base]
    rule = "dfa"
    epochs = 2
    layers = [
      {type = "conv2d", filters = 8, kernel = 3, padding = 1},
      {type = "tanh"},
      {type = "maxpool2d", kernel = 2},
      {type = "flatten"},
      {type = "dense", units = 10},
    ]
    [[variation]]
    name = "dfa"
    [[variation]]
    name = "bp"
    rule = "bp"
    """
    path = tmp_path / "layers.toml"
    path.write_text(textwrap.dedent(text))
    runs = expand(load_spec(path))
    results = {r["variation"]: run(r["options"]) for r in runs}
    assert results["dfa"]["test_acc"] > 0.75 and results["bp"]["test_acc"] > 0.75
    path.write_text(path.read_text().replace('type = "dense", units = 10', 'type = "dense", unit = 10'))
    with pytest.raises(SpecError, match=r"layers\[4\] \(dense\): unknown key 'unit'"):
        load_spec(path)

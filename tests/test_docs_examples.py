"""The API pages of the classes a user meets (rules, layers, projections, the network, the optimizers, History,
Dataset, RunConfig, Alignment) and of the losses: each has an Examples section, and it runs (doctest, its shown
output compared); each page documents every parameter its constructor (or function) takes, with a description,
shared parameters copied from the one place that documents them (docs/_apidocs.py, what the documentation build
does), and no page sends its reader elsewhere ("as for X")."""

from __future__ import annotations

import doctest
import importlib.util
import inspect
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent


def _apidocs():
    spec = importlib.util.spec_from_file_location("_apidocs", ROOT / "docs" / "_apidocs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APIDOCS = _apidocs()
CLASSES = {f"{c.__module__}.{c.__qualname__}": c for c in APIDOCS.public_classes() + APIDOCS.public_functions()}
#: Classes that are tables or helpers of the rules, not a rule, layer or projection a user builds.
NO_EXAMPLE = {"nnlite.rules.feedback.DirectFeedback", "nnlite.rules.fa.FeedbackChain"}


@pytest.mark.parametrize("name", sorted(set(CLASSES) - NO_EXAMPLE))
def test_each_class_has_examples_that_run(name, tmp_path, monkeypatch):
    cls = CLASSES[name]
    doc = (cls.__dict__.get("__doc__") if inspect.isclass(cls) else cls.__doc__) or ""
    assert "\nExamples\n--------\n" in inspect.cleandoc(doc), f"{name} has no Examples section"
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(cls, name, globs={})
    assert tests and tests[0].examples, f"{name}'s Examples section has no example"
    with threadpool_limits(limits=1, user_api="blas"):
        for t in tests:
            runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples fail (output above)"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_class_documents_every_parameter(name):
    cls = CLASSES[name]
    saved = cls.__dict__.get("__doc__") if inspect.isclass(cls) else cls.__doc__
    try:
        nowhere = APIDOCS.inherit_parameters(cls)
        doc = cls.__doc__ or ""
        assert not nowhere, f"{name}: parameters {nowhere} are documented nowhere"
        entries = APIDOCS.documented(doc)
        for p in APIDOCS.signature_parameters(cls):
            assert p in entries, f"{name}'s page does not document {p}"
            assert any(line.strip() for line in entries[p].desc), f"{name}: {p} has no description"
        assert "as for :" not in doc.lower(), f"{name} sends its reader elsewhere: {doc}"
    finally:
        cls.__doc__ = saved


def test_a_page_lists_the_parameters_in_the_signature_order():
    import nnlite as nn

    saved = nn.SGD.__doc__
    try:
        APIDOCS.inherit_parameters(nn.SGD)  # lr is the base's, the rest SGD's own
        assert list(APIDOCS.documented(nn.SGD.__doc__)) == ["lr", "momentum", "nesterov", "weight_decay"]
    finally:
        nn.SGD.__doc__ = saved


def test_shared_parameters_come_from_one_source():
    import nnlite as nn
    from nnlite.rules.direct import DirectRule

    saved = nn.DFA.__doc__
    try:
        APIDOCS.inherit_parameters(nn.DFA)
        base = APIDOCS.documented(DirectRule.__doc__)
        mine = APIDOCS.documented(nn.DFA.__doc__)
        for p in ("projection", "layout", "seed", "parallel", "normalize", "error_scale", "bp_points"):
            assert mine[p].desc == base[p].desc
    finally:
        nn.DFA.__doc__ = saved


def test_the_user_classes_and_the_losses_are_covered():
    import nnlite as nn

    wanted = [nn.Sequential, nn.SGD, nn.Adam, nn.RMSprop, nn.StepDecay, nn.History, nn.Alignment]
    wanted += [nn.data.Dataset, nn.config.RunConfig, nn.softmax_cross_entropy, nn.binary_cross_entropy]
    wanted += [nn.binary_cross_entropy_sum, nn.mean_squared_error]
    assert all(any(obj is c for c in CLASSES.values()) for obj in wanted)


def test_run_config_documents_every_run_option():
    """RunConfig takes every run option as a keyword: its page lists them all, from the one table of options."""
    from nnlite.config import RunConfig, options

    names = APIDOCS.signature_parameters(RunConfig)
    assert {o.name for o in options()} | {"rule_options"} == set(names)
    saved = RunConfig.__dict__.get("__doc__")
    try:
        APIDOCS.inherit_parameters(RunConfig)
        entries = APIDOCS.documented(RunConfig.__doc__)
        epochs = next(o for o in options() if o.name == "epochs")
        assert epochs.help.rstrip(".") in " ".join(entries["epochs"].desc)
        assert "--epochs" in " ".join(entries["epochs"].desc)
        assert list(entries) == names  # in the table's order
    finally:
        RunConfig.__doc__ = saved

"""The API pages of the rules, layers and projections: each class has an Examples section, and it runs (doctest,
its shown output compared); each class's page documents every parameter its constructor takes, with a
description, shared parameters copied from the one base class that documents them (docs/_apidocs.py, what the
documentation build does), and no page sends its reader elsewhere ("as for X")."""

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
CLASSES = {f"{c.__module__}.{c.__qualname__}": c for c in APIDOCS.public_classes()}
#: Classes that are tables or helpers of the rules, not a rule, layer or projection a user builds.
NO_EXAMPLE = {"nnlite.rules.feedback.DirectFeedback", "nnlite.rules.fa.FeedbackChain"}


@pytest.mark.parametrize("name", sorted(set(CLASSES) - NO_EXAMPLE))
def test_each_class_has_examples_that_run(name, tmp_path, monkeypatch):
    cls = CLASSES[name]
    doc = cls.__dict__.get("__doc__") or ""
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
    saved = cls.__dict__.get("__doc__")
    try:
        nowhere = APIDOCS.inherit_parameters(cls)
        doc = cls.__doc__ or ""
        assert not nowhere, f"{name}: parameters {nowhere} are documented nowhere"
        entries = APIDOCS.documented(doc)
        for p in APIDOCS.signature_parameters(cls):
            assert p in entries, f"{name}'s page does not document {p}"
            assert any(line.strip() for line in entries[p].desc), f"{name}: {p} has no description"
        assert "as for :class:" not in doc.lower(), f"{name} sends its reader elsewhere: {doc}"
    finally:
        cls.__doc__ = saved


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

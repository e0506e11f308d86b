"""The rule registry (nnlite.rules.registry): capabilities read from the classes, and a rule added to the registry
reaching the command line's --help and checks, compare, spec validation and the rule tests with no other edit."""

import json
import textwrap

import numpy as np
import pytest
from cli_helpers import _run
from rule_cases import check_nonzero_finite_hidden_gradients, check_same_seed_same_bits, maker, registered

import nnlite as nn
from nnlite.experiments.spec import SpecError, load_spec
from nnlite.rules import registry

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


class Throwaway(nn.DFA):
    """A throwaway rule for these tests: DFA under another name, in compare's defaults."""

    name = "throwaway"
    in_compare = True


@pytest.fixture
def throwaway():
    registry.register(Throwaway)
    yield "throwaway"
    registry.unregister("throwaway")


def test_capabilities_are_read_from_the_classes():
    dfa, kp, bp, lafs = (registry.info(n) for n in ("dfa", "kp", "bp", "lafs"))
    assert dfa.family == "direct" and dfa.takes_projection and dfa.has_layout and dfa.parallel
    assert kp.family == "chain" and kp.learns_feedback and kp.stateful and not kp.takes_projection
    assert bp.family == "chain" and not bp.stateful and not bp.takes_projection
    assert lafs.has_local_errors and lafs.needs_transpose and lafs.needs_labels
    assert registry.info("drtp").needs_labels and not dfa.needs_labels
    assert registry.info("ifa").family == "indirect"


def test_register_refuses_what_is_not_a_rule_and_a_taken_name():
    with pytest.raises(TypeError, match=r"subclass of nnlite\.rules\.Rule"):
        registry.register(int)  # type: ignore[arg-type]

    class Impostor(nn.DFA):
        name = "dfa"

    with pytest.raises(ValueError, match="taken by DFA"):
        registry.register(Impostor)
    with pytest.raises(ValueError, match="unknown rule 'nope'"):
        registry.info("nope")


def test_make_passes_each_rule_the_arguments_it_takes():
    assert repr(registry.make("kp", seed=3, lr=0.5, weight_decay=0.0, layout="independent")) == repr(
        nn.KP(lr=0.5, weight_decay=0.0, seed=3)
    )
    assert repr(registry.make("dfa", seed=3, lr=0.5, layout="independent")) == repr(
        nn.DFA(seed=3, layout="independent")
    )


def test_a_registered_rule_is_in_train_help_and_its_checks(throwaway, capsys, tmp_path):
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0 and "throwaway" in out
    # a direct rule: --layout applies to it, and the messages that list where --kp-lr applies do not name it
    code, _, err = _run(["train", "--rule", "throwaway", "--kp-lr", "0.1", "--out", str(tmp_path / "a")], capsys)
    learners = ", ".join(n for n, i in registry.RULES.items() if i.learns_feedback)  # kp, dkp, ...
    assert code == 2 and f"--kp-lr applies to {learners}, not --rule throwaway" in err.splitlines()[-1]
    code, _, err = _run(["train", "--rule", "bp", "--layout", "independent", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "throwaway" in err.splitlines()[-1]  # --layout applies to ..., throwaway


def test_a_registered_rule_trains_in_compare_by_default(throwaway, capsys, tmp_path):
    code, out, _ = _run(["compare", "--help"], capsys)
    assert "bp,fa,dfa,ifa,lafs,throwaway" in "".join(out.split())
    argv = ["compare", "--rules", "bp,throwaway", "--train-size", "64", "--epochs", "1", "--no-progress"]
    code, out, err = _run([*argv, "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert set(doc["rules"]) == {"bp", "throwaway"} and "Throwaway(" in doc["config"]["rule_repr"]["throwaway"]


def test_a_registered_rule_passes_spec_validation(throwaway, tmp_path):
    text = """
    name = "t"
    title = "t"
    [base]
    rule = "{rule}"
    hidden = [8]
    layout = "independent"
    [[variation]]
    name = "a"
    """
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(text.format(rule="throwaway")))
    assert load_spec(p).base["rule"] == "throwaway"
    registry.unregister("throwaway")
    with pytest.raises(SpecError, match="invalid choice: 'throwaway'"):
        load_spec(p)
    registry.register(Throwaway)


def test_a_registered_rule_is_in_the_rule_tests(throwaway):
    assert "throwaway" in registered()  # the parametrised rule tests read this list
    check_nonzero_finite_hidden_gradients(maker("throwaway")())
    check_same_seed_same_bits(maker("throwaway"))
    # and a wrong rule fails the contract: a rule that zeroes its hidden gradients
    broken = maker("throwaway")()
    real = broken.gradients_and_signals

    def zeroed(*a, **k):
        grads, signals = real(*a, **k)
        return [{n: np.zeros_like(g) for n, g in d.items()} for d in grads[:-1]] + grads[-1:], signals

    broken.gradients_and_signals = zeroed
    with pytest.raises(AssertionError):
        check_nonzero_finite_hidden_gradients(broken)


def test_the_design_docs_rule_table_is_the_registrys():
    from pathlib import Path

    design = (Path(__file__).resolve().parents[1] / "docs" / "design.md").read_text()
    assert registry.markdown_table() in design  # regenerate with: python -m nnlite.rules.registry

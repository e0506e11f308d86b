"""The ``nnlite compare`` command (nnlite.cli.compare): its table, JSON and figures, every rule started from the
same weights as ``train --rule``, and its --lr checked against the rules compared.

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import json

import numpy as np
import pytest
from cli_helpers import _is_png, _run

from nnlite import cli

# BLAS limited to one thread for the whole module, and every test in its own folder (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


# ---------------------------------------------------------------------------------------------------------------
# compare


def test_compare_writes_table_json_and_pngs(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, err = _run(
        [
            "compare",
            "--rules",
            "bp,dfa",
            "--epochs",
            "1",
            "--no-progress",
            "--lr",
            "bp=0.05,dfa=0.02",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    doc = json.loads((out / "compare.json").read_text())
    assert list(doc["rules"]) == ["bp", "dfa"]
    assert doc["rules"]["bp"]["lr"] == 0.05 and doc["rules"]["dfa"]["lr"] == 0.02
    np.testing.assert_allclose(doc["rules"]["bp"]["final_alignment"], 1.0, atol=1e-6)
    dfa_cos = doc["rules"]["dfa"]["final_alignment"]
    assert len(dfa_cos) == 2 and all(-1 <= c < 0.99 for c in dfa_cos)
    for r in ("bp", "dfa"):
        assert 0.5 < doc["rules"][r]["final_test_acc"] <= 1
        assert len(doc["rules"][r]["history"]["alignment"]) >= cli.ALIGN_RECORDS_PER_EPOCH
    for name in ("compare.png",):
        assert _is_png(out / name), name
    table = stdout[stdout.index("summary") :].splitlines()
    assert table[1].split()[:4] == ["rule", "lr", "test", "acc"]
    assert [l.split()[0] for l in table[3:5]] == ["bp", "dfa"]
    assert f"{doc['rules']['dfa']['final_test_acc']:.4f}" in table[4]


def test_compare_starts_every_rule_from_the_same_weights(tmp_path, capsys):
    """Each rule's run in `compare` is exactly the run `train --rule` gives with the same seed."""
    common = ["--train-size", "160", "--epochs", "1", "--align-every", "2", "--no-progress", "--seed", "7"]
    assert _run(["compare", "--rules", "fa,lafs", *common, "--out", str(tmp_path / "cmp")], capsys)[0] == 0
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    for r in ("fa", "lafs"):
        assert _run(["train", "--rule", r, *common, "--out", str(tmp_path / r)], capsys)[0] == 0
        single = json.loads((tmp_path / r / "history.json").read_text())["history"]
        mine = doc["rules"][r]["history"]
        assert mine["train_loss"] == single["train_loss"]
        assert mine["test_acc"] == single["test_acc"]
        assert [a["signal_cos"] for a in mine["alignment"]] == [a["signal_cos"] for a in single["alignment"]]


def test_compare_lr_names_an_unlisted_rule(tmp_path, capsys):
    code, _, err = _run(["compare", "--rules", "bp,dfa", "--lr", "fa=0.1", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "fa" in err


def test_a_rule_specific_flag_reaches_the_rules_that_take_it(tmp_path, capsys):
    """`--rules bp,kp --kp-lr 0.01`: KP gets its feedback lr, BP runs without it; a flag that applies to none of
    the rules is still refused."""
    argv = ["compare", "--rules", "bp,kp", "--kp-lr", "0.01", "--epochs", "1", "--train-size", "320", "--no-progress"]
    code, out, err = _run([*argv, "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert doc["config"]["rule_repr"]["kp"].startswith("KP(lr=0.01,") and doc["config"]["rule_repr"]["bp"] == "BP()"
    code, _, err = _run(["compare", "--rules", "bp,dfa", "--kp-lr", "0.01", "--out", str(tmp_path / "d")], capsys)
    assert code == 2 and "--kp-lr applies to" in err

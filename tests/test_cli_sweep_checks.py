"""What ``nnlite sweep``/``reproduce`` check before anything is scheduled, and what they say: --set values checked
as the spec's, data sets missing on an offline machine, another spec's folder, the dry-run table, a sweep too long
to run without --yes, Ctrl-C, and failed runs' reasons on the console. Tiny runs on the embedded digits data set."""

import json

import pytest
from cli_helpers import _run

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")

SPEC = """
name = "{name}"
title = "A tiny table"
source = "a test"
seeds = [0, 1]

[base]
dataset = "{dataset}"
rule = "dfa"
hidden = [8]
epochs = 1
train_size = 64
final_alignment = 16

[[variation]]
name = "a"

[[variation]]
name = "b"
lr = 0.05
"""


def _spec(tmp_path, name="tiny", dataset="digits"):
    p = tmp_path / f"{name}.toml"
    p.write_text(SPEC.format(name=name, dataset=dataset))
    return str(p)


class _NoSweep:
    """Stands in for nnlite.experiments.sweep.sweep: records that it was called, runs nothing."""

    def __init__(self):
        self.calls = []

    def __call__(self, runs, out, **kwargs):
        self.calls.append(runs)
        raise AssertionError("nothing should be scheduled")


@pytest.fixture
def no_sweep(monkeypatch):
    from nnlite.experiments import sweep

    stub = _NoSweep()
    monkeypatch.setattr(sweep, "sweep", stub)
    return stub


@pytest.mark.parametrize(
    ("value", "says"), [("fast", "expected a number, got 'fast'"), ("-1", "expected a positive number, got -1")]
)
def test_set_values_are_checked_before_anything_is_scheduled(tmp_path, capsys, no_sweep, value, says):
    for extra in (["--dry-run"], []):
        argv = ["sweep", _spec(tmp_path), "--out", str(tmp_path / "o"), "--set", f"lr={value}", *extra]
        code, _, err = _run(argv, capsys)
        assert code == 2 and f"--set lr={value}" in err and "'lr' (--lr)" in err and says in err, err
    assert not no_sweep.calls and not (tmp_path / "o").exists()


def test_a_data_set_that_needs_a_download_is_refused_offline_with_the_fix(tmp_path, capsys, monkeypatch, no_sweep):
    from nnlite.experiments import preflight

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    asked = []
    monkeypatch.setattr(preflight, "reachable", lambda url, timeout=3.0: asked.append(url) or False)
    spec = _spec(tmp_path, "launay", dataset="cifar10")
    code, _, err = _run(["sweep", spec, "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "launay's runs need cifar10, which is not on this machine" in err
    assert "--dataset " in err and "cannot be downloaded" in err
    assert len(asked) == 1 and not no_sweep.calls and not (tmp_path / "o").exists()


def test_a_folder_of_another_spec_is_refused_naming_both(tmp_path, capsys, monkeypatch):
    from nnlite.experiments import sweep

    out = tmp_path / "o"
    monkeypatch.setattr(sweep, "sweep", lambda runs, o, **k: sweep.SweepSummary(len(runs), 0, 0, 0, 0, (), 0.0))
    monkeypatch.setattr("nnlite.cli.sweep.CONFIRM_HOURS", 1e9)
    code, _, err = _run(["sweep", _spec(tmp_path, "first"), "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    before = (out / "spec.json").read_text()
    code, _, err = _run(["sweep", _spec(tmp_path, "second"), "--out", str(out), "--no-progress"], capsys)
    assert code == 2 and "holds another experiment (the spec is 'first' there, 'second' now" in err, err
    assert "--out" in err and "--force" in err and len(err.strip().splitlines()) == 1, err
    assert (out / "spec.json").read_text() == before


def test_dry_run_prints_a_table_with_the_wall_time_on_the_workers(tmp_path, capsys, no_sweep):
    code, out, err = _run(
        ["sweep", _spec(tmp_path), "--out", str(tmp_path / "o"), "--dry-run", "--workers", "2"], capsys
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| variation | runs | to run | step s | est. wall |"
    assert lines[2].startswith("| a | 2 | 2 | ") and lines[3].startswith("| b | 2 | 2 | ")
    assert "4 runs, 0 done, 4 to run: about " in out and "of wall time on 2 worker(s)" in out
    assert not no_sweep.calls and not (tmp_path / "o" / "spec.json").exists()


def test_a_sweep_estimated_over_the_threshold_needs_yes(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("nnlite.cli.sweep.CONFIRM_HOURS", 1e-12)  # any sweep is "too long"
    argv = ["sweep", _spec(tmp_path), "--out", str(tmp_path / "o"), "--workers", "2", "--no-progress"]
    code, out, err = _run(argv, capsys)
    assert code == 2 and "pass --yes to run it" in err and "would run for about" in err, err
    assert "estimated wall time:" in out and not list((tmp_path / "o").glob("*.json"))  # not even spec.json
    code, out, err = _run([*argv, "--yes", "--set", "hidden=[0]"], capsys)  # checked before the estimate
    assert code == 2 and "'hidden' (--hidden)" in err
    code, out, err = _run(
        [*argv[:1], _spec(tmp_path, "bad"), *argv[2:], "--yes", "--set", "bottleneck=[0, 99]"], capsys
    )
    # the runs fail (a bottleneck wider than its layer): each reason printed as it happens, then counted
    assert code == 1, err
    assert "not timed, as they fail to build: a (ConfigError: 'bottleneck'" in out
    assert out.count("failed a seed") == 2 and "at most 8 can train" in out.split("failed a seed 0")[-1].splitlines()[0]
    assert "failed runs, by reason:\n  4 × ConfigError: 'bottleneck'" in out


def test_ctrl_c_says_what_was_kept_and_how_to_continue(tmp_path, capsys, monkeypatch):
    from nnlite.experiments import sweep
    from nnlite.experiments.records import check_runs, execute, seal
    from nnlite.training.io import write_json

    def interrupted(runs, out, **kwargs):  # one run finished, recorded as the sweep records it, then Ctrl-C
        key, r = check_runs(runs)[0]
        write_json(out / f"{key}.json", seal({**execute(key, r), "experiment": kwargs["experiment"]}))
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "sweep", interrupted)
    out = tmp_path / "o"
    code, stdout, err = _run(
        ["sweep", _spec(tmp_path), "--out", str(out), "--set", "epochs=2", "--no-progress"], capsys
    )
    assert code == 130 and "interrupted" in err
    assert f"interrupted: 1 of 4 runs finished and kept in {out}" in stdout
    assert f"continue with nnlite sweep {tmp_path / 'tiny.toml'} --out {out} --set epochs=2" in stdout
    assert json.loads((out / "spec.json").read_text())["set"] == {"epochs": 2}
    assert not (out / ".nnlite-sweep.lock").exists()

"""Hostile inputs to the experiment layer: specs, ``--set`` values, results folders, records, resume state and data
files that someone else prepared, or that changed between runs.

Every case asserts its outcome: **refused** (a usage error, exit 2 and one line; a library error naming the file
and the field; or a failed run naming its cause) or **run correctly** (the right runs, the right records, the
right table). The ``sandbox`` fixture runs each test in ``<tmp>/inside`` with a victim file in ``<tmp>/outside``,
and checks afterwards that nothing outside ``inside`` was created, changed or removed: no case writes a file
outside its temporary folder, whatever path or link it was handed. Tiny runs on the embedded digits data set, on
one Dask cluster for the module (``--scheduler``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import zipfile

import numpy as np
import pytest
from cli_helpers import _run
from hostile_helpers import CheckpointError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

distributed = pytest.importorskip("distributed")

from nnlite.experiments.run import RUN_OPTIONS  # noqa: E402
from nnlite.experiments.spec import SpecError, load_spec_text  # noqa: E402
from nnlite.experiments.sweep import BLAS_ENV  # noqa: E402

pytestmark = pytest.mark.usefixtures("cli_one_blas_thread")

SPEC = """
name = "tiny"
title = "A tiny table"
source = "a test"
seeds = [0, 1]

[base]
rule = "dfa"
hidden = [8]
epochs = 1
batch_size = 16
train_size = 64
final_alignment = 16

[[variation]]
name = "ok"
"""


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, env=BLAS_ENV, dashboard_address=None
    ) as c:
        yield c.scheduler_address


def _tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st_ = os.lstat(p)
            out[os.path.relpath(p, root)] = (st_.st_mode, st_.st_size, st_.st_mtime_ns)
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Work in ``tmp/inside``; ``tmp/outside/victim.txt`` is what a hostile folder points at. Afterwards, nothing
    outside ``inside`` has changed."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    monkeypatch.chdir(inside)
    before = _tree(outside)
    yield inside, victim
    assert _tree(outside) == before, "a file outside the test's folder was written"
    assert sorted(os.listdir(tmp_path)) == ["inside", "outside"], os.listdir(tmp_path)


def _spec(folder, text=SPEC, name="tiny.toml"):
    path = folder / name
    path.write_text(text)
    return str(path)


def _sweep(capsys, spec, out, scheduler, *extra):
    return _run(["sweep", spec, "--out", str(out), "--scheduler", scheduler, "--no-progress", *extra], capsys)


def _usage(code, err):
    """A usage error: exit 2, one line on standard error."""
    return code == 2 and len(err.strip().splitlines()) == 1


# -- 1. A spec or a folder never steers where nnlite writes ------------------------------------------------------
@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs", "a/b", ".hidden", "..", "", "x" * 65, "a b", "é"])
def test_a_spec_name_that_is_not_a_plain_name_is_refused(sandbox, capsys, name):
    inside, _ = sandbox
    spec = _spec(inside, SPEC.replace('name = "tiny"', f"name = {json.dumps(name)}"))
    code, _, err = _run(["sweep", spec, "--dry-run"], capsys)
    assert _usage(code, err) and "'name'" in err, err
    assert sorted(os.listdir(inside)) == ["tiny.toml"]  # no runs/ folder, nothing escaped


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    name=st.one_of(st.text(min_size=0, max_size=80), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,70}", fullmatch=True))
)
def test_any_accepted_spec_name_names_a_folder_inside_runs(tmp_path, name):
    from nnlite.cli.sweep import _out

    text = SPEC.replace('name = "tiny"', f"name = {json.dumps(name)}")
    try:
        spec = load_spec_text(text, "fuzz.toml")
    except SpecError as exc:
        assert "'name'" in str(exc) or "not valid TOML" in str(exc)
        event("refused")
        return
    event("run")
    import argparse

    out = _out(argparse.Namespace(out=None), spec.name)
    assert out.parent == __import__("pathlib").Path("runs") and out.name.startswith(spec.name + "-")
    assert "/" not in spec.name and not spec.name.startswith(".")


@pytest.mark.parametrize("figure", ["../../x", "/etc/passwd", "local_errors/../../y"])
def test_a_report_figure_is_one_of_the_known_names(sandbox, capsys, figure):
    inside, _ = sandbox
    spec = _spec(inside, SPEC + f'\n[report]\nfigure = "{figure}"\n')
    code, _, err = _run(["sweep", spec, "--dry-run"], capsys)
    assert _usage(code, err) and "[report]" in err and "'figure' must be one of" in err, err


@pytest.mark.parametrize("own", [".nnlite-sweep.lock", "spec.json", "spec.toml", "report.md", "report.json"])
def test_a_link_where_nnlite_writes_its_own_file_is_refused_before_anything_runs(sandbox, capsys, scheduler, own):
    inside, victim = sandbox
    out = inside / "res"
    out.mkdir()
    os.symlink(victim, out / own)
    code, _, err = _sweep(capsys, _spec(inside), out, scheduler)
    assert code in (1, 2) and "symbolic link" in err and own in err, err
    assert victim.read_text() == "keep me" and not list(out.glob("[0-9a-f]*.json"))


def test_a_link_in_place_of_a_record_is_refused_and_its_target_kept(sandbox, capsys, scheduler):
    from nnlite.experiments.records import run_key
    from nnlite.experiments.spec import expand

    inside, victim = sandbox
    spec = _spec(inside)
    out = inside / "res"
    code, _, err = _sweep(capsys, spec, out, scheduler, "--seeds", "0")  # the folder of this experiment
    assert code == 0, err
    key = run_key(expand(load_spec_text(SPEC, spec))[1]["options"])  # seed 1's record, not run yet
    os.symlink(victim, out / f"{key}.json")
    code, _, err = _sweep(capsys, spec, out, scheduler)
    assert code == 1 and "symbolic link" in err and f"{key}.json" in err, err
    assert victim.read_text() == "keep me" and os.path.islink(out / f"{key}.json")


# -- 2. A folder belongs to one experiment ------------------------------------------------------------------------
def _swept(inside, capsys, scheduler):
    spec = _spec(inside)
    out = inside / "res"
    code, stdout, err = _sweep(capsys, spec, out, scheduler)
    assert code == 0 and "2 ok, 0 failed" in stdout, err
    return spec, out


def test_an_edited_spec_is_refused_naming_what_differs_and_force_goes_to_a_fresh_sub_folder(sandbox, capsys, scheduler):
    inside, _ = sandbox
    spec, out = _swept(inside, capsys, scheduler)
    _spec(inside, SPEC.replace("epochs = 1", "epochs = 2"))
    code, _, err = _sweep(capsys, spec, out, scheduler)
    assert _usage(code, err) and "row 'ok': epochs = 1 there, 2 now" in err and "--force" in err, err
    code, stdout, err = _sweep(capsys, spec, out, scheduler, "--force")
    assert code == 0, err
    subs = [p for p in out.iterdir() if p.is_dir()]
    assert len(subs) == 1 and "sweeping into its sub-folder" in stdout
    assert len(list(out.glob("[0-9a-f]*.json"))) == 2 and len(list(subs[0].glob("[0-9a-f]*.json"))) == 2
    code, stdout, _ = _run(["report", str(out)], capsys)  # the outer folder still reports its own two runs
    assert code == 0 and re.search(r"\| ok( †)? \| 2 \|", stdout), stdout


def test_seed_outside_the_seed_lists_is_refused(sandbox, capsys):
    inside, _ = sandbox
    spec = _spec(inside, SPEC.replace("epochs = 1", "epochs = 1\nseed = 7"))
    code, _, err = _run(["sweep", spec, "--dry-run"], capsys)
    assert _usage(code, err) and "sets 'seed'" in err and "seeds = [...]" in err, err
    code, _, err = _run(["sweep", _spec(inside), "--dry-run", "--set", "seed=3"], capsys)
    assert _usage(code, err) and "--set seed=3" in err and "--seeds" in err, err


def test_a_record_copied_in_from_another_experiment_is_reported_as_foreign(sandbox, capsys, scheduler):
    inside, _ = sandbox
    spec, out = _swept(inside, capsys, scheduler)
    other = inside / "other"
    other_spec = _spec(inside, SPEC.replace("hidden = [8]", "hidden = [6]"), "other.toml")
    code, _, err = _sweep(capsys, other_spec, other, scheduler, "--seeds", "5")
    assert code == 0, err
    foreign = next(other.glob("[0-9a-f]*.json"))
    shutil.copy(foreign, out / foreign.name)  # same variation name "ok", another experiment
    code, stdout, _ = _run(["report", str(out)], capsys)
    assert code == 0 and re.search(r"\| ok( †)? \| 2 \|", stdout), stdout  # two runs, not three
    skipped = json.loads((out / "report.json").read_text())["skipped"]
    assert [s["file"] for s in skipped] == [foreign.name] and skipped[0]["reason"].startswith("foreign")


def test_replaced_data_is_refused(sandbox, capsys, scheduler):
    inside, _ = sandbox
    data = inside / "mine.npz"  # an absolute path: the cluster's workers run elsewhere

    def write(seed):
        x = np.random.default_rng(seed).random((40, 6), dtype=np.float32)
        y = np.arange(40) % 2
        np.savez(data, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])

    write(0)
    spec = _spec(inside, SPEC.replace("train_size = 64", f"train_size = 32\ndataset = {json.dumps(str(data))}"))
    code, _, err = _sweep(capsys, spec, inside / "res", scheduler)
    assert code == 0, err
    write(1)
    code, _, err = _sweep(capsys, spec, inside / "res", scheduler)
    assert _usage(code, err) and f"data {data}: sha256:" in err, err


def test_report_reads_the_folders_own_spec_copy_never_the_current_directory(sandbox, capsys, scheduler):
    inside, _ = sandbox
    _, out = _swept(inside, capsys, scheduler)
    elsewhere = inside / "elsewhere"
    elsewhere.mkdir()
    _spec(elsewhere, SPEC.replace("A tiny table", "Another table entirely"))
    os.chdir(elsewhere)
    code, stdout, err = _run(["report", str(out)], capsys)
    assert code == 0 and "# A tiny table" in stdout and "Another table" not in stdout, err
    (out / "spec.toml").write_text(SPEC.replace("A tiny table", "Edited"))
    code, _, err = _run(["report", str(out)], capsys)
    assert _usage(code, err) and "spec.toml is not the spec the folder's runs were made with" in err, err


# -- 3. Resume state checked like input ---------------------------------------------------------------------------
def _trained(inside, capsys, *extra):
    out = inside / "run"
    argv = ["train", "--train-size", "64", "--batch-size", "16", "--epochs", "2", "--hidden", "8", "--no-progress"]
    argv += ["--out", str(out)]
    code, _, err = _run([*argv, *extra], capsys)
    assert code == 0, err
    return out


def _tamper(path, change):
    """Rewrite the training state of the checkpoint ``path`` with ``change(state)``."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(str(arrays["extra.train.state"]))
    change(state)
    arrays["extra.train.state"] = np.array(json.dumps(state))
    np.savez(path, **arrays)


TAMPERED = [
    ("epoch", lambda s: s.update(epoch=-1), "'epoch'"),
    ("epoch", lambda s: s.update(epoch=0), "'epoch'"),
    ("epoch", lambda s: s.update(epoch=1), "'epoch' is 1, but the history records"),
    ("epoch", lambda s: s.update(epoch=9), "'epoch' is 9, past this run's last epoch (2)"),
    ("epoch", lambda s: s.update(epoch="2"), "'epoch' must be a non-negative integer"),
    ("step", lambda s: s.update(step=3), "'step' is 3, but 2 epoch(s) of 4 steps make 8"),
    ("step", lambda s: s.pop("step"), "'step' must be a non-negative integer, got None"),
    ("order_rng", lambda s: s.update(order_rng="PCG64"), "'order_rng' is not a PCG64 state"),
    ("order_rng", lambda s: s["order_rng"].pop("state"), "'order_rng' is not a PCG64 state"),
    ("history", lambda s: s.update(history=5), "'history' must be a table"),
    ("history", lambda s: s["history"].update(train_loss=[1.0]), "'history.train_loss' must hold 2 numbers"),
    ("settings", lambda s: s.pop("settings"), "'settings' must be a table"),
    ("settings", lambda s: s["settings"].update(seed=5), "seed: 5 in the checkpoint, "),
    ("format", lambda s: s.update(format=2), "'format' is 2"),
    ("layer_rngs", lambda s: s.update(layer_rngs={"3": {}}), "'layer_rngs' must hold the generators of layers []"),
]


@pytest.mark.parametrize(("field", "change", "says"), TAMPERED, ids=[f"{t[0]}-{i}" for i, t in enumerate(TAMPERED)])
def test_tampered_resume_state_is_refused_naming_the_file_and_field(sandbox, capsys, field, change, says):
    inside, _ = sandbox
    out = _trained(inside, capsys)
    ckpt = out / "model.npz"
    _tamper(ckpt, change)
    before = ckpt.read_bytes()
    code, _, err = _run(["train", "--resume", str(out), "--epochs", "2", "--no-progress"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "model.npz" in err and says in err, err
    assert ckpt.read_bytes() == before  # nothing trained, nothing overwritten


def test_a_checkpoint_of_another_seed_does_not_continue_under_this_seed(sandbox, capsys):
    from nnlite.config import RunConfig, build, fit_config

    inside, _ = sandbox
    a = _trained(inside, capsys)
    config = RunConfig.from_mapping(
        {"train_size": 64, "batch_size": 16, "epochs": 2, "hidden": [8], "seed": 1, "threads": 1}
    )
    built = build(config)
    from nnlite.config.builders import stream_seeds

    a_seed, b_seed = stream_seeds(0)["order"], stream_seeds(1)["order"]  # the batch order's seed, from --seed
    with pytest.raises(CheckpointError, match=f"seed: {a_seed} in the checkpoint, {b_seed} now"):
        fit_config(built, checkpoint_dir=a, resume=True, progress=False)


# -- 4. Validated before anything runs ------------------------------------------------------------------------------
BAD_SPECS = [
    ("[report]\ncolumns = 5\n", "'columns' must be a non-empty list"),
    ("[report]\ncolumns = ['acc']\n", "unknown column 'acc'"),
    ("[report]\nwidth = 3\n", "unknown key 'width'"),
    ('[[finding]]\nclaim = "c"\nmetric = "cos"\nlayers = 4\ntest = "a > threshold"\nthreshold = 0.1\na = "ok"\n',
     "layer 4 does not exist in row 'ok', whose network has 1 hidden layer"),
    ('[[finding]]\nclaim = "c"\nmetric = "cos"\ntest = "a > threshold"\nthreshold = "high"\na = "ok"\n',
     "threshold must be a finite number"),
    ('[[finding]]\nclaim = "c"\nmetric = "cos"\ntest = "a > threshold"\na = "ok"\n', "needs a 'threshold'"),
    ('[[finding]]\nclaim = "c"\nmetric = "test_acc"\ntest = "rises then plateaus"\nrows = 5\n',
     "rows must be a list of row names"),
    ('[[finding]]\nclaim = "c"\nmetric = "test_acc"\ntest = "a < b"\na = "ok"\nb = "gone"\n', "no row 'gone'"),
    ('[paper."ok"]\ntest_acc = "high"\n', "expected a number, got 'high'"),
    ("[grid]\nlr = [1, 2]\n", "use either [[variation]] rows or a [grid]"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "says"), BAD_SPECS)
def test_a_bad_table_is_refused_at_load_and_under_dry_run(sandbox, capsys, extra, says):
    inside, _ = sandbox
    spec = _spec(inside, SPEC + "\n" + extra)
    with pytest.raises(SpecError, match=None) as info:
        load_spec_text(SPEC + "\n" + extra, spec)
    assert says in str(info.value), info.value
    code, _, err = _run(["sweep", spec, "--dry-run"], capsys)
    assert _usage(code, err) and says in err, err


MEMORY = 'name = "mem"\ntitle = "t"\nkind = "memory"\n[base]\n'


@pytest.mark.parametrize(
    ("base", "says"),
    [("image_size = -3", "'image_size' must be an integer"), ("n_classes = 1e12", "'n_classes' must be an integer"),
     ('dtype = "int8"', "'dtype' must be one of"), ("colour = 1", "unknown key 'colour'")],
)  # fmt: skip
def test_a_memory_spec_is_checked_at_load(base, says):
    with pytest.raises(SpecError, match=says):
        load_spec_text(MEMORY + base + "\n", "mem.toml")


def test_a_300_byte_grid_is_counted_before_it_is_expanded(sandbox, capsys, monkeypatch):
    import itertools

    inside, _ = sandbox
    keys = ("epochs", "batch_size", "train_size", "final_alignment", "lr", "momentum", "kernel_size", "lr_decay_epochs")
    grid = "[grid]\n" + "".join(f"{k} = [{', '.join(map(str, range(1, 11)))}]\n" for k in keys)
    assert len(grid) < 512  # 8 keys x 10 values: 10**8 rows
    expanded = []
    real = itertools.product
    monkeypatch.setattr(itertools, "product", lambda *a, **k: expanded.append(1) or real(*a, **k))
    spec = _spec(inside, SPEC.split("[[variation]]")[0] + grid)
    for extra in (["--dry-run"], ["--dry-run", "--yes"]):
        code, _, err = _run(["sweep", spec, *extra], capsys)
        assert _usage(code, err) and "200,000,000 runs is more than nnlite sweeps at once" in err, err
    assert not expanded


def test_a_grid_over_the_confirmation_count_needs_yes(sandbox):
    text = SPEC.split("[[variation]]")[0] + "[grid]\nepochs = [" + ", ".join(map(str, range(1, 1101))) + "]\n"
    with pytest.raises(SpecError, match=r"2,200 runs .* pass --yes"):
        load_spec_text(text, "g.toml")
    assert len(load_spec_text(text, "g.toml", yes=True).variations) == 1100


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a text file"), (b"name = [", "not valid TOML"),
     (b"x" * ((1 << 20) + 1), "more than a spec may hold")],
)  # fmt: skip
def test_a_binary_broken_or_huge_spec_file_is_named(sandbox, capsys, content, says):
    inside, _ = sandbox
    (inside / "bad.toml").write_bytes(content)
    code, _, err = _run(["sweep", "bad.toml", "--dry-run"], capsys)
    assert _usage(code, err) and "bad.toml" in err and says in err, err


def _liveness(fn):
    """Run ``fn`` in a thread; a call that blocks on a FIFO never returns, so a bounded join tells (not a timing).
    Returns what ``fn`` returned, or raises what it raised."""
    result = {}

    def call():
        try:
            result["value"] = fn()
        except BaseException as exc:
            result["error"] = exc

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "blocked on a non-regular file"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_a_fifo_as_spec_or_data_is_refused_without_blocking(sandbox, capsys):
    import nnlite

    inside, _ = sandbox
    os.mkfifo(inside / "spec.toml")
    os.mkfifo(inside / "data.npz")
    code, _, err = _liveness(lambda: _run(["sweep", "spec.toml", "--dry-run"], capsys))
    assert _usage(code, err) and "not a regular file" in err, err
    with pytest.raises(ValueError, match=r"data\.npz is not a regular file"):
        _liveness(lambda: nnlite.data.load("data.npz"))


def _npz(path, y=None, compressed=True):
    x = np.random.default_rng(0).random((50, 4), dtype=np.float32)
    y = np.arange(50) % 2 if y is None else y
    (np.savez_compressed if compressed else np.savez)(path, x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])


def test_an_archive_damaged_after_its_headers_is_named(sandbox):
    import nnlite

    inside, _ = sandbox
    path = inside / "d.npz"
    _npz(path)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("x_train.npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40  # inside x_train's deflate stream
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"d\.npz: (the archive is damaged after its headers|not a readable)"):
        nnlite.data.load(str(path))


def test_a_label_is_never_an_allocation_size(sandbox):
    import nnlite

    inside, _ = sandbox
    y = np.arange(50) % 2
    y[3] = 10**12
    _npz(inside / "bomb.npz", y=y)
    with pytest.raises(ValueError, match=r"more than the 50 training samples can name"):
        nnlite.data.load(str(inside / "bomb.npz"))


# -- property-based: any spec and any --set value is run or refused with a named culprit ----------------------------
_KEYS = ["rule", "hidden", "epochs", "lr", "seed", "dataset", "layers", "batch_size", "bottleneck", "zzz"]
_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.text(max_size=12), st.lists(st.integers(-3, 900), max_size=4),
)  # fmt: skip


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    base=st.dictionaries(st.sampled_from(_KEYS), _SCALARS, max_size=4),
    report=st.dictionaries(st.sampled_from(["columns", "figure", "x"]), _SCALARS, max_size=2),
    finding=st.dictionaries(
        st.sampled_from(["claim", "metric", "test", "a", "b", "layers", "threshold", "rows"]), _SCALARS, max_size=6
    ),
)
def test_any_spec_loads_or_is_refused_naming_the_file(base, report, finding):
    text = 'name = "fuzz"\ntitle = "t"\n[base]\n' + "".join(f"{k} = {_toml_value(v)}\n" for k, v in base.items())
    text += "[report]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in report.items())
    text += "[[finding]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in finding.items())
    try:
        spec = load_spec_text(text, "fuzz.toml")
    except SpecError as exc:
        assert str(exc).startswith("fuzz.toml: "), exc
        event("refused")
        return
    event("run")
    assert "seed" not in spec.base and set(spec.report) <= {"columns", "figure"}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    item=st.one_of(
        st.text(max_size=30),
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(_KEYS), st.text()),
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(_KEYS[:4] + ["batch_size"]), st.integers(-3, 40).map(str)),
    )
)
def test_any_set_value_is_a_one_line_usage_error_or_a_checked_run(tmp_path, capsys, item):
    spec = tmp_path / "tiny.toml"
    if not spec.exists():
        spec.write_text(SPEC.replace("seeds = [0, 1]", "seeds = [0]"))
    code, stdout, err = _run(["sweep", str(spec), "--dry-run", "--out", str(tmp_path / "o"), "--set", item], capsys)
    assert code in (0, 2), err
    event("refused" if code == 2 else "run")
    if code == 2:
        assert _usage(code, err) and "--set" in err, err
    else:
        key = item.partition("=")[0].strip()
        assert key in RUN_OPTIONS and key != "seed" and "1 runs" in stdout, stdout
    assert not (tmp_path / "o").exists()  # a dry run writes nothing

"""The teaching notebooks: well-formed, engine-free, seeded, indexed, ending with exercises — and executed top to
bottom on the current library, in a real Jupyter kernel (nbclient), within a time bound, with their committed key
numbers compared to the fresh execution's.

The notebooks are committed with their outputs (so that they read, figures and all, without running them). The
execution tests keep those outputs honest: every notebook runs afresh under ``TIME_BOUND``; any cell that raises,
including the assertions with which each notebook checks the properties its text claims, fails the test; and every
key number a notebook records with ``_setup.key_numbers(tol, ...)`` must be within ``tol`` of the committed
notebook's. Timings are never compared. See notebooks/README.md.
"""

import ast
import json
import math
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = [
    "01_rules_side_by_side.ipynb",
    "02_alignment.ipynb",
    "03_dfa_as_noisy_lafs.ipynb",
    "04_projections_and_the_opu.ipynb",
    "05_backward_pass_cost.ipynb",
    "06_convolutions_and_the_bottleneck.ipynb",
    "07_rule_zoo.ipynb",
    "08_learning_the_feedback.ipynb",
]
HELPER = NB_DIR / "_setup.py"
MAX_BYTES = 1_500_000
TIME_BOUND = 180  # seconds per notebook on 2 cores, kernel start included (issue 14)
KEY_MIME = "application/vnd.nnlite.key-numbers+json"  # written by notebooks/_setup.py:key_numbers

# A notebook shows and explains; the engine lives in nnlite. No function may be named like a part of it.
ENGINE_NAME = re.compile(
    r"forward|backward|gradient|grad$|^grad|step|update|train|fit|loss|softmax|derivative|"
    r"optimi[sz]er|adam|sgd|dense|layer|conv|rule|feedback|project|signal|align|readout|"
    r"^bp$|^fa$|^dfa$|^ifa$|^lafs$",
    re.IGNORECASE,
)
# Calls that draw random numbers: each must be given seed= (FA and KP may be given their feedbacks instead, the
# direct rules their projection, whose own call is checked).
DIRECT = {"DFA", "IFA", "LAFS", "DRTP", "SDFA", "DKP"}
SEEDED_CALLS = {
    "mlp",
    "cnn",
    "FA",
    "DFA",
    "IFA",
    "LAFS",
    "FRSF",
    "BRSF",
    "KP",
    "DRTP",
    "SDFA",
    "DKP",
    "Local",
    "Gaussian",
    "Fastfood",
    "Sparse",
    "OPU",
    "bottleneck",
    "fit",
    "fashion_mnist",
    "build",
    "run_config",
}
OUTPUT_KEYS = {
    "stream": {"name", "text"},
    "display_data": {"data", "metadata"},
    "execute_result": {"data", "metadata", "execution_count"},
    "error": {"ename", "evalue", "traceback"},
}


def load(name):
    with open(NB_DIR / name, encoding="utf-8") as f:
        return json.load(f)


def source(cell):
    s = cell["source"]
    return s if isinstance(s, str) else "".join(s)


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def python_source(cell):
    """The cell's code with IPython magics and shell escapes commented out (line numbers kept)."""
    lines = source(cell).split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("# " + line for line in lines)
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in lines)


def trees(name):
    return [ast.parse(python_source(c), filename=f"{name}:cell{i}") for i, c in enumerate(code_cells(load(name)))]


def key_numbers(nb):
    """``{name: (value, tol)}`` from a notebook's key-number outputs (each name once)."""
    found = {}
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.get("outputs", []):
            block = out.get("data", {}).get(KEY_MIME)
            if block is None:
                continue
            for k, v in block["values"].items():
                assert k not in found, f"key number {k} recorded twice (code cell {i})"
                found[k] = (v, block["tol"])
    return found


def check_engine_free(tree_list, where):
    """No class, no function named like a part of the engine, no other autograd library; returns whether nnlite
    is imported."""
    imports_nnlite = False
    for tree in tree_list:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            imports_nnlite |= "nnlite" in roots
            assert not roots & {"torch", "jax", "tensorflow", "autograd"}, f"{where} imports {roots}"
            assert not isinstance(node, ast.ClassDef), f"{where} defines class {node.name}"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert not ENGINE_NAME.search(node.name), f"{where} defines {node.name}(), a part of the engine"
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for t in node.targets:
                    assert not (isinstance(t, ast.Name) and ENGINE_NAME.search(t.id)), f"{where}: {t.id} = lambda"
    return imports_nnlite


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_nbformat_v4_json(name):
    path = NB_DIR / name
    assert path.stat().st_size < MAX_BYTES, f"{name} is {path.stat().st_size} bytes; keep it under {MAX_BYTES}"
    nb = load(name)
    assert nb["nbformat"] == 4 and isinstance(nb["nbformat_minor"], int)
    assert isinstance(nb["metadata"], dict) and nb["metadata"]["kernelspec"]["language"] == "python"
    assert isinstance(nb["cells"], list) and nb["cells"]
    kinds = set()
    for i, cell in enumerate(nb["cells"]):
        kinds.add(cell["cell_type"])
        assert cell["cell_type"] in ("markdown", "code", "raw"), (i, cell["cell_type"])
        assert isinstance(cell["metadata"], dict), i
        assert isinstance(cell["source"], str) or all(isinstance(s, str) for s in cell["source"]), i
        if cell["cell_type"] == "code":
            assert isinstance(cell["outputs"], list), i
            assert cell["execution_count"] is None or isinstance(cell["execution_count"], int), i
            for out in cell["outputs"]:
                assert out["output_type"] in OUTPUT_KEYS, (i, out["output_type"])
                assert OUTPUT_KEYS[out["output_type"]] <= set(out), (i, out["output_type"], sorted(out))
        else:
            assert "outputs" not in cell and "execution_count" not in cell, i
    assert {"markdown", "code"} <= kinds, "a notebook explains (markdown) and shows (code)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_code_cell_compiles(name):
    cells = code_cells(load(name))
    assert cells
    for i, cell in enumerate(cells):
        compile(python_source(cell), f"{name}:cell{i}", "exec")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_copied_notebook_says_how_to_run_it(name, tmp_path):
    """Copied out of notebooks/, a notebook's `_setup` import fails with a message that says what to do."""
    import subprocess
    import sys

    cell = next(python_source(c) for c in code_cells(load(name)) if "from _setup import" in python_source(c))
    guard = cell[cell.index("try:") : cell.index(") from None") + len(") from None")]
    run = subprocess.run([sys.executable, "-c", guard], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0
    assert "copy _setup.py beside it" in run.stderr and "notebooks/" in run.stderr, run.stderr


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_imports_nnlite_and_defines_no_engine(name):
    assert check_engine_free(trees(name), name), f"{name} does not import nnlite"


def test_the_setup_helper_defines_no_engine():
    # notebooks/_setup.py is shared by every notebook: it is held to the notebooks' own rule.
    tree = ast.parse(HELPER.read_text(encoding="utf-8"), filename=str(HELPER))
    check_engine_free([tree], "notebooks/_setup.py")
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert defined == {"start", "fashion_mnist", "key_numbers"}, defined


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_random_draws_are_seeded(name):
    calls = 0
    for tree in trees(name):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if fname in SEEDED_CALLS:
                    calls += 1
                    kw = {k.arg for k in node.keywords}
                    given = (fname in ("FA", "KP") and "feedbacks" in kw) or (fname in DIRECT and "projection" in kw)
                    assert "seed" in kw or given, f"{name}: {fname}(...) on line {node.lineno} of a cell has no seed="
                if fname == "default_rng":
                    assert node.args or node.keywords, f"{name}: default_rng() without a seed"
                # NumPy's global generator (np.random.rand, np.random.seed, ...) is never used: no global seeding.
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and f.value.attr == "random":
                    assert f.attr == "default_rng", f"{name}: np.random.{f.attr}() draws from the global generator"
    assert calls, f"{name} builds no network and trains nothing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_was_executed_top_to_bottom_without_errors(name):
    nb = load(name)
    cells = code_cells(nb)
    counts = [c["execution_count"] for c in cells]
    assert all(isinstance(n, int) for n in counts), f"{name}: unexecuted cells (execution counts {counts})"
    assert counts == list(range(1, len(cells) + 1)), f"{name}: not one top-to-bottom run (execution counts {counts})"
    pngs = 0
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{name} cell {i}: {out.get('ename')}: {out.get('evalue')}"
            if out["output_type"] == "stream":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                assert "Traceback" not in text and "Error" not in text, (
                    f"{name} cell {i} printed an error: {text[:200]}"
                )
            pngs += "image/png" in out.get("data", {})
    assert pngs >= 1, f"{name} has no figure (image/png output)"
    assert any(c["outputs"] for c in cells[-3:]), f"{name}: its last cells show nothing"
    assert key_numbers(nb), f"{name} records no key numbers (_setup.key_numbers), so nothing ties it to the library"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_ends_with_two_or_three_exercises(name):
    last = load(name)["cells"][-1]
    text = source(last)
    assert last["cell_type"] == "markdown" and text.startswith("## Exercises"), (
        f"{name}: the last cell is not exercises"
    )
    items = re.findall(r"^\d+\. ", text, flags=re.MULTILINE)
    assert 2 <= len(items) <= 3, f"{name}: {len(items)} exercises, expected two or three"


def test_readme_lists_each_notebook():
    text = (NB_DIR / "README.md").read_text(encoding="utf-8")
    present = sorted(p.name for p in NB_DIR.glob("*.ipynb"))
    assert present == sorted(NOTEBOOKS), f"notebooks/ holds {present}, expected {sorted(NOTEBOOKS)}"
    for name in NOTEBOOKS:
        assert f"[`{name}`]({name})" in text, f"notebooks/README.md does not list {name}"
    assert 'pip install -e ".[notebooks]"' in text and "jupyter lab notebooks/" in text


# -- the notebooks run against the current library, in a Jupyter kernel ------------------------------------------
@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec that starts this interpreter (not whatever ``python`` is first on PATH), with the checkout first
    on its path, so the notebooks run this library."""
    spec = tmp_path_factory.mktemp("kernels") / "nnlite-notebooks"
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = {"PYTHONPATH": str(ROOT), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    kernel = {"argv": argv, "display_name": "nnlite tests", "language": "python", "env": env}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return spec.parent


@pytest.fixture(scope="module", params=NOTEBOOKS)
def executed(request, kernel_dir, tmp_path_factory):
    """(name, the notebook executed afresh, seconds, where it was written, the error that stopped it or None)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    name = request.param
    nb = nbformat.read(NB_DIR / name, as_version=4)
    km = AsyncKernelManager(
        kernel_name="nnlite-notebooks", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)])
    )
    t0 = time.monotonic()
    deadline = t0 + TIME_BOUND
    client = NotebookClient(
        nb,
        km=km,
        # The time bound of the whole notebook: each cell may use what the cells before it left.
        timeout_func=lambda cell: max(1, math.ceil(deadline - time.monotonic())),
        startup_timeout=120,
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    out = tmp_path_factory.mktemp("executed") / name
    error = None
    try:
        client.execute(cleanup_kc=True)  # the kernel manager is ours, so nbclient would leave the kernel running
    except CellExecutionError as exc:  # a cell raised: an in-cell assertion of a claim, or any error
        lines = re.sub(r"\x1b\[[0-9;]*m", "", exc.traceback).strip().splitlines()
        error = f"{exc.ename}: {exc.evalue}\n" + "\n".join(lines[-12:])
    except CellTimeoutError as exc:
        error = f"over the {TIME_BOUND} s bound: {exc}"
    finally:
        nbformat.write(nb, out)
    return name, nb, time.monotonic() - t0, out, error


def test_notebook_executes_top_to_bottom_within_the_time_bound(executed):
    # nbclient stops at the first cell that raises (an in-cell assertion of a claim, or any error) and at a cell
    # that outlives the bound.
    name, nb, seconds, out, error = executed
    assert error is None, f"{name} failed (executed copy: {out}):\n{error}"
    assert seconds <= TIME_BOUND, f"{name} took {seconds:.0f} s, over the {TIME_BOUND} s bound"
    errors = [o for c in code_cells(nb) for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']} (executed copy: {out})"
    print(f"{name}: executed in {seconds:.1f} s")


def test_committed_key_numbers_match_a_fresh_execution(executed):
    name, nb, _, out, error = executed
    assert error is None, f"{name} did not run to the end, so its key numbers cannot be compared:\n{error}"
    fresh, committed = key_numbers(nb), key_numbers(load(name))
    assert fresh.keys() == committed.keys(), (
        f"{name}: key numbers differ in name: committed only {sorted(committed.keys() - fresh.keys())}, "
        f"fresh only {sorted(fresh.keys() - committed.keys())}; re-execute and commit the notebook"
    )
    moved = {k: (committed[k][0], v, tol) for k, (v, tol) in fresh.items() if not abs(v - committed[k][0]) <= tol}
    assert not moved, (
        f"{name}: the current library no longer gives the committed numbers (name: committed, fresh, tolerance): "
        f"{moved}; if the change is intended, re-execute the notebook and commit it (executed copy: {out})"
    )

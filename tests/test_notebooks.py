"""The teaching notebooks: well-formed, compilable, executed, engine-free, seeded, and indexed.

Nothing here runs a notebook (that takes minutes); the committed files are read as JSON and their code parsed.
Only the standard library is used, so the checks run without the [notebooks] extra.
"""

import ast
import json
import re
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = ["01_rules_side_by_side.ipynb", "02_alignment.ipynb", "03_dfa_as_noisy_lafs.ipynb"]
MAX_BYTES = 1_500_000

# A notebook shows and explains; the engine lives in nnlite. No function may be named like a part of it.
ENGINE_NAME = re.compile(
    r"forward|backward|gradient|grad$|^grad|step|update|train|fit|loss|softmax|derivative|"
    r"optimi[sz]er|adam|sgd|dense|layer|conv|rule|feedback|project|signal|align|readout|"
    r"^bp$|^fa$|^dfa$|^ifa$|^lafs$",
    re.IGNORECASE,
)
# Calls into nnlite that draw random numbers: each must be given seed= (FA may be given its feedbacks instead).
SEEDED_CALLS = {"mlp", "cnn", "FA", "DFA", "IFA", "LAFS", "fit"}
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
def test_imports_nnlite_and_defines_no_engine(name):
    imports_nnlite = False
    for tree in trees(name):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            imports_nnlite |= "nnlite" in roots
            assert not roots & {"torch", "jax", "tensorflow", "autograd"}, f"{name} imports {roots}"
            assert not isinstance(node, ast.ClassDef), f"{name} defines class {node.name}"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert not ENGINE_NAME.search(node.name), f"{name} defines {node.name}(), a part of the engine"
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for t in node.targets:
                    assert not (isinstance(t, ast.Name) and ENGINE_NAME.search(t.id)), f"{name}: {t.id} = lambda"
    assert imports_nnlite, f"{name} does not import nnlite"


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
                    assert "seed" in kw or (fname == "FA" and "feedbacks" in kw), (
                        f"{name}: {fname}(...) on line {node.lineno} of a cell has no seed="
                    )
                if fname == "default_rng":
                    assert node.args or node.keywords, f"{name}: default_rng() without a seed"
    assert calls, f"{name} builds no network and trains nothing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_was_executed_top_to_bottom_without_errors(name):
    cells = code_cells(load(name))
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


def test_readme_lists_each_notebook():
    text = (NB_DIR / "README.md").read_text(encoding="utf-8")
    present = sorted(p.name for p in NB_DIR.glob("*.ipynb"))
    assert present == sorted(NOTEBOOKS), f"notebooks/ holds {present}, expected {sorted(NOTEBOOKS)}"
    for name in NOTEBOOKS:
        assert name in text, f"notebooks/README.md does not list {name}"
    assert 'pip install -e ".[notebooks]"' in text and "jupyter lab notebooks/" in text


# -- the notebooks run against the current library ----------------------------------------------------------------
_RUNNER = r"""
import json, sys, traceback
import matplotlib
matplotlib.use("Agg")
nb = json.load(open(sys.argv[1]))
g = {"__name__": "__main__"}
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] != "code":
        continue
    src = "\n".join(l for l in "".join(cell["source"]).splitlines() if not l.lstrip().startswith(("%", "!")))
    try:
        exec(compile(src, f"{sys.argv[1]} cell {i}", "exec"), g)
    except Exception:
        print(f"cell {i} failed:\n{traceback.format_exc()}", file=sys.stderr)
        sys.exit(1)
"""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_on_the_current_library(name, tmp_path):
    # Every code cell, in order, in a fresh interpreter (the cells assert the properties their text claims, e.g.
    # FA with B_k = W_k is BP bit for bit), so a library change that breaks a notebook fails CI. IPython magics
    # (%matplotlib) are the only lines left out; figures go to the Agg backend.
    import subprocess
    import sys

    path = Path(__file__).resolve().parents[1] / "notebooks" / name
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]

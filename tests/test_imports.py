"""The package's structure, checked from its source with ``ast``: no import circle anywhere in ``nnlite/`` (imports
inside functions and under ``TYPE_CHECKING`` count), the experiments never reach the command line, ``ops/`` is
pure NumPy, ``rules/`` holds no timing and knows nothing of shards, and no module is over 400 lines."""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "nnlite"


def _modules() -> dict[str, pathlib.Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the nnlite modules it imports (anywhere in its source); a package's import of one of its own
    submodules counts as an edge too, but a module's import of its own parent package does not."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        package = p.name == "__init__.py"
        for node in ast.walk(ast.parse(p.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.split(".") if package else m.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    b = ".".join(base + ([node.module] if node.module else []))
                else:
                    b = node.module or ""
                targets = [b] + [f"{b}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m and not m.startswith(t + "."):
                    edges[m].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [m for m in edges if m == start or m.startswith(start + ".")]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(edges[v])
    return seen


def test_the_cycle_finder_finds_a_planted_circle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_type_checking_imports():
    edges = import_graph()
    # nnlite.experiments.sweep imports distributed inside functions; its own modules at the top
    assert "nnlite.experiments.records" in edges["nnlite.experiments.sweep"]
    assert "nnlite.network" in edges["nnlite.rules.base"]  # under TYPE_CHECKING


def test_no_import_circle_in_nnlite():
    assert cycles(import_graph()) == []


def test_experiments_and_config_never_reach_the_command_line():
    edges = import_graph()
    for start in ("nnlite.experiments", "nnlite.config"):
        reached = reachable(edges, start)
        assert not {m for m in reached if m == "nnlite.cli" or m.startswith("nnlite.cli.")}, start


def test_ops_is_pure_numpy():
    edges = import_graph()
    for m, targets in edges.items():
        if m.startswith("nnlite.ops"):
            assert not {t for t in targets if t.startswith("nnlite.kernels") or t.startswith("nnlite.backend")}, m


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*.py")), ids=lambda p: p.name)
def test_rules_hold_no_timing_and_no_shards(path):
    text = path.read_text()
    assert not re.search(r"perf_counter|\btime\.|import time|shard", text), path.name


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400

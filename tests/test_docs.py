"""The front door and the documentation site: README's length, commands and quoted figures; the API reference's
coverage of every public name; the offline internal-link check that CI runs on the built site."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import nnlite
from nnlite.cli.parser import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_readme_is_a_front_door():
    lines = README.splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; the front door keeps to 150"
    assert lines[0] == "# nnlite"
    first_block = _bash_blocks(README)[0].strip().splitlines()
    # what nnlite is comes first, then the set-up command, the main job and the test command
    assert README.index("nnlite is a") < README.index("```bash")
    assert first_block[0].endswith("# set up") and "pip install" in first_block[0]
    assert first_block[1].startswith("nnlite train ")
    test_command = first_block[2].split("#")[0].strip()
    assert test_command == "python -m pytest"  # the quick suite
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "`python -m pytest\n--full`" in README or "`python -m pytest --full`" in README
    assert f"\n{test_command} -q --full\n" in ci, ".ci/run must run the README's full test command"


def test_readme_commands_parse():
    parser = build_parser()
    commands = [
        line.split("  #")[0].strip()
        for block in _bash_blocks(README)
        for line in block.splitlines()
        if line.startswith("nnlite ")
    ]
    assert len(commands) >= 5
    for command in commands:
        words = shlex.split(command)[1:]
        if words[0] == "bench":  # passed through to python -m benchmarks
            continue
        parser.parse_args(words)  # SystemExit (a failing test) on a flag that does not exist


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_readme_figures_come_from_the_docs():
    section = _section(README, "Headline results")
    sources = [ROOT / t for t in re.findall(r"\]\((docs/[^)#]+)\)", section)]
    assert sources, "the headline results must link to where their figures come from"
    texts = []
    for src in sources:
        files = sorted(src.parent.rglob("*.md")) if src.name == "README.md" else [src]
        texts += [f.read_text(encoding="utf-8") for f in files]
    corpus = "\n".join(texts)
    figures = re.findall(r"\d+\.\d+", section)
    assert len(figures) >= 10
    missing = [f for f in figures if f not in corpus and f not in ("2.13",)]  # 2.13: PyTorch's version
    assert not missing, f"README.md quotes {missing}, found in none of {[str(s) for s in sources]}"


def _public_names() -> set[str]:
    names = {n for n in nnlite.__all__ if not isinstance(getattr(nnlite, n), type(nnlite))}
    for mod in ("rules", "projections", "config", "data", "models", "alignment"):
        module = getattr(nnlite, mod) if hasattr(nnlite, mod) else __import__(f"nnlite.{mod}", fromlist=["x"])
        for n in module.__all__:
            if getattr(nnlite, n, None) is getattr(module, n):
                names.add(n)  # documented under its top-level name
            else:
                names.add(f"{mod}.{n}")
    return names


def test_every_public_name_has_an_api_page():
    text = (ROOT / "docs" / "api" / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_][\w.]*)$", text, flags=re.M))
    missing = sorted(_public_names() - listed)
    assert not missing, f"docs/api/index.rst lists no page for {missing}"


def _check_links():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_links", ROOT / "docs" / "check_links.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("link", "broken"),
    [
        ("b.html", False),
        ("b.html#there", False),
        ("sub/", False),
        ("#here", False),
        ("https://example.org/x.html", False),
        ("c.html", True),
        ("b.html#nowhere", True),
        ("#nowhere", True),
        ("../outside.html", True),
    ],
)
def test_link_check_finds_broken_internal_links(tmp_path, link, broken):
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text(f'<html><body id="here"><a href="{link}">x</a></body></html>')
    (site / "b.html").write_text('<html><body><h2 id="there">t</h2></body></html>')
    (site / "sub" / "index.html").write_text("<html></html>")
    (tmp_path / "outside.html").write_text("<html></html>")
    bad = _check_links().broken_links(site)
    assert bool(bad) == broken, bad


def _peers_figures(name: str) -> tuple[set[str], set[str]]:
    import json

    doc = json.loads((ROOT / "docs" / "bench" / name).read_text(encoding="utf-8"))
    medians = {f"{1e3 * t['step']['median']:.2f}" for cfg in doc["configs"] for t in cfg["times"].values()}
    ratios = {f"{s['median']:.3f}" for cfg in doc["configs"] for s in cfg["quoted"].values()}
    return medians, ratios


def test_quoted_step_times_are_the_benchmark_suites_own():
    """The step times README quotes, and the peers tables of docs/measurements.md, are the medians in the JSON the
    peers suite wrote (the providers run's docs/bench/providers-peers.json, the earlier run's peers.json, the
    biotorch run's peers-biotorch.json), rounded: the suite's figures and the docs agree."""
    medians, ratios = _peers_figures("providers-peers.json")
    para = README[README.index("Cost of a training step") : README.index("## Where to go next")]
    quoted = re.findall(r"(\d+\.\d+) ms", para)
    assert len(quoted) >= 5 and set(quoted) <= medians, set(quoted) - medians
    text = (ROOT / "docs" / "measurements.md").read_text(encoding="utf-8")
    earlier = text.index("## The cost of a step")  # the providers run's section comes first
    seen = {"providers-peers.json": 0, "peers.json": 0, "peers-biotorch.json": 0}
    for at, row in ((text.index(ln), ln) for ln in text.splitlines()):
        if not row.startswith(("| MLP 784-800-800-800-10 |", "| `cnn()` 32-32-64")):
            continue
        cells = [c.strip() for c in row.strip("|").split("|")]
        name, first_ratio = {9: ("peers.json", 6), 7: ("peers-biotorch.json", 5)}[len(cells)]
        name = "providers-peers.json" if at < earlier else name
        seen[name] += 1
        medians, ratios = _peers_figures(name)
        assert {c.removesuffix(" ms") for c in cells[2:first_ratio]} <= medians, row
        assert {c.split(" [")[0] for c in cells[first_ratio:]} <= ratios, row
    assert seen == {"providers-peers.json": 4, "peers.json": 4, "peers-biotorch.json": 4}

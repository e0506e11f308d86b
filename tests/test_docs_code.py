"""Every Python code block of the README and of the documentation pages runs as written, and shows what it prints.

Each page's ```` ```python ```` blocks run in order in one namespace (a later block may use what an earlier one
made), in a temporary folder, at one BLAS thread (so printed numbers are the same on every machine). A block
followed directly by a ```` ```text ```` block shows its output there: the block's printed lines must be those.
The docstrings' Examples sections run through doctest (``tests/test_docs_examples.py``)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
#: The pages whose code a reader copies: the front door, getting started, the user guide, the design notes.
PAGES = sorted(
    [ROOT / "README.md", ROOT / "notebooks" / "README.md"]
    + [p for p in (ROOT / "docs").glob("*.md") if p.name != "changelog.md"]
    + list((ROOT / "docs" / "user-guide").glob("*.md"))
)
#: Pages whose blocks train a full-size network on Fashion-MNIST (a minute or more): the full suite runs them.
SLOW_PAGES = {"README.md"}

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str | None]]:
    """The ``python`` blocks of ``text``, each with the ``text`` block that directly follows it (its output)."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(text)]
    out: list[tuple[str, str | None]] = []
    for i, (lang, code, _, end) in enumerate(found):
        if lang != "python":
            continue
        shown = None
        if i + 1 < len(found) and found[i + 1][0] == "text" and not text[end : found[i + 1][2]].strip():
            shown = found[i + 1][1]
        out.append((code, shown))
    return out


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _params():
    for page in PAGES:
        if not blocks(page.read_text(encoding="utf-8")):
            continue
        marks = [pytest.mark.slow] if _name(page) in SLOW_PAGES else []
        yield pytest.param(page, id=_name(page), marks=marks)


def test_the_block_reader_pairs_code_with_its_output():
    text = "a\n```python\nprint(1)\n```\n\n```text\n1\n```\n```python\nx = 2\n```\n```bash\nls\n```\n"
    assert blocks(text) == [("print(1)\n", "1\n"), ("x = 2\n", None)]


@pytest.mark.parametrize("page", list(_params()))
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    with threadpool_limits(limits=1, user_api="blas"):
        for i, (code, shown) in enumerate(blocks(page.read_text(encoding="utf-8"))):
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compile(code, f"{_name(page)}, python block {i + 1}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"{_name(page)}, python block {i + 1} fails: {type(exc).__name__}: {exc}\n{code}")
            if shown is not None:
                got = [line.rstrip() for line in printed.getvalue().rstrip().splitlines()]
                want = [line.rstrip() for line in shown.rstrip().splitlines()]
                assert got == want, f"{_name(page)}, python block {i + 1} prints another output than it shows"

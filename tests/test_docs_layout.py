"""The site's layout rules, checked in headless Chromium (docs/check_offline.py, which CI runs on the built site):
a wide table and a long code line scroll inside the text column with the site's CSS (docs/_static/nnlite.css) and
stick out without it; a figure shown shrunk is named, one shown at its own size is not; every figure is a link to
its own file (docs/_static/nnlite.js)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="_static/nnlite.css"><script src="_static/nnlite.js"></script>
<style>body {{ margin: 0 }} .bd-article {{ width: {column}px; padding: 0 16px }}</style></head>
<body><main><article class="bd-article"><h1>A report</h1>
<table><tr>{cells}</tr><tr>{cells}</tr></table>
<table><tr><td style="max-width: 40px; overflow: hidden; white-space: nowrap">a cell cut short</td></tr></table>
<div class="highlight"><pre>{code}</pre></div>
<p><img src="wide.png" alt="wide"></p><p><img src="fits.png" alt="fits"></p>
</article></main></body></html>
"""


def _check_offline():
    spec = importlib.util.spec_from_file_location("check_offline", ROOT / "docs" / "check_offline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(tmp_path: Path, css: bool, js: bool, column: int) -> Path:
    site = tmp_path / ("site-css" if css else "site-bare")
    (site / "_static").mkdir(parents=True)
    for name, keep in (("nnlite.css", css), ("nnlite.js", js)):
        target = site / "_static" / name
        if keep:
            shutil.copyfile(ROOT / "docs" / "_static" / name, target)
        else:
            target.write_text("")
    cells = "".join(f"<td>column {i} of a wide report</td>" for i in range(24))
    code = "x = " + " + ".join(f"value_{i}" for i in range(80))
    (site / "report.html").write_text(PAGE.format(column=column, cells=cells, code=code))
    Image.new("RGB", (3 * column, 120), "white").save(site / "wide.png", dpi=(100, 100))  # 3x the column at 100 dpi
    Image.new("RGB", (column - 20, 120), "white").save(site / "fits.png", dpi=(100, 100))
    return site


def _problems(check_offline, site: Path) -> list[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    found = check_offline.check(site, chromium=chromium)
    return [p for p in found if not p.endswith("not in the site")]  # the real site's pages, absent here


def test_tables_and_code_scroll_inside_the_column_and_figures_read_at_full_size(tmp_path):
    check_offline = _check_offline()
    column = 620
    problems = _problems(check_offline, _site(tmp_path, css=True, js=True, column=column))
    assert not any("table" in p or "pre" in p or "page is" in p for p in problems), problems
    assert any("td 'a cell cut short' is cut off" in p for p in problems), problems  # a cell that hides its text
    assert any("wide.png is shown at" in p and "shrunk" in p for p in problems), problems
    assert not any("fits.png" in p for p in problems), problems  # shown at its own 100 px per inch, and a link


def test_without_the_sites_css_and_script_the_check_sees_the_overflow_and_the_missing_links(tmp_path):
    check_offline = _check_offline()
    problems = _problems(check_offline, _site(tmp_path, css=False, js=False, column=620))
    assert any(p.startswith("report.html: table") and "wider than the" in p for p in problems), problems
    assert any(p.startswith("report.html: pre") and "cut off" in p for p in problems), problems
    assert any("fits.png is not a link to its own file" in p for p in problems), problems


def test_png_dpi_is_read_from_the_file(tmp_path):
    check_offline = _check_offline()
    Image.new("RGB", (10, 10)).save(tmp_path / "a.png", dpi=(200, 200))
    Image.new("RGB", (10, 10)).save(tmp_path / "b.png")
    assert round(check_offline._png_dpi(tmp_path / "a.png")) == 200 and check_offline._png_dpi(tmp_path / "b.png") == 96

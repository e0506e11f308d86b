"""Check the built site in headless Chromium with the network off: every formula typesets from the site's own
MathJax, no request leaves the site, wide tables and code scroll inside the page, and figures are shown at a size
their text reads at.

Usage: ``python docs/check_offline.py docs/_build/html [--screenshots DIR]`` (what ``.ci/run`` runs after the
build). The site is served on ``127.0.0.1`` by this script; Chromium runs with a dead proxy and a resolver that
finds no host, so nothing outside could load anyway, and its network log says what the pages asked for. Each page
with a formula, the landing page, an API page and a reproduction report are loaded, and the check fails, one line
per problem, when

- a page asked for anything not on the site (a CDN's MathJax, a web font, an image), or for a file of the site
  that is missing;
- text a reader sees still holds raw LaTeX (``\\(``, ``\\[``), or the page typeset fewer formulas than it has.

The pages of the guide, the reproductions and the top level (every page but the generated API pages, the search and
the indexes; plus the API page above) are also laid out in a window :data:`WINDOW` wide (a laptop's, where both
sidebars show), and the check fails when

- the page itself scrolls sideways, or a table or a code block is wider than the text column;
- a table, a code block or a table cell holds more than it shows without scrolling (its content is cut off);
- a figure is shown at fewer than :data:`MIN_SHOWN_PPI` pixels per inch of its drawing (its dpi read from the PNG):
  shrunk, so that its 9-pt text (``nnlite.figures``' rule) would read smaller than 9 pt; or it is not a link to its
  own file (which opens it at full size). :data:`REDRAW` lists the figures drawn before that rule whose redrawing
  needs their experiment run again; they are named (``note:``), not failed, until redrawn.

With ``--screenshots DIR`` each page is also photographed (1280 px wide) into ``DIR``. Needs ``chromium`` (Debian's
package; ``.ci/run`` installs it).
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

#: Chromium without any background service, network or GPU.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--proxy-server=127.0.0.1:9",  # nothing listens there: any request through the proxy fails
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=20000",  # let MathJax finish before the DOM is read
]
#: Pages checked beside those with formulas (and photographed with --screenshots).
ALWAYS = ["index.html", "api/generated/nnlite.DFA.html", "reproductions/launay-table2/report.html"]
#: The window the layout is measured in, CSS pixels: a laptop's, where the page's contents show beside its text.
WINDOW = (1280, 1600)
#: The fewest pixels per inch of its drawing a figure is shown at (one written at fewer: at its own size). A CSS
#: inch is 96 pixels, so text drawn at 9 pt reads at 9 pt or more: a figure drawn at 100 dpi for the column
#: (``nnlite.figures``) is shown unshrunk, one written at 200 dpi for sharp screens at half its pixels or more.
MIN_SHOWN_PPI = 100
#: Figures drawn before that rule, by file name or page folder, and why they are not yet redrawn.
REDRAW = {
    "compare-mlp.png": "docs/user-guide/rules.md's nnlite compare run (16 rules, 5 epochs) must run again",
    "compare-cnn.png": "docs/user-guide/rules.md's nnlite compare --model cnn run must run again",
    "notebooks/": "a notebook's figures are its committed outputs, at matplotlib's inline size: it must run again",
}
#: Pages whose layout is not measured: generated indexes, and the API pages (one of them is, from ALWAYS).
_NO_LAYOUT = ("genindex.html", "search.html", "py-modindex.html", "api/generated/")
#: Run in each measured page once it has loaded (MathJax typeset, nnlite.js's links made): what the check needs,
#: as JSON in a <pre id="nnlite-layout"> that --dump-dom shows.
_MEASURE_JS = """
window.addEventListener("load", function () {
  setTimeout(function () {
    var art = document.querySelector(".bd-article") || document.body;
    var a = art.getBoundingClientRect(), st = getComputedStyle(art);
    var left = a.left + parseFloat(st.paddingLeft), right = a.right - parseFloat(st.paddingRight);
    var out = {column: right - left, page: document.documentElement.scrollWidth, window: window.innerWidth,
               boxes: [], images: []};
    var name = function (el) { return el.tagName.toLowerCase() + " '" + el.textContent.trim().slice(0, 50) + "'"; };
    art.querySelectorAll("table, pre, td, th").forEach(function (el) {
      var r = el.getBoundingClientRect(), cell = el.tagName === "TD" || el.tagName === "TH";
      var scrolls = ["auto", "scroll"].indexOf(getComputedStyle(el).overflowX) >= 0;
      out.boxes.push({what: name(el), cell: cell, sticks_out: !cell && (r.left < left - 1 || r.right > right + 1),
                      cut: el.scrollWidth > el.clientWidth + 1 && !scrolls});
    });
    art.querySelectorAll("img").forEach(function (img) {
      var link = img.closest("a");
      out.images.push({src: img.currentSrc || img.src, natural: img.naturalWidth, shown: img.clientWidth,
                       link: link ? link.href : null});
    });
    var pre = document.createElement("pre");
    pre.id = "nnlite-layout";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 3000);
});
"""


class _Text(HTMLParser):
    """The text a reader sees: outside scripts, styles, MathJax's own output and assistive copies."""

    SKIP: ClassVar[set[str]] = {"script", "style", "mjx-container", "mjx-assistive-mml", "math", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []
        self.typeset = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mjx-container":
            self.typeset += 1
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def _formulas(source: str) -> int:
    """The formulas Sphinx wrote into a page (inline and displayed), before MathJax."""
    return len(re.findall(r'<(?:span|div) class="math[ "]', source))


class _Handler(SimpleHTTPRequestHandler):
    missing: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        """A page asked for with ``?nnlite-layout`` comes with :data:`_MEASURE_JS` at its end."""
        path, _, query = self.path.partition("?")
        file = Path(self.directory) / path.lstrip("/")
        if query != "nnlite-layout" or not file.is_file():
            super().do_GET()
            return
        page = file.read_bytes().replace(b"</body>", b"<script>" + _MEASURE_JS.encode() + b"</script></body>", 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code == 404 and not self.path.endswith("favicon.ico"):
            self.missing.append(self.path)
        super().send_error(code, message, explain)


def _requests(netlog: Path, origin: str) -> list[str]:
    """The URLs a page asked for (requests whose initiator is the site), from Chromium's network log."""
    doc = json.loads(netlog.read_text())
    start = doc["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for e in doc["events"]:
        p = e.get("params") or {}
        if e.get("type") == start and p.get("initiator") == origin and "url" in p:
            urls.append(p["url"])
    return urls


def _png_dpi(file: Path) -> float:
    """The pixels per inch a PNG records (its pHYs chunk), or the CSS 96 when it records none."""
    data = file.read_bytes()
    at = data.find(b"pHYs")
    if data[:8] != b"\x89PNG\r\n\x1a\n" or at < 0:
        return 96.0
    x, unit = int.from_bytes(data[at + 4 : at + 8], "big"), data[at + 12]
    return x * 0.0254 if unit == 1 and x > 0 else 96.0


def layout_problems(site: Path, page: str, layout: dict, origin: str) -> list[str]:
    """The problems of one page's measured layout (the JSON :data:`_MEASURE_JS` writes), and the figures named in
    :data:`REDRAW` that it shows (as notes, starting "note:")."""
    problems = []
    if layout["page"] > layout["window"] + 1:
        problems.append(f"{page}: the page is {layout['page']} px wide in a {layout['window']} px window")
    for box in layout["boxes"]:
        if box["sticks_out"]:
            problems.append(f"{page}: {box['what']} is wider than the {layout['column']:.0f} px text column")
        if box["cut"]:
            problems.append(f"{page}: {box['what']} is cut off (wider than its box, which does not scroll)")
    for img in layout["images"]:
        src = img["src"].split("#")[0].split("?")[0]
        if not src.startswith(origin + "/"):
            continue  # inline data: a notebook's output
        file = site / src[len(origin) + 1 :]
        if img["link"] is None or img["link"].split("#")[0] != src:
            problems.append(f"{page}: {file.name} is not a link to its own file (to open it at full size)")
        if file.suffix.lower() != ".png" or not file.is_file() or not img["natural"]:
            continue
        dpi = _png_dpi(file)
        ppi, need = img["shown"] / (img["natural"] / dpi), min(dpi, MIN_SHOWN_PPI)
        why = REDRAW.get(file.name) or next((v for k, v in REDRAW.items() if page.startswith(k)), None)
        if ppi >= need - 0.5:
            if file.name in REDRAW:
                problems.append(f"{page}: {file.name} now reads at full size: take it out of REDRAW")
            continue
        what = f"{file.name} is shown at {ppi:.0f} px per inch of its drawing (under {need:.0f}): shrunk"
        problems.append(f"{page}: {what}" if why is None else f"note: {page}: {what}; not yet redrawn: {why}")
    return problems


def check(site: Path, screenshots: Path | None = None, chromium: str = "chromium") -> list[str]:
    """The problems of ``site`` (an empty list when it typesets offline and asks for nothing outside)."""
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if _formulas(p.read_text(errors="replace")))
    pages += [p for p in ALWAYS if p not in pages and (site / p).is_file()]
    laid_out = [str(p.relative_to(site)) for p in sorted(site.rglob("*.html"))]
    laid_out = [p for p in laid_out if not p.startswith(_NO_LAYOUT) and not p.startswith("_")]
    laid_out += [p for p in ALWAYS if p not in laid_out and (site / p).is_file()]
    pages += [p for p in laid_out if p not in pages]
    missing_pages = [p for p in ALWAYS if not (site / p).is_file()]
    problems = [f"{p}: not in the site" for p in missing_pages]
    handler = functools.partial(_Handler, directory=str(site))
    _Handler.missing = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for page in pages:
                netlog = Path(tmp) / "net.json"
                _Handler.missing = []
                argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--log-net-log={netlog}"]
                r = subprocess.run(
                    [*argv, "--dump-dom", f"{origin}/{page}"], capture_output=True, text=True, timeout=120
                )
                if r.returncode != 0 or not r.stdout:
                    problems.append(f"{page}: chromium failed ({r.returncode}): {r.stderr[-300:]}")
                    continue
                outside = [u for u in _requests(netlog, origin) if not u.startswith(origin + "/")]
                problems += [f"{page}: asked for {u} (outside the site)" for u in outside]
                problems += [f"{page}: asked for {m}, which the site does not have" for m in _Handler.missing]
                text = _Text()
                text.feed(r.stdout)
                seen = " ".join(text.parts)
                for raw in ("\\(", "\\["):
                    if raw in seen:
                        i = seen.index(raw)
                        problems.append(f"{page}: raw LaTeX in the text: ...{seen[max(0, i - 40) : i + 60]!r}")
                wanted = _formulas((site / page).read_text(errors="replace"))
                if text.typeset < wanted:
                    problems.append(f"{page}: {text.typeset} of its {wanted} formulas typeset")
                if page in laid_out:
                    problems += _measure(site, page, origin, argv)
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    shot = screenshots / (page.replace("/", "__").removesuffix(".html") + ".png")
                    subprocess.run(
                        [*argv, "--window-size=1280,1600", f"--screenshot={shot}", f"{origin}/{page}"],
                        capture_output=True,
                        timeout=120,
                    )
    finally:
        server.shutdown()
    return problems


def _measure(site: Path, page: str, origin: str, argv: list[str]) -> list[str]:
    """Lay ``page`` out in a :data:`WINDOW` window and return :func:`layout_problems`."""
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    r = subprocess.run(
        [*argv, size, "--dump-dom", f"{origin}/{page}?nnlite-layout"], capture_output=True, text=True, timeout=120
    )
    m = re.search(r'<pre id="nnlite-layout">(.*?)</pre>', r.stdout, re.S)
    if m is None:
        return [f"{page}: the layout was not measured (chromium {r.returncode}): {r.stderr[-300:]}"]
    return layout_problems(site, page, json.loads(html.unescape(m.group(1))), origin)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="the built site (docs/_build/html)")
    ap.add_argument("--screenshots", type=Path, help="also photograph each page into this folder")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("check_offline: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    found = check(args.site, args.screenshots, chromium)
    for p in found:
        print(p)
    problems = [p for p in found if not p.startswith("note: ")]
    print(f"check_offline: {'no problem' if not problems else f'{len(problems)} problems'} in {args.site}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Check the built site in headless Chromium with the network off: every formula typesets from the site's own
MathJax, and no request leaves the site.

Usage: ``python docs/check_offline.py docs/_build/html [--screenshots DIR]`` (what ``.ci/run`` runs after the
build). The site is served on ``127.0.0.1`` by this script; Chromium runs with a dead proxy and a resolver that
finds no host, so nothing outside could load anyway, and its network log says what the pages asked for. Each page
with a formula, the landing page, an API page and a reproduction report are loaded, and the check fails, one line
per problem, when

- a page asked for anything not on the site (a CDN's MathJax, a web font, an image), or for a file of the site
  that is missing;
- text a reader sees still holds raw LaTeX (``\\(``, ``\\[``), or the page typeset fewer formulas than it has.

With ``--screenshots DIR`` each page is also photographed (1280 px wide) into ``DIR``. Needs ``chromium`` (Debian's
package; ``.ci/run`` installs it).
"""

from __future__ import annotations

import argparse
import functools
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


def check(site: Path, screenshots: Path | None = None, chromium: str = "chromium") -> list[str]:
    """The problems of ``site`` (an empty list when it typesets offline and asks for nothing outside)."""
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if _formulas(p.read_text(errors="replace")))
    pages += [p for p in ALWAYS if p not in pages and (site / p).is_file()]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="the built site (docs/_build/html)")
    ap.add_argument("--screenshots", type=Path, help="also photograph each page into this folder")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("check_offline: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    problems = check(args.site, args.screenshots, chromium)
    for p in problems:
        print(p)
    print(f"check_offline: {'no problem' if not problems else f'{len(problems)} problems'} in {args.site}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

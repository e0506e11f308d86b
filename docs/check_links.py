"""Check the internal links of the built site, offline: every ``href``/``src`` that points inside the site must
name a file that exists and, when it has a ``#fragment``, an element with that id in it.

Usage: ``python docs/check_links.py docs/_build/html`` (what ``.ci/run`` runs after the build); exit code 1 and
one line per broken link when any is broken. Links with a scheme (``https:``, ``mailto:``) are not followed.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "link" and name == "href" and value.endswith(".css")):
                self.links.append(value)


def _parse(path: Path, cache: dict[Path, _Page]) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def broken_links(site: Path) -> list[str]:
    """One line per broken internal link of the HTML files under ``site``."""
    site = site.resolve()
    cache: dict[Path, _Page] = {}
    out = []
    for page_path in sorted(site.rglob("*.html")):
        if "_static" in page_path.relative_to(site).parts:  # the theme's templates, not pages
            continue
        for link in _parse(page_path, cache).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("//"):
                continue
            target = page_path if not parts.path else (page_path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = page_path.relative_to(site)
            if site not in target.parents and target != site:
                out.append(f"{where}: {link} leaves the site")
            elif not target.is_file():
                out.append(f"{where}: {link} -> no such file")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target, cache).ids:
                    out.append(f"{where}: {link} -> no element with id {parts.fragment!r}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/check_links.py SITE_DIR", file=sys.stderr)
        return 2
    site = Path(argv[0])
    if not (site / "index.html").is_file():
        print(f"{site} holds no index.html: build the site first", file=sys.stderr)
        return 2
    bad = broken_links(site)
    for line in bad:
        print(line)
    pages = sum(1 for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    print(f"{pages} pages, {len(bad)} broken internal links")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

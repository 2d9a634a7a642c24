"""Internal links of the built site: every local link reaches a file, every #anchor exists.

The build (``-W -n``) already refuses broken references in the sources; this checks the
HTML that readers get, theme and launch buttons included. External links are left to
``make linkcheck`` (which needs internet).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
from conftest import SITE, site_pages

PAGES = site_pages()


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "link", "script", "img", "iframe", "source"):
                self.links.append((tag, attrs[key]))


_parsed = {}


def parse(relpath):
    if relpath not in _parsed:
        c = _Collect()
        c.feed((SITE / relpath).read_text(encoding="utf-8"))
        _parsed[relpath] = c
    return _parsed[relpath]


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page", PAGES or ["-"])
def test_internal_links_resolve(page):
    broken = []
    for tag, link in parse(page).links:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
            continue
        target = page if not parts.path else str(PurePosixPath(page).parent / unquote(parts.path))
        target = str(PurePosixPath(*[p for p in PurePosixPath(target).parts if p != "."]))
        # resolve ".." by hand: the site root is the top
        stack = []
        for piece in PurePosixPath(target).parts:
            if piece == "..":
                if not stack:
                    broken.append(f"{link} (above the site root)")
                    break
                stack.pop()
            else:
                stack.append(piece)
        path = SITE.joinpath(*stack)
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            broken.append(f"<{tag}> {link}: no {path.relative_to(SITE)}")
            continue
        anchor = unquote(parts.fragment)
        if anchor and tag == "a" and path.suffix == ".html":
            if anchor not in parse(path.relative_to(SITE).as_posix()).ids:
                broken.append(f"{link}: no id {anchor!r} in {path.relative_to(SITE)}")
    assert not broken, f"{page}:\n  " + "\n  ".join(broken)

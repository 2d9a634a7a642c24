"""Page weight: what a reader downloads on a first visit to a chapter page.

Budget (issue "A website for every reader"): at most 2.5 MB and 30 requests for every
chapter page, opened in headless Chromium at 1280 px with the browser cache disabled,
counted once the page has loaded, its math is typeset and its fonts are in.

Each page's numbers, by resource type, go to ``tests/artifacts/site/weight/<page>.json``
and the table of all of them to ``tests/artifacts/site/weight.md``.

What keeps the weight down (scripts/sphinx_weight.py): no fontawesome.js (the theme's
CSS draws the icons with its web font), the search index only on the search page, the
math typeset at build time (no MathJax script), the players' frames in files of their own,
loaded when the player comes near the screen.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ARTIFACTS, SITE, WAIT_FOR_MATHJAX, site_pages, slug

MAX_BYTES = 2_500_000
MAX_REQUESTS = 30

CHAPTER = re.compile(r"^book/\d\d_[^/]+/[^/]+\.html$")
PAGES = [p for p in site_pages() if CHAPTER.match(p)]

# Inline base64 (the players' frames) is part of the HTML.
BASE64 = re.compile(rb"[A-Za-z0-9+/=]{2000,}")


_measured = {}


def measure(shared_visit, page_path):
    """Bytes and requests of a first visit, by resource type (cache disabled)."""
    if page_path in _measured:
        return _measured[page_path]
    v = shared_visit(page_path)
    page = v.page
    page.evaluate(WAIT_FOR_MATHJAX)
    page.evaluate("async () => { await document.fonts.ready; }")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    rows = []
    for request in list(v.finished):
        if urlsplit(request.url).scheme not in ("http", "https"):
            continue
        size = request.sizes()["responseBodySize"]
        rows.append((urlsplit(request.url).path, request.resource_type, size))
    html = (SITE / page_path).read_bytes()
    by_type = {}
    for _, kind, size in rows:
        entry = by_type.setdefault(kind, {"bytes": 0, "requests": 0})
        entry["bytes"] += size
        entry["requests"] += 1
    record = {
        "page": page_path,
        "bytes": sum(size for _, _, size in rows),
        "requests": len(rows),
        "html_bytes": len(html),
        "inline_base64_bytes": sum(len(m) for m in BASE64.findall(html)),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]["bytes"])),
        "files": sorted(([path, kind, size] for path, kind, size in rows), key=lambda r: -r[2]),
    }
    out = ARTIFACTS / "weight"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{slug(page_path)}.json").write_text(json.dumps(record, indent=1))
    _measured[page_path] = record
    return record


def _summary(record):
    kinds = ", ".join(
        f"{kind} {v['bytes'] / 1e3:.0f} kB/{v['requests']}" for kind, v in record["by_type"].items()
    )
    return (
        f"{record['page']}: {record['bytes'] / 1e6:.2f} MB in {record['requests']} requests "
        f"(HTML {record['html_bytes'] / 1e6:.2f} MB, of it inline base64 "
        f"{record['inline_base64_bytes'] / 1e6:.2f} MB; by type: {kinds})"
    )


# Pages over the byte budget, with what makes them heavy (a strict xfail: remove the entry
# when the page passes). None since the figures are WebP (scripts/sphinx_weight.py, 7):
# chapter 1's index page, the heaviest, went from 2.94 to 2.38 MB.
OVER_BYTES = {}


def _bytes_params():
    return [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=OVER_BYTES[p])) if p in OVER_BYTES else p
        for p in PAGES
    ] or ["-"]


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page_path", _bytes_params())
def test_first_visit_bytes(shared_visit, page_path):
    record = measure(shared_visit, page_path)
    assert record["bytes"] <= MAX_BYTES, f"over {MAX_BYTES / 1e6} MB: {_summary(record)}"


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page_path", PAGES or ["-"])
def test_first_visit_requests(shared_visit, page_path):
    record = measure(shared_visit, page_path)
    assert record["requests"] <= MAX_REQUESTS, f"over {MAX_REQUESTS} requests: {_summary(record)}"


def weight_table(folder: Path) -> str:
    """A Markdown table of the per-page records (used by conftest's summary)."""
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    kinds = sorted({k for r in records for k in r["by_type"]})
    head = "| page | total | requests | HTML (inline base64) | " + " | ".join(kinds) + " |"
    lines = [head, "|" + "---|" * (4 + len(kinds))]
    for r in records:
        cells = [
            f"{r['by_type'][k]['bytes'] / 1e3:.0f} kB / {r['by_type'][k]['requests']}"
            if k in r["by_type"]
            else "-"
            for k in kinds
        ]
        lines.append(
            f"| {r['page']} | {r['bytes'] / 1e6:.2f} MB | {r['requests']} | "
            f"{r['html_bytes'] / 1e6:.2f} MB ({r['inline_base64_bytes'] / 1e6:.2f} MB) | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
def test_search_index_only_on_the_search_page(visit):
    """Chapter pages leave the index out; the search page still loads it and finds."""
    v = visit(PAGES[0])
    loaded = v.page.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")
    assert not [u for u in loaded if u.endswith("searchindex.js")], f"{PAGES[0]} loads searchindex.js"
    assert not [u for u in loaded if "fontawesome.js" in u], f"{PAGES[0]} loads fontawesome.js"
    v = visit("search.html?q=momentum")
    v.page.wait_for_selector("#search-results li", timeout=15_000)
    assert v.page.locator("#search-results li").count() > 0


ICONS = """() => {
  const shown = [...document.querySelectorAll('i[class*="fa-"]')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
  });
  return {
    shown: shown.map(e => e.className.replace(/\\s+/g, " ")),
    blank: shown.filter(e => ["none", "normal", '""'].includes(getComputedStyle(e, "::before").content))
                .map(e => e.className),
    fonts: [...document.fonts].filter(f => f.family.includes("Font Awesome") && f.status === "loaded")
                              .map(f => f.family + " " + f.weight),
  };
}"""


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("width", [1280, 390])
def test_icons_are_drawn_by_the_font_subset(browser, site_url, width):
    """The header icons (download, full screen, theme switch, search, sidebar toggles) are
    drawn from the icon font subsets, and the full fonts are never fetched."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        fetched = []
        page.on("requestfinished", lambda r: fetched.append(urlsplit(r.url).path))
        page.goto(site_url + PAGES[0], wait_until="networkidle")
        page.evaluate("document.fonts.ready.then(() => true)")
        icons = page.evaluate(ICONS)
    finally:
        context.close()
    assert len(icons["shown"]) >= 5, icons
    assert not icons["blank"], f"icons with no glyph: {icons['blank']}"
    assert icons["fonts"], f"no icon font loaded: {icons}"
    full = [p for p in fetched if "/webfonts/" in p or p.endswith("fontawesome.js")]
    assert not full, f"full Font Awesome files fetched: {full}"


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
def test_figures_are_served_as_webp():
    """Every chapter figure points at its WebP copy (scripts/sphinx_weight.py, 7), which exists."""
    figure = re.compile(r'<img\b[^>]*?\bsrc="([^"]*?_images/[0-9a-f]{64}\.(png|webp))"')
    found = {"png": [], "webp": []}
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        for src, kind in figure.findall(html):
            found[kind].append((page, src))
    assert found["webp"], "no WebP figure on any chapter page"
    assert not found["png"], f"figures still as PNG: {found['png'][:3]}"
    files = [(SITE / page).parent.joinpath(src).resolve() for page, src in found["webp"]]
    missing = [f.name for f in files if not f.exists()]
    assert not missing, f"WebP files missing: {missing[:3]}"
    # lossless: the same pixels as the PNG matplotlib wrote (checked on the largest figure)
    import numpy as np
    from PIL import Image

    largest = max(files, key=lambda f: f.stat().st_size)
    with Image.open(largest) as webp, Image.open(largest.with_suffix(".png")) as png:
        assert np.array_equal(np.asarray(webp.convert("RGBA")), np.asarray(png.convert("RGBA")))


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
def test_sections_are_laid_out_when_near_the_screen(browser, site_url):
    """Sections below the first screen are skipped by layout until they come near it
    (content-visibility: auto, scripts/sphinx_weight.py, 8), and are laid out once scrolled to."""
    page_path = "book/01_gradient_descent/index.html"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(site_url + page_path, wait_until="load")
        sections = page.locator(".bd-article section section")
        assert sections.count() >= 5
        assert {sections.nth(i).evaluate("s => getComputedStyle(s).contentVisibility") for i in range(3)} == {
            "auto"
        }
        last = sections.nth(sections.count() - 1)
        last.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        box = last.bounding_box()
        assert box is not None and box["height"] > 0
    finally:
        context.close()


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
def test_figures_are_drawn_at_twice_their_size():
    """Every chapter figure has twice the pixels of the size it is shown at, and loads lazily
    (scripts/ipython_kernel_config.py; scripts/sphinx_weight.py, 7)."""
    from PIL import Image

    # (not a player's start frame: players keep their 80 dpi frames, see lrcourse.widgets)
    figure = re.compile(
        r'<img\b(?![^>]*lrcourse-player)[^>]*?\bsrc="([^"]*?_images/[0-9a-f]{64}\.webp)"([^>]*)>'
    )
    soft, eager, seen = [], [], 0
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        for src, rest in figure.findall(html):
            seen += 1
            shown = re.search(r"width:\s*(\d+)px", rest)
            with Image.open((SITE / page).parent.joinpath(src)) as image:
                pixels = image.width
            if shown is None or pixels < 1.9 * int(shown.group(1)):
                soft.append(
                    f"{page}: {src.rsplit('/', 1)[-1][:12]} {pixels} px for {shown and shown.group(1)} px"
                )
            if 'loading="lazy"' not in rest:
                eager.append(page)
    assert seen > 50
    assert not soft, f"{len(soft)} figures not drawn at twice their size, e.g. {soft[:3]}"
    assert not eager, f"figures without loading=lazy on {sorted(set(eager))[:3]}"

"""Sphinx extension: small accessibility fixes that axe-core asks for on every page.

1. A name for each fold-out button of the sidebar. pydata-sphinx-theme 0.17.1 turns
   every chapter of the navigation into ``<details><summary>`` whose only content is a
   decorative chevron (``role="presentation"``), so a screen reader announces "button,
   collapsed" with no word of what it opens, and axe-core reports ``summary-name``
   (serious) seven times on every page. Introduced with the keyboard-operable sidebar,
   pydata/pydata-sphinx-theme#1582; Lighthouse 12 does not run that axe rule yet
   (GoogleChrome/lighthouse#16163), so only the axe test sees it. Each such
   ``<summary>`` gets ``aria-label="Sections of <the chapter's title>"``.

2. Links dark enough to read on every box: the theme's link blue has 4.29:1 on the
   light blue of exercise, solution and note boxes and 4.34:1 on code cells' grey,
   below WCAG AA's 4.5:1 (axe-core ``color-contrast``, serious; ``site/a11y/a11y.css``).

3. The reference list as a plain list. docutils 0.21 writes each citation as
   ``<div role="doc-biblioentry">`` inside ``<div role="list">``; DPub-ARIA 1.1
   deprecated that role, so for axe-core 4.10 the list has no list items
   (``aria-required-children``, critical; ``aria-deprecated-role``,
   ``aria-allowed-role``) and Lighthouse's accessibility score of the references
   page drops to 93. Each entry gets ``role="listitem"`` instead.

4. A favicon (``site/a11y/favicon.svg``, unless ``html_favicon`` names one). Without
   it the browser asks for ``/favicon.ico`` at the root of the host, gets a 404 and
   logs it as an error on every page (Lighthouse best practices ``errors-in-console``).

5. The course's title in the sidebar inside a landmark. The theme puts its link to
   the home page (``.navbar-brand``) in the primary sidebar, outside the navigation
   landmark that follows it, so axe-core reports ``region`` (moderate) on every page
   and a screen reader's list of landmarks misses it. After the build, the sidebar
   item that holds it becomes a navigation landmark of its own, "Course home".

6. Scrollable boxes take the focus without a long task. pydata-sphinx-theme 0.17.1
   measures every code block, output and table on load to give those that scroll
   ``tabindex="0"`` (pydata/pydata-sphinx-theme#1777, #1787), which lays out the whole page at
   once: on a long chapter a task of about 1 s on Lighthouse's phone CPU, and it would
   lay out the sections that ``weight.css`` leaves for later. ``site/a11y/scroll-focus.js``
   does the same for those boxes and for display math, in slices while the browser is
   idle; after the build the theme's pass is taken out of its script (the build stops if
   the script no longer has it, since the theme is pinned).

Loaded through ``sphinx: local_extensions`` in ``_config.yml``. Its CSS and JavaScript,
if any, live in ``site/a11y/``. Tested by ``tests/site/test_site_audit.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from built_pages import after_build

DEPRECATED_ENTRY = 'role="doc-biblioentry"'
ASSETS = Path(__file__).resolve().parent.parent / "site" / "a11y"


def label_summaries(soup):
    """Give every ``<summary>`` without text an ``aria-label`` naming its section."""
    for summary in soup.select("summary"):
        if summary.get_text(strip=True) or summary.get("aria-label"):
            continue
        item = summary.find_parent("li")
        link = item.find("a", recursive=False) if item is not None else None
        title = link.get_text(" ", strip=True) if link is not None else ""
        summary["aria-label"] = f"Sections of {title}" if title else "Sections"
    return soup


def _labelled(generate):
    def generate_toctree_html(*args, **kwargs):
        html = generate(*args, **kwargs)
        if isinstance(html, BeautifulSoup):  # the theme caches it: labelling twice is a no-op
            return label_summaries(html)
        return str(label_summaries(BeautifulSoup(str(html), "html.parser")))

    return generate_toctree_html


def page_context(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and DEPRECATED_ENTRY in body:
        context["body"] = body.replace(DEPRECATED_ENTRY, 'role="listitem"')
    generate = context.get("generate_toctree_html")
    if generate is not None and not getattr(generate, "_a11y", False):
        wrapped = _labelled(generate)
        wrapped._a11y = True
        context["generate_toctree_html"] = wrapped


BRAND_ITEM = re.compile(r'<div class="sidebar-primary-item">(\s*<a class="navbar-brand\b)')


def brand_in_landmark(html):
    """``html`` with the sidebar item that holds the home link as a navigation landmark."""
    return BRAND_ITEM.sub(
        r'<div class="sidebar-primary-item" role="navigation" aria-label="Course home">\1', html
    )


# pydata-sphinx-theme 0.17.1's built script: the body of its addTabStopsToScrollableElements
THEME_SCRIPT = Path("_static") / "scripts" / "pydata-sphinx-theme.js"
THEME_TAB_STOPS = "e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1"


def without_theme_tab_stops(app, exception):
    """Take the theme's all-at-once pass over scrollable boxes out of its script (item 6)."""
    if exception is not None or app.builder.format != "html":
        return
    script = Path(app.outdir) / THEME_SCRIPT
    text = script.read_text(encoding="utf-8")
    if THEME_TAB_STOPS in text:
        script.write_text(text.replace(THEME_TAB_STOPS, "void e"), encoding="utf-8")
    elif "scrollWidth" in text:
        raise RuntimeError(
            f"{THEME_SCRIPT} measures scrollable boxes in a way scripts/sphinx_a11y.py does not "
            "know: check site/a11y/scroll-focus.js against the theme's new version"
        )


def add_assets(app, config):
    config.html_static_path.append(str(ASSETS))
    if not config.html_favicon:
        config.html_favicon = str(ASSETS / "favicon.svg")


def setup(app):
    app.connect("config-inited", add_assets)
    app.add_css_file("a11y.css")
    # inline (no request of its own): scrollable boxes can take the keyboard focus
    app.add_js_file(None, body=(ASSETS / "scroll-focus.js").read_text(encoding="utf-8"))
    # after pydata-sphinx-theme's own html-page-context handler (priority 500)
    app.connect("html-page-context", page_context, priority=900)
    app.connect("build-finished", after_build(brand_in_landmark))
    app.connect("build-finished", without_theme_tab_stops)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

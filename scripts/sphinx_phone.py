"""Sphinx extension: the website on a phone.

1. The menu buttons work. pydata-sphinx-theme 0.17 defaults ``navbar_persistent``
   to the search field whenever a site leaves it unset, and with it renders its
   own top navbar: a second, hidden pair of ``.primary-toggle`` and
   ``.secondary-toggle`` buttons ahead of sphinx-book-theme's visible pair in the
   article header. Both themes wire the first button they find
   (``document.querySelector``), so the hidden ones get the handlers and the
   hamburger and the contents icon do nothing (at 1280 px the hamburger does not
   collapse the sidebar either). Setting ``navbar_persistent`` explicitly (empty:
   the search field stays in the sidebar and the search icon in the article
   header) keeps that navbar out, so each toggle exists once and is wired.
   Upstream: https://github.com/pydata/pydata-sphinx-theme/issues/2451 and
   https://github.com/executablebooks/sphinx-book-theme/issues/988 (both open).
   Drop this when a pydata-sphinx-theme release wires every toggle.

2. No page wider than the phone: ``site/phone/phone.css`` lets long inline code
   and URLs wrap, keeps wide blocks (tables, outputs, display math) scrolling
   inside their own box, and scales wide figures and players down. So that a long
   name wraps where a reader expects it (``lrcourse.labs.`` / ``early_stopping``),
   inline code longer than a short word gets a line-break opportunity (``<wbr>``,
   invisible and never copied) after each ``.``, ``/`` and ``_``.

3. One viewport tag. Sphinx's basic layout, docutils' HTML writer (through
   ``metatags``) and pydata-sphinx-theme's layout each write
   ``<meta name="viewport">``; a page should have one (the HTML standard lets a
   browser pick any, and Lighthouse's and validators' checks read the first). After
   the build, every page keeps the first and drops the others (the three ask for the
   same thing: the device's width at scale 1).

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import re
from pathlib import Path

from built_pages import after_build

ASSETS = Path(__file__).resolve().parent.parent / "site" / "phone"


def configure(app, config):
    options = config.html_theme_options
    # only when the site has not chosen its own persistent navbar items
    options.setdefault("navbar_persistent", [])
    config.html_static_path.append(str(ASSETS))


INLINE_CODE = re.compile(r'(<code class="[^"]*\bliteral\b[^"]*">)(.*?)(</code>)', re.S)
BREAK_AFTER = re.compile(r"([./_])(?=[^./_])")
LONG = 20  # characters; shorter code never needs a break


def _breakable(match):
    start, inner, end = match.groups()
    if len(re.sub(r"<[^>]*>", "", inner)) < LONG:
        return match.group(0)
    # only the text between the tags (entities such as &lt; hold no . / _)
    parts = re.split(r"(<[^>]*>)", inner)
    parts = [p if p.startswith("<") else BREAK_AFTER.sub(r"\1<wbr>", p) for p in parts]
    return start + "".join(parts) + end


def add_breaks(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        context["body"] = INLINE_CODE.sub(_breakable, body)


VIEWPORT = re.compile(r"\s*<meta name=\"viewport\"[^>]*>")


def one_viewport(html):
    """``html`` with only its first ``<meta name="viewport">``."""
    seen = []

    def keep_first(match):
        seen.append(match)
        return match.group(0) if len(seen) == 1 else ""

    return VIEWPORT.sub(keep_first, html)


def setup(app):
    app.connect("config-inited", configure)
    app.add_css_file("phone.css")
    app.connect("html-page-context", add_breaks)
    app.connect("build-finished", after_build(one_viewport))
    return {"parallel_read_safe": True, "parallel_write_safe": True}

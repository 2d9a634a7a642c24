"""Rewrite every page of a finished HTML build.

For what a theme's templates write and an extension cannot reach before the page is
rendered (``scripts/sphinx_a11y.py``, ``scripts/sphinx_phone.py``). A rewrite is a
function from a page's HTML to its new HTML; it must leave a rewritten page as it is,
since an incremental build runs it again on every page.
"""

from __future__ import annotations

from pathlib import Path


def after_build(rewrite):
    """A ``build-finished`` handler that passes every HTML page of the build through ``rewrite``."""

    def handler(app, exception):
        if exception is not None or app.builder.format != "html":
            return
        for page in Path(app.outdir).rglob("*.html"):
            html = page.read_text(encoding="utf-8")
            new = rewrite(html)
            if new != html:
                page.write_text(new, encoding="utf-8")

    return handler

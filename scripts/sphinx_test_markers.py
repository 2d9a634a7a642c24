"""Sphinx extension: the test markers of code cells stay out of the pages.

A code cell whose output nbval compares starts with ``# NBVAL_CHECK_OUTPUT`` (see
``book/CONVENTIONS.md``). The comment is for the tests, not the reader, so each page's
code drops it, as the learner edition and the student versions do
(``lrcourse.assign``). The notebooks keep it.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import re

# Pygments writes the comment line as one span, followed by its newline.
MARKER = re.compile(r'<span class="c1"># NBVAL_[A-Z_]+</span>\n')


def drop_markers(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and "NBVAL_" in body:
        context["body"] = MARKER.sub("", body)


def setup(app):
    app.connect("html-page-context", drop_markers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

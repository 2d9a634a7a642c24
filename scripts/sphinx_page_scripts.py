"""Sphinx extension: the scripts of each page, once each and only where they are used.

1. Each inline ``<script>`` once. Sphinx 7.4 registers an inline script that an
   extension adds after the builder started (sphinx-thebe, sphinx-togglebutton)
   twice: as given, and again with an empty instead of a missing file name when it
   prepares the pages. The second copy of sphinx-thebe's ``const THEBE_JS_URL = ...``
   then throws "Identifier 'THEBE_JS_URL' has already been declared" in every
   reader's browser console.

2. The widget manager only on pages that show a widget. myst-nb adds RequireJS,
   the Jupyter widgets HTML manager (``nb_ipywidgets_js``, a few MB) and the saved
   widget state to every page whose notebook holds a widget state, even when no
   widget is displayed there (the course renders its explorers as a note plus
   kernel-free players on the website). Where the page body has no widget view,
   those scripts are left out; where it has one, they stay.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import posixpath

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _key(script):
    attributes = tuple(sorted((k, str(v)) for k, v in script.attributes.items()))
    return (script.filename or "", script.priority, attributes)


def _widget_files(app):
    files = set()
    for path in getattr(app.config, "nb_ipywidgets_js", None) or {}:
        files.add(path)
        if "://" not in path:
            files.add(posixpath.join("_static", path))
    return files


def page_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    body = context.get("body") or ""
    drop_widgets = WIDGET_VIEW not in body
    widget_files = _widget_files(app)
    seen, kept = set(), []
    for script in scripts:
        key = _key(script)
        if key in seen:
            continue
        if drop_widgets and (
            (script.filename or "") in widget_files or script.attributes.get("type") == WIDGET_STATE
        ):
            continue
        seen.add(key)
        kept.append(script)
    # a new list: the builder restores its own list after each page
    context["script_files"] = kept


def setup(app):
    # late, after the extensions and the theme added their per-page scripts
    app.connect("html-page-context", page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

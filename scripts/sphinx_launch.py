"""Sphinx extension: no launch or repository buttons while the repository is a placeholder.

``repository: url`` in ``_config.yml`` names the course's public repository. Until the
project has one, it holds the placeholder ``PLACEHOLDER_URL``, and the Binder, Colab,
repository and "open issue" buttons of the theme would all lead to a page that does not
exist. While the URL is the placeholder (or empty), this extension

- turns those buttons off (the download button stays), and
- puts a short note under the title of every notebook page: how to run it (download
  the notebook, or ``make lab`` in a copy of the repository; see README).

A fork that sets ``url`` to its own address gets the buttons back and no note. The
decision is ``is_placeholder(url)``, and nothing else.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes

PLACEHOLDER_URL = "https://github.com/lrcourse/lrcourse"

ASSETS = Path(__file__).resolve().parents[1] / "site" / "ja"

# Theme options of sphinx-book-theme that make a button lead to the repository.
REPOSITORY_BUTTONS = (
    "use_repository_button",
    "use_issues_button",
    "use_edit_page_button",
    "use_source_button",
)
LAUNCHERS = ("binderhub_url", "jupyterhub_url", "colab_url", "jupyterlite_url", "thebe")

NOTE_HTML = """\
<div class="lrcourse-run-note" role="note">
<p><strong>Run this page yourself.</strong> The course has no public repository yet,
so there is no Binder or Colab button. Download the notebook with the download button
at the top of the page (<code>.ipynb</code>) and open it in Jupyter, or in a copy of
the course repository run <code>make lab</code> (see its README).</p>
</div>
"""


def is_placeholder(url):
    """Whether ``url`` (``repository: url``) is the placeholder, or no address at all."""
    url = (url or "").strip().rstrip("/").removesuffix(".git").rstrip("/")
    return not url or url.lower() == PLACEHOLDER_URL


def without_repository_buttons(theme_options):
    """A copy of ``theme_options`` with no button that leads to the repository."""
    options = dict(theme_options)
    for key in REPOSITORY_BUTTONS:
        options[key] = False
    options.pop("repository_url", None)
    options["launch_buttons"] = {
        key: value for key, value in (options.get("launch_buttons") or {}).items() if key not in LAUNCHERS
    }
    return options


def _hide_buttons(app, config):
    if is_placeholder((config.html_theme_options or {}).get("repository_url")):
        config.html_theme_options = without_repository_buttons(config.html_theme_options)
        app.add_css_file("run-note.css")
        config.lrcourse_repository_placeholder = True
    if str(ASSETS) not in config.html_static_path:
        config.html_static_path.append(str(ASSETS))


def _is_notebook(app, docname):
    return Path(app.env.doc2path(docname)).suffix == ".ipynb"


def _add_note(app, doctree, docname):
    if not app.config.lrcourse_repository_placeholder or app.builder.format != "html":
        return
    if not _is_notebook(app, docname):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    note = nodes.raw("", NOTE_HTML, format="html")
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, note)
    else:
        doctree.insert(0, note)


def setup(app):
    # set by _hide_buttons from the repository URL, not by hand
    app.add_config_value("lrcourse_repository_placeholder", False, "html")
    # after Jupyter Book has turned _config.yml into theme options
    app.connect("config-inited", _hide_buttons, priority=900)
    app.connect("doctree-resolved", _add_note)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

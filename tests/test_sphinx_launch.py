"""The launch and repository buttons: hidden while ``repository: url`` is the placeholder.

``scripts/sphinx_launch.py`` decides from the URL alone. The decision function is tested
directly, and a one-page Sphinx build with the course's theme shows both states: the
placeholder (no Binder, Colab, repository or issue link; a note on how to run the page)
and a fork's own address (the buttons, no note).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from sphinx_launch import PLACEHOLDER_URL, is_placeholder, without_repository_buttons  # noqa: E402

FORK = "https://github.com/someone/lrcourse-fork"


@pytest.mark.parametrize(
    "url",
    [
        PLACEHOLDER_URL,
        PLACEHOLDER_URL + "/",
        PLACEHOLDER_URL + ".git",
        " https://GitHub.com/lrcourse/lrcourse ",
        "",
        None,
    ],
)
def test_the_placeholder_in_any_spelling(url):
    assert is_placeholder(url)


@pytest.mark.parametrize(
    "url", [FORK, "https://github.com/lrcourse/lrcourse-notes", "https://gitlab.com/lrcourse/lrcourse"]
)
def test_a_fork_is_not_the_placeholder(url):
    assert not is_placeholder(url)


def test_the_config_holds_the_placeholder():
    """Until the project has a public home, _config.yml names the placeholder."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert is_placeholder(config["repository"]["url"])


def test_without_repository_buttons_keeps_the_rest():
    options = {
        "repository_url": PLACEHOLDER_URL,
        "path_to_docs": "learner",
        "use_repository_button": True,
        "use_issues_button": True,
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": "https://mybinder.org",
            "colab_url": "https://colab.research.google.com",
        },
    }
    hidden = without_repository_buttons(options)
    assert hidden["launch_buttons"] == {"notebook_interface": "jupyterlab"}
    assert not hidden["use_repository_button"] and not hidden["use_issues_button"]
    assert "repository_url" not in hidden and hidden["path_to_docs"] == "learner"
    assert options["use_repository_button"] and "binderhub_url" in options["launch_buttons"]


def _build(tmp_path, url):
    """A one-page book (a notebook) with the course's theme and launch settings."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"""
import sys
sys.path.insert(0, {str(ROOT / "scripts")!r})
extensions = ["myst_nb", "sphinx_launch"]
html_theme = "sphinx_book_theme"
nb_execution_mode = "off"
html_theme_options = {{
    "repository_url": {url!r},
    "repository_branch": "main",
    "use_repository_button": True,
    "use_issues_button": True,
    "launch_buttons": {{
        "notebook_interface": "jupyterlab",
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    }},
}}
""",
        encoding="utf-8",
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A page\n\nSome text."), nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, src / "index.ipynb")
    from sphinx.application import Sphinx

    out = tmp_path / "out"
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None, warning=None)
    app.build()
    return (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("url", [PLACEHOLDER_URL, FORK])
def test_buttons_or_note_in_a_built_page(tmp_path, url):
    page = _build(tmp_path, url)
    links = ("mybinder.org", "colab.research.google.com", "/issues/new", url)
    if is_placeholder(url):
        assert not [link for link in links if link in page], "a button leads to the placeholder"
        assert 'class="lrcourse-run-note"' in page and "make lab" in page
        assert "run-note.css" in page
    else:
        assert all(link in page for link in links), [link for link in links if link not in page]
        assert "mybinder.org/v2/gh/someone/lrcourse-fork/main" in page
        assert "lrcourse-run-note" not in page and "run-note.css" not in page


def test_the_note_sits_under_the_title(tmp_path):
    page = _build(tmp_path, PLACEHOLDER_URL)
    body = page[page.index("<h1>") :]
    assert body.index("</h1>") < body.index("lrcourse-run-note") < body.index("Some text.")

"""Binder: ``requirements.txt`` installs the way repo2docker does it, and a chapter runs there.

repo2docker copies the repository into the image, gives it a Python with Jupyter and
ipykernel, and runs ``pip install -r requirements.txt`` from the repository's root, with
no constraints file (so this venv is built fresh each time, unpinned, as Binder would).
Then a page of the learner edition runs in that environment's kernel, from its folder, as
JupyterLab starts it. ``LRCOURSE_BINDER_NOTEBOOKS=all`` runs every chapter instead of
the first one.
"""

from __future__ import annotations

import os
import shutil

import pytest
from compat import ROOT, pip_env, run, venv_python
from conftest import ARTIFACTS, execute_notebook, python_or_skip, widget_views
from toc import toc_notebooks

# repo2docker's default Python when the repository does not name one (runtime.txt).
BINDER_PYTHON = "3.10"

NOTEBOOKS = [f"learner/{rel}" for rel in toc_notebooks() if rel.startswith("book/")]  # what Binder opens
if os.environ.get("LRCOURSE_BINDER_NOTEBOOKS") != "all":
    NOTEBOOKS = NOTEBOOKS[:1]

COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "_build",
    "node_modules",
    "artifacts",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    python = python_or_skip(BINDER_PYTHON, "Binder check")
    home = tmp_path_factory.mktemp("binder")
    repo = home / "repo"  # repo2docker builds from a copy of the repository
    shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
    venv = home / "venv"
    run([python, "-m", "venv", venv])
    env = pip_env()
    # what repo2docker's base environment brings, then the repository's own file
    run([venv_python(venv), "-m", "pip", "install", "--quiet", "ipykernel"], env=env)
    run([venv_python(venv), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], cwd=repo, env=env)
    freeze = run([venv_python(venv), "-m", "pip", "freeze"]).stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "binder-pip-freeze.txt").write_text(freeze)
    return {"python": venv_python(venv), "repo": repo}


def test_requirements_install_the_course(binder):
    code = "import lrcourse, ipywidgets, matplotlib; print(lrcourse.__file__)"
    out = run([binder["python"], "-c", code], cwd=binder["repo"].parent, env=pip_env())
    assert out.stdout.strip().startswith(str(binder["repo"])), "lrcourse should be the repository's (-e .)"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_chapter_runs_on_binder(binder, notebook):
    path = binder["repo"] / notebook
    nb = execute_notebook(path, binder["python"], path.parent, {"PIP_NO_INDEX": "1"})
    views, versions = widget_views(nb)
    if views:
        assert all(v.startswith("2.") for v in versions), versions  # ipywidgets 8


def test_post_build_gives_the_server_its_settings(binder, tmp_path):
    """repo2docker runs ``postBuild`` from the repository's root; the server then starts with its settings."""
    env = {k: v for k, v in pip_env().items() if not k.startswith("JUPYTER")}
    env["HOME"] = str(tmp_path)
    run(["bash", "postBuild"], cwd=binder["repo"], env=env)
    installed = tmp_path / ".jupyter" / "jupyter_server_config.py"
    settings = binder["repo"] / "scripts" / "jupyter_server_config.py"
    assert installed.read_text() == settings.read_text()
    # repo2docker's image runs JupyterLab on jupyter_server; the server reads ~/.jupyter
    run([binder["python"], "-m", "pip", "install", "--quiet", "jupyter_server"], env=pip_env())
    code = (
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.load_config_file()\n"
        "print(app.kernel_websocket_connection_class.__name__)"
    )
    out = run([binder["python"], "-c", code], cwd=tmp_path, env=env).stdout
    assert out.strip() == "NoDelayConnection", out

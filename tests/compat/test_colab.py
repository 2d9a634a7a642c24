"""Every page of the learner edition runs in a Colab-like kernel, installing lrcourse through its bootstrap cell.

Colab opens the learner edition (``learner/book/...``, see scripts/learner_edition.py), so
that is what runs here, untouched, as a learner's Run All would: it must reach the end and
its summary must say that no exercise is solved yet (no solution runs).

The kernel runs in a venv with Colab's widget stack (ipywidgets 7.7.1, IPython 7,
ipykernel 6; ``pins/colab.txt``) and without lrcourse: each chapter gets a new, empty venv
that sees the stack (built once and cached) through a ``.pth`` file, so lrcourse is
installed into it afresh and chapters run side by side. A stub ``google.colab`` module
is imported at kernel start-up, as on Colab, so the first cell of each notebook takes
its install path; ``LRCOURSE_INSTALL_SOURCE`` points it at a wheel built from this
working tree, and pip may not use an index (``PIP_NO_INDEX``), so everything else the
chapter needs must already be in Colab's stack. The website build runs the same
notebooks with ipywidgets 8: together, 7 and 8 are covered.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from compat import COLAB_PYTHON, PINS, ROOT, make_venv, pip_env, run, venv_python
from conftest import ARTIFACTS, execute_notebook, python_or_skip, widget_views
from toc import toc_notebooks

NOTEBOOKS = [f"learner/{rel}" for rel in toc_notebooks() if rel.startswith("book/")]

STARTUP = "import google.colab  # noqa: F401  (Colab imports it before any cell runs)\n"


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """Colab's stack, in a cached venv that the tests never change, and its start-up files."""
    python = python_or_skip(COLAB_PYTHON, "Colab check")
    pins = PINS / "colab.txt"
    requirements = [
        line.split("==")[0] for line in pins.read_text().splitlines() if line and not line.startswith("#")
    ]
    stack = make_venv(python, "colab", requirements, pins=pins)
    stub = tmp_path_factory.mktemp("stub")
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    ipython_dir = tmp_path_factory.mktemp("ipython")
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-colab.py").write_text(STARTUP)
    return {"base": python, "stack": stack, "stub": stub, "ipython_dir": ipython_dir}


def _purelib(python):
    return run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()


def fresh_runtime(colab, where):
    """A new Colab runtime: an empty venv that sees Colab's stack through a .pth file and has
    no lrcourse, so each chapter installs it anew, and chapters can run side by side."""
    run([colab["base"], "-m", "venv", "--without-pip", where])
    site = _purelib(venv_python(where))
    (Path(site) / "colab-stack.pth").write_text(_purelib(venv_python(colab["stack"])) + "\n")
    return venv_python(where), site


def test_colab_stack_is_ipywidgets_7(colab, tmp_path):
    python, _ = fresh_runtime(colab, tmp_path / "runtime")
    out = run(
        [
            python,
            "-c",
            "import ipywidgets, IPython; print(ipywidgets.__version__, IPython.__version__)",
        ]
    )
    assert out.stdout.split()[0] == "7.7.1"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_chapter_runs_in_colab_through_the_bootstrap_cell(colab, wheel, notebook, tmp_path):
    python, site = fresh_runtime(colab, tmp_path / "runtime")
    workdir = tmp_path / "content"  # Colab's working folder; not the repository
    workdir.mkdir()
    outside = {"cwd": workdir, "env": pip_env()}
    absent = run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('lrcourse') is None)"], **outside
    )
    assert absent.stdout.strip() == "True", "lrcourse is still importable before the bootstrap cell"
    env = {
        "PYTHONPATH": str(colab["stub"]),  # only the google.colab stub
        "IPYTHONDIR": str(colab["ipython_dir"]),
        "LRCOURSE_INSTALL_SOURCE": str(wheel),
        "PIP_NO_INDEX": "1",  # the chapter must need nothing beyond Colab's stack
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    nb = execute_notebook(ROOT / notebook, python, workdir, env)

    where = run([python, "-c", "import lrcourse; print(lrcourse.__file__)"], **outside).stdout.strip()
    assert where.startswith(site), f"lrcourse imported from {where}, not installed by the bootstrap cell"
    views, versions = widget_views(nb)
    if views:  # explorers made ipywidgets 7 widgets (controls 1.x), as Colab shows them
        assert all(v.startswith("1.") for v in versions), versions
    summary = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    if nb.cells[-1].source == "checks.summary(progress)":  # a page with checked exercises
        assert re.search(r"\b0 of [1-9]\d* exercises solved", summary), summary[-300:]
    out = ARTIFACTS / "colab"
    out.mkdir(parents=True, exist_ok=True)
    (out / notebook.replace("/", "__")).write_text(__import__("nbformat").writes(nb))

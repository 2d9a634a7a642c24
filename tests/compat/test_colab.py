"""Every page of the learner edition runs in a Colab-like kernel, installing lrcourse through its bootstrap cell.

Colab opens the learner edition (``learner/book/...``, see scripts/learner_edition.py), so
that is what runs here, untouched, as a learner's Run All would: it must reach the end and
its summary must say that no exercise is solved yet (no solution runs). Then, in the same
kernel, the cells of a page with checked exercises that the reference answers change (the
edition's ``filled`` version) run again, and the summary once more: every exercise must be
solved. One run of the page checks both, under Colab's pins. That each answer needs only
what the cells above it define, as where a learner writes it, is checked without a run
(tests/test_learner_edition.py).

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

import copy
import functools
import re
import sys
from pathlib import Path

import nbformat
import pytest
from compat import COLAB_PYTHON, PINS, ROOT, make_venv, pip_env, run, venv_python
from conftest import ARTIFACTS, execute_notebook, python_or_skip, widget_views
from toc import toc_notebooks

NOTEBOOKS = [f"learner/{rel}" for rel in toc_notebooks() if rel.startswith("book/")]
SUMMARY = "checks.summary(progress)"  # the last cell of a page with checked exercises

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
    nb, untouched = with_the_answers_after_it(notebook)
    nb = execute_notebook(nb, python, workdir, env)

    where = run([python, "-c", "import lrcourse; print(lrcourse.__file__)"], **outside).stdout.strip()
    assert where.startswith(site), f"lrcourse imported from {where}, not installed by the bootstrap cell"
    views, versions = widget_views(nb)
    if views:  # explorers made ipywidgets 7 widgets (controls 1.x), as Colab shows them
        assert all(v.startswith("1.") for v in versions), versions
    if nb.cells[-1].source == SUMMARY:  # a page with checked exercises
        first, last = _printed(nb.cells[untouched - 1]), _printed(nb.cells[-1])
        assert re.search(r"\b0 of [1-9]\d* exercises solved", first), f"untouched: {first[-300:]}"
        solved = re.search(r"\b(\d+) of (\d+) exercises solved", last)
        assert solved and solved.group(1) == solved.group(2), f"with the reference answers: {last[-300:]}"
    out = ARTIFACTS / "colab"
    out.mkdir(parents=True, exist_ok=True)
    (out / notebook.replace("/", "__")).write_text(nbformat.writes(nb))


def _printed(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


@functools.cache
def _filled_edition():
    sys.path.insert(0, str(ROOT / "scripts"))
    import learner_edition

    return learner_edition.edition(filled=True)


def with_the_answers_after_it(notebook):
    """The learner page as committed, and the number of its cells. On a page with checked
    exercises it is followed by every code cell that the reference answers change (stub,
    check, answer, check again: the last attempt counts) and by the summary again."""
    nb = nbformat.read(ROOT / notebook, as_version=4)
    untouched = len(nb.cells)
    if nb.cells[-1].source != SUMMARY:
        return nb, untouched
    filled = _filled_edition()[notebook.removeprefix("learner/book/")]
    pairs = list(zip(nb.cells, filled.cells, strict=True))
    answers = [copy.deepcopy(f) for c, f in pairs if f.cell_type == "code" and f.source != c.source]
    assert answers, f"{notebook}: no cell changes with the reference answers"
    for cell in answers:  # cell ids are unique in a notebook
        cell.id = f"{cell.id}-answer"[-64:]
    nb.cells += [*answers, nbformat.v4.new_code_cell(SUMMARY)]
    return nb, untouched

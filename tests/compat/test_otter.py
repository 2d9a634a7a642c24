"""otter-grader, the real tool, on chapter 1's sheet of its three checked exercises: assign, run.

``python -m lrcourse.assign student --otter`` writes an otter *master* notebook: each
checked exercise is a question whose answer cell holds the solution between
``# BEGIN SOLUTION`` lines, followed by tests that assert the checker calls with
``quiet=True`` (otter's tests must print nothing). In a venv of its own (otter-grader is
not a dependency of the course; pinned in ``pins/otter.txt``), this test runs what an
instructor runs:

1. ``otter assign``, which also runs the tests on the solutions (it fails if one fails):
   the student notebook keeps each answer's ``def`` line, docstring and checker call,
   with otter's ``...`` where the solution was, and holds no solution line;
2. ``otter run`` with the autograder it made, on two submissions: the autograder's own
   notebook (every answer right) scores full marks, the student notebook untouched zero.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from compat import ROOT, TOOL_PYTHON, run, tool_runtime
from conftest import python_or_skip

from lrcourse.assign import notebooks

CH1 = ROOT / "book" / "01_gradient_descent" / "index.ipynb"
SHEET = "--exercises=ex-gradient-step,ex-numerical-gradient,ex-gradient-descent"


@pytest.fixture(scope="module")
def otter(wheel, tmp_path_factory):
    python = python_or_skip(TOOL_PYTHON, "otter-grader check")
    return tool_runtime("otter", python, wheel, tmp_path_factory.mktemp("otter") / "venv")


@pytest.fixture(scope="module")
def assigned(otter, tmp_path_factory):
    python, env = otter
    root = tmp_path_factory.mktemp("otter-course")
    run([python, "-m", "lrcourse.assign", "student", CH1, SHEET, "--otter", "-o", root / "master"], cwd=ROOT)
    (master,) = (root / "master").glob("*.ipynb")
    run([python, "-m", "otter", "assign", master, root / "dist"], cwd=root, env=env)
    (autograder,) = (root / "dist" / "autograder").glob("*.zip")
    student = root / "dist" / "student" / master.name
    scores = {}
    for name, notebook in (("key", root / "dist" / "autograder" / master.name), ("blank", student)):
        folder = root / "submissions" / name
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / master.name)
        out = root / "results" / name
        out.mkdir(parents=True)
        run(
            [python, "-m", "otter", "run", "-a", autograder, "-o", out, folder / master.name],
            cwd=root,
            env=env,
        )
        tests = json.loads((out / "results.json").read_text())["tests"]
        scores[name] = sum(t.get("score", 0) for t in tests)
    return nbformat.read(student, as_version=4), scores


def test_the_student_notebook_keeps_the_frame_and_loses_the_solution(assigned):
    student, _ = assigned
    solution = set(notebooks.solution_lines(notebooks.read(CH1)))
    answers = [c for c in student.cells if c.cell_type == "code" and "\ndef " in "\n" + c.source]
    assert len(answers) == 3
    for cell in answers:
        lines = {line.strip() for line in cell.source.splitlines()}
        assert any(line.startswith("checks.check_") for line in lines), cell.source
        assert "..." in lines, cell.source
        assert not lines & solution, lines & solution


def test_otter_run_gives_the_key_full_marks_and_the_blank_zero(assigned):
    _, scores = assigned
    assert scores == {"key": 3.0, "blank": 0.0}

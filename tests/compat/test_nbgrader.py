"""nbgrader, the real tool, on chapter 1's sheet of its three checked exercises: generate, autograde.

``python -m lrcourse.assign student --nbgrader`` writes an nbgrader *source* notebook:
each answer cell holds the solution in nbgrader's ``### BEGIN SOLUTION`` region and a
locked test cell follows it. In a venv of its own (nbgrader is not a dependency of the
course; its versions are pinned in ``pins/nbgrader.txt``), this test runs what an
instructor runs:

1. ``nbgrader generate_assignment``: the released notebook keeps each answer's ``def``
   line, docstring and checker call, and holds no solution line;
2. ``nbgrader autograde`` of two submissions: the source itself (every answer right)
   scores full marks, the released notebook untouched scores zero.
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
CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "lrcourse"
c.CourseDirectory.db_assignments = [dict(name="ps1")]
c.CourseDirectory.db_students = [dict(id="key"), dict(id="blank")]
c.ExecutePreprocessor.timeout = 120
"""
SCORES = """\
import json
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gb:
    print(json.dumps({s: gb.find_submission("ps1", s).score for s in ("key", "blank")}))
"""


@pytest.fixture(scope="module")
def nbgrader(wheel, tmp_path_factory):
    """A venv with nbgrader (pinned) and lrcourse from this working tree."""
    python = python_or_skip(TOOL_PYTHON, "nbgrader check")
    return tool_runtime("nbgrader", python, wheel, tmp_path_factory.mktemp("nbgrader") / "venv")


@pytest.fixture(scope="module")
def course(nbgrader, tmp_path_factory):
    nbgrader, env = nbgrader
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(CONFIG)
    source = root / "source" / "ps1"
    sheet = "--exercises=ex-gradient-step,ex-numerical-gradient,ex-gradient-descent"  # the checked three
    run([nbgrader, "-m", "lrcourse.assign", "student", CH1, sheet, "--nbgrader", "-o", source], cwd=ROOT)
    (path,) = source.glob("*.ipynb")
    nbgrader_cmd = [nbgrader, "-m", "nbgrader"]
    run([*nbgrader_cmd, "generate_assignment", "ps1", "--force"], cwd=root, env=env)
    released = root / "release" / "ps1" / path.name
    for student, notebook in (("key", path), ("blank", released)):
        target = root / "submitted" / student / "ps1"
        target.mkdir(parents=True)
        shutil.copy(notebook, target / path.name)
    run([*nbgrader_cmd, "autograde", "ps1", "--force"], cwd=root, env=env)
    scores = json.loads(run([nbgrader, "-c", SCORES], cwd=root, env=env).stdout)
    return {
        "source": nbformat.read(path, as_version=4),
        "released": nbformat.read(released, as_version=4),
    }, scores


def test_the_released_answer_cells_keep_their_frame_and_lose_the_solution(course):
    notebooks_, _ = course
    source = notebooks.read(CH1)
    solution = set(notebooks.solution_lines(source))
    answers = [c for c in notebooks_["released"].cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 3
    for cell in answers:
        lines = {line.strip() for line in cell.source.splitlines()}
        assert any(line.startswith("def ") for line in lines), cell.source
        assert any(line.startswith("checks.check_") for line in lines), cell.source
        assert "raise NotImplementedError()" in lines, cell.source
        assert not lines & solution, lines & solution


def test_autograde_gives_the_key_full_marks_and_the_blank_zero(course):
    _, scores = course
    assert scores == {"key": 3.0, "blank": 0.0}

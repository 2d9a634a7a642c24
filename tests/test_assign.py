"""The instructor kit: student versions, answer keys and the autograder."""

import ast
import copy
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib
from nbclient import NotebookClient
from toc import toc_notebooks

from lrcourse.assign import grade_folder, learner, notebooks

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [ROOT / rel for rel in toc_notebooks() if notebooks.exercises(notebooks.read(ROOT / rel))]
CH1 = ROOT / "book" / "01_gradient_descent" / "index.ipynb"
SHEET = {"ex-gradient-step", "ex-gradient-descent"}


def code_lines(nb):
    return {
        line.strip() for cell in nb.cells if cell.cell_type == "code" for line in cell.source.splitlines()
    }


def run(nb, folder, timeout=120):
    NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_student_version_has_no_solution_code(path):
    source = notebooks.read(path)
    student = notebooks.student_version(source)
    leaked = set(notebooks.solution_lines(source)) & code_lines(student)
    assert not leaked, f"solution lines in the student version: {sorted(leaked)[:5]}"
    prose = "\n".join(cell.source for cell in student.cells if cell.cell_type == "markdown")
    assert not notebooks.SOLUTION_START.search(prose) and not notebooks.SOLUTION_END.search(prose)
    assert "{solution}" not in prose  # nor the answers to prose questions
    assert not {notebooks.BEGIN, notebooks.END} & code_lines(student)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    graded = [ex for ex in notebooks.exercises(source) if ex.graded]
    assert [ex.label for ex in notebooks.exercises(student) if ex.graded] == [ex.label for ex in graded]


def code_trees(nb, skip=()):
    """Each code cell as a syntax tree (comments and ``%`` lines aside), in order."""
    trees = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("id") not in skip:
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            trees.append(ast.dump(ast.parse(code)))
    return trees


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_student_version_runs_the_code_of_the_learner_edition(path):
    """Cell for cell, the student version runs what the untouched learner edition runs, but
    for the comments and the learner's ``record=progress`` tally. tests/compat/test_colab.py
    runs every learner notebook to the end and expects 0 exercises solved, then runs the
    reference answers in the same kernel, so the student version is not run again here."""
    student = notebooks.student_version(notebooks.read(path))
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = learner._record(cell.source)
    edition = nbformat.read(ROOT / "learner" / path.relative_to(ROOT), as_version=4)
    assert code_trees(student) == code_trees(edition, skip={"progress", "progress-summary"})


def unbound_names(nb):
    """Names a code cell needs that no earlier code cell binds (``learner._names``)."""
    bound, unbound = set(), set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            defined, used = learner._names(cell.source)
            unbound |= used - bound - {"display", "get_ipython"}
            bound |= defined
    return unbound


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_student_version_needs_no_name_only_the_removed_cells_bound(path):
    """What the student version leaves out (solutions, players, small multiples) binds no
    name that a kept cell reads. (The check reads the code: a name it cannot follow, such
    as one bound in a loop, is unbound in the book too and not counted.)"""
    source = notebooks.read(path)
    assert unbound_names(notebooks.student_version(source)) <= unbound_names(source)


LABELS = [
    (ROOT / rel, label)
    for rel in toc_notebooks()
    for label, _, _ in notebooks.labels(notebooks.read(ROOT / rel))
]


@pytest.mark.parametrize("path, label", LABELS, ids=[label for _, label in LABELS])
def test_every_label_makes_a_sheet_and_a_key_that_need_nothing_left_out(path, label):
    """A sheet or key of one exercise keeps the earlier cells its code reads names from."""
    source = notebooks.read(path)
    sheet = notebooks.student_version(source, keep={label})
    key = notebooks.select(source, {label}, with_solutions=True)
    for nb in (sheet, key):
        assert [found for found, _, _ in notebooks.labels(nb)] == [label]
        assert unbound_names(nb) <= unbound_names(source)


def test_student_version_leaves_out_the_website_only_cells():
    source = notebooks.read(CH1)
    student = notebooks.student_version(source)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert notebooks.PLAYER.search("\n".join(c.source for c in source.cells))
    assert not notebooks.PLAYER.search(code) and not notebooks.STATIC.search(code)
    notes = [c.source for c in student.cells if notebooks.SMALL_MULTIPLES in c.source]
    static = [c.source for c in source.cells if c.cell_type == "code" and notebooks.STATIC.search(c.source)]
    assert static and len(notes) == len(static)
    assert all("```python\n" in note and ".static(" in note for note in notes)


def test_sheet_keeps_only_the_chosen_exercises_and_the_setup():
    sheet = notebooks.student_version(notebooks.read(CH1), keep=SHEET)
    assert {ex.label for ex in notebooks.exercises(sheet)} == SHEET
    assert "remove-cell" in sheet.cells[0].metadata.get("tags", [])
    assert any("from lrcourse import" in c.source for c in sheet.cells if c.cell_type == "code")


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "lrcourse.assign", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_labels_lists_every_exercise_with_its_kind():
    done = cli("labels", "book/01_gradient_descent/index.ipynb", "book/00_introduction/index.ipynb")
    assert done.returncode == 0, done.stderr
    rows = [line.split()[:3] for line in done.stdout.splitlines()[1:]]
    assert ["book/01_gradient_descent/index.ipynb", "ex-gradient-step", "checked"] in rows
    assert ["book/01_gradient_descent/index.ipynb", "ex-read-curve", "prose"] in rows
    assert ["book/00_introduction/index.ipynb", "ex-warm-up", "prose"] in rows
    assert len(rows) == 7


@pytest.mark.parametrize("command", ["student", "key"])
def test_an_unknown_label_is_an_error_that_lists_the_valid_ones(command, tmp_path):
    done = cli(
        command, str(CH1.relative_to(ROOT)), "-o", str(tmp_path), "--exercises", "ex-gradient-step,ex-nope"
    )
    assert done.returncode == 2
    assert "no exercise labelled ex-nope" in done.stderr and "ex-read-curve" in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_key_shows_each_stub_without_its_not_yet_solved(tmp_path):
    done = cli("key", str(CH1.relative_to(ROOT)), "-o", str(tmp_path), "--exercises", "ex-gradient-step")
    assert done.returncode == 0, done.stderr
    key = nbformat.read(next(tmp_path.glob("*.ipynb")), as_version=4)
    (ex,) = notebooks.exercises(key)
    stub = key.cells[ex.learner_cell]
    assert "raise NotImplementedError" in stub.source and stub.outputs == []
    shown = json.dumps([c.get("outputs", []) for c in key.cells])
    assert "not yet solved" not in shown and "correct" in shown
    html = next(tmp_path.glob("*.html")).read_text()
    assert "not yet solved" not in html
    assert "google.colab" in key.cells[0].source and "google.colab" not in html  # the bootstrap


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_key_clears_the_stubs_of_every_page(path):
    source = notebooks.read(path)
    for ex in notebooks.exercises(source):
        if ex.learner_cell is not None:
            source.cells[ex.learner_cell].outputs = [
                nbformat.v4.new_output("stream", text="not yet solved\n")
            ]
    key = notebooks.without_stub_outputs(source)  # prose exercises have no stub: no error
    assert "not yet solved" not in json.dumps([c.get("outputs", []) for c in key.cells])


def test_a_sheet_can_hold_a_prose_question():
    source = notebooks.read(CH1)
    sheet = notebooks.student_version(source, keep={"ex-gradient-step", "ex-read-curve"})
    assert [label for label, _, _ in notebooks.labels(sheet)] == ["ex-gradient-step", "ex-read-curve"]
    prose = "\n".join(c.source for c in sheet.cells if c.cell_type == "markdown")
    assert "{solution}" not in prose
    key = notebooks.select(source, {"ex-read-curve"}, with_solutions=True)
    answers = "\n".join(c.source for c in key.cells if c.cell_type == "markdown")
    assert "```{solution} ex-read-curve" in answers


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_sheet_or_key_of_every_exercise_keeps_their_order(path):
    source = notebooks.read(path)
    every = [label for label, _, _ in notebooks.labels(source)]
    for nb in (
        notebooks.student_version(source, keep=set(every)),
        notebooks.select(source, set(every), with_solutions=True),
    ):
        assert [label for label, _, _ in notebooks.labels(nb)] == every


def test_a_prose_question_keeps_the_code_it_asks_to_run():
    source = notebooks.read(CH1)
    sheet = notebooks.student_version(source, keep={"ex-predict-valleys"})
    after = [c for c in sheet.cells[sheet.cells.index(_cell_with(sheet, "ex-predict-valleys")) :]]
    assert any(c.cell_type == "code" for c in after)


def _cell_with(nb, text):
    return next(c for c in nb.cells if text in c.source)


def test_an_exercise_that_needs_another_ones_code_is_an_error():
    cell = nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("from lrcourse import checks"),
            cell("```{exercise-start} A\n:label: ex-a\n```"),
            nbformat.v4.new_code_cell(
                "def step(x):\n    raise NotImplementedError\nchecks.check_gradient_step(step)"
            ),
            cell("```{exercise-end}\n```"),
            cell("```{exercise-start} B\n:label: ex-b\n```"),
            nbformat.v4.new_code_cell(
                "def twice(x):\n    return step(step(x))\nchecks.check_gradient_descent(twice)"
            ),
            cell("```{exercise-end}\n```"),
        ]
    )
    with pytest.raises(ValueError, match="only the code of another exercise binds"):
        notebooks.student_version(nb, keep={"ex-b"})
    assert [
        label for label, _, _ in notebooks.labels(notebooks.student_version(nb, keep={"ex-a", "ex-b"}))
    ] == [
        "ex-a",
        "ex-b",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["labels", "book/nope.ipynb"], "no such notebook: book/nope.ipynb"),
        (
            ["student", "book/01_gradient_descent/index.ipynb", "-o", "x", "--exercises", " ,"],
            "give one or more",
        ),
    ],
)
def test_bad_command_lines_are_named(args, message):
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr


def test_labels_may_be_given_with_spaces(tmp_path):
    done = cli(
        "student",
        str(CH1.relative_to(ROOT)),
        "-o",
        str(tmp_path),
        "--exercises",
        "ex-gradient-step, ex-read-curve",
    )
    assert done.returncode == 0, done.stderr
    assert "ex-gradient-step; 1 prose question(s): ex-read-curve" in done.stdout


def test_nbgrader_metadata_marks_answers_and_tests():
    sheet = notebooks.student_version(notebooks.read(CH1), keep=SHEET)
    marked = notebooks.add_nbgrader_metadata(sheet, notebooks.exercises(sheet))
    meta = [c.metadata["nbgrader"] for c in marked.cells if "nbgrader" in c.metadata]
    answers = [m for m in meta if m["solution"]]
    tests = [m for m in meta if m["grade"]]
    assert len(answers) == len(tests) == 2
    assert all(m["points"] == 1 and m["locked"] for m in tests)
    assert len({m["grade_id"] for m in meta}) == 4


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Submissions of a two-exercise sheet of chapter 1, graded in parallel: honest ones, broken
    ones, and three that try to fake the check of the unsolved `gradient_descent`."""
    folder = tmp_path_factory.mktemp("submissions")
    source = notebooks.read(CH1)
    sheet = notebooks.student_version(source, keep=SHEET)
    key = run(notebooks.select(source, SHEET, with_solutions=True), CH1.parent)
    nbformat.write(key, folder / "key.ipynb")
    nbformat.write(sheet, folder / "untouched.ipynb")
    partial = copy.deepcopy(sheet)
    for cell in partial.cells:
        if "def gradient_step" in cell.source:
            cell.source = cell.source.replace("raise NotImplementedError", "return x - lr * grad")
    nbformat.write(partial, folder / "partial.ipynb")
    crash = copy.deepcopy(partial)
    crash.cells.insert(2, nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(crash, folder / "crash.ipynb")
    loop = copy.deepcopy(partial)
    for cell in loop.cells:
        if "def gradient_descent" in cell.source:
            cell.source = "def gradient_descent(grad, x0, lr, steps):\n    while True:\n        pass\n"
    nbformat.write(loop, folder / "loop.ipynb")
    deleted = copy.deepcopy(partial)
    deleted.cells = [c for c in deleted.cells if "def gradient_descent" not in c.source]
    nbformat.write(deleted, folder / "deleted.ipynb")
    (folder / "broken.ipynb").write_text("{not json")
    cheats = {
        "patched": "checks.check_gradient_descent = lambda *args, **kwargs: True",
        "shadowed": "bool = lambda value: True",
        "forged": (  # prints a verdict, then stops the cell
            "def gradient_descent(grad, x0, lr, steps):\n"
            "    print('✔ gradient_descent: correct')\n"
            "    raise KeyboardInterrupt"
        ),
    }
    for name, source in cheats.items():
        cheat = copy.deepcopy(partial)
        cheat.cells.append(nbformat.v4.new_code_cell(source))
        nbformat.write(cheat, folder / f"{name}.ipynb")
    reference = folder.parent / "sheet.ipynb"
    nbformat.write(sheet, reference)
    out = folder.parent / "grades"
    scores = grade_folder(folder, reference, out, jobs=2, cell_timeout=5, total_timeout=120, call_timeout=3)
    return {(s.student, s.exercise): s for s in scores}, out


def test_the_reference_is_the_notebook_handed_out(tmp_path):
    (tmp_path / "alice.ipynb").write_text(CH1.read_text())
    with pytest.raises(ValueError, match="reference must be the student notebook you handed out"):
        grade_folder(tmp_path, CH1, tmp_path / "grades")
    done = cli("grade", str(tmp_path), "--reference", str(CH1), "-o", str(tmp_path / "grades"))
    assert done.returncode == 2 and "python -m lrcourse.assign student" in done.stderr


def test_autograder_scores(graded):
    scores, _ = graded
    total = {}
    for (student, _), s in scores.items():
        total[student] = total.get(student, 0) + s.points
    honest = {"key": 2, "untouched": 0, "partial": 1, "crash": 1, "loop": 1, "deleted": 1, "broken": 0}
    assert total == {**honest, "patched": 1, "shadowed": 1, "forged": 1}  # the cheats gain nothing
    assert scores[("key", "ex-gradient-step")].visible == "passed"
    assert "not yet solved" in scores[("untouched", "ex-gradient-step")].message
    assert "ZeroDivisionError" in scores[("crash", "ex-gradient-descent")].reason
    assert "longer than 3 s" in scores[("loop", "ex-gradient-descent")].reason
    assert "not defined" in scores[("deleted", "ex-gradient-descent")].reason
    assert "could not be read" in scores[("broken", "ex-gradient-step")].reason


def test_autograder_reports(graded):
    _, out = graded
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert len(rows) == 20 and set(rows[0]) >= {"student", "exercise", "points", "reason"}
    assert len(json.loads((out / "scores.json").read_text())) == 20
    totals = {r["student"]: float(r["points"]) for r in csv.DictReader(open(out / "totals.csv"))}
    assert totals["key"] == 2.0
    feedback = (out / "feedback" / "untouched.md").read_text()
    assert "not yet solved" in feedback and "Total: 0 / 2" in feedback


@pytest.mark.parametrize("command", ["labels", "student", "key", "grade"])
def test_every_command_has_help(command):
    done = subprocess.run(
        [sys.executable, "-m", "lrcourse.assign", command, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage" in done.stdout


def _imported_packages(path):
    """The top-level names of the absolute imports of the file at ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_the_assign_extra_declares_what_the_kit_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["assign"]
    declared = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in project["dependencies"] + extra}
    imported = {name for p in (ROOT / "lrcourse" / "assign").glob("*.py") for name in _imported_packages(p)}
    third_party = {name.lower() for name in imported - set(sys.stdlib_module_names) - {"lrcourse"}}
    assert third_party >= {"nbformat", "nbclient", "nbconvert"}  # the scan sees the kit's imports
    assert third_party <= declared, f"imported by lrcourse/assign, not declared: {third_party - declared}"


GRADED_PAGES = [p for p in CHAPTERS if any(ex.graded for ex in notebooks.exercises(notebooks.read(p)))]


@pytest.mark.parametrize("path", GRADED_PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_key_of_every_page_scores_full_marks_and_the_sheet_zero(path, tmp_path):
    source = notebooks.read(path)
    labels = {ex.label for ex in notebooks.exercises(source) if ex.graded}
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(notebooks.select(source, labels, with_solutions=True), folder / "key.ipynb")
    sheet = notebooks.student_version(source, keep=labels)
    nbformat.write(sheet, folder / "untouched.ipynb")
    nbformat.write(sheet, tmp_path / "sheet.ipynb")
    scores = grade_folder(folder, tmp_path / "sheet.ipynb", tmp_path / "grades", jobs=1, cell_timeout=120)
    got = {(s.student, s.exercise): (s.points, s.reason) for s in scores}
    for label in labels:
        assert got[("key", label)][0] == 1, got[("key", label)]
        assert got[("untouched", label)][0] == 0, got[("untouched", label)]
        assert "not yet solved" in got[("untouched", label)][1], got[("untouched", label)]


@pytest.mark.parametrize("path", GRADED_PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_nbgrader_and_otter_versions_hold_every_solution_in_a_region(path):
    source = notebooks.read(path)
    labels = set(notebooks.solution_blocks(source)) & {
        ex.label for ex in notebooks.exercises(source) if ex.graded
    }
    nbgrader = notebooks.nbgrader_version(source)
    answers = [c for c in nbgrader.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == len(labels)
    otter = notebooks.otter_version(source, "ps")
    questions = [c for c in otter.cells if c.cell_type == "raw" and c.source.startswith("# BEGIN QUESTION")]
    assert len(questions) == len(labels)
    for cell in answers + [
        c for c in otter.cells if c.cell_type == "code" and "# BEGIN SOLUTION" in c.source
    ]:
        compile(cell.source, "<answer cell>", "exec")
        assert "BEGIN SOLUTION" in cell.source and "END SOLUTION" in cell.source


def _regions(source, solution, name="f", markers=("# BEGIN SOLUTION", "# END SOLUTION")):
    out = notebooks.with_solution_region(source, solution, name, markers)
    compile(out, "<cell>", "exec")
    return out


def test_a_solution_region_replaces_the_body_and_keeps_the_frame():
    stub = 'def f(x):\n    """Twice x."""\n    raise NotImplementedError\n\n\nchecks.check_f(f)'
    out = _regions(stub, 'def f(x):\n    """Twice x."""\n    return 2 * x')
    assert out == (
        'def f(x):\n    """Twice x."""\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\n\n'
        "checks.check_f(f)"
    )


def test_a_solution_region_keeps_code_before_and_after_the_function_in_place():
    stub = "def f(x):\n    ...\n\nchecks.check_f(f)"
    out = _regions(stub, "import math\n\ndef f(x):\n    return math.sqrt(x)\n\nprint(f(4))")
    lines = out.splitlines()
    assert lines.index("import math") < lines.index("def f(x):") < lines.index("print(f(4))")
    assert lines.index("print(f(4))") < lines.index("checks.check_f(f)")
    assert "    ..." not in lines  # a `...` body is the stub, not a docstring


def test_a_solution_region_after_a_multiline_def_without_docstring():
    stub = "def f(\n    x,\n    y,\n):\n    raise NotImplementedError\n\nchecks.check_f(f)"
    out = _regions(stub, "def f(x, y):\n    return x + y")
    assert "    return x + y" in out and "raise NotImplementedError" not in out


def test_a_value_answer_region_comes_before_the_check():
    out = _regions("checks.check_labels(labels, quiz)", 'labels = {"A": "overfitting"}', name="labels")
    assert out.index("labels = {") < out.index("checks.check_labels")
    out = _regions("labels = ...\nchecks.check_labels(labels, quiz)", 'labels = {"A": "x"}', name="labels")
    assert out.index("labels = ...") < out.index('labels = {"A"') < out.index("checks.check_labels")

"""Reading a chapter notebook's exercises, and writing its student version.

A chapter marks its exercises with sphinx-exercise's gated directives::

    ```{exercise-start} Title          <- markdown
    :label: ex-name
    ```
    def f(...):                         <- the learner's cell: a stub and a checker call
        raise NotImplementedError
    checks.check_f(f)
    ```{exercise-end}                   <- markdown
    ```
    ```{solution-start} ex-name         <- markdown: the worked solution, prose ...
    ```
    # BEGIN SOLUTION                    <- ... and code
    def f(...): ...
    # END SOLUTION
    checks.check_f(f)
    ```{solution-end}
    ```

The student version removes each solution block (prose and code, and the plain
``{solution}`` answers to prose questions), replaces any other code between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` by a stub, drops cells tagged ``solution``,
clears outputs and widget state, and keeps the checks. Like the learner
edition, it leaves out what only the website needs: the players that stand in for a live
explorer (a note says so), and the small multiples, whose code it gives as text to run
on demand.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = 'raise NotImplementedError("your answer here")'
EXERCISE_START = re.compile(r"```\{exercise-start\}[^\n]*\n(?P<body>(?::[^\n]*\n)*)```", re.M)
SOLUTION_START = re.compile(r"```\{solution-start\}\s*(?P<label>[\w.-]+)[^\n]*\n(?::[^\n]*\n)*```", re.M)
SOLUTION_END = re.compile(r"```\{solution-end\}\s*\n```", re.M)
PLAYER = re.compile(r"\.player\(")  # the website's stand-in for a live explorer
STATIC = re.compile(r"\.static\(")  # the website's small multiples of an explorer
PLAYER_NOTE = "*(On the website a player steps through this explorer's settings; here, move the sliders.)*"
SMALL_MULTIPLES = (
    "*On the website, small multiples show the explorer above at the settings below, side by"
    " side. Set them with its controls, or draw them all: copy this code into a new cell"
    " and run it (it takes a few seconds).*"
)


def fenced_directive(*names):
    """A fenced MyST directive block named one of ``names``, with groups ``fence``,
    ``name``, ``arg``, ``options`` and ``body`` (a longer fence may hold shorter ones)."""
    return re.compile(
        rf"^(?P<fence>`{{3,}})\{{(?P<name>{'|'.join(names)})\}}(?P<arg>[^\n]*)\n"
        r"(?P<options>(?::[^\n]*\n)*)(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
        re.M | re.S,
    )


PLAIN_BLOCK = fenced_directive("exercise", "solution")
"""A plain (not gated) exercise or solution block: a prose question and its answer."""
CHECK_CALL = re.compile(r"^(?P<call>checks\.check_\w+\((?P<args>[^()\n]*(?:\([^()\n]*\)[^()\n]*)*)\))", re.M)


def option_label(options):
    """The ``:label:`` among a directive's option lines, or ``None``."""
    found = re.search(r":label:\s*(\S+)", options)
    return found.group(1) if found else None


@dataclass
class Exercise:
    """One exercise of a notebook: its label, title and the checker calls of its learner cell."""

    label: str
    title: str
    checks: list = field(default_factory=list)
    learner_cell: int | None = None
    points: int = 1

    @property
    def graded(self):
        """Code exercises have a checker; the others are read or discussed, not graded."""
        return bool(self.checks)


@dataclass
class Check:
    """One checker call of an exercise: ``checks.<checker>(<answer>, <given>...)``."""

    checker: str
    answer: str  # the expression of the student's answer, evaluated in the sandbox
    given: list  # the other arguments, evaluated here on the handed-out notebook's code
    given_kw: dict


def parse_check(call):
    """The :class:`Check` of a checker call as the notebook writes it."""
    node = ast.parse(call, mode="eval").body
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
        raise ValueError(f"not a checker call with the answer first: {call!r}")
    return Check(
        node.func.attr,
        ast.unparse(node.args[0]),
        [ast.unparse(a) for a in node.args[1:]],
        {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg not in ("quiet", "record")},
    )


def read(path):
    """The notebook at ``path`` (nbformat 4)."""
    return nbformat.read(path, as_version=4)


def exercises(nb):
    """The exercises of ``nb`` in order, with the checker calls found in their learner cells."""
    found, current = [], None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for m in EXERCISE_START.finditer(cell.source):
                label = option_label(m.group("body"))
                title = m.group(0).split("\n", 1)[0].replace("```{exercise-start}", "").strip()
                current = Exercise(label or f"exercise-{len(found) + 1}", title)
                found.append(current)
            if "{exercise-end}" in cell.source:
                current = None
        elif (
            cell.cell_type == "code"
            and current is not None
            and (BEGIN not in cell.source or cell.metadata.get("nbgrader", {}).get("solution"))
        ):  # a solution cell of the chapter is not the learner's; nbgrader's answer cell is
            calls = [m.group("call") for m in CHECK_CALL.finditer(cell.source)]
            if calls and current.learner_cell is None:
                current.checks, current.learner_cell = calls, i
    return found


def labels(nb):
    """Every exercise of ``nb`` as ``(label, kind, title)``, in order: ``kind`` is
    ``"checked"`` (a code exercise the autograder scores) or ``"prose"`` (read, predict
    or discuss; a plain ``{exercise}`` block or a gated one without a checker)."""
    gated = {ex.label: ex for ex in exercises(nb)}
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        here = []  # (position in the cell, entry)
        for m in EXERCISE_START.finditer(cell.source):
            ex = gated.get(option_label(m.group("body")))
            if ex is not None:
                here.append((m.start(), (ex.label, "checked" if ex.graded else "prose", ex.title)))
        for m in PLAIN_BLOCK.finditer(cell.source):
            if m.group("name") == "exercise" and _plain_label(m):
                here.append((m.start(), (_plain_label(m), "prose", m.group("arg").strip())))
        found += [entry for _, entry in sorted(here)]
    return found


def strip_solution_code(source):
    """Replace every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a stub."""
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{STUB}")
        elif stripped == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def small_multiples_note(source):
    """The small multiples' code cell as a note: why it is not run, and its code to copy."""
    code = "\n".join(line for line in source.splitlines() if not line.startswith("# NBVAL_"))
    return f"{SMALL_MULTIPLES}\n\n```python\n{code.strip()}\n```"


def _clear(cell):
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    cell.metadata.pop("lrcourse", None)
    return cell


def student_version(nb, keep=None):
    """A copy of ``nb`` without solutions (see the module docstring).

    ``keep`` (a set of exercise labels) limits the sheet to those exercises: the other
    exercises, and everything that is not an exercise, setup cell or import, are left
    out, for a short assignment sheet.
    """
    nb = copy.deepcopy(nb)
    cells, in_solution = [], False
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown":
            text = cell.source
            if in_solution:
                end = SOLUTION_END.search(text)
                if not end:
                    continue
                text, in_solution = text[end.end() :].lstrip("\n"), False
            start = SOLUTION_START.search(text)
            while start:
                end = SOLUTION_END.search(text, start.end())
                if end:
                    text = text[: start.start()] + text[end.end() :]
                else:
                    text, in_solution = text[: start.start()], True
                start = SOLUTION_START.search(text)
            if any(m.group("name") == "solution" for m in PLAIN_BLOCK.finditer(text)):
                text = PLAIN_BLOCK.sub(lambda m: "" if m.group("name") == "solution" else m.group(0), text)
                text = re.sub(r"\n{3,}", "\n\n", text)
            if text.strip():
                cell.source = text.rstrip() + "\n"
                cells.append(_clear(cell))
        elif not in_solution:
            if cell.cell_type == "code" and PLAYER.search(cell.source):
                cells.append(
                    nbformat.v4.new_markdown_cell(PLAYER_NOTE, id=f"{cell.get('id', 'player')}-note")
                )
                continue
            if cell.cell_type == "code" and STATIC.search(cell.source):
                note = small_multiples_note(cell.source)
                cells.append(nbformat.v4.new_markdown_cell(note, id=f"{cell.get('id', 'static')}-note"))
                continue
            if cell.cell_type == "code":
                cell.source = strip_solution_code(cell.source)
            cells.append(_clear(cell))
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    if keep is not None:
        nb = select(nb, set(keep))
    return nb


def without_stub_outputs(nb):
    """``nb`` (an executed answer key) with the outputs of its exercises' learner cells cleared.

    A key shows each stub as the student gets it, then the solution. Run, the stub
    prints the checker's "not yet solved" just above the solution's "correct": noise
    in a key. Its code stays.
    """
    nb = copy.deepcopy(nb)
    for ex in exercises(nb):
        if ex.learner_cell is not None:  # (a gated exercise without a checker has none)
            cell = nb.cells[ex.learner_cell]
            cell.outputs, cell.execution_count = [], None
    return nb


def select(nb, keep, with_solutions=False):
    """Keep the setup cells (bootstrap, imports), the title and the exercises labelled in ``keep``,
    with the earlier code cells that bind names their code reads (the data an exercise works
    on, say). A prose question keeps the code cells between it and its answer (the run of a
    "predict, then run").

    With ``with_solutions`` each kept exercise brings its solution block too (answer keys).
    """
    nb = copy.deepcopy(nb)
    chosen, state = {}, None  # chosen: index -> cell; state: None, "exercise" or "solution"
    prose = None  # the kept prose question whose code cells follow
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            if state or prose or _is_setup(cell):
                chosen[i] = cell
            continue
        text, spans, prose = cell.source, [], None  # spans: (start, end) of the kept parts
        pos = 0
        while pos <= len(text):
            if state is None:
                ex = EXERCISE_START.search(text, pos)
                sol = SOLUTION_START.search(text, pos) if with_solutions else None
                if sol and sol.group("label") in keep and (not ex or sol.start() < ex.start()):
                    state, pos = "solution", sol.start()
                    continue
                if not ex:
                    break
                pos = ex.end()
                if option_label(ex.group("body")) in keep:
                    state, seg_start = "exercise", ex.start()
                    end = re.search(r"```\{exercise-end\}\s*\n```", text[seg_start:])
                    stop = seg_start + end.end() if end else len(text)
                    spans.append((seg_start, stop))
                    pos = stop
                    if end:
                        state = None
                continue
            closing = (
                r"```\{exercise-end\}\s*\n```" if state == "exercise" else r"```\{solution-end\}\s*\n```"
            )
            end = re.compile(closing).search(text, pos)
            stop = end.end() if end else len(text)
            spans.append((pos, stop))
            pos = stop
            if not end:
                break
            state = None
        for m in PLAIN_BLOCK.finditer(text):  # prose questions, and their answers in a key
            is_question = m.group("name") == "exercise"
            if (is_question or with_solutions) and _plain_label(m) in keep:
                if not any(start <= m.start() < stop for start, stop in spans):
                    spans.append((m.start(), m.end()))
                prose = _plain_label(m) if is_question else None
        if spans:
            cell.source = "\n\n".join(text[start:stop].strip() for start, stop in sorted(spans)) + "\n"
            chosen[i] = cell
        elif text.lstrip().startswith("# "):
            cell.source = text.split("\n", 1)[0] + "\n"  # the chapter title only
            chosen[i] = cell
    for i in _needed_cells(nb.cells, chosen):
        chosen[i] = nb.cells[i]
    nb.cells = [chosen[i] for i in sorted(chosen)]
    return nb


def _plain_label(m):
    """The label of a plain block: an exercise's ``:label:``, a solution's argument."""
    if m.group("name") == "solution":
        return m.group("arg").strip()
    return option_label(m.group("options"))


def _needed_cells(cells, chosen):
    """The indices of the code cells, not chosen, that bind a name a chosen code cell reads
    before any chosen cell binds it: for each such name, the last cell before the reader
    that binds it, and what that cell needs in turn."""
    from lrcourse.assign.learner import _names  # the learner edition's reading of a cell

    names = {i: _names(cell.source) for i, cell in enumerate(cells) if cell.cell_type == "code"}
    exercise_cells = {i for i in names if BEGIN in cells[i].source or CHECK_CALL.search(cells[i].source)}
    chosen, added = set(chosen), set()
    while True:
        bound, new = set(), set()
        for i in sorted(i for i in chosen | added if i in names):
            defined, used = names[i]
            for name in used - bound:
                earlier = [j for j in names if j < i and name in names[j][0]]
                if earlier and earlier[-1] not in chosen | added:
                    if earlier[-1] in exercise_cells:
                        first = cells[earlier[-1]].source.strip().splitlines()[0]
                        raise ValueError(
                            f"the exercises chosen read {name!r}, which only the code of another exercise "
                            f"binds (the cell starting {first!r}): choose that exercise too"
                        )
                    new.add(earlier[-1])
            bound |= defined
        if not new:
            return added
        added |= new


def _is_setup(cell):
    """The bootstrap cell and the cells that import the course package."""
    imports = re.search(r"^(from lrcourse|import lrcourse)", cell.source, re.M)
    return "remove-cell" in cell.metadata.get("tags", []) or bool(imports)


def solution_lines(nb):
    """The lines of solution code in ``nb`` that appear nowhere else in its code.

    A learner's stub repeats the ``def`` line and the docstring of the solution; those
    are not part of the answer. Every other non-blank, non-comment line between
    ``# BEGIN SOLUTION`` and ``# END SOLUTION`` is, and must not reach a student.
    """
    inside_lines, outside_lines = [], set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s == BEGIN:
                inside = True
            elif s == END:
                inside = False
            elif inside:
                if s and not s.startswith("#"):
                    inside_lines.append(s)
            else:
                outside_lines.add(s)
    return [line for line in inside_lines if line not in outside_lines]


def add_nbgrader_metadata(nb, exercises_):
    """Mark learner cells as nbgrader solution cells and add one graded test cell per exercise.

    nbgrader (``nbgrader generate_assignment``) then treats the learner's cell as the
    answer and the added cell (the same checker calls, asserted) as an autograded test.
    """
    by_cell = {ex.learner_cell: ex for ex in exercises_ if ex.graded}
    cells = []
    for i, cell in enumerate(nb.cells):
        cells.append(cell)
        ex = by_cell.get(i)
        if ex is None:
            continue
        cell.metadata["nbgrader"] = {
            "grade": False,
            "grade_id": f"{ex.label}-answer",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        test = nbformat.v4.new_code_cell("\n".join(f"assert {call}" for call in ex.checks))
        test.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": f"{ex.label}-check",
            "locked": True,
            "points": ex.points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
        cells.append(test)
    nb.cells = cells
    return nb


# ----------------------------------------------------------------- nbgrader's source format

NB_BEGIN, NB_END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_cells(nb):
    """``(label, cell)`` for every code cell with ``# BEGIN SOLUTION`` inside a solution block."""
    label = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for mark in re.finditer(rf"{SOLUTION_START.pattern}|{SOLUTION_END.pattern}", cell.source, re.M):
                label = mark.group("label")  # None at a solution's end
        elif label is not None and BEGIN in cell.source:
            yield label, cell


def solution_blocks(nb):
    """label -> the code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` of its solution
    (its first solution cell: every exercise of the book has one)."""
    found = {}
    for label, cell in solution_cells(nb):
        if label not in found:
            lines = cell.source.split("\n")
            start = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
            end = next((i for i, line in enumerate(lines) if line.strip() == END and i > start), len(lines))
            found[label] = "\n".join(lines[start + 1 : end]).strip("\n")
    return found


def _function(tree, name):
    return next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
        None,
    )


def _docstring(fn):
    """The docstring statement of ``fn``, or ``None``."""
    first = fn.body[0]
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return first if is_doc and isinstance(first.value.value, str) else None


def _indent(line):
    return line[: len(line) - len(line.lstrip())]


def with_solution_region(stub, solution, name, markers=(NB_BEGIN, NB_END)):
    """The learner cell ``stub`` with ``solution`` in a solution region (nbgrader's markers,
    or the ``markers`` given).

    When the answer is a function, the region replaces the stub's body (its ``def`` line,
    docstring and the checker call stay, as the student will see them); code of the
    solution before that function (a helper, an import) gets a region of its own above
    it, code after it a region right after it. When the answer is a value
    (``drops = ...``), the region follows the stub's assignment (or, if there is none,
    comes before the checker call).
    """
    begin, end = markers
    sol_lines, stub_lines = solution.split("\n"), stub.split("\n")
    sol_tree, stub_tree = ast.parse(solution), ast.parse(stub)
    sol_fn, stub_fn = _function(sol_tree, name), _function(stub_tree, name)

    def region(lines, indent=""):
        lines = [line for line in lines if line.strip()]
        return [indent + begin, *lines, indent + end] if lines else []

    if sol_fn is None or stub_fn is None:  # a value
        assigned = [
            n
            for n in stub_tree.body
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            and name
            in {t.id for t in ast.walk(n) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
        ]
        if assigned:
            at = assigned[-1].end_lineno
        else:
            at = next((i for i, line in enumerate(stub_lines) if CHECK_CALL.match(line)), len(stub_lines))
        return "\n".join(stub_lines[:at] + region(sol_lines) + stub_lines[at:])

    doc = _docstring(sol_fn)
    body_first = sol_fn.body[1] if doc is not None and len(sol_fn.body) > 1 else sol_fn.body[0]
    old_indent = _indent(sol_lines[body_first.lineno - 1])
    body = [
        line[len(old_indent) :] if line.startswith(old_indent) else line
        for line in sol_lines[body_first.lineno - 1 : sol_fn.end_lineno]
    ]
    top = (sol_fn.decorator_list[0] if sol_fn.decorator_list else sol_fn).lineno
    before, after = sol_lines[: top - 1], sol_lines[sol_fn.end_lineno :]
    stub_doc = _docstring(stub_fn)
    keep_to = stub_doc.end_lineno if stub_doc is not None else stub_fn.body[0].lineno - 1  # def + docstring
    indent = _indent(stub_lines[stub_fn.body[0].lineno - 1])
    stub_top = (stub_fn.decorator_list[0] if stub_fn.decorator_list else stub_fn).lineno
    inner = [indent + begin, *[indent + line if line.strip() else line for line in body], indent + end]
    head = stub_lines[: stub_top - 1] + (region(before) + [""] if region(before) else [])
    tail = ([""] + region(after)) if region(after) else []
    return "\n".join(
        head + stub_lines[stub_top - 1 : keep_to] + inner + tail + stub_lines[stub_fn.end_lineno :]
    )


def nbgrader_version(source, keep=None):
    """An nbgrader *source* notebook of ``source``: a student version whose answer cells hold
    the solution in nbgrader's ``### BEGIN SOLUTION`` regions, with nbgrader's metadata.

    ``nbgrader generate_assignment`` turns each region into its stub and keeps the rest of
    the cell (the ``def`` line, the docstring, the checker call); ``nbgrader autograde``
    of this notebook itself gives full marks.
    """
    solutions = solution_blocks(source)
    nb = student_version(source, keep=keep)
    found = [ex for ex in exercises(nb) if ex.graded and ex.label in solutions]
    for ex in found:
        cell = nb.cells[ex.learner_cell]
        cell.source = with_solution_region(cell.source, solutions[ex.label], parse_check(ex.checks[0]).answer)
    return add_nbgrader_metadata(nb, found)


# ----------------------------------------------------------------- otter-grader's master format


def _raw(text):
    return nbformat.v4.new_raw_cell(text)


def _quiet(call):
    """A checker call that prints nothing (otter's tests must not print)."""
    if "quiet=" in call:
        return call
    return call[:-1] + ("" if call.endswith("()") else ", ") + "quiet=True)"


def otter_version(source, name, keep=None):
    """An otter-grader *master* notebook of ``source`` for ``otter assign``.

    An ``# ASSIGNMENT CONFIG`` cell first; then each checked exercise is a question
    (``# BEGIN QUESTION``, ``name`` its label, 1 point) whose answer cell sits in a
    ``# BEGIN SOLUTION`` block, the solution inside ``# BEGIN SOLUTION`` / ``# END SOLUTION``
    lines (otter leaves ``...`` there), followed by a ``# BEGIN TESTS`` block that asserts
    its checker calls with ``quiet=True``. The other cells are the student version's.
    """
    solutions = solution_blocks(source)
    nb = student_version(source, keep=keep)
    found = {ex.learner_cell: ex for ex in exercises(nb) if ex.graded and ex.label in solutions}
    config = f"# ASSIGNMENT CONFIG\nname: {name}\nexport_cell: false\ncheck_all_cell: false\n"
    cells = [_raw(config)]
    for i, cell in enumerate(nb.cells):
        ex = found.get(i)
        if ex is None:
            cells.append(cell)
            continue
        answer = copy.deepcopy(cell)
        name = parse_check(ex.checks[0]).answer
        answer.source = with_solution_region(cell.source, solutions[ex.label], name, (BEGIN, END))
        tests = [nbformat.v4.new_code_cell(f"assert {_quiet(call)}") for call in ex.checks]
        cells += [
            _raw(f"# BEGIN QUESTION\nname: {ex.label}\npoints: {ex.points}"),
            _raw("# BEGIN SOLUTION"),
            answer,
            _raw("# END SOLUTION"),
            _raw("# BEGIN TESTS"),
            *tests,
            _raw("# END TESTS"),
            _raw("# END QUESTION"),
        ]
    nb.cells = cells
    return nb

"""The autograder: run each submitted notebook in its own kernel and score its exercises.

For every submission the grader

1. executes the notebook cell by cell in a fresh kernel, with a time limit per cell
   (a cell that loops forever is interrupted and the run goes on) and errors allowed
   (a crashing cell does not stop the rest);
2. reads the *visible* checks: what the learner's own checker calls printed;
3. runs the *hidden* checks: the same checkers, called again by the grader on the
   learner's functions, even if the learner deleted or changed the checking line
   (see :data:`HIDDEN_CHECK` for what a notebook cannot change about them);
4. scores each exercise: its points if the hidden check passed, else 0 with a reason.

A submission that cannot be read, whose kernel dies, or that runs past the total time
limit still gets a row per exercise with a score of 0 and the reason.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from lrcourse.assign.notebooks import BEGIN, exercises

MARK = "LRCOURSE_HIDDEN_CHECK"


@dataclass
class Score:
    """One exercise of one submission."""

    student: str
    exercise: str
    points: float
    max_points: float
    visible: str
    reason: str
    message: str = ""


def _text(outputs):
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "execute_result":
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


HIDDEN_CHECK = """\
import sys

for name in [m for m in sys.modules if m == "lrcourse" or m.startswith("lrcourse.")]:
    del sys.modules[name]
from lrcourse import checks

names = {k: v for k, v in user.items() if not k.startswith("__") and not hasattr(__builtins__, k)}
names["checks"] = checks
try:
    ok = all(bool(eval(call, names)) for call in calls)
except Exception as exc:
    print(MARK, index, "error", type(exc).__name__, exc)
else:
    print(MARK, index, "pass" if ok else "fail")
"""
"""The hidden check of one exercise, run in the submission's kernel after its last cell.

It trusts nothing the notebook may have changed: it imports the checkers afresh (a
notebook may have replaced ``checks.check_...``), runs in a namespace of its own with the
real builtins (a notebook may have defined its own ``bool`` or ``print``), and evaluates
the checker calls on the notebook's names. Its verdict counts only as the last line the
cell prints, in a cell that ended without an error, so a learner's function that prints
a verdict of its own and then stops the cell gains nothing.
"""


def _hidden_cell(ex, index):
    settings = {"calls": ex.checks, "index": index, "MARK": MARK}
    return nbformat.v4.new_code_cell(
        "import builtins as _lrcourse_builtins\n\n"
        f"_lrcourse_builtins.exec({HIDDEN_CHECK!r}, {{\n"
        '    "__builtins__": _lrcourse_builtins,\n'
        '    "user": _lrcourse_builtins.dict(_lrcourse_builtins.globals()),\n'
        f"    **{settings!r},\n"
        "})\n"
    )


def _visible_result(nb, ex):
    """What the learner's last own checker call showed: 'passed', 'failed', 'not run' or 'missing'."""
    for cell in reversed(nb.cells):
        if (
            cell.cell_type == "code"
            and MARK not in cell.source
            and any(call in cell.source for call in ex.checks)
        ):
            text = _text(cell.get("outputs", []))
            if not text:
                return "not run"
            return "passed" if "✔" in text or text.rstrip().endswith("True") else "failed"
    return "missing"


def grade_notebook(path, reference, cell_timeout=60, total_timeout=600, student=None):
    """Score one submission against the exercises of ``reference`` (a notebook path)."""
    from nbclient import NotebookClient

    student = student or Path(path).stem
    graded = [ex for ex in exercises(nbformat.read(reference, as_version=4)) if ex.graded]

    def all_zero(reason):
        return [Score(student, ex.label, 0.0, ex.points, "missing", reason) for ex in graded]

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # an unreadable file is a result, not a crash of the batch
        return all_zero(f"the notebook could not be read ({type(exc).__name__}: {exc})")
    first = len(nb.cells)
    nb.cells += [_hidden_cell(ex, i) for i, ex in enumerate(graded)]
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    problems, start = [], time.monotonic()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if index < first and time.monotonic() - start > total_timeout:
                    problems.append(f"stopped after {total_timeout:g} s in total")
                    break
                client.execute_cell(cell, index)
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if index < first and errors:
                    kind = errors[0].get("ename")
                    what = f"ran longer than {cell_timeout:g} s" if kind == "KeyboardInterrupt" else kind
                    problems.append(f"cell {index} {what}")
    except Exception as exc:  # a dead kernel or a broken client still yields a score
        return all_zero(f"the notebook could not be run ({type(exc).__name__}: {exc})")

    hidden, messages = {}, {}
    for k, cell in enumerate(nb.cells[first:]):
        lines = _text(cell.outputs).splitlines()
        messages[k] = "\n".join(line for line in lines if not line.startswith(MARK)).strip()
        errors = [o.get("ename") for o in cell.outputs if o.get("output_type") == "error"]
        verdict = re.fullmatch(rf"{MARK} {k} (.*)", lines[-1]) if lines and not errors else None
        if verdict:
            hidden[k] = verdict.group(1)
        elif "KeyboardInterrupt" in errors:
            hidden[k] = f"timeout: the check ran longer than {cell_timeout:g} s"
        elif errors:
            hidden[k] = f"the check did not finish ({errors[0]})"
    scores = []
    for i, ex in enumerate(graded):
        result = hidden.get(i, "no result")
        visible = _visible_result(nb, ex)
        if result == "pass":
            scores.append(
                Score(student, ex.label, float(ex.points), ex.points, visible, "passed", messages.get(i, ""))
            )
            continue
        if result.startswith("error NameError"):
            reason = "the function to write is not defined (was its cell deleted, or did it crash?)"
        elif result.startswith("error"):
            reason = "the check raised " + result[len("error ") :]
        elif result == "fail":
            reason = "not yet solved or wrong: the checker's message is in the feedback"
        else:
            reason = result
        if problems:
            reason += "; " + "; ".join(problems[:3])
        scores.append(Score(student, ex.label, 0.0, ex.points, visible, reason, messages.get(i, "")))
    return scores


def _grade_one(args):
    path, reference, cell_timeout, total_timeout = args
    return grade_notebook(path, reference, cell_timeout, total_timeout)


def grade_folder(folder, reference, out_dir, jobs=None, cell_timeout=60, total_timeout=600):
    """Grade every ``*.ipynb`` in ``folder`` in parallel; write scores and feedback to ``out_dir``.

    ``reference`` is the student notebook the class was given (a student version or a
    sheet): its checked exercises are the ones graded.

    Writes ``scores.csv`` and ``scores.json`` (one row per student and exercise),
    ``totals.csv`` (one row per student) and ``feedback/<student>.md``. Returns the scores.
    """
    paths = sorted(Path(folder).glob("*.ipynb"))
    if not paths:
        raise ValueError(f"folder must hold submitted notebooks (*.ipynb), found none in {folder}")
    handed_out = nbformat.read(reference, as_version=4)
    if any(cell.cell_type == "code" and BEGIN in cell.source for cell in handed_out.cells):
        raise ValueError(
            f"reference must be the student notebook you handed out (its exercises are the ones "
            f"graded), got {reference}, which holds the solutions: make it with "
            "python -m lrcourse.assign student"
        )
    jobs = jobs or max(1, os.cpu_count() or 1)
    work = [(str(p), str(reference), cell_timeout, total_timeout) for p in paths]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        scores = [s for result in pool.map(_grade_one, work) for s in result]
    write_reports(scores, out_dir)
    return scores


def write_reports(scores, out_dir):
    """The score table (CSV and JSON), totals per student and a feedback file per student."""
    out = Path(out_dir)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    rows = [asdict(s) for s in scores]
    fields = list(rows[0]) if rows else [f for f in Score.__dataclass_fields__]
    with open(out / "scores.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (out / "scores.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    students = sorted({s.student for s in scores})
    with open(out / "totals.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "points", "max_points"])
        for name in students:
            mine = [s for s in scores if s.student == name]
            writer.writerow([name, sum(s.points for s in mine), sum(s.max_points for s in mine)])
            lines = [f"# Feedback for {name}", ""]
            for s in mine:
                lines.append(f"## {s.exercise}: {s.points:g} / {s.max_points:g}")
                lines += ["", f"{s.reason[:1].upper()}{s.reason[1:]}.", ""]
                if s.message:
                    lines += ["What the checker said:", "", "```text", s.message, "```", ""]
            got = sum(s.points for s in mine)
            lines += ["", f"Total: {got:g} / {sum(s.max_points for s in mine):g}."]
            (out / "feedback" / f"{name}.md").write_text("\n".join(lines) + "\n")

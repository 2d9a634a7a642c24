"""The autograder: each submission's code runs in a sandbox, its checks run in the grader.

For every submission the grader

1. builds the program to run: the cells of the notebook the class was handed
   (``reference``), as handed out, except each exercise's answer cell, taken from the
   submission, and the cells the student added, which run where the student put them.
   Edits to the other cells are not run (a student cannot change the data a check
   uses, or the checker calls);
2. runs it in a fresh sandbox (:mod:`lrcourse.assign.sandbox`): an empty temporary
   folder, no network, limits on memory and time, and with bubblewrap no view of the
   other submissions, the keys, the course sources or the checker modules; each cell is
   stopped after ``cell_timeout`` seconds, and the whole submission after
   ``total_timeout`` (its processes are killed);
3. runs every checker of the exercises *here*, in the grader's process, with the
   references only it can import. When a checker calls the student's function, the
   call is sent to the sandbox and its result comes back as plain numbers and arrays
   (:mod:`lrcourse.assign.wire`): nothing the student's code does in the sandbox
   changes a checker, a reference, the comparison or the verdict;
4. scores each exercise: its points if the check passed, else 0 with the reason and
   the checker's message.

The reports are written by the grader alone, after each submission. ``visible`` says
what the learner's own checker call showed in the notebook as handed in (``passed``,
``failed``, ``not run`` or ``missing``): a submission whose saved output says passed
while the grader's check fails deserves a look.

What the grader does not defend against is in the instructor guide: a student's code
can still compute the answer with the course package (``lrcourse.optimizers`` steps
as ``gradient_step`` does, say), so read the code of the exercises that count.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import select
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
import numpy as np

from lrcourse.assign import sandbox, wire
from lrcourse.assign.notebooks import BEGIN, _is_setup, exercises, parse_check

GRACE_S = 5.0  # beyond a cell's or a call's own limit, before the sandbox is killed


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


def _visible_result(nb, ex):
    """What the learner's last own checker call showed: 'passed', 'failed', 'not run' or 'missing'."""
    for cell in reversed(nb.cells):
        if cell.cell_type == "code" and any(call in cell.source for call in ex.checks):
            text = _text(cell.get("outputs", []))
            if not text:
                return "not run"
            return "passed" if "✔" in text or text.rstrip().endswith("True") else "failed"
    return "missing"


# ----------------------------------------------------------------- what runs where


def _answer_cell(submission, cell, ex):
    """The submission's cell answering ``ex``: the handed-out cell's id, else the cell that
    calls its checker or defines its answer; ``None`` if there is none."""
    cid = cell.get("id")
    for c in submission.cells:
        if c.cell_type == "code" and cid and c.get("id") == cid:
            return c
    names = [parse_check(call).answer for call in ex.checks]
    defines = [re.compile(rf"^(def\s+{re.escape(n)}\s*\(|{re.escape(n)}\s*=)", re.M) for n in names]
    for c in submission.cells:
        if c.cell_type == "code" and (
            any(call in c.source for call in ex.checks) or any(d.search(c.source) for d in defines)
        ):
            return c
    return None


def program(reference, submission, graded):
    """The cells to run for ``submission``, as ``[(source, what)]``, and the number of
    handed-out cells the student edited (their edits are not run).

    ``what`` is ``"given"`` (a handed-out cell, run as handed out), ``"answer <label>"``
    (an answer cell, run as the student wrote it) or ``"added"`` (a cell the student
    added, run right after the handed-out cell above it). A submission cell is matched to
    a handed-out one by its id, or else by its unchanged source (a notebook saved by a
    tool that drops cell ids).
    """
    answers = {ex.learner_cell: ex for ex in graded}
    code = {i: c for i, c in enumerate(reference.cells) if c.cell_type == "code"}
    by_id = {c.get("id"): c for c in reference.cells if c.get("id")}
    sources = {}
    for c in code.values():
        sources.setdefault(c.source, c)
    mine = {i: _answer_cell(submission, code[i], ex) for i, ex in answers.items() if i in code}
    chosen = {id(c) for c in mine.values() if c is not None}
    added, anchor, edited = {}, None, 0  # anchor: the handed-out cell above, by identity
    for c in submission.cells:
        match = by_id.get(c.get("id")) if c.get("id") in by_id else sources.get(c.source)
        if match is not None:
            anchor = id(match)
            edited += int(id(c) not in chosen and c.cell_type == "code" and c.source != match.source)
        elif c.cell_type == "code" and id(c) not in chosen and c.source.strip():
            added.setdefault(anchor, []).append(c.source)
    cells = [(source, "added") for source in added.get(None, [])]
    for i, cell in enumerate(reference.cells):
        if i in answers:
            if mine.get(i) is not None:
                cells.append((mine[i].source, f"answer {answers[i].label}"))
        elif i in code:
            cells.append((cell.source, "given"))
        cells += [(source, "added") for source in added.get(id(cell), [])]
    return cells, edited


_GIVEN_CACHE = {}


def given_values(reference_path, reference, ex, check):
    """The values of ``check``'s other arguments (the curves to label, say), computed here
    from the handed-out notebook's cells that define them: never from the student's code."""
    from lrcourse.assign.learner import _names, without_magics

    if not check.given and not check.given_kw:
        return [], {}
    key = (str(reference_path), ex.label, check.checker)
    if key not in _GIVEN_CACHE:
        exprs = check.given + list(check.given_kw.values())
        needed = set().union(*(_names(f"_ = {e}")[1] for e in exprs))
        chosen = []
        for cell in reversed(reference.cells[: ex.learner_cell]):
            if cell.cell_type != "code":
                continue
            defined, used = _names(cell.source)
            if defined & needed or _is_setup(cell):
                chosen.insert(0, cell.source)
                needed = (needed - defined) | used
        namespace = {}
        for source in chosen:
            exec(compile(without_magics(source), "<handed-out cell>", "exec"), namespace)  # noqa: S102  (the instructor's code)
        _GIVEN_CACHE[key] = (
            [eval(e, namespace) for e in check.given],  # noqa: S307
            {k: eval(e, namespace) for k, e in check.given_kw.items()},  # noqa: S307
        )
    return copy.deepcopy(_GIVEN_CACHE[key])  # a check may hand them to the student's function


# ----------------------------------------------------------------- talking to the sandbox


class Stopped(BaseException):
    """The sandbox ran out of time or went silent: no more calls to it.

    A ``BaseException``: the checkers catch every ``Exception`` a learner's function
    raises, and this one must reach the grader.
    """


class CallTimeout(BaseException):
    """One call of the student's function ran out of time (the sandbox is still alive)."""


class Session:
    """One submission's sandbox and the channel to it."""

    def __init__(self, workdir, isolation, memory_mb, total_timeout, stub):
        self.deadline = time.monotonic() + total_timeout
        self.total_timeout = total_timeout
        argv = [sys.executable, "-I", "-m", "lrcourse.assign.answers"]  # -I: not the current folder
        self.proc = sandbox.spawn(
            argv, workdir, isolation=isolation, memory_mb=memory_mb, cpu_seconds=total_timeout, stub=stub
        )
        self.buffer = b""

    def send(self, obj):
        try:
            self.proc.stdin.write(wire.to_sandbox(obj))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise Stopped("its process ended") from None

    def recv(self, timeout, late):
        """The next message, waiting at most ``timeout`` s (and never past the total time);
        ``late`` says what went wrong if none comes."""
        end = min(time.monotonic() + timeout, self.deadline)
        fd = self.proc.stdout.fileno()
        while True:
            payload, self.buffer = wire.unframe(self.buffer)
            if payload is not None:
                message = wire.from_sandbox(payload)
                if not isinstance(message, dict):
                    raise wire.WireError("a message that is not a dict")
                return message
            left = end - time.monotonic()
            if left <= 0:
                total = time.monotonic() >= self.deadline
                raise Stopped(f"stopped after {self.total_timeout:g} s in total" if total else late)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise Stopped("its process ended")
                self.buffer += chunk

    def close(self):
        sandbox.stop(self.proc)


def _learner_error(name):
    """An exception class named as the student's was (a plain identifier, at most 60 characters)."""
    name = name if name.isidentifier() and len(name) <= 60 else "Exception"
    return type(name, (Exception,), {})


class Remote:
    """Stands for the student's function in a checker: each call runs in the sandbox."""

    def __init__(self, session, index, name, call_timeout):
        self.session, self.index, self.__name__, self.call_timeout = session, index, name, call_timeout

    def __call__(self, *args, **kwargs):
        self.session.send(("call", self.index, args, kwargs))
        reply = self.session.recv(
            self.call_timeout + GRACE_S,
            f"a call of {self.__name__} ran past its limit of {self.call_timeout:g} s and ignored the interrupt",
        )
        if "timeout" in reply:
            raise CallTimeout(f"a call of {self.__name__} ran longer than {self.call_timeout:g} s")
        if "raised" in reply:
            kind, text = (str(x) for x in reply["raised"])
            if kind == "NotImplementedError":
                raise NotImplementedError(text)
            raise _learner_error(kind)(text)
        if "unreadable" in reply:
            raise TypeError(f"it returned {reply['unreadable']}, which the grader cannot read")
        result = reply.get("result")
        if isinstance(reply.get("function"), int):  # a function it returned: called there too
            result = Remote(
                self.session, reply["function"], f"what {self.__name__} returned", self.call_timeout
            )
        for before, after in [*zip(args, reply.get("args", []), strict=False)] + [
            (kwargs[k], v) for k, v in reply.get("kwargs", {}).items() if k in kwargs
        ]:
            if (
                isinstance(before, np.ndarray)
                and isinstance(after, np.ndarray)
                and before.shape == after.shape
            ):
                before[...] = after  # what the call did to its input, for the checker to see
        return result


# ----------------------------------------------------------------- one submission


def grade_notebook(
    path,
    reference,
    cell_timeout=60,
    total_timeout=600,
    student=None,
    *,
    call_timeout=10,
    isolation="auto",
    memory_mb=2048,
):
    """Score one submission against the exercises of ``reference`` (the notebook handed out)."""
    from lrcourse import checks

    isolation = sandbox.resolve(isolation)
    student = student or Path(path).stem
    handed_out = nbformat.read(reference, as_version=4)
    graded = [ex for ex in exercises(handed_out) if ex.graded]

    def all_zero(reason):
        return [Score(student, ex.label, 0.0, ex.points, "missing", reason) for ex in graded]

    try:
        nb = nbformat.read(path, as_version=4)
        cells, edited = program(handed_out, nb, graded)
    except Exception as exc:  # an unreadable file is a result, not a crash of the batch
        return all_zero(f"the notebook could not be read ({type(exc).__name__}: {exc})")
    calls = [(ex, parse_check(call)) for ex in graded for call in ex.checks]
    results = {ex.label: [] for ex in graded}  # label -> [(passed, reason, message)]
    problems = []  # (label or None for every exercise, what went wrong in a cell)
    if edited:
        problems.append(
            (None, f"your edits to {edited} handed-out cell(s) were not run (add new cells instead)")
        )
    with tempfile.TemporaryDirectory(prefix="lrcourse-grade-") as tmp:
        stub = Path(tmp) / "checks_stub.py"
        stub.write_text(sandbox.STUB_CHECKS)
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        session = Session(workdir, isolation, memory_mb, total_timeout, stub)
        try:
            session.send(
                {
                    "cells": [source for source, _ in cells],
                    "answers": [check.answer for _, check in calls],
                    "cell_timeout": cell_timeout,
                    "call_timeout": call_timeout,
                }
            )
            late = f"a cell ran past its limit of {cell_timeout:g} s and ignored the interrupt"
            for i, (_, what) in enumerate(cells):
                reply = session.recv(cell_timeout + GRACE_S, late)
                if reply.get("cell") != i:
                    raise wire.WireError(f"expected the end of cell {i}, got {str(reply)[:80]}")
                if reply.get("error"):
                    kind = str(reply["error"][0])
                    done = f"ran longer than {cell_timeout:g} s" if kind == "Timeout" else f"raised {kind}"
                    label = what.split(" ", 1)[1] if what.startswith("answer") else None
                    where = {"given": "a handed-out cell", "added": "a cell you added"}.get(
                        what, "your answer cell"
                    )
                    problems.append((label, f"{where} {done}"))
            late = f"reading the answers took longer than {call_timeout:g} s each"
            answers = session.recv(call_timeout * len(calls) + GRACE_S, late).get("answers")
            if not (isinstance(answers, list) and len(answers) == len(calls)):
                raise wire.WireError("the answers did not come as one entry per check")
            for i, (ex, check) in enumerate(calls):
                if not isinstance(answers[i], dict):
                    raise wire.WireError(f"answer {i} is not a dict")
                results[ex.label].append(
                    _run_check(session, i, answers[i], ex, check, reference, handed_out, checks, call_timeout)
                )
        except Stopped as exc:
            for ex in graded:
                if len(results[ex.label]) < len(ex.checks):
                    results[ex.label].append((False, f"the check did not finish: {exc}", ""))
        except Exception as exc:  # noqa: BLE001  (garbled messages: the student's code wrote them)
            for ex in graded:
                if len(results[ex.label]) < len(ex.checks):
                    results[ex.label].append((False, f"the sandbox's answer was garbled ({exc})", ""))
        finally:
            session.close()
    scores = []
    for ex in graded:
        visible = _visible_result(nb, ex)
        outcome = results[ex.label]
        if outcome and all(passed for passed, _, _ in outcome):
            message = "\n".join(m for _, _, m in outcome)
            scores.append(Score(student, ex.label, float(ex.points), ex.points, visible, "passed", message))
            continue
        _, reason, message = next(o for o in outcome if not o[0]) if outcome else (False, "no result", "")
        mine = [text for label, text in problems if label in (None, ex.label)]
        if mine:
            reason += "; " + "; ".join(dict.fromkeys(mine[:3]))
        scores.append(Score(student, ex.label, 0.0, ex.points, visible, reason, message))
    return scores


def _run_check(session, index, answer, ex, check, reference_path, reference, checks, call_timeout):
    """``(passed, reason, message)`` of one checker call, the checker running here."""
    kind = answer.get("kind")
    if kind == "missing":
        error = answer.get("error") or ["", ""]
        if error[0] == "NameError":
            return False, "the function to write is not defined (was its cell deleted, or did it crash?)", ""
        return False, f"the answer could not be read: {error[0]}: {error[1]}", ""
    if kind == "unreadable":
        return False, f"the answer is {answer.get('type')}, which the grader cannot read", ""
    if kind == "function":
        learner = Remote(session, index, check.answer, call_timeout)
    elif kind == "stub":
        learner = None if answer.get("value") is None else Ellipsis
    else:
        learner = answer.get("value")
    checker = getattr(checks, check.checker, None)
    if not callable(checker) or not check.checker.startswith("check_"):
        return False, f"the grader has no checker {check.checker!r}", ""
    try:
        given, given_kw = given_values(reference_path, reference, ex, check)
    except Exception as exc:  # noqa: BLE001  (the handed-out notebook itself is broken)
        return False, f"the check's inputs could not be computed ({type(exc).__name__}: {exc})", ""
    try:
        result = checker(learner, *given, **given_kw, quiet=True)
    except CallTimeout as exc:
        return False, f"timeout: {exc}", ""
    if result.passed:
        return True, "passed", result.message
    text = result.message
    if "not yet solved" in text:
        reason = "not yet solved: the checker's message is in the feedback"
    elif " raised " in text.splitlines()[0]:
        reason = "the function raised " + text.splitlines()[0].split(" raised ", 1)[1]
    else:
        reason = "wrong: the checker's message is in the feedback"
    return False, reason, text


# ----------------------------------------------------------------- a class


def _grade_one(args):
    path, reference, options = args
    try:
        return grade_notebook(path, reference, **options)
    except Exception as exc:  # noqa: BLE001  (a bug of the grader's must not stop the batch)
        ex_list = [ex for ex in exercises(nbformat.read(reference, as_version=4)) if ex.graded]
        reason = f"the grader failed on this notebook ({type(exc).__name__}: {exc}); please report it"
        return [Score(Path(path).stem, ex.label, 0.0, ex.points, "missing", reason) for ex in ex_list]


def grade_folder(
    folder,
    reference,
    out_dir,
    jobs=None,
    cell_timeout=60,
    total_timeout=600,
    *,
    call_timeout=10,
    isolation="auto",
    memory_mb=2048,
):
    """Grade every ``*.ipynb`` in ``folder`` in parallel; write scores and feedback to ``out_dir``.

    ``reference`` is the student notebook the class was given (a student version or a
    sheet): its checked exercises are the ones graded.

    Writes ``scores.csv`` and ``scores.json`` (one row per student and exercise),
    ``totals.csv`` (one row per student) and ``feedback/<student>.md``, after each
    submission. Returns the scores.
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
    for name, value, low in (("cell_timeout", cell_timeout, 1), ("call_timeout", call_timeout, 1)):
        if not value >= low:
            raise ValueError(f"{name} must be at least {low} s, got {value}")
    if not memory_mb >= 256:
        raise ValueError(f"memory_mb must be at least 256, got {memory_mb}")
    options = dict(
        cell_timeout=cell_timeout,
        total_timeout=total_timeout,
        call_timeout=call_timeout,
        isolation=sandbox.resolve(isolation),
        memory_mb=memory_mb,
    )
    jobs = jobs or max(1, os.cpu_count() or 1)
    scores = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_grade_one, (str(p), str(reference), options)) for p in paths]
        for future in as_completed(futures):
            scores += future.result()
            write_reports(sorted(scores, key=lambda s: s.student), out_dir)
    return sorted(scores, key=lambda s: s.student)


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

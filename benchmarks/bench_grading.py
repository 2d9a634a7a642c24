"""How long does the autograder take for a class? Prints seconds for 100 submissions.

    python benchmarks/bench_grading.py [--students 100] [--jobs N]

The class hands in the student version of chapter 1 (all its checked exercises). The
submissions are generated from the chapter itself: most solved, some half-solved, some
untouched, a few that crash and a few whose function loops forever (each such call is
stopped after the grader's call limit, 10 s). They are graded with
``lrcourse.assign.grade_folder`` as the command line does, each in its own sandbox
(bubblewrap where it works here; the script says which), ``jobs`` in parallel (default:
one per CPU). The script checks that every submission got the score it deserves and exits
with status 1 if not, or if grading took longer than the budget of 10 minutes.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from lrcourse.assign import grade_folder, notebooks, sandbox

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "book" / "01_gradient_descent" / "index.ipynb"
BUDGET_S = 600.0

# Share of the class in each state, and the points (of 3) each deserves.
MIX = {"solved": (0.70, 3), "half": (0.15, 2), "untouched": (0.09, 0), "crash": (0.04, 2), "loop": (0.02, 2)}


def _replace_function(nb, name, body):
    """A copy of ``nb`` whose cell defining ``name`` holds ``body`` instead (and no check)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {name}(" in cell.source:
            cell.source = body
    return nb


def submissions(n):
    """``n`` submissions of chapter 1 as (name, notebook, expected points)."""
    source = notebooks.read(CHAPTER)
    labels = {ex.label for ex in notebooks.exercises(source) if ex.graded}
    solved = notebooks.select(source, labels, with_solutions=True)
    half = _replace_function(
        solved, "gradient_descent", "def gradient_descent(grad, x0, lr, steps):\n    return x0\n"
    )
    crash = copy.deepcopy(half)
    crash.cells.insert(2, nbformat.v4.new_code_cell("1 / 0  # a slip while experimenting"))
    loop = _replace_function(
        solved,
        "gradient_descent",
        "def gradient_descent(grad, x0, lr, steps):\n    while True:\n        pass\n",
    )
    kinds = {
        "solved": solved,
        "half": half,
        "untouched": notebooks.student_version(source),
        "crash": crash,
        "loop": loop,
    }
    out = []
    for kind, (share, points) in MIX.items():
        count = round(share * n)
        out += [(f"{kind}-{i:03d}", kinds[kind], points) for i in range(count)]
    return out[:n]


def measure(n=100, jobs=None):
    """Grade ``n`` generated submissions; return seconds, the class size and any wrong score."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        expected = {}
        for name, nb, points in submissions(n):
            nbformat.write(nb, folder / f"{name}.ipynb")
            expected[name] = points
        reference = Path(tmp) / "sheet.ipynb"
        nbformat.write(notebooks.student_version(notebooks.read(CHAPTER)), reference)
        start = time.perf_counter()
        scores = grade_folder(folder, reference, Path(tmp) / "grades", jobs=jobs)
        seconds = time.perf_counter() - start
    totals = {}
    for s in scores:
        totals[s.student] = totals.get(s.student, 0.0) + s.points
    wrong = {name: (totals.get(name), want) for name, want in expected.items() if totals.get(name) != want}
    return {
        "seconds": seconds,
        "students": len(expected),
        "jobs": jobs or os.cpu_count(),
        "wrong": wrong,
        "isolation": sandbox.resolve("auto"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    result = measure(args.students, args.jobs)
    print(
        f"graded {result['students']} submissions of chapter 1 in {result['seconds']:.0f} s "
        f"({result['jobs']} in parallel; {result['seconds'] / result['students']:.1f} s each on average; "
        f"sandbox: {result['isolation']})"
    )
    if result["wrong"]:
        print(f"WRONG SCORES (got, expected): {result['wrong']}")
    ok = not result["wrong"] and result["seconds"] < BUDGET_S
    print("budget (10 minutes, right scores):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The instructor kit: student versions, answer keys and an autograder, from the chapters.

One source of truth: the chapter notebooks, with their solutions between
``# BEGIN SOLUTION`` / ``# END SOLUTION`` (inside sphinx-exercise solution blocks) and
their checks from :mod:`lrcourse.checks`. Everything here is generated from them::

    python -m lrcourse.assign labels  book/*/*.ipynb
    python -m lrcourse.assign student book/01_gradient_descent/index.ipynb -o dist/student
    python -m lrcourse.assign key     book/01_gradient_descent/index.ipynb -o dist/key
    python -m lrcourse.assign grade   submissions/ --reference dist/student/01_gradient_descent.ipynb -o dist/grades

Each subcommand has ``--help``. The instructor guide in the book walks through them.

The names below are imported when first used: the grader's sandbox imports
:mod:`lrcourse.assign.answers` alone, without nbformat (whose import takes a second or two).
"""

import importlib

_WHERE = {
    "Score": "grade",
    "grade_folder": "grade",
    "grade_notebook": "grade",
    "Exercise": "notebooks",
    "exercises": "notebooks",
    "solution_lines": "notebooks",
    "student_version": "notebooks",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"lrcourse.assign.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'lrcourse.assign' has no attribute {name!r}")

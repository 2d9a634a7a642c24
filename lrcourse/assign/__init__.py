"""The instructor kit: student versions, answer keys and an autograder, from the chapters.

One source of truth: the chapter notebooks, with their solutions between
``# BEGIN SOLUTION`` / ``# END SOLUTION`` (inside sphinx-exercise solution blocks) and
their checks from :mod:`lrcourse.checks`. Everything here is generated from them::

    python -m lrcourse.assign labels  book/*/*.ipynb
    python -m lrcourse.assign student book/01_gradient_descent/index.ipynb -o dist/student
    python -m lrcourse.assign key     book/01_gradient_descent/index.ipynb -o dist/key
    python -m lrcourse.assign grade   submissions/ --reference book/01_gradient_descent/index.ipynb -o dist/grades

Each subcommand has ``--help``. The instructor guide in the book walks through them.
"""

from lrcourse.assign.grade import Score, grade_folder, grade_notebook
from lrcourse.assign.notebooks import Exercise, exercises, solution_lines, student_version

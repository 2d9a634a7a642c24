"""What the checkers hand to a learner's code: test functions, curves and data.

Nothing here is an answer: no reference solution and no expected value. The
autograder (:mod:`lrcourse.assign.grade`) runs a learner's code in a sandbox that
sees this module and none of the other checker modules, so the objects a check
passes to the learner's function must come from here.
"""

from __future__ import annotations

import functools
import textwrap

import numpy as np

# ----------------------------------------------------------------- chapter 1


def _bowl(x):
    """f(x) = sum of x_i^2 / 2 (a round bowl)"""
    return 0.5 * float(np.sum(x**2))


def _banana(x):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock)"""
    return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)


def _wavy(x):
    """f(x) = sum of sin(x_i) + x_1 * x_2 * ... (a wavy surface)"""
    return float(np.sum(np.sin(x)) + np.prod(x))


def _grad_bowl(x):
    """the gradient of a bowl, (x, 10 y)"""
    return np.array([1.0, 10.0]) * x


def _grad_valleys(x):
    """the gradient of two_valleys, x^3 - x^2 - 2x"""
    return x**3 - x**2 - 2 * x


# ----------------------------------------------------------------- chapter 5

PLATEAU_METRICS = (1.00, 0.80, 0.70, 0.71, 0.69, 0.69, 0.70, 0.70, 0.65, 0.67, 0.66, 0.66, 0.66)
"""Validation losses after epochs 1, 2, ... for the prediction exercise."""

# ----------------------------------------------------------------- chapter 7


class _Curve(list):
    """A list of losses whose repr wraps, so that the checker's messages fit an exercise box."""

    def __repr__(self):
        items = ", ".join(f"{v:g}" for v in self)
        return "[" + textwrap.fill(items, 43, subsequent_indent="    ") + "]"


# ----------------------------------------------------------------- chapter 10


def matvec(matrix, label):
    """``v -> matrix @ v``, a symmetric matrix known only through its products.

    A :func:`functools.partial` of :func:`numpy.dot`, so that it pickles by reference to
    numpy alone (the grader sends it to the sandbox), with a docstring that names the
    matrix by its eigenvalues, which is what a checker's message shows.
    """
    product = functools.partial(np.dot, np.asarray(matrix, dtype=np.float64))
    product.__doc__ = f"A @ v, A with {label}"
    return product


def symmetric_matrix(eigenvalues, seed=0):
    """A symmetric matrix with the given eigenvalues, in a random orthonormal basis (seeded)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((eigenvalues.size, eigenvalues.size)))
    return Q @ np.diag(eigenvalues) @ Q.T

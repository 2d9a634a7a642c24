r"""Checkers for the chapter on stability and scaling (chapter 10), the edge of stability.

- :func:`check_largest_eigenvalue`: ``largest_eigenvalue(matvec, v0, steps=100)`` returns
  the eigenvalue of largest magnitude of a symmetric matrix known only through its
  products, by power iteration (the reference is
  :func:`lrcourse.labs.stability.power_iteration`).
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function
from lrcourse.checks.inputs import matvec, symmetric_matrix
from lrcourse.labs.stability import power_iteration

__all__ = ["check_largest_eigenvalue"]


def _reference(matvec, v0, steps=100):
    return power_iteration(matvec, v0, steps)[0]


def _rayleigh_of_start(matvec, v0, steps=100):
    v = np.asarray(v0, dtype=np.float64)
    return float(v @ matvec(v) / (v @ v))


def _unnormalised(matvec, v0, steps=100):
    v = np.asarray(v0, dtype=np.float64)
    for _ in range(steps - 1):
        v = matvec(v)
    return float(v @ matvec(v))


def _matrix(eigenvalues, label, seed=0):
    return matvec(symmetric_matrix(eigenvalues, seed), label)


def _random_case(rng):
    n = int(rng.integers(2, 8))
    top = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 20.0))
    rest = rng.uniform(-0.5, 0.5, n - 1) * abs(top)  # a gap: 100 steps converge to round-off
    eigenvalues = np.concatenate([[top], rest])
    seed = int(rng.integers(0, 1000))
    label = f"top eigenvalue {top:.4g} ({n} x {n})"
    return Case((_matrix(eigenvalues, label, seed), rng.standard_normal(n)))


def check_largest_eigenvalue(largest_eigenvalue, quiet=False, record=None):
    """Chapter 10: ``largest_eigenvalue(matvec, v0, steps=100)`` by power iteration (a number)."""
    cases = [
        Case((_matrix([15.0, 1.0], "eigenvalues 15, 1 (chapter 2)"), np.ones(2))),
        Case((_matrix([5.0, 2.0, -1.0], "eigenvalues 5, 2, -1", seed=1), np.ones(3))),
        Case(
            (_matrix([-4.0, 1.0, 0.5], "eigenvalues -4, 1, 0.5", 2),),
            {"v0": np.array([1.0, -2.0, 0.5])},
            label="a negative top eigenvalue",
        ),
        Case((_matrix([0.3, 0.1, 0.05, 0.01], "eigenvalues 0.3, 0.1, 0.05, 0.01", 3), np.ones(4))),
        Case((_matrix([8.0, 4.0], "eigenvalues 8 and 4", 4), np.array([3.0, 1.0])), {"steps": 200}),
    ]
    mistakes = [
        (
            lambda m, v0, steps=100: abs(_reference(m, v0, steps)),
            "the size is right but the sign is lost: the length of A v is |lambda|. "
            "The Rayleigh quotient v @ matvec(v) of the unit vector v keeps the sign.",
        ),
        (
            _rayleigh_of_start,
            "this is the Rayleigh quotient of the starting vector. Repeat the step "
            "v <- A v / |A v| `steps` times first, then take v @ matvec(v).",
        ),
        (
            _unnormalised,
            "v @ A v is the eigenvalue only when v has length 1. Divide A v by its "
            "length at every step (it grows or shrinks like lambda^k otherwise).",
        ),
    ]
    return check_function(
        largest_eigenvalue,
        _reference,
        cases,
        name="largest_eigenvalue",
        random_case=_random_case,
        arg_names=["matvec", "v0"],
        mistakes=mistakes,
        hint=(
            "normalise v0, then repeat: w = matvec(v), eigenvalue = v @ w, v = w / |w|. "
            "Return the eigenvalue as a number."
        ),
        rtol=1e-6,
        atol=1e-9,
        quiet=quiet,
        record=record,
    )

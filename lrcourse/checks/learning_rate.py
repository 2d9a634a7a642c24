"""Checkers for the chapter on the learning rate.

- :func:`check_stability_limit`: ``stability_limit(H)`` returns :math:`2/\\lambda_{\\max}(H)`,
  the largest rate at which gradient descent on a quadratic with Hessian ``H`` converges.
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function

__all__ = ["check_stability_limit"]


def _largest(H):
    return float(np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))[-1])


def _ref_stability_limit(H):
    return 2.0 / _largest(H)


def _random_hessian(rng):
    """A random symmetric positive-definite matrix with well separated eigenvalues."""
    d = int(rng.integers(2, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eigenvalues = np.sort(rng.uniform(0.2, 20.0, size=d))
    H = Q @ np.diag(eigenvalues) @ Q.T
    return ((H + H.T) / 2,)


def check_stability_limit(stability_limit, quiet=False, record=None):
    """Chapter 2: ``stability_limit(H)`` returns ``2 / (largest eigenvalue of H)``, a number."""
    cases = [
        Case((np.diag([1.0, 15.0]),), label="the bowl of this chapter, diag(1, 15)"),
        Case((np.array([[2.0, 1.0], [1.0, 2.0]]),), label="a rotated bowl, eigenvalues 3 and 1"),
        Case((np.array([[4.0]]),), label="one parameter, curvature 4"),
        Case((np.array([[5.0, 2.0, 0.0], [2.0, 3.0, 1.0], [0.0, 1.0, 8.0]]),), label="three parameters"),
    ]
    mistakes = [
        (
            lambda H: 1.0 / _largest(H),
            "that is 1/L, where the oscillation starts; gradient descent still converges up to twice that.",
        ),
        (
            lambda H: 2.0 / float(np.real(np.linalg.eigvals(H))[-1]),
            "np.linalg.eigvals does not sort the eigenvalues, so the last one need not be "
            "the largest; use np.linalg.eigvalsh(H), which sorts them in ascending order.",
        ),
        (
            lambda H: 2.0 / float(np.linalg.eigvalsh(H)[0]),
            "you used the smallest eigenvalue; the steepest direction (the largest eigenvalue) sets the limit.",
        ),
        (
            lambda H: 2.0 / float(np.max(np.diag(H))),
            "the diagonal entries are the eigenvalues only for a diagonal H; "
            "compute them with np.linalg.eigvalsh(H).",
        ),
        (
            lambda H: 2.0 / float(np.max(H)),
            "the largest entry of H is not its largest eigenvalue; use np.linalg.eigvalsh(H).",
        ),
        (
            lambda H: 2.0 / float(np.trace(H)),
            "the trace is the sum of all eigenvalues; take the largest one.",
        ),
        (lambda H: 2.0 * _largest(H), "the limit is 2 divided by the largest eigenvalue, not multiplied."),
        (lambda H: _largest(H), "you returned the largest eigenvalue L itself; the limit is 2 / L."),
    ]

    def compare(got, expected):
        if isinstance(got, (str, bytes)):
            return f"returned the text {got!r}, which is not a number; return the value itself"
        if isinstance(got, (list, tuple)) or np.ndim(got) > 0:
            if np.size(got) == 1:
                return None if np.isclose(float(np.ravel(got)[0]), expected, rtol=1e-9) else "wrong value"
            return (
                f"expected one number (the limit), got an array of shape {np.shape(got)}; "
                "take the largest eigenvalue with .max() or [-1] before dividing"
            )
        try:
            value = float(got)
        except (TypeError, ValueError):
            return f"returned {type(got).__name__}, which is not a number"
        if not np.isfinite(value):
            return "the result is not a finite number"
        if not np.isclose(value, expected, rtol=1e-9, atol=0.0):
            return f"wrong value (off by a factor {value / expected:.4g})"
        return None

    return check_function(
        stability_limit,
        _ref_stability_limit,
        cases,
        name="stability_limit",
        random_case=_random_hessian,
        arg_names=["H"],
        compare=compare,
        mistakes=mistakes,
        hint=(
            "which direction of the bowl is the steepest, and which eigenvalue of H measures it? "
            "np.linalg.eigvalsh(H) gives the eigenvalues."
        ),
        quiet=quiet,
        record=record,
    )

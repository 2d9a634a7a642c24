"""Checkers for the chapter on batch size (chapter 3).

- :func:`check_updates_per_epoch`: ``updates_per_epoch(n, batch_size, drop_last=False)``.
- :func:`check_minibatch_error`: ``minibatch_error(sigma2, n, batch_size)``, the
  expected squared error of a minibatch gradient drawn without replacement.
"""

from __future__ import annotations

import math

import numpy as np

from lrcourse.checks.core import Case, check_function

__all__ = ["check_minibatch_error", "check_updates_per_epoch"]


class _NotAnInt:
    """A result that is not an ``int`` (shown as itself; numpy cannot turn it into a number)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return repr(self.value)


def _ref_updates_per_epoch(n, batch_size, drop_last=False):
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def check_updates_per_epoch(updates_per_epoch, quiet=False, record=None):
    """Chapter 3: ``updates_per_epoch(n, batch_size, drop_last=False)``: ceil(n/B), or floor with ``drop_last``."""
    cases = [
        Case((1000, 100), label="B divides n"),
        Case((1079, 32), label="a smaller last batch"),
        Case((1079, 32), {"drop_last": True}, label="drop_last=True"),
        Case((1079, 1079), label="full batch"),
        Case((1079, 1), label="one example per update"),
        Case((10, 3), {"drop_last": False}, label="drop_last=False given"),
        Case((10, 3), {"drop_last": True}, label="drop_last=True, 1 row left over"),
        Case((100, 100), {"drop_last": True}, label="full batch with drop_last"),
    ]

    def random_case(rng):
        n = int(rng.integers(1, 5000))
        return Case((n, int(rng.integers(1, n + 1))), {"drop_last": bool(rng.integers(0, 2))})

    def compare(got, expected):
        if isinstance(got, _NotAnInt):
            value = got.value
            if isinstance(value, (float, np.floating)) and float(value) == expected:
                return (
                    f"the value is right but it is a float ({value!r}); a number of updates is "
                    "a count: return an int (math.ceil returns one, and so does n // batch_size)"
                )
            if isinstance(value, (float, np.floating)):
                return f"returned the float {value!r}: a number of updates is a whole number (an int)"
            return f"returned {type(value).__name__} {value!r}, expected an int"
        if got != expected:
            return f"wrong count: expected {expected}, got {got}"
        return None

    def learner(*args, **kwargs):
        got = updates_per_epoch(*args, **kwargs)
        if (
            got is None
            or got is Ellipsis
            or (isinstance(got, (int, np.integer)) and not isinstance(got, bool))
        ):
            return got
        return _NotAnInt(got)  # compared by `compare` only, never taken for a known mistake

    mistakes = [
        (
            lambda n, b, drop_last=False: n // b,
            "you always round down. Without drop_last the leftover rows (n % batch_size of them) "
            "form one more, smaller batch: round up with math.ceil(n / batch_size).",
        ),
        (
            lambda n, b, drop_last=False: math.ceil(n / b),
            "with drop_last=True the smaller last batch is dropped: round down (n // batch_size).",
        ),
        (
            lambda n, b, drop_last=False: n // b + 1 if not drop_last else n // b,
            "n // batch_size + 1 counts one batch too many when batch_size divides n exactly; "
            "use math.ceil(n / batch_size).",
        ),
        (
            lambda n, b, drop_last=False: round(n / b),
            "round() goes to the nearest integer; an epoch needs ceil (drop_last=False) or floor (True).",
        ),
        (
            lambda n, b, drop_last=False: b // n if drop_last else math.ceil(b / n),
            "n and batch_size are swapped: the count is n divided by the batch size.",
        ),
    ]
    return check_function(
        learner if callable(updates_per_epoch) else updates_per_epoch,
        _ref_updates_per_epoch,
        cases,
        name="updates_per_epoch",
        random_case=random_case,
        arg_names=["n", "batch_size"],
        compare=compare,
        mistakes=mistakes,
        hint=(
            "every batch is one update; how many batches does an epoch cut from n rows, and what "
            "happens to the rows left over with and without drop_last?"
        ),
        quiet=quiet,
        record=record,
    )


def _ref_minibatch_error(sigma2, n, batch_size):
    if n == 1:
        return 0.0
    return sigma2 / batch_size * (n - batch_size) / (n - 1)


def check_minibatch_error(minibatch_error, quiet=False, record=None):
    r"""Chapter 3: ``minibatch_error(sigma2, n, batch_size)`` = :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}`."""
    cases = [
        Case((2.0, 1000, 1), label="one example"),
        Case((2.0, 1000, 10), label="a small batch"),
        Case((2.0, 1000, 500), label="half the data"),
        Case((2.0, 1000, 1000), label="the full batch"),
        Case((0.7, 50, 8), label="another variance"),
    ]

    def random_case(rng):
        n = int(rng.integers(2, 3000))
        return (float(rng.uniform(0.1, 10.0)), n, int(rng.integers(1, n + 1)))

    mistakes = [
        (
            lambda s, n, b: s / b,
            "this is sigma2 / B, the error when the batch is drawn with replacement. Without "
            "replacement multiply by the finite-population correction (N - B) / (N - 1): the full "
            "batch then has no error at all.",
        ),
        (
            lambda s, n, b: s / b * (n - b) / n,
            "almost: the correction is (N - B) / (N - 1), not (N - B) / N.",
        ),
        (
            lambda s, n, b: np.sqrt(s / b * (n - b) / (n - 1)),
            "you returned the square root (a standard error); the exercise asks for the mean squared error.",
        ),
        (
            lambda s, n, b: s / b**2 * (n - b) / (n - 1),
            "dividing by B squared is too much: averaging B examples divides the variance by B.",
        ),
        (
            lambda s, n, b: s * (n - b) / (n - 1),
            "the error must shrink like 1/B: divide by the batch size.",
        ),
    ]
    return check_function(
        minibatch_error,
        _ref_minibatch_error,
        cases,
        name="minibatch_error",
        random_case=random_case,
        arg_names=["sigma2", "n", "batch_size"],
        rtol=1e-9,
        atol=1e-12,
        mistakes=mistakes,
        hint=(
            "start from the variance of a mean of batch_size independent draws, then correct it for "
            "drawing without replacement from n rows (the finite-population factor)."
        ),
        quiet=quiet,
        record=record,
    )

r"""Checkers for chapter 11's page on the current tuning recipe.

- :func:`check_tuned_rate`: ``tuned_rate(lrs, val_loss)`` returns the rate with the
  lowest mean validation loss over seeds, among the rates at which no seed diverged
  (NaN); the reference is :func:`lrcourse.labs.recipe.tuned_rate`.
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function
from lrcourse.labs.recipe import tuned_rate as _reference

__all__ = ["check_tuned_rate"]


def _case(rng):
    n_seeds, n_rates = int(rng.integers(2, 5)), int(rng.integers(4, 8))
    lrs = np.logspace(-3, 0, n_rates)
    centre = rng.uniform(-2.5, -1.0)
    curve = 0.1 + 0.2 * (np.log10(lrs) - centre) ** 2
    losses = curve + 0.05 * rng.random((n_seeds, n_rates))
    losses[rng.integers(n_seeds), -1] = np.nan  # the top rate diverged once
    return (lrs, losses)


_LRS = np.array([0.001, 0.003, 0.01, 0.03, 0.1])
_EDGE = np.array(  # the best mean without the NaN sits at 0.1, where one seed diverged
    [[0.9, 0.5, 0.30, 0.20, 0.15], [0.9, 0.5, 0.12, 0.22, np.nan], [0.8, 0.6, 0.31, 0.21, 0.16]]
)
_LUCK = np.array(  # one lucky seed at 0.003; 0.01 is better on average
    [[0.6, 0.15, 0.22, 0.4, 0.9], [0.6, 0.35, 0.23, 0.4, 0.9], [0.7, 0.34, 0.21, 0.5, 0.8]]
)

_ONE_BAD = np.array(  # one seed trained badly at 0.01: its median beats 0.003, its mean does not
    [[0.5, 0.12, 0.15, 0.3, 0.6], [0.5, 0.21, 0.16, 0.3, 0.7], [0.6, 0.22, 0.40, 0.3, 0.8]]
)


def _median_pick(lrs, losses):
    return float(np.asarray(lrs)[np.nanargmin(np.median(losses, axis=0))])


def _nanmean_pick(lrs, losses):
    return float(np.asarray(lrs)[np.nanargmin(np.nanmean(losses, axis=0))])


def _best_run(lrs, losses):
    return float(np.asarray(lrs)[np.nanargmin(np.asarray(losses), axis=None) % np.shape(losses)[1]])


def _index(lrs, losses):
    return int(np.nanargmin(np.mean(losses, axis=0)))


def _highest(lrs, losses):
    return float(np.asarray(lrs)[np.nanargmax(np.mean(losses, axis=0))])


def _per_seed(lrs, losses):
    return np.asarray(lrs)[np.nanargmin(losses, axis=1)]


def check_tuned_rate(tuned_rate, quiet=False, record=None):
    """Chapter 11: ``tuned_rate(lrs, val_loss)`` picks the safe rate with the lowest mean loss."""
    cases = [
        Case((_LRS, _EDGE), label="a rate at which one seed of three diverged"),
        Case((_LRS, _LUCK), label="one lucky seed"),
        Case((_LRS, _ONE_BAD), label="one seed trained badly at 0.01"),
        Case((_LRS[:3], np.array([[0.5, 0.4, 0.3]])), label="one seed, best rate the largest"),
    ]
    mistakes = [
        (
            _nanmean_pick,
            "np.nanmean drops the diverged seed and keeps its rate in the race. "
            "A rate at which any seed diverged is not safe: what does a plain "
            "mean give for such a rate?",
        ),
        (
            _best_run,
            "you picked the single best run. One lucky seed should not choose "
            "the rate: average over the seeds first, then compare the rates.",
        ),
        (
            _median_pick,
            "that is the rate of the lowest median. The rule is the mean over the seeds, "
            "which also counts a seed that trained badly at that rate.",
        ),
        (
            _index,
            "that is the position of the best rate in the grid; return the rate itself, lrs[i].",
        ),
        (
            _highest,
            "that is the rate with the highest loss; a loss is better when it is lower.",
        ),
        (
            _per_seed,
            "you picked one rate per seed. Average the losses over the seeds (axis 0) and return one rate.",
        ),
    ]
    return check_function(
        tuned_rate,
        _reference,
        cases,
        name="tuned_rate",
        random_case=_case,
        arg_names=["lrs", "val_loss"],
        mistakes=mistakes,
        hint=(
            "average val_loss over the seeds (axis 0); a NaN anywhere in a column rules "
            "that rate out; return the rate of the lowest mean."
        ),
        rtol=1e-12,
        atol=0.0,
        quiet=quiet,
        record=record,
    )

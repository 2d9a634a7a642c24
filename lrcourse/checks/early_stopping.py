"""Checkers for the early-stopping chapter."""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function
from lrcourse.checks.inputs import _Curve
from lrcourse.labs import early_stopping as _es

__all__ = ["check_stopping_epoch"]


def _reference(val_losses, patience, min_delta=0.0):
    return _es.stopping_epoch(np.asarray(val_losses, dtype=float), patience, min_delta)


def _loop(
    val_losses,
    patience,
    min_delta=0.0,
    *,
    stop_at=None,
    better=None,
    best_of=None,
    previous=False,
    reset=True,
    first=0,
):
    """The rule with one thing changed: the typical mistakes are variants of this loop."""
    v = np.asarray(val_losses, dtype=float)
    stop_at = stop_at or (lambda count, p: count > p)
    better = better or (lambda loss, ref, d: loss < ref - d)
    best_loss, best, count = np.inf, 0, 0
    for e in range(first, len(v)):
        ref = (v[e - 1] if e > first else np.inf) if previous else best_loss
        if better(v[e], ref, min_delta):
            best_loss, best = v[e], e
            count = 0 if reset else count
        else:
            count += 1
            if e > 0 and stop_at(count, patience):
                return e, (best_of(v, e, best) if best_of else best)
    e = len(v) - 1
    return e, (best_of(v, e, best) if best_of else best)


def _keras_count(v, p, min_delta=0.0):
    return _loop(v, p, min_delta, stop_at=lambda count, p: count >= max(p, 1))


def _plus_delta(v, p, min_delta=0.0):
    return _loop(v, p, min_delta, better=lambda loss, ref, d: loss < ref + d)


def _last_epoch(v, p, min_delta=0.0):
    stop, _ = _reference(v, p, min_delta)
    return stop, stop


def _lowest_epoch(v, p, min_delta=0.0):
    return _loop(v, p, min_delta, best_of=lambda v, e, best: int(np.nanargmin(v[: e + 1])))


def _previous_epoch(v, p, min_delta=0.0):
    return _loop(v, p, min_delta, previous=True)


def _no_reset(v, p, min_delta=0.0):
    return _loop(v, p, min_delta, reset=False)


def _past_the_end(v, p, min_delta=0.0):
    stop, best = _reference(v, p, min_delta)
    return (len(v) if stop == len(v) - 1 else stop), best


def _without_epoch_zero(v, p, min_delta=0.0):
    stop, best = _loop(np.asarray(v, dtype=float)[1:], p, min_delta)
    return stop + 1, best + 1


MISTAKES = [
    (
        _keras_count,
        "off by one: you stop after `patience` epochs without improvement. fit waits "
        "`patience` epochs and stops at the next one: the condition is count > patience. "
        "(Keras counts the other way: its patience=3 acts like patience=2 here.)",
    ),
    (
        _plus_delta,
        "min_delta points the wrong way: an epoch improves only if its loss is *below* the best "
        "by more than min_delta, loss < best - min_delta (not best + min_delta).",
    ),
    (
        _last_epoch,
        "you return the last epoch as the one to restore. Restore the best epoch: the last one "
        "that improved, where the counter was reset.",
    ),
    (
        _lowest_epoch,
        "the restored epoch is the lowest loss, but with min_delta > 0 an epoch that is lower by "
        "less than min_delta is not an improvement: the best epoch (and the reference loss) "
        "change only when an epoch improves.",
    ),
    (
        _without_epoch_zero,
        "val_losses[0] is the loss before training (epoch 0): it is the first best loss, as in "
        "fit. Start the loop at epoch 0 (or start with best = val_losses[0]).",
    ),
    (
        _previous_epoch,
        "you compare each epoch with the previous one. Compare with the best loss so far: a "
        "small rebound after a rise is not an improvement.",
    ),
    (
        _no_reset,
        "the counter must count epochs *in a row* without improvement: set it back to 0 at every "
        "improvement.",
    ),
    (
        _past_the_end,
        "when the rule never fires, training ends after the last epoch of the budget: return "
        "len(val_losses) - 1, the last index, not len(val_losses).",
    ),
]


_CURVE = _Curve([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69, 0.74, 0.8, 0.9])


def _compare(got, expected):
    if isinstance(got, np.ndarray) and got.shape == (2,):
        got = tuple(got.tolist())
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (stop, best) of two epochs, got {type(got).__name__} {got!r}"
    try:
        stop, best = (int(g) for g in got)
    except (TypeError, ValueError):
        return f"expected two whole numbers (stop, best), got {got!r}"
    if any(float(g) != int(g) for g in got):
        return f"expected two whole numbers (stop, best), got {got!r}"
    wrong = [
        f"{name} is {value}, expected {want}"
        for name, value, want in (("stop", stop, expected[0]), ("best", best, expected[1]))
        if value != want
    ]
    return "; ".join(wrong) or None


def check_stopping_epoch(stopping_epoch, quiet=False, record=None):
    """``stopping_epoch(val_losses, patience, min_delta=0.0)`` returns ``(stop, best)`` as fit decides them."""
    cases = [
        Case((_CURVE, 2), label="patience 2"),
        Case((_CURVE, 0), label="patience 0"),
        Case((_CURVE, 3), label="never stops"),
        Case((_CURVE, 1), {"min_delta": 0.05}, label="min_delta 0.05"),
        Case((_Curve([1.0, 0.9, 0.95, 0.92, 0.93, 0.8, 0.85, 0.86, 0.87]), 3), label="a rebound"),
        Case((_Curve([0.5, 0.6, 0.55, 0.7, 0.4, 0.3]), 2), label="no better than before training"),
        Case(
            (_Curve([1.0, 0.97, 0.95, 0.9, 0.87, 0.88, 0.89, 0.86]), 1),
            {"min_delta": 0.04},
            label="small gains",
        ),
        Case((_Curve([1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.41, 0.45, 0.5, 0.55]), 1), label="a clean minimum"),
    ]

    def random_case(rng):
        epochs = int(rng.integers(8, 40))
        t = np.arange(epochs + 1)
        bottom = rng.integers(2, epochs)
        curve = (
            0.5 + 0.5 * np.exp(-t / 3) + 0.3 * ((t - bottom) / epochs) ** 2 + rng.normal(0, 0.02, epochs + 1)
        )
        d = float(rng.choice([0.0, 0.0, 0.005, 0.02]))
        return Case((_Curve(np.round(curve, 4).tolist()), int(rng.integers(0, 7))), {"min_delta": d})

    return check_function(
        stopping_epoch,
        _reference,
        cases,
        name="stopping_epoch",
        random_case=random_case,
        n_random=20,
        arg_names=["val_losses", "patience"],
        mistakes=MISTAKES,
        compare=_compare,
        hint=(
            "walk through the epochs from 0: an epoch improves if loss < best - min_delta (then it "
            "becomes the best and the counter goes back to 0), otherwise the counter goes up by one; "
            "stop at the first epoch where the counter exceeds patience and return (that epoch, the "
            "best epoch)."
        ),
        quiet=quiet,
        record=record,
    )

"""Checkers for the chapter on learning-rate schedules.

- :func:`check_cosine_annealing`: ``cosine_annealing(t, lr, T_max, eta_min=0.0)``, the
  cosine formula written by hand, compared with :func:`lrcourse.schedules.cosine`.
- :func:`check_warmup_cosine`: ``warmup_cosine(lr, warmup_steps, total_steps, eta_min=0.0)``
  returns a schedule composed from :mod:`lrcourse.schedules` (warmup from 0, then a
  cosine over the remaining steps), compared with the reference composition.
- :func:`check_plateau_drops`: the epochs at which ``ReduceLROnPlateau`` cuts the
  rate on :data:`PLATEAU_METRICS`, predicted before running it.

Each prints a specific message and returns a
:class:`~lrcourse.checks.core.CheckResult` (true when solved); none raises on a stub.
"""

from __future__ import annotations

import numpy as np

from lrcourse import schedules
from lrcourse.checks.core import Case, check_function, format_message, is_stub, report
from lrcourse.checks.inputs import PLATEAU_METRICS

__all__ = [
    "PLATEAU_METRICS",
    "PLATEAU_SETTINGS",
    "check_cosine_annealing",
    "check_plateau_drops",
    "check_warmup_cosine",
    "plateau_drops",
]


# ----------------------------------------------------------------- cosine annealing by hand


def _ref_cosine(t, lr, T_max, eta_min=0.0):
    return schedules.cosine(lr, T_max, eta_min)(t)


def _as_steps(t):
    return np.asarray(t, dtype=np.float64)


def check_cosine_annealing(cosine_annealing, quiet=False, record=None):
    r"""``cosine_annealing(t, lr, T_max, eta_min=0.0)``: :math:`\eta_{\min} + (\eta - \eta_{\min})(1 + \cos(\pi t/T))/2`.

    ``t`` is an int or an array of ints in ``[0, T_max]``; compared with
    :func:`lrcourse.schedules.cosine` on whole curves and single steps.
    """
    cases = [
        Case((np.arange(101), 0.1, 100), label="a whole curve, eta_min = 0"),
        Case((np.arange(51), 0.5, 50, 0.01), label="a whole curve with a floor eta_min = 0.01"),
        Case((7, 1.0, 10, 0.1), label="one step (an int t)"),
        Case((np.array([0, 10, 20]), 0.3, 20, 0.05), label="the start, the middle, the end"),
    ]

    def random_case(rng):
        T = int(rng.integers(5, 400))
        lr = float(rng.uniform(0.01, 1.0))
        eta_min = float(rng.uniform(0.0, 0.5)) * lr
        return Case((np.sort(rng.integers(0, T + 1, size=12)), lr, T, eta_min))

    def cos_(t):
        return np.cos(np.pi * _as_steps(t))

    mistakes = [
        (
            lambda t, lr, T, m=0.0: _ref_cosine(np.asarray(t) + 1, lr, T, m),
            "your curve is one step ahead (did you use t + 1?). At t = 0 the rate must be "
            "lr itself: cos(0) = 1, so (1 + cos 0) / 2 = 1.",
        ),
        (
            lambda t, lr, T, m=0.0: m + (lr - m) * (1 + np.cos(np.pi * _as_steps(t) / (T - 1))) / 2,
            "your rate reaches eta_min one step early: divide by T_max, not T_max - 1; the "
            "floor is reached at t = T_max.",
        ),
        (
            lambda t, lr, T, m=0.0: lr * (1 + np.cos(np.pi * _as_steps(t) / T)) / 2,
            "the floor eta_min is missing: the curve must end at eta_min, not at 0. Write "
            "eta_min + (lr - eta_min) * (1 + cos(pi t / T_max)) / 2.",
        ),
        (
            lambda t, lr, T, m=0.0: m + lr * (1 + np.cos(np.pi * _as_steps(t) / T)) / 2,
            "your curve starts at lr + eta_min: the amplitude is (lr - eta_min), so that the "
            "rate starts at lr and ends at eta_min.",
        ),
        (
            lambda t, lr, T, m=0.0: m + (lr - m) * np.cos(np.pi * _as_steps(t) / T),
            "without (1 + cos) / 2 the rate goes below eta_min, down to 2 eta_min - lr: "
            "the factor (1 + cos(pi t / T_max)) / 2 runs from 1 to 0.",
        ),
        (
            lambda t, lr, T, m=0.0: m + (lr - m) * (1 + np.cos(_as_steps(t) / T)) / 2,
            "the angle must run from 0 to pi (half a period): use cos(pi * t / T_max), not cos(t / T_max).",
        ),
        (
            lambda t, lr, T, m=0.0: m + (lr - m) * (1 + np.cos(np.pi * _as_steps(t) / (2 * T))) / 2,
            "your curve only reaches halfway by T_max: the angle is pi * t / T_max, not pi * t / (2 T_max).",
        ),
        (
            lambda t, lr, T, m=0.0: m + (lr - m) * (1 + cos_(t) / T) / 2,
            "mind the brackets: the cosine takes pi * t / T_max as a whole.",
        ),
    ]

    def learner(t, lr, T_max, eta_min=0.0):
        try:
            return cosine_annealing(t, lr, T_max, eta_min)
        except NotImplementedError:
            raise
        except Exception as error:
            if np.ndim(t) == 0:
                raise
            try:  # does it work one step at a time?
                for k in np.asarray(t)[:2]:
                    cosine_annealing(int(k), lr, T_max, eta_min)
            except Exception:
                raise error from None
            raise TypeError(
                "it works for one step t but not for an array of steps: use np.cos and np.pi "
                "(math.cos takes a single number)"
            ) from None

    usable = callable(cosine_annealing)
    return check_function(
        learner if usable else cosine_annealing,
        _ref_cosine,
        cases,
        name="cosine_annealing",
        random_case=random_case,
        arg_names=["t", "lr", "T_max", "eta_min"],
        rtol=1e-9,
        atol=1e-12,
        mistakes=mistakes,
        hint="use numpy (np.cos, np.pi) so that t can be an array, and check your curve at "
        "t = 0 (lr), t = T_max / 2 (halfway) and t = T_max (eta_min).",
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- warmup + cosine, composed


def _ref_warmup_cosine(lr, warmup_steps, total_steps, eta_min=0.0):
    return schedules.warmup(
        schedules.cosine(lr, T_max=total_steps - warmup_steps, eta_min=eta_min), warmup_steps
    )


def _curve(schedule, total_steps):
    """The rates of steps ``0 .. total_steps`` from whatever the learner returned."""
    if is_stub(schedule):
        return schedule
    if not callable(schedule):
        raise TypeError(
            f"warmup_cosine must return a schedule (a function of the step t), got "
            f"{type(schedule).__name__}; build it from lrcourse.schedules, e.g. schedules.warmup(...)"
        )
    t = np.arange(total_steps + 1)
    try:
        values = np.asarray(schedule(t), dtype=np.float64)
    except (TypeError, ValueError):
        values = np.array([float(schedule(int(k))) for k in t])
    return values


def check_warmup_cosine(warmup_cosine, quiet=False, record=None):
    r"""``warmup_cosine(lr, warmup_steps, total_steps, eta_min=0.0)`` returns warmup + cosine.

    Expected: a linear warmup from 0 to ``lr`` in ``warmup_steps`` steps, then a
    cosine from ``lr`` down to ``eta_min`` that ends exactly at ``total_steps``:
    ``schedules.warmup(schedules.cosine(lr, T_max=total_steps - warmup_steps,
    eta_min=eta_min), warmup_steps)`` (or the same curve built another way).
    The returned schedules are compared on the steps ``0 .. total_steps``.
    """
    cases = [
        Case((0.1, 10, 100), label="10 warmup steps, 100 in all"),
        Case((3e-4, 20, 200, 3e-5), label="an LLM-like recipe in small: floor at lr / 10"),
        Case((1.0, 1, 5), label="the shortest warmup"),
    ]

    def random_case(rng):
        total = int(rng.integers(20, 500))
        warm = int(rng.integers(1, total // 2))
        lr = float(rng.uniform(1e-4, 1.0))
        return Case((lr, warm, total, float(rng.uniform(0, 0.2)) * lr))

    def learner(lr, warmup_steps, total_steps, eta_min=0.0):
        return _curve(warmup_cosine(lr, warmup_steps, total_steps, eta_min), total_steps)

    def reference(lr, warmup_steps, total_steps, eta_min=0.0):
        return _curve(_ref_warmup_cosine(lr, warmup_steps, total_steps, eta_min), total_steps)

    def long_cosine(lr, w, total, m=0.0):
        return _curve(schedules.warmup(schedules.cosine(lr, T_max=total, eta_min=m), w), total)

    def no_warmup_shift(lr, w, total, m=0.0):
        t = np.arange(total + 1)
        cos = schedules.cosine(lr, T_max=total, eta_min=m)(t)
        return np.where(t < w, lr * t / w, cos)

    def third_start(lr, w, total, m=0.0):
        first = schedules.linear(lr, start_factor=1 / 3, total_iters=w)
        seq = schedules.sequential([first, schedules.cosine(lr, T_max=total - w, eta_min=m)], [w])
        return _curve(seq, total)

    def warm_one_more(lr, w, total, m=0.0):
        return _curve(schedules.warmup(schedules.cosine(lr, T_max=total - w - 1, eta_min=m), w + 1), total)

    def no_floor(lr, w, total, m=0.0):
        return _curve(_ref_warmup_cosine(lr, w, total, 0.0), total)

    mistakes = [
        (
            long_cosine,
            "your cosine is too long: after the warmup only total_steps - warmup_steps steps are "
            "left, so use T_max = total_steps - warmup_steps (yours has not reached eta_min at the end).",
        ),
        (
            no_warmup_shift,
            "the cosine must start after the warmup, at its own step 0; yours runs from step 0 "
            "underneath the warmup. schedules.warmup(schedule, warmup_steps) shifts it for you.",
        ),
        (
            third_start,
            "your warmup starts at lr / 3, the default start_factor of schedules.linear: start "
            "from 0 (start_factor=0.0), or use schedules.warmup, which starts at 0.",
        ),
        (warm_one_more, "your warmup is one step too long: it should reach lr at step warmup_steps."),
        (no_floor, "the floor eta_min is missing: pass eta_min to the cosine."),
    ]

    def compare(got, expected):
        arr = np.asarray(got, dtype=np.float64)
        if arr.shape != expected.shape:
            return f"the schedule gives {arr.shape} values for {expected.shape} steps"
        if not np.allclose(arr, expected, rtol=1e-9, atol=1e-15):
            k = int(np.argmax(~np.isclose(arr, expected, rtol=1e-9, atol=1e-15)))
            return f"wrong rate at step t = {k}: expected {expected[k]:.6g}, got {arr[k]:.6g}"
        return None

    return check_function(
        learner if callable(warmup_cosine) else warmup_cosine,
        reference,
        cases,
        name="warmup_cosine",
        random_case=random_case,
        arg_names=["lr", "warmup_steps", "total_steps", "eta_min"],
        mistakes=mistakes,
        compare=compare,
        hint="compose two schedules: schedules.warmup(schedules.cosine(...), warmup_steps); the "
        "rate must be 0 at t = 0, lr at t = warmup_steps and eta_min at t = total_steps.",
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- predict ReduceLROnPlateau

PLATEAU_SETTINGS = {"lr": 0.1, "factor": 0.5, "patience": 2}
"""The ``ReduceLROnPlateau`` of the prediction exercise (thresholds at PyTorch's defaults)."""


def plateau_drops(metrics=PLATEAU_METRICS, **settings):
    """The epochs (1-based) after which ``ReduceLROnPlateau(**settings)`` cuts the rate.

    ``settings`` default to :data:`PLATEAU_SETTINGS`; the scheduler is stepped once
    per epoch with ``metrics[e - 1]``.
    """
    plateau = schedules.ReduceLROnPlateau(**{**PLATEAU_SETTINGS, **settings})
    drops = []
    for epoch, metric in enumerate(metrics, start=1):
        before = plateau.lr
        if plateau.step(metric) < before:
            drops.append(epoch)
    return drops


def _counted_drops(metrics, patience, reset=True, keras=False, ties_improve=False, previous=False):
    """Plausible wrong rules: Keras' count, no reset after a cut, a tie as an improvement,
    a comparison with the previous epoch instead of the best so far."""
    best, bad, drops = np.inf, 0, []
    for epoch, m in enumerate(metrics, start=1):
        better = m <= best if ties_improve else m < best * (1 - 1e-4)
        if previous:
            better, best = m < best * (1 - 1e-4), m
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if (bad >= patience) if keras else (bad > patience):
            drops.append(epoch)
            if reset:
                bad = 0
    return drops


def _ordinal(n):
    """``1st``, ``2nd``, ``3rd``, ``4th``, ..., ``11th``, ``12th``, ``13th``, ``21st``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def check_plateau_drops(drops, quiet=False, record=None):
    """Your prediction: the epochs after which the rate is cut on :data:`PLATEAU_METRICS`.

    ``drops`` is a list of epoch numbers (1-based, in increasing order), e.g. ``[4, 9]``,
    for ``ReduceLROnPlateau(**PLATEAU_SETTINGS)`` stepped once per epoch.
    """
    return report("plateau_drops", lambda: _judge_drops(drops), quiet, record)


def _judge_drops(drops):
    """``(passed, message)`` for a prediction of :func:`check_plateau_drops`."""
    name = "plateau_drops"
    if is_stub(drops):
        return False, format_message(
            f"○ {name}: not yet solved.",
            "Replace the ... with your prediction, a list of epoch numbers such as [4, 9], "
            "then run the cell again.",
        )
    try:
        got = [int(v) for v in (drops if np.ndim(drops) else [drops])]
    except (TypeError, ValueError):
        return False, format_message(
            f"✘ {name}: expected a list of epoch numbers, such as [4, 9], got {drops!r}."
        )
    expected = plateau_drops()
    if got == expected:
        return True, format_message(f"✔ {name}: right, the rate is cut after epochs {expected}.")
    p = PLATEAU_SETTINGS["patience"]
    known = [
        (
            _counted_drops(PLATEAU_METRICS, p, keras=True),
            f"you cut at the {_ordinal(p)} epoch without improvement, as Keras does. PyTorch (and "
            f"lrcourse) waits patience = {p} bad epochs and cuts at the next one, the "
            f"{_ordinal(p + 1)}.",
        ),
        (
            _counted_drops(PLATEAU_METRICS, p, reset=False),
            "after a cut the count of bad epochs starts again from 0, so the next cut needs "
            "another patience + 1 bad epochs in a row.",
        ),
        (
            _counted_drops(PLATEAU_METRICS, p, ties_improve=True),
            "a loss equal to the best so far is not an improvement: it must beat the best "
            "(by the small relative threshold 1e-4).",
        ),
        (
            _counted_drops(PLATEAU_METRICS, p, previous=True),
            "an epoch improves only if its loss beats the best so far, not merely the previous epoch's loss.",
        ),
    ]
    hint = next((h for wrong, h in known if wrong == got), None) or (
        "go epoch by epoch: does the loss beat the best so far? If not, count one bad "
        f"epoch; when the count exceeds patience = {p}, the rate is cut and the count "
        "restarts from 0."
    )
    return False, format_message(
        f"✘ {name}: not quite. You predicted cuts after epochs {got}.", f"Hint: {hint}"
    )

"""The chapter 5 checkers: the cosine formula, warmup + cosine composed, a plateau prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrcourse import checks, schedules
from lrcourse.checks.schedules import PLATEAU_METRICS, plateau_drops


def _run(check, answer, capsys, record=None):
    ok = check(answer, record=record)
    return ok, capsys.readouterr().out


# ----------------------------------------------------------------- cosine annealing


def good_cosine(t, lr, T_max, eta_min=0.0):
    return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * np.asarray(t) / T_max)) / 2


def test_a_correct_cosine_passes(capsys):
    record = []
    ok, out = _run(checks.check_cosine_annealing, good_cosine, capsys, record)
    assert ok and out.startswith("✔ cosine_annealing")
    assert record == [checks.CheckResult("cosine_annealing", True, out.rstrip("\n"))]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda t, lr, T, m=0.0: good_cosine(np.asarray(t) + 1, lr, T, m), "one step ahead"),
        (
            lambda t, lr, T, m=0.0: lr * (1 + np.cos(np.pi * np.asarray(t) / T)) / 2,
            "floor eta_min is missing",
        ),
        (lambda t, lr, T, m=0.0: m + lr * (1 + np.cos(np.pi * np.asarray(t) / T)) / 2, "lr + eta_min"),
        (lambda t, lr, T, m=0.0: m + (lr - m) * np.cos(np.pi * np.asarray(t) / T), "(1 + cos) / 2"),
        (lambda t, lr, T, m=0.0: m + (lr - m) * (1 + np.cos(np.asarray(t) / T)) / 2, "from 0 to pi"),
        (lambda t, lr, T, m=0.0: good_cosine(t, lr, T - 1, m), "one step early"),
        (lambda t, lr, T, m=0.0: m + (lr - m) * (1 + np.cos(np.pi * np.asarray(t) / (2 * T))) / 2, "halfway"),
    ],
)
def test_each_cosine_mistake_gets_its_hint(capsys, wrong, hint):
    ok, out = _run(checks.check_cosine_annealing, wrong, capsys)
    assert not ok and out.startswith("✘")
    assert hint in " ".join(out.split())


def test_math_cos_is_told_to_use_numpy(capsys):
    def scalar_only(t, lr, T_max, eta_min=0.0):
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2

    ok, out = _run(checks.check_cosine_annealing, scalar_only, capsys)
    assert not ok and "use np.cos and np.pi" in " ".join(out.split())


@pytest.mark.parametrize("stub", [None, ...])
def test_cosine_stubs_are_not_yet_solved(capsys, stub):
    ok, out = _run(checks.check_cosine_annealing, stub, capsys)
    assert not ok and out.startswith("○ cosine_annealing: not yet solved")


def test_a_raising_cosine_stub_is_not_yet_solved(capsys):
    def stub(t, lr, T_max, eta_min=0.0):
        raise NotImplementedError

    ok, out = _run(checks.check_cosine_annealing, stub, capsys)
    assert not ok and "not yet solved" in out


# ----------------------------------------------------------------- warmup + cosine


def good_warmup_cosine(lr, warmup_steps, total_steps, eta_min=0.0):
    cosine = schedules.cosine(lr, T_max=total_steps - warmup_steps, eta_min=eta_min)
    return schedules.warmup(cosine, warmup_steps)


def test_correct_compositions_pass(capsys):
    ok, out = _run(checks.check_warmup_cosine, good_warmup_cosine, capsys)
    assert ok and out.startswith("✔ warmup_cosine")

    def with_sequential(lr, w, total, eta_min=0.0):
        ramp = schedules.linear(lr, start_factor=0.0, total_iters=w)
        cosine = schedules.cosine(lr, T_max=total - w, eta_min=eta_min)
        return schedules.sequential([ramp, cosine], [w])

    assert checks.check_warmup_cosine(with_sequential, quiet=True)

    def plain_function(lr, w, total, eta_min=0.0):  # any function of t will do
        return lambda t: good_warmup_cosine(lr, w, total, eta_min)(t)

    assert checks.check_warmup_cosine(plain_function, quiet=True)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda lr, w, total, m=0.0: schedules.warmup(schedules.cosine(lr, T_max=total, eta_min=m), w),
            "your cosine is too long",
        ),
        (
            lambda lr, w, total, m=0.0: schedules.sequential(
                [schedules.linear(lr, total_iters=w), schedules.cosine(lr, T_max=total - w, eta_min=m)], [w]
            ),
            "starts at lr / 3",
        ),
        (lambda lr, w, total, m=0.0: good_warmup_cosine(lr, w, total, 0.0), "floor eta_min is missing"),
        (
            lambda lr, w, total, m=0.0: schedules.warmup(
                schedules.cosine(lr, T_max=total - w - 1, eta_min=m), w + 1
            ),
            "one step too long",
        ),
        (
            lambda lr, w, total, m=0.0: (
                lambda t: np.where(
                    np.asarray(t) < w,
                    lr * np.asarray(t) / w,
                    schedules.cosine(lr, T_max=total, eta_min=m)(t),
                )
            ),
            "underneath the warmup",
        ),
    ],
)
def test_each_composition_mistake_gets_its_hint(capsys, wrong, hint):
    ok, out = _run(checks.check_warmup_cosine, wrong, capsys)
    assert not ok and hint in " ".join(out.split())


def test_a_number_instead_of_a_schedule_is_explained(capsys):
    ok, out = _run(checks.check_warmup_cosine, lambda lr, w, total, m=0.0: 0.1, capsys)
    assert not ok and "must return a schedule" in " ".join(out.split())


@pytest.mark.parametrize("stub", [None, lambda lr, w, total, m=0.0: None])
def test_composition_stubs_are_not_yet_solved(capsys, stub):
    ok, out = _run(checks.check_warmup_cosine, stub, capsys)
    assert not ok and "not yet solved" in out


# ----------------------------------------------------------------- the plateau prediction


def test_the_reference_runs_the_scheduler():
    assert plateau_drops() == [8, 12]
    assert checks.PLATEAU_METRICS == PLATEAU_METRICS
    sched = schedules.ReduceLROnPlateau(lr=0.1, factor=0.5, patience=2)
    rates = [sched.step(m) for m in PLATEAU_METRICS]
    assert rates[7] == 0.05 and rates[11] == 0.025 and rates[6] == 0.1
    assert plateau_drops(patience=0)[0] == 4
    # a loss that beats the previous epoch but not the best tells the two rules apart
    previous = [m < p for p, m in zip(PLATEAU_METRICS[:-1], PLATEAU_METRICS[1:], strict=True)]
    best = [m < min(PLATEAU_METRICS[: i + 1]) for i, m in enumerate(PLATEAU_METRICS[1:])]
    assert previous != best


def test_a_right_prediction_passes(capsys):
    record = []
    ok, out = _run(checks.check_plateau_drops, [8, 12], capsys, record)
    assert ok and out.startswith("✔ plateau_drops")
    assert checks.check_plateau_drops(np.array([8, 12]), quiet=True, record=record)
    assert [(r.name, r.passed) for r in record] == [("plateau_drops", True)] * 2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ([7, 11, 13], "as Keras does"),
        ([8, 12, 13], "starts again from 0"),
        ([12], "not an improvement"),
        ([8], "not merely the previous"),
        ([3], "go epoch by epoch"),
        (9, "go epoch by epoch"),
    ],
)
def test_wrong_predictions_get_their_hint(capsys, answer, hint):
    ok, out = _run(checks.check_plateau_drops, answer, capsys)
    assert not ok and out.startswith("✘") and hint in " ".join(out.split())


def test_plateau_stub_and_nonsense(capsys):
    record = []
    ok, out = _run(checks.check_plateau_drops, ..., capsys, record)
    assert not ok and out.startswith("○ plateau_drops: not yet solved")
    ok, out = _run(checks.check_plateau_drops, "eight", capsys, record)
    assert not ok and "list of epoch numbers" in out
    assert [(r.name, r.passed) for r in record] == [("plateau_drops", False)] * 2

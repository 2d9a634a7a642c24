"""The chapter 9 checkers: RAdam's rectification and a WSD schedule written by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks, schedules
from lrcourse.labs import warmup_wsd


def _run(check, answer, capsys, record=None):
    ok = check(answer, record=record)
    return ok, capsys.readouterr().out


def _said(out, hint):
    return hint in " ".join(out.split())


# ----------------------------------------------------------------- RAdam's rectification


def good_rectification(k, beta2):
    k = np.asarray(k, dtype=np.float64)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * k * beta2**k / (1 - beta2**k)
    with np.errstate(invalid="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return np.where(rho > 5, r, 0.0)


def test_the_reference_is_the_labs_and_radams():
    """The checker's reference agrees with the lab and with what radam does at steps 5 and 6."""
    k, _, r = warmup_wsd.rectification(0.999, 3000)
    np.testing.assert_allclose(good_rectification(k, 0.999), r, rtol=1e-13)
    assert r[4] == 0.0 and 0.02 < r[5] < 0.03  # step 5: momentum; step 6: rectified


def test_a_correct_rectification_passes(capsys):
    record = []
    ok, out = _run(checks.check_radam_rectification, good_rectification, capsys, record)
    assert ok and out.startswith("✔ radam_rectification")
    assert record[0].passed


def _rho(k, beta2, minus=1.0):
    k = np.asarray(k, dtype=np.float64)
    rho_inf = 2 / (1 - beta2) - minus
    with np.errstate(invalid="ignore", divide="ignore"):  # k - 1 = 0: 0 / 0
        return rho_inf, rho_inf - 2 * k * beta2**k / (1 - beta2**k)


def _r(rho_inf, rho, threshold=5.0, fill=0.0):
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return np.where(rho > threshold, r, fill)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda k, b: _r(*_rho(np.asarray(k) - 1, b)), "one behind"),
        (lambda k, b: _r(*_rho(k, b), threshold=4.0), "at rho_k > 5"),
        (lambda k, b: _r(*_rho(k, b, minus=0.0)), "not 2 / (1 - beta2)"),
        (lambda k, b: good_rectification(k, b) ** 2, "square root"),
        (lambda k, b: _r(*_rho(k, b), fill=np.nan), "return 0"),
    ],
)
def test_each_rectification_mistake_gets_its_hint(capsys, wrong, hint):
    ok, out = _run(checks.check_radam_rectification, wrong, capsys)
    assert not ok and out.startswith("✘")
    assert _said(out, hint)


def test_rectification_stubs_are_not_yet_solved(capsys):
    def stub(k, beta2):
        raise NotImplementedError

    for answer in (stub, lambda k, beta2: None, None):
        ok, out = _run(checks.check_radam_rectification, answer, capsys)
        assert not ok and out.startswith("○ radam_rectification: not yet solved")


# ----------------------------------------------------------------- WSD by hand


def good_wsd(t, lr, total_steps, decay_steps, warmup_steps=0):
    t = np.asarray(t, dtype=np.float64)
    start = total_steps - decay_steps
    warm = lr * t / max(warmup_steps, 1)
    decayed = lr * (1 - np.minimum(np.maximum(t - start, 0), decay_steps) / decay_steps)
    return np.where(t < warmup_steps, warm, np.where(t < start, lr, decayed))


def test_a_correct_wsd_passes(capsys):
    ok, out = _run(checks.check_wsd_rate, good_wsd, capsys)
    assert ok and out.startswith("✔ wsd_rate")


def test_the_reference_is_the_schedule():
    t = np.arange(130)
    sched = schedules.wsd(0.3, total_steps=120, warmup_steps=10, decay_steps=24)
    np.testing.assert_allclose(good_wsd(t, 0.3, 120, 24, 10), sched(t), rtol=1e-14)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda t, lr, T, D, W=0: (
                good_wsd(t, lr, T, D, W) + np.where(np.asarray(t) > T, lr * (T - np.asarray(t)) / D, 0.0)
            ),
            "not go negative",
        ),
        (
            lambda t, lr, T, D, W=0: np.where(
                np.asarray(t) < W,
                lr * np.asarray(t) / max(W, 1),
                lr * (1 - np.clip((np.asarray(t) - W) / (T - W), 0, 1)),
            ),
            "not WSD",
        ),
        (
            lambda t, lr, T, D, W=0: np.where(
                np.asarray(t) < W, lr * (np.asarray(t) + 1) / max(W, 1), good_wsd(t, lr, T, D, W)
            ),
            "warmup is one step ahead",
        ),
        (lambda t, lr, T, D, W=0: good_wsd(np.maximum(np.asarray(t) - 1, 0), lr, T, D, W), "one step late"),
    ],
)
def test_each_wsd_mistake_gets_its_hint(capsys, wrong, hint):
    ok, out = _run(checks.check_wsd_rate, wrong, capsys)
    assert not ok and out.startswith("✘")
    assert _said(out, hint)


def test_wsd_stubs_are_not_yet_solved(capsys):
    def stub(t, lr, total_steps, decay_steps, warmup_steps=0):
        raise NotImplementedError

    ok, out = _run(checks.check_wsd_rate, stub, capsys)
    assert not ok and out.startswith("○ wsd_rate: not yet solved")

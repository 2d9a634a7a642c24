"""The chapter 11 checker: the tuned rate of a sweep over rates and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks


def tuned_ok(lrs, val_loss):
    mean = np.mean(val_loss, axis=0)  # NaN where a seed diverged
    return lrs[np.nanargmin(mean)]


def tuned_loop(lrs, val_loss):
    best, best_lr = np.inf, None
    for j, lr in enumerate(lrs):
        column = [row[j] for row in val_loss]
        if any(np.isnan(column)):
            continue
        if sum(column) / len(column) < best:
            best, best_lr = sum(column) / len(column), float(lr)
    return best_lr


@pytest.mark.parametrize("answer", [tuned_ok, tuned_loop])
def test_correct_answers_pass(answer, capsys):
    record = []
    assert checks.check_tuned_rate(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔")
    assert record == [checks.CheckResult("tuned_rate", True, out.rstrip("\n"))]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda lrs, v: lrs[np.nanargmin(np.nanmean(v, axis=0))], "nanmean"),
        (lambda lrs, v: lrs[np.nanargmin(v) % v.shape[1]], "single best run"),
        (lambda lrs, v: lrs[np.nanargmin(np.median(v, axis=0))], "median"),
        (lambda lrs, v: int(np.nanargmin(np.mean(v, axis=0))), "position"),
        (lambda lrs, v: lrs[np.nanargmax(np.mean(v, axis=0))], "highest loss"),
        (lambda lrs, v: lrs[np.nanargmin(v, axis=1)], "one rate per seed"),
        (lambda lrs, v: lrs[1], "average val_loss"),
    ],
)
def test_typical_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_tuned_rate(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in " ".join(out.split())


def stub_raises(lrs, val_loss):
    raise NotImplementedError


def stub_ellipsis(lrs, val_loss):
    return ...


@pytest.mark.parametrize("stub", [stub_raises, stub_ellipsis])
def test_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_tuned_rate(stub).passed is False
    assert "not yet solved" in capsys.readouterr().out

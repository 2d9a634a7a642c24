"""The stopping-rule checker: a right answer passes, each typical mistake gets its own hint."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks
from lrcourse.checks import early_stopping as ce
from lrcourse.labs import early_stopping as es


def loop_answer(val_losses, patience, min_delta=0.0):
    best_loss, best, count = np.inf, 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss - min_delta:
            best_loss, best, count = loss, epoch, 0
        else:
            count += 1
            if epoch > 0 and count > patience:
                return epoch, best
    return len(val_losses) - 1, best


def vectorised_answer(val_losses, patience, min_delta=0.0):
    return np.array(es.stopping_epoch(val_losses, patience, min_delta))


@pytest.mark.parametrize("answer", [loop_answer, vectorised_answer])
def test_right_answers_pass(answer, capsys):
    record = []
    assert checks.check_stopping_epoch(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert "✔ stopping_epoch" in out
    assert record == [checks.CheckResult("stopping_epoch", True, out.rstrip("\n"))]


@pytest.mark.parametrize(("mistake", "hint"), ce.MISTAKES, ids=[m.__name__ for m, _ in ce.MISTAKES])
def test_each_mistake_fails_with_its_own_hint(mistake, hint, capsys):
    assert checks.check_stopping_epoch(mistake).passed is False
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ stopping_epoch" in out
    assert " ".join(hint.split())[:40] in out, out


def stub_raises(val_losses, patience, min_delta=0.0):
    raise NotImplementedError


def stub_returns_none(val_losses, patience, min_delta=0.0):
    return None


@pytest.mark.parametrize("stub", [stub_raises, stub_returns_none, None, ...])
def test_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_stopping_epoch(stub).passed is False
    assert "not yet solved" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (lambda v, p, min_delta=0.0: [1, 2, 3], "expected a pair (stop, best)"),
        (lambda v, p, min_delta=0.0: (1.5, 2), "two whole numbers"),
        (lambda v, p, min_delta=0.0: ("a", "b"), "two whole numbers"),
        (lambda v, p: loop_answer(v, p), "unexpected keyword argument 'min_delta'"),
        (lambda v, p, min_delta=0.0: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_wrong_shapes_and_crashes_get_a_message_never_an_exception(answer, says, capsys):
    assert checks.check_stopping_epoch(answer).passed is False
    assert says in " ".join(capsys.readouterr().out.split())


def test_messages_fit_an_exercise_box(capsys):
    for mistake, _ in ce.MISTAKES:
        checks.check_stopping_epoch(mistake)
    for line in capsys.readouterr().out.splitlines():
        assert len(line) <= 62, line


def test_quiet_records_without_printing(capsys):
    record = []
    assert checks.check_stopping_epoch(loop_answer, quiet=True, record=record).passed is True
    assert capsys.readouterr().out == ""
    assert [(r.name, r.passed) for r in record] == [("stopping_epoch", True)]

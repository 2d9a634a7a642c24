"""The chapter 3 checkers: updates per epoch and the error of a minibatch gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrcourse import checks


def _flat(out):
    return " ".join(out.split())


# ----------------------------------------------------------------- updates_per_epoch


def upe_ok(n, batch_size, drop_last=False):
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def upe_numpy(n, batch_size, drop_last=False):
    return np.int64(np.floor(n / batch_size) if drop_last else np.ceil(n / batch_size))


def upe_negative_floor(n, batch_size, drop_last=False):
    return n // batch_size if drop_last else -(-n // batch_size)


@pytest.mark.parametrize("answer", [upe_ok, upe_numpy, upe_negative_floor])
def test_updates_per_epoch_correct_answers_pass(answer, capsys):
    record = []
    assert checks.check_updates_per_epoch(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔")
    assert record == [checks.CheckResult("updates_per_epoch", True, out.rstrip("\n"))]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda n, b, drop_last=False: n // b, "always round down"),
        (lambda n, b, drop_last=False: math.ceil(n / b), "with drop_last=True"),
        (lambda n, b, drop_last=False: math.ceil(n / b) if drop_last else n // b, "round down"),
        (lambda n, b, drop_last=False: n // b + 1 if not drop_last else n // b, "one batch too many"),
        (lambda n, b, drop_last=False: n / b, "it is a float"),
        (lambda n, b, drop_last=False: float(upe_ok(n, b, drop_last)), "return an int"),
        (lambda n, b, drop_last=False: b // n if drop_last else math.ceil(b / n), "swapped"),
        (lambda n, b, drop_last=False: str(upe_ok(n, b, drop_last)), "expected an int"),
        (lambda n, b: math.ceil(n / b), "drop_last"),
    ],
)
def test_updates_per_epoch_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_updates_per_epoch(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in _flat(out)


def test_a_float_answer_is_not_taken_for_a_rounding_mistake(capsys):
    checks.check_updates_per_epoch(lambda n, b, drop_last=False: float(upe_ok(n, b, drop_last)))
    out = _flat(capsys.readouterr().out)
    assert "round down" not in out and "got: 10.0" in out


def _stub_raises(n, batch_size, drop_last=False):
    raise NotImplementedError


@pytest.mark.parametrize("stub", [_stub_raises, lambda n, b, drop_last=False: None, None, ...])
def test_updates_per_epoch_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_updates_per_epoch(stub).passed is False
    out = capsys.readouterr().out
    assert out.startswith("○") and "not yet solved" in out


def test_updates_per_epoch_crash_is_reported(capsys):
    assert checks.check_updates_per_epoch(lambda n, b, drop_last=False: 1 / 0).passed is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_updates_per_epoch_quiet_still_records(capsys):
    record = []
    assert checks.check_updates_per_epoch(upe_ok, quiet=True, record=record).passed is True
    assert capsys.readouterr().out == ""
    assert [(r.name, r.passed) for r in record] == [("updates_per_epoch", True)]
    assert record[0].message.startswith("✔ updates_per_epoch: correct")


# ----------------------------------------------------------------- minibatch_error


def error_ok(sigma2, n, batch_size):
    return sigma2 / batch_size * (n - batch_size) / (n - 1)


def error_numpy(sigma2, n, batch_size):
    return np.asarray(sigma2 * (1 - (batch_size - 1) / (n - 1)) / batch_size)


@pytest.mark.parametrize("answer", [error_ok, error_numpy])
def test_minibatch_error_correct_answers_pass(answer, capsys):
    assert checks.check_minibatch_error(answer).passed is True
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda s, n, b: s / b, "with replacement"),
        (lambda s, n, b: s / b * (n - b) / n, "not (N - B) / N"),
        (lambda s, n, b: math.sqrt(s / b * (n - b) / (n - 1)), "square root"),
        (lambda s, n, b: s / b**2 * (n - b) / (n - 1), "B squared"),
        (lambda s, n, b: s * (n - b) / (n - 1), "divide by the batch size"),
        (lambda s, n, b: 2 * error_ok(s, n, b), "finite-population factor"),  # the generic hint
    ],
)
def test_minibatch_error_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_minibatch_error(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in _flat(out)
    assert "(n - batch_size) / (n - 1)" not in out  # a hint nudges; the solution answers


def _error_stub(sigma2, n, batch_size):
    raise NotImplementedError


@pytest.mark.parametrize("stub", [_error_stub, lambda s, n, b: ..., None])
def test_minibatch_error_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_minibatch_error(stub).passed is False
    assert "not yet solved" in capsys.readouterr().out


def test_the_reference_matches_the_package_formula():
    from lrcourse.checks.batch_size import _ref_minibatch_error
    from lrcourse.labs.batch_size import expected_squared_error

    for n, b in [(10, 1), (10, 4), (10, 10), (1079, 64)]:
        assert _ref_minibatch_error(3.0, n, b) == pytest.approx(expected_squared_error(3.0, n, b))

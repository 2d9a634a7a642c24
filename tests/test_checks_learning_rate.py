"""The chapter 2 checker: the stability limit of a Hessian."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks


def limit_ok(H):
    return 2.0 / np.linalg.eigvalsh(H)[-1]


def limit_ok_array(H):
    return np.array([2.0 / np.linalg.eigvals(H).real.max()])  # one number in an array is fine


def limit_in_place(H):
    H *= 2  # changes the caller's matrix
    return 4.0 / np.linalg.eigvalsh(H)[-1]


@pytest.mark.parametrize("answer", [limit_ok, limit_ok_array])
def test_correct_answers_pass(answer, capsys):
    record = []
    assert checks.check_stability_limit(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔")
    assert record == [checks.CheckResult("stability_limit", True, out.rstrip("\n"))]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda H: 1.0 / np.linalg.eigvalsh(H)[-1], "1/L"),
        (lambda H: 2.0 / np.linalg.eigvalsh(H)[0], "smallest eigenvalue"),
        (lambda H: 2.0 / np.linalg.eigvals(H)[-1], "does not sort"),
        (lambda H: 2.0 / np.max(np.diag(H)), "diagonal"),
        (lambda H: 2.0 / np.trace(H), "trace"),
        (lambda H: 2.0 * np.linalg.eigvalsh(H)[-1], "not multiplied"),
        (lambda H: np.linalg.eigvalsh(H)[-1], "L itself"),
        (lambda H: 2.0 / np.linalg.eigvalsh(H), "one number"),
        (lambda H: "0.13", "not a number"),
        (lambda H: np.inf, "finite"),
        (limit_in_place, "in place"),
    ],
)
def test_typical_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_stability_limit(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in " ".join(out.split())


def test_wrong_values_show_the_input_and_the_factor(capsys):
    checks.check_stability_limit(lambda H: 3.0 / np.linalg.eigvalsh(H)[-1])
    out = capsys.readouterr().out
    assert "expected: 0.133333" in out and "factor 1.5" in out
    assert "2 / eigenvalues" not in out and "steepest" in out  # the hint nudges, never answers


def stub_raises(H):
    raise NotImplementedError


def stub_none(H):
    return None


@pytest.mark.parametrize("stub", [stub_raises, stub_none, None, ...])
def test_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_stability_limit(stub).passed is False
    out = capsys.readouterr().out
    assert out.startswith("○") and "not yet solved" in out


def test_a_crash_is_reported_not_raised(capsys):
    assert checks.check_stability_limit(lambda H: H.no_such_method()).passed is False
    assert "AttributeError" in capsys.readouterr().out


def test_messages_fit_an_exercise_box(capsys):
    checks.check_stability_limit(lambda H: 1.0 / np.linalg.eigvalsh(H)[-1])
    checks.check_stability_limit(lambda H: 2.0 / np.linalg.eigvalsh(H))
    out = capsys.readouterr().out
    prose = [line for line in out.splitlines() if not line.startswith(" ") and "expected" not in line]
    assert max(len(line) for line in prose) <= checks.WIDTH

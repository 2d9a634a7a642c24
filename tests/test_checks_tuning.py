"""The chapter 8 checker: layer-wise rates from a base rate and a decay per layer."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks


def rates_ok(base_lr, decay, n_layers):
    return base_lr * decay ** (n_layers - np.arange(1, n_layers + 1))


def rates_loop(base_lr, decay, n_layers):
    rates = [base_lr]
    for _ in range(n_layers - 1):
        rates.insert(0, rates[0] * decay)
    return rates  # a list is fine


@pytest.mark.parametrize("answer", [rates_ok, rates_loop])
def test_correct_answers_pass(answer, capsys):
    record = []
    assert checks.check_layer_rates(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔")
    assert record == [checks.CheckResult("layer_rates", True, out.rstrip("\n"))]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda b, d, n: b * d ** np.arange(n), "other way round"),
        (lambda b, d, n: b * d ** (n - np.arange(1, n + 1) + 1), "off by one"),
        (lambda b, d, n: b / d ** (n - np.arange(1, n + 1)), "divided"),
        (lambda b, d, n: d ** (n - np.arange(1, n + 1)), "multiply them by base_lr"),
        (lambda b, d, n: (b * d ** (n - np.arange(1, n + 1)))[::-1], "other way round"),
        (lambda b, d, n: b * d * np.arange(n, 0, -1), "compounds"),
        (lambda b, d, n: b * d ** (n - np.arange(1, n)), "shape"),
    ],
)
def test_typical_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_layer_rates(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in " ".join(out.split())


def stub_raises(base_lr, decay, n_layers):
    raise NotImplementedError


@pytest.mark.parametrize("stub", [stub_raises, lambda b, d, n: None, None, ...])
def test_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_layer_rates(stub).passed is False
    out = capsys.readouterr().out
    assert out.startswith("○") and "not yet solved" in out


def test_a_crash_is_reported_not_raised(capsys):
    assert checks.check_layer_rates(lambda b, d, n: b.no_such_method()).passed is False
    assert "AttributeError" in capsys.readouterr().out


def test_messages_fit_an_exercise_box(capsys):
    checks.check_layer_rates(lambda b, d, n: b * d ** np.arange(n))
    out = capsys.readouterr().out
    prose = [line for line in out.splitlines() if not line.startswith(" ") and "expected" not in line]
    prose = [line for line in prose if not line.startswith("got")]
    assert max(len(line) for line in prose) <= checks.WIDTH

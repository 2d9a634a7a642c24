"""Checkers of the momentum and Adam exercises: right answers pass, each mistake gets its own hint."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks, optimizers
from lrcourse.checks import optimizers as co


def momentum_answer(x, grad, buf, lr, momentum, dampening=0.0):
    buf = grad if buf is None else momentum * buf + (1 - dampening) * grad
    return x - lr * buf, buf


def momentum_answer_with_state(x, grad, buf, lr, momentum, dampening=0.0):
    """Another right answer: through lrcourse.optimizers.sgd itself."""
    opt = optimizers.sgd(lr=lr, momentum=momentum, dampening=dampening)
    if momentum == 0:
        return x - lr * grad, grad
    state = opt.init(x) if buf is None else {"step": 1, "momentum_buffer": buf}
    updates, state = opt.update(grad, state, x)
    return x + updates, state["momentum_buffer"]


def adam_answer(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@pytest.mark.parametrize("answer", [momentum_answer, momentum_answer_with_state])
def test_momentum_right_answers_pass(answer, capsys):
    record = []
    assert checks.check_momentum_step(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert "✔ momentum_step" in out
    assert record == [checks.CheckResult("momentum_step", True, out.rstrip("\n"))]


def test_adam_right_answer_passes(capsys):
    assert checks.check_adam_step(adam_answer).passed is True
    assert "✔ adam_step" in capsys.readouterr().out


def _ids(mistakes):
    return [getattr(fn, "__name__", "lambda") + f"-{i}" for i, (fn, _) in enumerate(mistakes)]


@pytest.mark.parametrize(("mistake", "hint"), co.MOMENTUM_MISTAKES, ids=_ids(co.MOMENTUM_MISTAKES))
def test_each_momentum_mistake_gets_its_hint(mistake, hint, capsys):
    assert checks.check_momentum_step(mistake).passed is False
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ momentum_step" in out
    assert " ".join(hint.split())[:40] in out, out


@pytest.mark.parametrize(("mistake", "hint"), co.ADAM_MISTAKES, ids=_ids(co.ADAM_MISTAKES))
def test_each_adam_mistake_gets_its_hint(mistake, hint, capsys):
    assert checks.check_adam_step(mistake).passed is False
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ adam_step" in out
    assert " ".join(hint.split())[:40] in out, out


def test_textbook_momentum_is_named_as_such(capsys):
    checks.check_momentum_step(co._textbook_momentum)
    assert "textbook form" in capsys.readouterr().out


def test_missing_first_step_rule_is_named(capsys):
    checks.check_momentum_step(co._no_first_step_rule)
    out = " ".join(capsys.readouterr().out.split())
    assert "first step" in out and "buf = grad" in out


def test_returning_only_x_is_explained(capsys):
    assert (
        checks.check_momentum_step(lambda x, grad, buf, lr, momentum, dampening=0.0: x - lr * grad).passed
        is False
    )
    out = " ".join(capsys.readouterr().out.split())
    assert "expected a tuple of 2 arrays (new_x, new_buf)" in out


def test_in_place_update_is_caught(capsys):
    def in_place(x, grad, buf, lr, momentum, dampening=0.0):
        buf = grad.copy() if buf is None else buf
        if buf is not grad:
            buf *= momentum
            buf += (1 - dampening) * grad
        x -= lr * buf
        return x, buf

    assert checks.check_momentum_step(in_place).passed is False
    assert "in place" in capsys.readouterr().out


def momentum_stub(x, grad, buf, lr, momentum, dampening=0.0):
    raise NotImplementedError


def adam_stub(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return ...


@pytest.mark.parametrize(
    ("check", "stub"),
    [
        (checks.check_momentum_step, momentum_stub),
        (checks.check_momentum_step, None),
        (checks.check_adam_step, adam_stub),
        (checks.check_adam_step, None),
    ],
)
def test_stubs_are_not_yet_solved(check, stub, capsys):
    assert check(stub).passed is False
    assert "not yet solved" in capsys.readouterr().out


def test_crash_is_reported_not_raised(capsys):
    def crashes(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        return x / "oops"

    assert checks.check_adam_step(crashes).passed is False
    assert "raised TypeError" in capsys.readouterr().out


def test_messages_fit_the_exercise_box(capsys):
    checks.check_momentum_step(co._textbook_momentum)
    checks.check_adam_step(adam_stub)
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith(("  ", "expected:", "got:")):
            assert len(line) <= checks.WIDTH, line


def test_quiet_checks_print_nothing(capsys):
    assert checks.check_adam_step(adam_answer, quiet=True).passed is True
    assert capsys.readouterr().out == ""


def test_generic_momentum_hint_nudges_without_the_formula(capsys):
    # an answer no listed mistake explains gets the generic hint, which must not print the rule
    checks.check_momentum_step(lambda x, grad, buf, lr, momentum, dampening=0.0: (1.5 * x, grad))
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ momentum_step" in out and "first step" in out
    assert "(1 - dampening) * grad" not in out and "x - lr * buf" not in out


def test_generic_adam_hint_nudges_without_the_formula(capsys):
    checks.check_adam_step(lambda x, grad, m, v, t, **kw: (1.5 * x, m, v))
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ adam_step" in out and "moving averages" in out
    assert "1 - beta1**t" not in out and "sqrt(v_hat) + eps" not in out

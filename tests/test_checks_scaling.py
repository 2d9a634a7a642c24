"""The chapter 10 checkers: power iteration, muP's rates and the batch-size rules."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks


def _flat(out):
    return " ".join(out.split())


# ----------------------------------------------------------------- largest_eigenvalue


def eig_ok(matvec, v0, steps=100):
    v = np.asarray(v0, dtype=float)
    v = v / np.linalg.norm(v)
    value = 0.0
    for _ in range(steps):
        w = matvec(v)
        value = v @ w
        v = w / np.linalg.norm(w)
    return value


def eig_quotient(matvec, v0, steps=100):
    # normalising after the product, and the quotient of the last vector: also right
    v = np.asarray(v0, dtype=float)
    for _ in range(steps):
        v = matvec(v)
        v = v / np.linalg.norm(v)
    return float(v @ matvec(v))


@pytest.mark.parametrize("answer", [eig_ok, eig_quotient])
def test_largest_eigenvalue_correct_answers_pass(answer, capsys):
    record = []
    assert checks.check_largest_eigenvalue(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔")
    assert record[0].name == "largest_eigenvalue"


def eig_abs(matvec, v0, steps=100):
    return abs(eig_ok(matvec, v0, steps))


def eig_start(matvec, v0, steps=100):
    v = np.asarray(v0, dtype=float)
    return v @ matvec(v) / (v @ v)


def eig_unnormalised(matvec, v0, steps=100):
    v = np.asarray(v0, dtype=float)
    for _ in range(steps - 1):
        v = matvec(v)
    return v @ matvec(v)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (eig_abs, "the sign is lost"),
        (eig_start, "of the starting vector"),
        (eig_unnormalised, "only when v has length 1"),
        (lambda matvec, v0, steps=100: 2 * eig_ok(matvec, v0, steps), "normalise v0"),
    ],
)
def test_largest_eigenvalue_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_largest_eigenvalue(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in _flat(out)
    assert max(len(line) for line in out.splitlines()) <= 62


def test_largest_eigenvalue_may_not_change_its_start(capsys):
    def in_place(matvec, v0, steps=100):
        v0 /= np.linalg.norm(v0)
        return eig_ok(matvec, v0, steps)

    assert checks.check_largest_eigenvalue(in_place).passed is False
    assert "in place" in capsys.readouterr().out


# ----------------------------------------------------------------- mup_rates


def mup_ok(base_lr, base_width, width):
    m = width / base_width
    return (base_lr, base_lr, base_lr / m, base_lr)


@pytest.mark.parametrize("answer", [mup_ok, lambda lr, b, w: np.array(mup_ok(lr, b, w))])
def test_mup_rates_correct_answers_pass(answer, capsys):
    assert checks.check_mup_rates(answer).passed is True
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda lr, b, w: (lr, lr, lr, lr), "standard parametrization"),
        (lambda lr, b, w: (lr, lr, lr * w / b, lr), "it must shrink"),
        (lambda lr, b, w: (lr * w / b, lr * w / b, lr * b / w, lr), "rates for SGD"),
        (lambda lr, b, w: (lr * b / w,) * 4, "only the weights"),
        (lambda lr, b, w: (lr * b / w, lr, lr * b / w, lr), "W1 reads the inputs"),
        (lambda lr, b, w: (lr, lr, lr * np.sqrt(b / w), lr), "divides the rate"),
        (lambda lr, b, w: (lr, lr), "wrong shape"),
    ],
)
def test_mup_rates_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_mup_rates(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in _flat(out)


# ----------------------------------------------------------------- batch_rate


def batch_ok(lr_ref, batch_ref, batch_size, optimizer):
    k = batch_size / batch_ref
    return lr_ref * (k if optimizer == "sgd" else np.sqrt(k))


def test_batch_rate_correct_answer_passes(capsys):
    assert checks.check_batch_rate(batch_ok).passed is True
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda lr, r, b, o: lr * b / r, "right for SGD"),
        (lambda lr, r, b, o: lr * np.sqrt(b / r), "right for Adam"),
        (lambda lr, r, b, o: lr * (np.sqrt(b / r) if o == "sgd" else b / r), "right for"),
        (lambda lr, r, b, o: batch_ok(lr, b, r, o), "upside down"),
        (lambda lr, r, b, o: lr * (b / r if o == "sgd" else (b / r) ** 2), "not its square"),
        (lambda lr, r, b, o: lr + b / r, "square root of k"),
    ],
)
def test_batch_rate_mistakes_get_a_specific_message(answer, phrase, capsys):
    assert checks.check_batch_rate(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and phrase in _flat(out)


def _stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "checker", [checks.check_largest_eigenvalue, checks.check_mup_rates, checks.check_batch_rate]
)
@pytest.mark.parametrize("stub", [_stub, lambda *a: None, None, ...])
def test_stubs_are_not_yet_solved(checker, stub, capsys):
    assert checker(stub).passed is False
    out = capsys.readouterr().out
    assert out.startswith("○") and "not yet solved" in out

"""The chapter-4 checkers: right answers pass, typical mistakes get their own hint, stubs are 'not yet solved'."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks, data, labs
from lrcourse.checks import epochs as ce
from lrcourse.diagnosis import diagnose
from lrcourse.optimizers import sgd


def _flat(text):
    return " ".join(text.split())


# ----------------------------------------------------------------- is_overfitting


def answer_numpy(train_loss, val_loss, tol=0.1):
    best = int(np.argmin(val_loss))
    return val_loss[-1] > (1 + tol) * val_loss[best] and train_loss[-1] < train_loss[best]


def answer_loop(train_loss, val_loss, tol=0.1):
    best = 0
    for e, v in enumerate(val_loss):
        if v < val_loss[best]:
            best = e
    rose = val_loss[-1] > (1 + tol) * val_loss[best]
    return bool(rose and train_loss[-1] < train_loss[best])


@pytest.mark.parametrize("answer", [answer_numpy, answer_loop])
def test_right_answers_pass(answer, capsys):
    record = []
    assert checks.check_is_overfitting(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert "✔ is_overfitting" in out
    assert record == [checks.CheckResult("is_overfitting", True, out.rstrip("\n"))]


@pytest.mark.parametrize(("mistake", "hint"), ce.MISTAKES, ids=[m.__name__ for m, _ in ce.MISTAKES])
def test_each_mistake_gets_its_own_hint(mistake, hint, capsys):
    assert checks.check_is_overfitting(mistake).passed is False
    out = _flat(capsys.readouterr().out)
    assert "✘ is_overfitting: returned" in out
    assert f"Hint: {_flat(hint)}" in out, out


def stub_raises(train_loss, val_loss, tol=0.1):
    raise NotImplementedError


def stub_returns_none(train_loss, val_loss, tol=0.1):
    return None


@pytest.mark.parametrize("stub", [stub_raises, stub_returns_none, None, ...])
def test_is_overfitting_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_is_overfitting(stub).passed is False
    assert "not yet solved" in capsys.readouterr().out


def test_an_elementwise_answer_is_named(capsys):
    def elementwise(train_loss, val_loss, tol=0.1):
        return np.asarray(val_loss) > (1 + tol) * np.min(val_loss)

    assert checks.check_is_overfitting(elementwise).passed is False
    assert "returned an array of shape" in capsys.readouterr().out


def test_the_reference_is_the_check_of_diagnose(quiz):
    sweep = labs.epochs.polynomial_sweep(range(1, 13), quiz_points(), sgd(lr=0.35), 600)
    histories = [sweep.history(d, e) for d in sweep.degrees for e in (50, 600)]
    histories += [c.history for c in quiz]
    seen = set()
    for h in histories:
        d = diagnose(h)
        if d.verdict in ("diverged", "unstable"):
            continue  # checked before overfitting
        seen.add(d.verdict)
        assert ce._ref_is_overfitting(h.train_loss, h.val_loss) == (d.verdict == "overfitting")
    assert "overfitting" in seen and "good fit" in seen


def quiz_points():
    X, y = data.make_polynomial_regression(15, degree=1, seed=0)
    X_val, y_val = data.make_polynomial_regression(100, degree=1, seed=1)
    return X[:, 0], y, X_val[:, 0], y_val


# ----------------------------------------------------------------- curve labels


@pytest.fixture(scope="module")
def quiz():
    return labs.epochs.curve_quiz()


@pytest.fixture(scope="module")
def truth(quiz):
    return {c.letter: c.diagnosis.verdict for c in quiz}


def test_right_labels_pass_and_reveal_the_runs(quiz, truth, capsys):
    record = []
    assert checks.check_curve_labels(truth, quiz, record=record).passed is True
    out = capsys.readouterr().out
    assert "✔ curve_labels" in out
    for curve in quiz:
        assert _flat(curve.setting) in _flat(out)
    assert record == [checks.CheckResult("curve_labels", True, out.rstrip("\n"))]
    assert max(len(line) for line in out.splitlines()) <= checks.WIDTH + 2


def test_synonyms_japanese_and_lists_are_accepted(quiz, truth):
    japanese = {"good fit": "適切な汎化", "overfitting": "過学習", "underfitting": "未学習",
                "unstable": "不安定な学習", "diverged": "発散"}  # fmt: skip
    assert checks.check_curve_labels({k.lower(): japanese[v] for k, v in truth.items()}, quiz, quiet=True)
    in_order = [truth[c.letter].upper().replace(" ", "_") for c in quiz]
    assert checks.check_curve_labels(in_order, quiz, quiet=True)


def test_a_wrong_label_is_explained_with_the_evidence(quiz, truth, capsys):
    labels = dict(truth)
    over = next(c for c in quiz if c.diagnosis.verdict == "overfitting")
    under = next(c for c in quiz if c.diagnosis.verdict == "underfitting")
    labels[over.letter] = "good fit"
    labels[under.letter] = "overfit"
    assert checks.check_curve_labels(labels, quiz).passed is False
    out = _flat(capsys.readouterr().out)
    assert f"✘ curve_labels: {len(quiz) - 2} of {len(quiz)} right." in out
    assert f"Curve {over.letter}: you said good fit; diagnose says overfitting." in out
    assert f"above its minimum at epoch {over.diagnosis.evidence['best_val_epoch']}" in out
    assert f"Curve {under.letter}: you said overfitting; diagnose says underfitting." in out
    assert "still falling" in out and _flat(over.setting) in out
    correct = next(c for c in quiz if c.letter not in (over.letter, under.letter))
    assert f"Curve {correct.letter}:" not in out


@pytest.mark.parametrize(
    ("labels", "needle"),
    [
        (None, "not yet solved"),
        (..., "not yet solved"),
        ({k: ... for k in "ABCDEF"}, "not yet solved"),
        ({"A": "unstable"}, "no label yet for curve B, C, D, E, F"),
        ({k: "wobbly" for k in "ABCDEF"}, "unknown label"),
        (["good fit"] * 3, "expected 6 labels"),
        ("overfitting", "expected a dict"),
    ],
)
def test_incomplete_or_odd_answers_never_raise(quiz, labels, needle, capsys):
    assert checks.check_curve_labels(labels, quiz).passed is False
    assert needle in _flat(capsys.readouterr().out)

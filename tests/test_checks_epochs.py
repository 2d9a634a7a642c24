"""The chapter-4 checkers: right answers pass, typical mistakes get their own hint, stubs are 'not yet solved'."""

from __future__ import annotations

import math

import pytest

from lrcourse import checks, generalization
from lrcourse.checks import epochs as ce


@pytest.fixture(autouse=True)
def _fresh_results():
    checks.reset_results()
    yield
    checks.reset_results()


def _flat(text):
    return " ".join(text.split())


# ----------------------------------------------------------------- total_updates


def answer_ceil(n, batch_size, epochs, drop_last=False):
    return epochs * (n // batch_size if drop_last else math.ceil(n / batch_size))


def answer_integer(n, batch_size, epochs, drop_last=False):
    per_epoch = n // batch_size if drop_last else -(-n // batch_size)
    return epochs * per_epoch


@pytest.mark.parametrize("answer", [answer_ceil, answer_integer])
def test_right_answers_pass(answer, capsys):
    assert checks.check_total_updates(answer) is True
    assert "✔ total_updates" in capsys.readouterr().out
    assert checks.results() == [("total_updates", True)]


@pytest.mark.parametrize(("mistake", "hint"), ce.MISTAKES, ids=[m.__name__ for m, _ in ce.MISTAKES])
def test_each_mistake_gets_its_hint(mistake, hint, capsys):
    assert checks.check_total_updates(mistake) is False
    out = _flat(capsys.readouterr().out)
    assert "✘ total_updates" in out
    assert _flat(hint)[:40] in out, out


def stub_raises(n, batch_size, epochs, drop_last=False):
    raise NotImplementedError


def stub_returns_none(n, batch_size, epochs, drop_last=False):
    return None


@pytest.mark.parametrize("stub", [stub_raises, stub_returns_none, None, ...])
def test_total_updates_stubs_are_not_yet_solved(stub, capsys):
    assert checks.check_total_updates(stub) is False
    assert "not yet solved" in capsys.readouterr().out


def test_messages_fit_the_width(capsys):
    for mistake, _ in ce.MISTAKES:
        checks.check_total_updates(mistake)
    for line in capsys.readouterr().out.splitlines():
        assert len(line) <= checks.WIDTH + 2, line


# ----------------------------------------------------------------- curve labels


@pytest.fixture(scope="module")
def quiz():
    return generalization.curve_quiz()


@pytest.fixture(scope="module")
def truth(quiz):
    return {c.letter: c.diagnosis.verdict for c in quiz}


def test_right_labels_pass_and_reveal_the_runs(quiz, truth, capsys):
    assert checks.check_curve_labels(truth, quiz) is True
    out = capsys.readouterr().out
    assert "✔ curve_labels" in out
    for curve in quiz:
        assert _flat(curve.setting) in _flat(out)
    assert checks.results() == [("curve_labels", True)]
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
    assert checks.check_curve_labels(labels, quiz) is False
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
    assert checks.check_curve_labels(labels, quiz) is False
    assert needle in _flat(capsys.readouterr().out)

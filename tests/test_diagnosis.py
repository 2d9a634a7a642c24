from types import SimpleNamespace

import numpy as np
import pytest
from helpers import make_moons

from lrcourse import data, models
from lrcourse.diagnosis import VERDICTS, Diagnosis, diagnose
from lrcourse.optimizers import sgd
from lrcourse.training import fit


def history(train, val=None, diverged=False, diverged_at=-1, reason=None):
    return SimpleNamespace(
        train_loss=np.asarray(train, dtype=float),
        val_loss=None if val is None else np.asarray(val, dtype=float),
        train_accuracy=None,
        val_accuracy=None,
        diverged=diverged,
        diverged_at=diverged_at,
        divergence_reason=reason,
    )


SETTLED = 1.0 + 9.0 * 0.5 ** np.arange(21)  # 10 -> 1, levelled off


def test_diverged_comes_first():
    d = diagnose(history([2.0, 1.0], diverged=True, diverged_at=17, reason="non-finite loss (nan)"))
    assert d.verdict == "diverged" and d.evidence["diverged_at_update"] == 17
    assert "update 17" in d.reason and "nan" in d.reason


def test_good_fit():
    d = diagnose(history(SETTLED, SETTLED * 1.1))
    assert d.verdict == "good fit"
    assert d.evidence["train_progress"] == pytest.approx(0.9, abs=1e-5)
    assert d.evidence["recent_share_of_improvement"] < 0.01


def test_unstable_when_the_loss_keeps_rising():
    zigzag = 1.0 + 0.5 * (np.arange(21) % 2)  # rises in 10 of 20 epochs
    d = diagnose(history(zigzag))
    assert d.verdict == "unstable" and d.evidence["train_rise_fraction"] == pytest.approx(0.5)
    assert "10 of 20 epochs" in d.reason


def test_unstable_when_the_loss_ends_far_above_its_best():
    curve = np.concatenate([np.linspace(10, 1, 15), [1.0, 1.0, 1.0, 1.0, 2.5, 2.5]])  # one jump up
    d = diagnose(history(curve))
    assert d.evidence["train_rise_fraction"] == pytest.approx(0.05)
    assert d.verdict == "unstable" and d.evidence["final_over_min_train"] == pytest.approx(2.5)


def test_overfitting_needs_a_rising_validation_loss_and_a_falling_training_loss():
    train = np.linspace(2.0, 0.1, 21)
    val = np.concatenate([np.linspace(2.0, 1.0, 11), np.linspace(1.0, 1.5, 11)[1:]])
    d = diagnose(history(train, val))
    assert d.verdict == "overfitting"
    assert d.evidence["best_val_epoch"] == 10 and d.evidence["val_rise"] == pytest.approx(0.5)
    assert "50%" in d.reason
    small_rise = np.concatenate([np.linspace(2.0, 1.0, 11), np.linspace(1.0, 1.05, 11)[1:]])
    assert diagnose(history(train, small_rise)).verdict != "overfitting"
    assert diagnose(history(train, val), overfit_tol=0.6).verdict != "overfitting"


def test_underfitting_when_training_barely_moved():
    d = diagnose(history(np.linspace(2.0, 1.9, 21)))
    assert d.verdict == "underfitting" and d.evidence["train_progress"] == pytest.approx(0.05)


def test_underfitting_when_the_loss_is_still_falling():
    line = np.linspace(10.0, 2.0, 21)  # a straight line: the last 20% brought 20% of the drop
    d = diagnose(history(line, line + 0.5))
    assert d.verdict == "underfitting"
    assert d.evidence["recent_share_of_improvement"] == pytest.approx(0.2)
    assert "validation loss was still falling" in d.reason
    assert diagnose(history(line), still_improving=0.25).verdict == "good fit"


def test_diagnosis_prints_verdict_and_evidence():
    d = diagnose(history(SETTLED, SETTLED))
    text = str(d)
    assert text.startswith("good fit: ")
    assert "final_val_loss = 1" in text and "epochs = 20" in text
    assert isinstance(d, Diagnosis) and d.verdict in VERDICTS


def test_bad_thresholds():
    with pytest.raises(ValueError, match="unstable_ratio"):
        diagnose(history(SETTLED), unstable_ratio=0.5)
    with pytest.raises(ValueError, match="tail"):
        diagnose(history(SETTLED), tail=0.0)


# ----------------------------------------------------------------- on real runs


@pytest.fixture(scope="module")
def poly():
    X, y = data.make_polynomial_regression(n_samples=40, degree=12, noise=0.3, seed=0)
    return data.standardize(data.train_val_test_split(X, y, val_fraction=0.5, test_fraction=0.0, seed=0))[0]


@pytest.mark.parametrize(
    "lr, epochs, verdict",
    [(0.05, 2000, "overfitting"), (0.3, 200, "diverged"), (1e-4, 50, "underfitting")],
)
def test_verdicts_on_polynomial_regression(poly, lr, epochs, verdict):
    _, h = fit(models.LinearRegression(12), poly, sgd(lr=lr), epochs=epochs)
    assert diagnose(h).verdict == verdict, str(diagnose(h))


def test_good_fit_on_a_linear_problem():
    X, y, _ = data.make_linear_regression(n_samples=200, n_features=5, noise=0.5, seed=0)
    split = data.standardize(data.train_val_test_split(X, y, seed=0))[0]
    _, h = fit(models.LinearRegression(5), split, sgd(lr=0.1), epochs=100, batch_size=20)
    assert diagnose(h).verdict == "good fit", str(diagnose(h))


def test_digits_accuracy_in_evidence():
    X, y = data.load_digits()
    split = data.standardize(data.train_val_test_split(X, y, seed=0))[0]
    _, h = fit(models.SoftmaxRegression(64, 10), split, sgd(lr=0.1), epochs=5, batch_size=64)
    d = diagnose(h)
    assert d.evidence["final_val_accuracy"] > 0.85 and "final_train_accuracy" in d.evidence


def test_unstable_on_moons_with_a_rate_far_too_large():
    X, y = make_moons(200, noise=0.25, seed=0)
    split = data.train_val_test_split(X, y, seed=0)
    _, h = fit(models.MLP(2, hidden=(16,), n_classes=2), split, sgd(lr=10.0), epochs=30, batch_size=8)
    assert not h.diverged
    d = diagnose(h)
    assert d.verdict == "unstable" and d.evidence["train_rise_fraction"] >= 0.2

from types import SimpleNamespace

import numpy as np
import pytest

from lrcourse import data, generalization, models
from lrcourse.diagnosis import VERDICTS, diagnose
from lrcourse.optimizers import adam, sgd
from lrcourse.training import fit


@pytest.fixture(scope="module")
def points():
    X, y = data.make_polynomial_regression(n_samples=15, degree=1, noise=0.3, seed=0)
    X_val, y_val = data.make_polynomial_regression(n_samples=60, degree=1, noise=0.3, seed=1)
    return X[:, 0], y, X_val[:, 0], y_val


def _fit_degree(points, degree, optimizer, epochs):
    x, y, x_val, y_val = points
    split = (
        data.polynomial_features(x, degree),
        y,
        data.polynomial_features(x_val, degree),
        y_val,
    )
    return fit(models.LinearRegression(degree), split, optimizer, epochs, shuffle=False)


# ----------------------------------------------------------------- polynomial_sweep


@pytest.mark.parametrize(
    "make", [lambda: sgd(lr=0.3), lambda: sgd(lr=0.2, momentum=0.9), lambda: adam(lr=0.05)]
)
def test_sweep_equals_fit_for_every_degree(points, make):
    sweep = generalization.polynomial_sweep(*points, degrees=(1, 3, 7, 12), optimizer=make(), epochs=150)
    for degree in (1, 3, 7, 12):
        params, h = _fit_degree(points, degree, make(), 150)
        s = sweep.index(degree)
        np.testing.assert_allclose(sweep.train_loss[s], h.train_loss, rtol=1e-10)
        np.testing.assert_allclose(sweep.val_loss[s], h.val_loss, rtol=1e-10)
        got = sweep.params(degree, 150)
        np.testing.assert_allclose(got["w"], params["w"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got["b"], params["b"], rtol=1e-9, atol=1e-12)
        mine = sweep.history(degree)
        assert mine.n_updates == h.n_updates == 150
        # on a plateau round-off may pick a neighbouring epoch of the same loss
        assert h.val_loss[mine.best_epoch] == pytest.approx(h.val_loss[h.best_epoch], rel=1e-10)
        np.testing.assert_allclose(mine.update_loss, h.update_loss, rtol=1e-10)
        assert len(mine.epoch_lr) == len(h.epoch_lr) and mine.updates_per_epoch == 1
        assert diagnose(mine).verdict == diagnose(h).verdict


def test_higher_powers_stay_zero_and_predict_matches_the_model(points):
    sweep = generalization.polynomial_sweep(*points, degrees=range(1, 6), optimizer=sgd(lr=0.3), epochs=40)
    assert sweep.degrees == (1, 2, 3, 4, 5) and sweep.epochs == 40 and sweep.n_train == 15
    for s, d in enumerate(sweep.degrees):
        assert np.all(sweep.weights[:, s, d:] == 0)
    x = np.linspace(-1, 1, 7)
    p = sweep.params(3, 25)
    expected = models.LinearRegression(3).predict(p, data.polynomial_features(x, 3))
    np.testing.assert_allclose(sweep.predict(3, 25, x), expected, rtol=1e-12)
    assert sweep.best_epoch(3) == int(np.argmin(sweep.val_loss[2]))


def test_divergence_is_detected_as_fit_does(points):
    make = lambda: sgd(lr=1.0, momentum=0.9)  # noqa: E731
    sweep = generalization.polynomial_sweep(*points, degrees=(3, 14), optimizer=make(), epochs=200)
    for degree in (3, 14):
        _, h = _fit_degree(points, degree, make(), 200)
        mine = sweep.history(degree)
        assert mine.diverged == h.diverged
        assert (mine.diverged_at, mine.epochs_run, mine.best_epoch) == (
            h.diverged_at,
            h.epochs_run,
            h.best_epoch,
        )
        assert len(mine.update_loss) == len(h.update_loss) and len(mine.epoch_lr) == len(h.epoch_lr)
        assert diagnose(mine).verdict == diagnose(h).verdict
    s = sweep.index(14)
    assert sweep.diverged_at[s] > 0 and np.isnan(sweep.train_loss[s, sweep.diverged_at[s] + 1 :]).all()
    assert sweep.diverged_at[sweep.index(3)] == -1


def test_history_can_stop_early(points):
    sweep = generalization.polynomial_sweep(*points, degrees=(2, 9), optimizer=sgd(lr=0.3), epochs=100)
    h = sweep.history(9, epochs=30)
    assert h.epochs_run == 30 and len(h.train_loss) == 31 and len(h.update_loss) == 30
    np.testing.assert_array_equal(h.val_loss, sweep.val_loss[1, :31])


def test_sweep_arguments_are_checked(points):
    with pytest.raises(ValueError, match="distinct"):
        generalization.polynomial_sweep(*points, degrees=(2, 2), optimizer=sgd(lr=0.1), epochs=5)
    with pytest.raises(ValueError, match="sweep shape"):
        generalization.polynomial_sweep(
            *points, degrees=(2,), optimizer=sgd(lr=np.array([0.1, 0.2])), epochs=5
        )
    with pytest.raises(ValueError, match="Optimizer"):
        generalization.polynomial_sweep(*points, degrees=(2,), optimizer=sgd, epochs=5)
    x, y, xv, yv = points
    with pytest.raises(ValueError, match="same length"):
        generalization.polynomial_sweep(x, y[:-1], xv, yv, degrees=(2,), optimizer=sgd(lr=0.1), epochs=5)
    sweep = generalization.polynomial_sweep(*points, degrees=(2,), optimizer=sgd(lr=0.1), epochs=5)
    with pytest.raises(ValueError, match="degree must be one of"):
        sweep.params(3, 1)
    with pytest.raises(ValueError, match="epoch"):
        sweep.params(2, 6)


# ----------------------------------------------------------------- selection bias


def test_choosing_on_the_selection_set_is_optimistic(points):
    sweep = generalization.polynomial_sweep(*points, degrees=range(1, 13), optimizer=sgd(lr=0.35), epochs=300)
    epochs = [1, 10, 30, 100, 300]
    bias = generalization.selection_bias(sweep, epochs, n_select=20, repeats=60, n_reference=5000)
    assert len(bias.candidates) == 12 * 5 and bias.chosen.shape == (60,)
    summary = bias.summary()
    assert summary["selected_score"] < summary["true_error"]
    assert bias.optimism > 0 and bias.fraction_optimistic > 0.6
    # the fresh score is an honest estimate: close to the true error on average
    assert abs(summary["fresh_score"] - summary["true_error"]) < 0.3 * summary["true_error"]
    # repetition 0 by hand: the chosen candidate has the lowest score on its set
    X, y = data.make_polynomial_regression(20, degree=12, noise=0.3, seed=10_000 + 1)
    scores = [np.mean((sweep.predict(d, e, X[:, 0]) - y) ** 2) for d, e in bias.candidates]
    assert int(np.argmin(scores)) == bias.chosen[0]
    assert bias.selected_score[0] == pytest.approx(min(scores), rel=1e-10)
    again = generalization.selection_bias(sweep, epochs, n_select=20, repeats=60, n_reference=5000)
    np.testing.assert_array_equal(again.chosen, bias.chosen)


def test_selection_bias_arguments(points):
    sweep = generalization.polynomial_sweep(*points, degrees=(1, 2), optimizer=sgd(lr=0.1), epochs=10)
    with pytest.raises(ValueError, match="PolynomialSweep"):
        generalization.selection_bias("sweep", [1])
    with pytest.raises(ValueError, match="epochs"):
        generalization.selection_bias(sweep, [11])
    with pytest.raises(ValueError, match="at least one"):
        generalization.selection_bias(sweep, [])


# ----------------------------------------------------------------- noisy labels


def test_noisy_labels_change_exactly_the_fraction():
    y = np.arange(200) % 10
    noisy = generalization.noisy_labels(y, 0.2, 10, seed=3)
    changed = noisy != y
    assert changed.sum() == 40 and noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(noisy, generalization.noisy_labels(y, 0.2, 10, seed=3))
    np.testing.assert_array_equal(generalization.noisy_labels(y, 0.0, 10), y)
    assert y[0] == 0  # the input is not modified
    with pytest.raises(ValueError, match="labels"):
        generalization.noisy_labels(np.array([0.5, 1.0]), 0.1, 2)
    with pytest.raises(ValueError, match="fraction"):
        generalization.noisy_labels(y, 1.5, 10)


# ----------------------------------------------------------------- evidence in words


def _history(train, val=None, diverged=False):
    return SimpleNamespace(
        train_loss=np.asarray(train, dtype=float),
        val_loss=None if val is None else np.asarray(val, dtype=float),
        train_accuracy=None,
        val_accuracy=None,
        diverged=diverged,
        diverged_at=17 if diverged else -1,
        divergence_reason="non-finite loss (nan)" if diverged else None,
    )


SETTLED = 1.0 + 9.0 * 0.5 ** np.arange(21)


@pytest.mark.parametrize(
    ("history", "verdict", "needle"),
    [
        (_history([2.0, 1.0], diverged=True), "diverged", "update 17"),
        (_history(1.0 + 0.5 * (np.arange(21) % 2)), "unstable", "50% of the epochs"),
        (
            _history(np.linspace(2, 0.1, 21), np.r_[np.linspace(2, 1, 11), np.linspace(1, 1.5, 11)[1:]]),
            "overfitting",
            "50% above its minimum at epoch 10",
        ),
        (_history(np.linspace(10, 5, 21), np.linspace(10, 5, 21)), "underfitting", "still falling"),
        (_history(SETTLED, 1.1 * SETTLED), "good fit", "0% above its minimum"),
    ],
)
def test_evidence_lines_name_the_deciding_numbers(history, verdict, needle):
    d = diagnose(history)
    assert d.verdict == verdict
    lines = generalization.evidence_lines(d)
    assert any(needle in line for line in lines), lines
    compact = generalization.evidence_lines(d, compact=True)
    assert len(compact) == len(lines) and all(len(line) < 60 for line in compact)
    if verdict != "diverged":
        expected = 4 if history.val_loss is None else 6
        assert len(generalization.evidence_lines(d, full=True)) == expected


def test_evidence_without_validation_and_the_no_minus_zero_rule():
    d = diagnose(_history(np.linspace(1, 0.99, 11)))
    assert d.verdict == "underfitting"
    (line,) = generalization.evidence_lines(d)
    assert "removed 1% of the initial loss" in line
    assert len(generalization.evidence_lines(d, full=True)) == 4
    assert generalization._pct(-0.001) == "0%"


# ----------------------------------------------------------------- the quiz


def test_curve_quiz_shows_every_verdict():
    quiz = generalization.curve_quiz()
    assert [c.letter for c in quiz] == list("ABCDEF")
    verdicts = {c.diagnosis.verdict for c in quiz}
    assert verdicts == set(VERDICTS)
    other = generalization.curve_quiz(seed=1)
    assert sorted(c.setting for c in other) == sorted(c.setting for c in quiz)
    assert [c.setting for c in other] != [c.setting for c in quiz]

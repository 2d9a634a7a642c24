"""Early stopping replayed on recorded curves: the same decisions as fit, vectorised."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lrcourse import data, models, schedules, training
from lrcourse.labs import early_stopping as es
from lrcourse.optimizers import sgd

# ----------------------------------------------------------------- a plain-loop reference


def _reference(val, patience, min_delta=0.0):
    """The rule written as fit's EarlyStopping runs it, one epoch at a time."""
    tracker = training.EarlyStopping(patience, min_delta)
    tracker.update(0, val[0])
    for e in range(1, len(val)):
        if tracker.update(e, val[e]):
            return e, tracker.best_epoch
    return len(val) - 1, tracker.best_epoch


def _random_curves(rng, n, epochs):
    """U-shaped validation curves with noise, a few with flat stretches and NaN."""
    t = np.arange(epochs + 1)
    bottom = rng.integers(3, epochs, size=(n, 1))
    base = 0.5 + 0.002 * (t - bottom) ** 2 / epochs + np.exp(-t / 3)
    curves = base + rng.normal(0, 0.02, size=(n, epochs + 1))
    curves[0, 5:9] = curves[0, 4]  # a flat stretch: equal losses do not improve
    curves[1, 7] = np.nan  # a NaN never improves
    return curves


@pytest.fixture(scope="module")
def curves():
    return _random_curves(np.random.default_rng(0), 12, 40)


@pytest.fixture(scope="module")
def poly():
    X, y = data.make_polynomial_regression(n_samples=60, degree=12, noise=0.3, seed=0)
    return models.LinearRegression(12), data.train_val_test_split(X, y, 1 / 3, 1 / 3, seed=0)


# ----------------------------------------------------------------- the rule


@pytest.mark.parametrize("min_delta", [0.0, 0.005, 0.02, 0.2])
def test_stopping_epoch_equals_the_epoch_by_epoch_rule(curves, min_delta):
    for row, p in itertools.product(curves, [0, 1, 2, 3, 5, 10, 50, None]):
        assert es.stopping_epoch(row, p, min_delta) == _reference(row, p, min_delta)


def test_stopping_epoch_equals_fit(poly):
    model, split = poly
    _, full = training.fit(model, split, sgd(lr=0.1), 120, 5, seed=1)
    for p, d in itertools.product([0, 1, 2, 3, 5, 10, 20, None], [0.0, 1e-4, 1e-3, 0.01, 0.05]):
        _, h = training.fit(model, split, sgd(lr=0.1), 120, 5, seed=1, patience=p, min_delta=d)
        assert es.stopping_epoch(full.val_loss, p, d) == (h.epochs_run, h.best_epoch), (p, d)


def test_stopping_epoch_equals_fit_on_an_mlp_with_a_plateau_rate():
    X, y = data.load_digits()
    split = data.standardize(data.train_val_test_split(X[:300], y[:300], 0.3, 0.3, seed=2))[0]
    model = models.MLP(64, hidden=(16,), n_classes=10)

    def rate():
        return schedules.ReduceLROnPlateau(0.3, factor=0.3, patience=1)

    _, full = training.fit(model, split, sgd, 25, 20, lr=rate(), seed=3)
    for p, d in itertools.product([0, 1, 2, 4], [0.0, 0.01]):
        _, h = training.fit(model, split, sgd, 25, 20, lr=rate(), seed=3, patience=p, min_delta=d)
        assert es.stopping_epoch(full.val_loss, p, d) == (h.epochs_run, h.best_epoch)


def test_restored_and_last_test_losses_equal_what_fit_returns(poly):
    model, split = poly
    curves = es.record_curves(model, split, sgd(lr=0.1), 80, 5, seed=[0, 1])
    out = es.evaluate_stopping(curves, 3, 0.001)
    for i, seed in enumerate(curves.seeds):
        for restore, expected in ((True, out.test_best), (False, out.test_last)):
            params, h = training.fit(
                model,
                split,
                sgd(lr=0.1),
                80,
                5,
                seed=int(seed),
                patience=3,
                min_delta=0.001,
                restore_best=restore,
            )
            assert (h.epochs_run, h.best_epoch) == (out.stop[i], out.best[i])
            assert model.loss(params, split.X_test, split.y_test) == pytest.approx(expected[i], rel=1e-12)


def test_counting_by_hand():
    v = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69, 0.74, 0.8, 0.9]
    assert es.epochs_without_improvement(v).tolist() == [0, 0, 0, 1, 2, 3, 0, 1, 2, 3]
    assert es.stopping_epoch(v, 0) == (3, 2)  # the first epoch that does not improve
    assert es.stopping_epoch(v, 2) == (5, 2)  # after 3 epochs in a row without improvement
    assert es.stopping_epoch(v, 3) == (9, 6)  # never 4 in a row: the whole budget
    assert es.stopping_epoch(v, None) == (9, 6)
    # min_delta = 0.05: 0.75, 0.72, 0.71, 0.69 are not 0.05 below 0.7 -> the best stays at epoch 2
    assert es.epochs_without_improvement(v, 0.05).tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert es.stopping_epoch(v, 3, 0.05) == (6, 2)
    assert es.required_patience(v) == 3
    assert es.oracle_epoch(v) == 6


def test_min_delta_moves_the_reference_only_in_big_steps():
    v = [1.0, 0.95, 0.91, 0.89, 0.85]
    # 0.95 is not 0.1 below 1.0, 0.89 is: the reference jumps from 1.0 to 0.89
    assert es.improvements(v, 0.1).tolist() == [True, False, False, True, False]
    assert es.improvements(v).tolist() == [True] * 5


def test_vectorised_improvements_equal_the_loop(curves):
    for row in curves:
        for d in (0.0, 0.01):
            best, expected = np.inf, []
            for value in row:
                expected.append(bool(value < best - d))
                if expected[-1]:
                    best = value
            assert es.improvements(row, d).tolist() == expected
    # the fast path (all min_delta zero) and the loop agree lane by lane
    mixed = es.improvements(curves, np.array([0.0] * 6 + [1e-300] * 6))
    assert np.array_equal(mixed[:6], es.improvements(curves[:6]))
    assert np.array_equal(mixed[6:], es.improvements(curves[6:]))


def test_broadcasting_over_seeds_patience_and_min_delta(curves):
    P, D = np.array([0, 2, 5]), np.array([0.0, 0.01])
    stop, best = es.stopping_epoch(curves[:, None, None, :], P[:, None], D[None, :])
    assert stop.shape == best.shape == (12, 3, 2)
    for i, j, k in itertools.product(range(12), range(3), range(2)):
        assert (stop[i, j, k], best[i, j, k]) == es.stopping_epoch(curves[i], int(P[j]), D[k])
    assert isinstance(es.stopping_epoch(curves[0], 2)[0], int)


def test_properties_on_random_curves(curves):
    stop, best = es.stopping_epoch(curves[:, None, :], np.arange(30)[None, :])
    assert np.all(np.diff(stop, axis=1) >= 0)  # more patience never stops earlier
    assert np.all(best <= stop) and np.all(stop >= 1)
    full = es.stopping_epoch(curves, None)
    need = es.required_patience(curves)
    for i in range(len(curves)):
        p = int(need[i])
        assert es.stopping_epoch(curves[i], p)[1] == full[1][i]  # enough patience finds the best
        assert es.stopping_epoch(curves[i], p)[0] == min(full[1][i] + p + 1, 40)
        if p > 0:
            assert es.stopping_epoch(curves[i], p - 1)[1] < full[1][i]  # one less does not
    assert np.array_equal(full[1], es.oracle_epoch(curves))  # min_delta = 0: the oracle
    assert es.required_patience([1.0, 0.5, 0.4]) == 0


def test_oracle_ignores_nan_and_takes_the_first_tie():
    assert es.oracle_epoch([1.0, np.nan, 0.5, 0.5, 0.7]) == 2
    assert es.oracle_epoch(np.array([[1.0, 0.9], [0.3, 0.4]])).tolist() == [1, 0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        es.stopping_epoch([1.0, 0.9], -1)
    with pytest.raises(ValueError, match="patience"):
        es.stopping_epoch([1.0, 0.9], 1.5)
    with pytest.raises(ValueError, match="min_delta"):
        es.stopping_epoch([1.0, 0.9], 1, -0.1)
    with pytest.raises(ValueError, match="at least one epoch"):
        es.stopping_epoch([1.0], 1)


# ----------------------------------------------------------------- recorded runs


def test_record_curves_and_the_oracle(poly):
    model, split = poly
    curves = es.record_curves(model, split, sgd(lr=0.1), 40, 5, seed=range(3), label="poly")
    assert curves.val_loss.shape == curves.test_loss.shape == curves.train_loss.shape == (3, 41)
    assert curves.budget == 40 and list(curves.epochs) == list(range(41)) and "poly" in repr(curves)
    assert curves.test_loss[0, 0] == pytest.approx(model.loss(model.init(0), split.X_test, split.y_test))
    _, h = training.fit(model, split, sgd(lr=0.1), 40, 5, seed=2)
    assert np.array_equal(curves.val_loss[2], h.val_loss)  # exact: record_curves calls fit
    out = es.evaluate_stopping(curves, np.array([0, 3, 100])[:, None], np.array([0.0, 0.01])[None, :])
    assert out.stop.shape == out.test_best.shape == (3, 3, 2)
    assert np.array_equal(out.oracle, es.oracle_epoch(curves.val_loss))
    assert np.all(out.val_best >= out.val_oracle[:, None, None] - 1e-15)  # nobody beats hindsight
    assert np.array_equal(out.best[:, 2, 0], out.oracle)  # unlimited patience, min_delta 0
    assert np.array_equal(out.test_full, curves.test_loss[:, -1])


def test_record_curves_resets_a_plateau_rate_and_draws_a_split_per_seed():
    X, y = data.load_digits()

    def split(seed):
        return data.standardize(data.train_val_test_split(X[:200], y[:200], 0.3, 0.0, seed=seed))[0]

    model = models.SoftmaxRegression(64, 10)
    rate = schedules.ReduceLROnPlateau(1.0, patience=0, factor=0.5)
    curves = es.record_curves(model, split, sgd, 6, 20, seed=[0, 0], lr=rate)
    assert np.array_equal(curves.val_loss[0], curves.val_loss[1])  # the same run twice
    assert curves.test_loss is None
    with pytest.raises(ValueError, match="replayed"):
        es.record_curves(model, split, sgd, 6, seed=[0], lr=0.1, patience=2)
    with pytest.raises(ValueError, match="validation"):
        es.record_curves(model, data.Split(X[:50], y[:50]), sgd(lr=0.1), 2, seed=[0])


def test_noisy_digits_is_the_chapter_split():
    s = es.noisy_digits(3)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (200, 200, 400)
    X, y = data.load_digits()
    clean = data.train_val_test_split(X[:800], y[:800], 0.25, 0.5, seed=3)
    assert np.array_equal(s.y_val, clean.y_val) and np.array_equal(s.y_test, clean.y_test)
    assert (s.y_train != clean.y_train).sum() == 40  # a fifth of the training labels
    assert abs(s.X_train.mean()) < 1e-12  # standardised


def test_overfitting_problems_are_the_chapter_runs(poly):
    problems = es.overfitting_problems([1])
    assert list(problems) == ["digits", "poly B=5", "poly B=2"]
    assert [c.budget for c in problems.values()] == [50, 100, 60]
    mlp = models.MLP(64, hidden=(64,), n_classes=10)
    digits = es.record_curves(mlp, es.noisy_digits, sgd(lr=0.2), 50, 20, seed=[1])
    assert np.array_equal(problems["digits"].test_loss, digits.test_loss)
    model, split = poly
    noisy = es.record_curves(model, split, sgd(lr=0.1), 60, 2, seed=[1])
    assert np.array_equal(problems["poly B=2"].val_loss, noisy.val_loss)

"""Many rates trained at once (the same runs as fit), good ranges, and trial-and-error searches."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from lrcourse import data, diagnosis, models, optimizers, rate_search, training


@pytest.fixture(scope="module")
def digits():
    X, y = data.load_digits()
    split, _ = data.standardize(data.train_val_test_split(X[:400], y[:400], seed=0))
    return split


def _same_history(a, b):
    assert a.diverged == b.diverged
    assert a.diverged_at == b.diverged_at
    assert a.epochs_run == b.epochs_run
    assert a.n_updates == b.n_updates
    assert a.best_epoch == b.best_epoch
    assert a.best_loss == pytest.approx(b.best_loss, rel=1e-10)
    np.testing.assert_allclose(a.update_loss, b.update_loss, rtol=1e-10, equal_nan=True)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-10, equal_nan=True)


@pytest.mark.parametrize("name", ["softmax", "mlp"])
def test_each_rate_of_a_sweep_is_the_run_fit_makes(digits, name):
    model = models.SoftmaxRegression(64, 10) if name == "softmax" else models.MLP(64, (16,), 10)
    lrs = np.array([0.01, 0.3, 1e6 if name == "softmax" else 30.0])
    sweep = rate_search.sweep_fit(model, digits, lrs, epochs=3, batch_size=50, seed=4)
    for i, lr in enumerate(lrs):
        _, h = training.fit(model, digits, optimizers.sgd, epochs=3, batch_size=50, lr=lr, seed=4)
        _same_history(sweep.history(i), h)
        assert diagnosis.diagnose(sweep.history(i)).verdict == diagnosis.diagnose(h).verdict
    assert sweep.diverged.tolist() == [False, False, True]


def test_sweep_with_adam_and_a_regression_model():
    X, y, _ = data.make_linear_regression(n_samples=120, n_features=5, seed=0)
    split = data.train_val_test_split(X, y, seed=0)
    model = models.LinearRegression(5)
    adam = functools.partial(optimizers.adam, betas=(0.9, 0.99))
    lrs = np.array([1e-3, 1e-1])
    sweep = rate_search.sweep_fit(model, split, lrs, optimizer=adam, epochs=4, batch_size=16)
    assert sweep.train_accuracy is None and sweep.val_accuracy is None
    for i, lr in enumerate(lrs):
        _, h = training.fit(model, split, adam, epochs=4, batch_size=16, lr=lr)
        _same_history(sweep.history(i), h)
    with pytest.raises(ValueError, match="no val_accuracy"):
        sweep.final("val_accuracy")
    assert sweep.final("val_loss").shape == (2,)


def test_sweep_without_validation_monitors_the_training_loss(digits):
    model = models.SoftmaxRegression(64, 10)
    sweep = rate_search.sweep_fit(model, digits.train, np.array([0.1]), epochs=2)
    assert sweep.val_loss is None and sweep.monitor == "train_loss"
    _, h = training.fit(model, digits.train, optimizers.sgd, epochs=2, batch_size=32, lr=0.1)
    _same_history(sweep.history(0), h)


def test_final_index_and_argument_checks(digits):
    model = models.SoftmaxRegression(64, 10)
    sweep = rate_search.sweep_fit(model, digits, np.array([0.01, 0.1, 1e6]), epochs=2)
    final = sweep.final("val_accuracy")
    assert np.isnan(final[2]) and np.isfinite(final[:2]).all()
    assert sweep.index(0.09) == 1
    with pytest.raises(ValueError, match="constructor"):
        rate_search.sweep_fit(model, digits, [0.1], optimizer=optimizers.sgd(lr=0.1))
    with pytest.raises(ValueError, match="1-D"):
        rate_search.sweep_fit(model, digits, np.ones((2, 2)))
    with pytest.raises(ValueError, match="metric"):
        sweep.final("accuracy")


def test_good_range():
    lrs = np.array([0.001, 0.01, 0.1, 1.0, 10.0])
    acc = np.array([0.80, 0.95, 0.96, 0.955, np.nan])
    assert rate_search.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.1)
    loss = np.array([1.0, 0.2, 0.1, 0.5, np.nan])
    assert rate_search.good_range(lrs, loss, 0.15, higher_is_better=False) == (0.01, 0.1, 0.1)
    with pytest.raises(ValueError, match="finite"):
        rate_search.good_range(lrs, np.full(5, np.nan), 0.1)


def test_good_range_is_the_unbroken_run_around_the_best():
    lrs = 10.0 ** np.arange(-3, 4)
    # 1000 lands near the best by chance, beyond the rates 10 and 100 that are not good
    acc = np.array([0.80, 0.95, 0.96, 0.955, 0.90, 0.90, 0.958])
    assert rate_search.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.1)
    # a diverged rate (NaN) ends the run as well
    acc = np.array([0.80, 0.95, 0.96, np.nan, 0.955, 0.90, 0.90])
    assert rate_search.good_range(lrs, acc, 0.01) == (0.01, 0.1, 0.1)
    # ties for the best: the first one is the best rate, the run extends over both
    acc = np.array([0.80, 0.96, 0.955, 0.96, 0.90, 0.90, 0.90])
    assert rate_search.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.01)
    with pytest.raises(ValueError, match="sorted"):
        rate_search.good_range(lrs[::-1], acc, 0.01)


def _peak(best_lr, width=1.0):
    """A score that peaks at best_lr (1.0) and falls off in log distance; NaN above 10 x best."""

    def score(lr):
        if lr > 10 * best_lr:
            return np.nan
        return 1.0 - 0.1 * (np.log10(lr / best_lr) / width) ** 2

    return score


def test_trial_and_error_going_up_stops_after_the_peak():
    search = rate_search.trial_and_error(_peak(0.1), start=0.001, factor=10)
    assert [lr for lr, _ in search.trials] == pytest.approx([0.001, 0.01, 0.1, 1.0])
    assert search.best_lr == pytest.approx(0.1)
    assert search.n_trials == 4
    assert "no improvement" in search.stop_reason


def test_trial_and_error_going_down_passes_diverged_runs():
    search = rate_search.trial_and_error(_peak(0.01), start=10.0, factor=0.1)
    lrs = [lr for lr, _ in search.trials]
    assert lrs == pytest.approx([10.0, 1.0, 0.1, 0.01, 0.001])
    assert np.isnan(search.trials[0][1]) and np.isnan(search.trials[1][1])
    assert search.best_lr == pytest.approx(0.01)


def test_trial_and_error_stops_on_divergence_when_increasing_and_at_max_trials():
    up = rate_search.trial_and_error(lambda lr: np.nan if lr > 5 else lr, start=0.01, factor=10)
    assert np.isnan(up.trials[-1][1]) and "diverged" in up.stop_reason
    assert up.best_lr == pytest.approx(1.0) and up.n_trials == 4
    capped = rate_search.trial_and_error(_peak(1.0), start=1e-6, factor=2, max_trials=3)
    assert capped.n_trials == 3 and "max_trials" in capped.stop_reason
    nothing = rate_search.trial_and_error(lambda lr: np.nan, start=1.0, factor=2)
    assert np.isnan(nothing.best_lr) and nothing.n_trials == 1
    with pytest.raises(ValueError, match="differ from 1"):
        rate_search.trial_and_error(_peak(1.0), start=1.0, factor=1.0)


def test_trial_and_error_stops_on_a_tie_unless_improvement_is_demanded_smaller():
    flat = {0.01: 0.90, 0.1: 0.95, 1.0: 0.95, 10.0: 0.97}
    search = rate_search.trial_and_error(lambda lr: flat[round(lr, 6)], start=0.01, factor=10)
    assert search.n_trials == 3 and search.best_lr == pytest.approx(0.1)
    strict = rate_search.trial_and_error(
        lambda lr: flat[round(lr, 6)], start=0.01, factor=10, min_improvement=0.06
    )
    assert strict.n_trials == 2 and strict.best_lr == pytest.approx(0.01)

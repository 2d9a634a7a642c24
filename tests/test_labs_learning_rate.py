"""Chapter 2's lab: the stability limit (exact and measured), good ranges and trial-and-error searches."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from lrcourse import data, models, objectives, optimizers, training
from lrcourse.descent import descend, run
from lrcourse.labs import learning_rate as stability


def test_step_factors_match_gradient_descent_on_a_quadratic():
    bowl = objectives.quadratic(1.0, 15.0)
    lr, steps = 0.1, 12
    path = run(bowl.grad, [1.5, -1.0], optimizers.sgd(lr=lr), steps)
    factors = stability.step_factors(lr, np.array([1.0, 15.0]))
    expected = np.array([1.5, -1.0]) * factors ** np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-14)


def test_step_factors_broadcast_rates_against_curvatures():
    f = stability.step_factors(np.array([0.1, 0.2])[:, None], np.array([1.0, 10.0]))
    np.testing.assert_allclose(f, [[0.9, 0.0], [0.8, -1.0]])


@pytest.mark.parametrize(
    ("lr", "expected"),
    [
        (0.0, "monotone"),
        (0.05, "monotone"),
        (0.1, "monotone"),
        (0.15, "oscillating"),
        (0.2, "on the limit"),
        (0.21, "diverging"),
    ],
)
def test_regime(lr, expected):
    assert stability.regime(lr, 10.0) == expected
    assert expected in stability.REGIMES


def test_stability_limit_of_a_diagonal_and_a_rotated_hessian():
    assert stability.stability_limit(np.diag([1.0, 15.0])) == pytest.approx(2 / 15)
    assert stability.stability_limit(4.0) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    H = Q @ np.diag([0.5, 1.0, 2.0, 3.0, 8.0]) @ Q.T
    H = (H + H.T) / 2
    assert stability.largest_eigenvalue(H) == pytest.approx(8.0)
    assert stability.stability_limit(H) == pytest.approx(0.25)
    assert 2 / H.diagonal().max() > 0.25  # the diagonal alone would overestimate the limit


def test_the_limit_separates_convergence_from_divergence_on_the_objectives():
    for bowl in (objectives.quadratic(1.0, 15.0), objectives.parabola(3.0)):
        limit = stability.stability_limit(bowl.hessian_max_eigenvalue)
        lrs = limit * np.array([0.5, 0.99, 1.01, 1.5])
        x0 = np.ones(bowl.dim)
        result = descend(bowl, x0, optimizers.sgd(lr=lrs), steps=3000)
        assert result.diverged.tolist() == [False, False, True, True]


def test_stability_limit_rejects_bad_matrices():
    with pytest.raises(ValueError, match="square"):
        stability.stability_limit(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        stability.stability_limit(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="> 0"):
        stability.stability_limit(-np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        stability.stability_limit(np.array([[np.inf]]))


def test_linear_regression_hessian_is_the_hessian_of_the_model_loss():
    X, y, _ = data.make_linear_regression(n_samples=50, n_features=3, seed=1)
    model = models.LinearRegression(3, l2=0.3)
    H = stability.linear_regression_hessian(X, l2=0.3)
    # the gradient is linear in (w, b): finite differences of it recover H up to round-off
    theta0 = np.array([0.2, -0.1, 0.4, 0.3])

    def grad(theta):
        g = model.loss_and_grad({"w": theta[:3], "b": np.array(theta[3])}, X, y)[1]
        return np.append(g["w"], g["b"])

    eye = np.eye(4)
    numeric = np.stack([(grad(theta0 + eye[j]) - grad(theta0)) for j in range(4)], axis=1)
    np.testing.assert_allclose(H, numeric, rtol=1e-10, atol=1e-12)
    no_bias = stability.linear_regression_hessian(X, fit_intercept=False)
    np.testing.assert_allclose(no_bias, (2 / 50) * X.T @ X)
    with pytest.raises(ValueError, match="2-D"):
        stability.linear_regression_hessian(np.ones(3))


def test_correlated_features_raise_the_largest_curvature():
    limits = []
    for rho in (0.0, 0.5):
        X, _, _ = data.make_linear_regression(n_samples=2000, n_features=16, correlation=rho, seed=0)
        limits.append(stability.stability_limit(stability.linear_regression_hessian(X)))
    # about 2(1 + (d-1) rho) = 17 for rho = 0.5: the limit shrinks about 8-fold
    assert limits[1] < limits[0] / 5
    assert limits[1] == pytest.approx(2 / (2 * (1 + 15 * 0.5)), rel=0.15)


def test_diverging_flags_exploding_and_growing_runs_of_full_batch_descent():
    X, y, _ = data.make_linear_regression(n_samples=80, n_features=4, seed=2)
    model = models.LinearRegression(4)
    limit = stability.stability_limit(stability.linear_regression_hessian(X))
    lrs = limit * np.array([0.3, 0.9, 1.005, 3.0])
    _, h = training.fit(model, (X, y), optimizers.sgd, 200, lr=lrs, shuffle=False, record=[100])
    # 1.005 x the limit grows too slowly to meet fit's divergence rule, but it grows
    assert h.diverged.tolist() == [False, False, False, True]
    assert stability.diverging(h).tolist() == [False, False, True, True]
    assert stability.diverging(h[2]) is True and stability.diverging(h[0]) is False
    # a single run with the same rate, by hand: full-batch gradient descent
    p = model.init()
    for t in range(200):
        loss, g = model.loss_and_grad(p, X, y)
        assert h.update_loss[t, 0] == pytest.approx(loss, rel=1e-12)
        p = {k: p[k] - lrs[0] * g[k] for k in p}
    assert np.isnan(h.final("train_loss")[3])
    assert np.all(np.diff(h.update_loss[:, :2], axis=0) <= 1e-12)  # stable: the loss never rises
    _, at_once = training.fit(model, (X, y), optimizers.sgd(lr=1e9), 5, 8)  # diverged at update 1
    assert len(at_once.train_loss) == 1 and stability.diverging(at_once) is True


def test_divergence_threshold_brackets_the_exact_limit():
    for rho in (0.0, 0.5):
        X, y, _ = data.make_linear_regression(n_samples=200, n_features=8, correlation=rho, seed=3)
        limit = stability.stability_limit(stability.linear_regression_hessian(X))
        th = stability.divergence_threshold(models.LinearRegression(8), (X, y), low=1e-3, high=10.0)
        assert th.stable <= limit <= th.unstable
        assert th.relative_width < 0.01
        assert th.estimate == pytest.approx(limit, rel=0.01)
        assert len(th.histories) == 2 and th.histories[0].sweep_shape == (40,)
        # the histories are fit's: 300 full-batch steps, evaluated half way and at the end
        assert th.histories[0].updates_per_epoch == 1
        assert th.histories[0].eval_updates[:, 0].tolist() == [0, 150, 300]


def test_divergence_threshold_argument_checks():
    X, y, _ = data.make_linear_regression(n_samples=50, n_features=2, seed=0)
    model = models.LinearRegression(2)
    with pytest.raises(ValueError, match="already diverges"):
        stability.divergence_threshold(model, (X, y), low=5.0, high=10.0)
    with pytest.raises(ValueError, match="does not diverge"):
        stability.divergence_threshold(model, (X, y), low=1e-4, high=1e-2)
    with pytest.raises(ValueError, match="epochs"):
        stability.divergence_threshold(model, (X, y), optimizers.sgd, 1)
    with pytest.raises(ValueError, match="constructor"):
        stability.divergence_threshold(model, (X, y), optimizers.sgd(lr=0.1))


def test_divergence_threshold_trains_the_optimizer_it_is_given():
    X, y, _ = data.make_linear_regression(n_samples=100, n_features=4, seed=1)
    model = models.LinearRegression(4)
    limit = stability.stability_limit(stability.linear_regression_hessian(X))
    settings = {"low": 1e-3, "high": 10.0, "n": 20}
    plain = stability.divergence_threshold(model, (X, y), optimizers.sgd, 200, **settings)
    default = stability.divergence_threshold(model, (X, y), epochs=200, **settings)
    assert (plain.stable, plain.unstable) == (default.stable, default.unstable)
    # heavy ball with momentum mu is stable up to 2 (1 + mu) / L: 1.5 times plain descent's limit
    heavy = stability.divergence_threshold(
        model, (X, y), partial(optimizers.sgd, momentum=0.5), 200, **settings
    )
    assert plain.estimate == pytest.approx(limit, rel=0.02)
    assert heavy.estimate == pytest.approx(1.5 * limit, rel=0.02)


# ----------------------------------------------------------------- reading a sweep of rates


def test_nearest_is_the_closest_rate_in_log_distance():
    lrs = 10.0 ** (np.arange(-16, 7) / 4)
    assert stability.nearest(lrs, 0.1) == 12
    assert stability.nearest(lrs, 10 ** (-3 + 0.12)) == 4  # nearer 10^-3 than 10^-2.75 in log
    assert stability.nearest(lrs, 10 ** (-3 + 0.13)) == 5
    assert stability.nearest(np.array([0.01, 0.1, 1e6]), 0.09) == 1
    with pytest.raises(ValueError, match="lr"):
        stability.nearest(lrs, 0.0)


def test_good_range():
    lrs = np.array([0.001, 0.01, 0.1, 1.0, 10.0])
    acc = np.array([0.80, 0.95, 0.96, 0.955, np.nan])
    assert stability.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.1)
    loss = np.array([1.0, 0.2, 0.1, 0.5, np.nan])
    assert stability.good_range(lrs, loss, 0.15, higher_is_better=False) == (0.01, 0.1, 0.1)
    with pytest.raises(ValueError, match="finite"):
        stability.good_range(lrs, np.full(5, np.nan), 0.1)


def test_good_range_is_the_unbroken_run_around_the_best():
    lrs = 10.0 ** np.arange(-3, 4)
    # 1000 lands near the best by chance, beyond the rates 10 and 100 that are not good
    acc = np.array([0.80, 0.95, 0.96, 0.955, 0.90, 0.90, 0.958])
    assert stability.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.1)
    # a diverged rate (NaN) ends the run as well
    acc = np.array([0.80, 0.95, 0.96, np.nan, 0.955, 0.90, 0.90])
    assert stability.good_range(lrs, acc, 0.01) == (0.01, 0.1, 0.1)
    # ties for the best: the first one is the best rate, the run extends over both
    acc = np.array([0.80, 0.96, 0.955, 0.96, 0.90, 0.90, 0.90])
    assert stability.good_range(lrs, acc, 0.01) == (0.01, 1.0, 0.01)
    with pytest.raises(ValueError, match="sorted"):
        stability.good_range(lrs[::-1], acc, 0.01)


def _peak(best_lr, width=1.0):
    """A score that peaks at best_lr (1.0) and falls off in log distance; NaN above 10 x best."""

    def score(lr):
        if lr > 10 * best_lr:
            return np.nan
        return 1.0 - 0.1 * (np.log10(lr / best_lr) / width) ** 2

    return score


def test_trial_and_error_going_up_stops_after_the_peak():
    search = stability.trial_and_error(_peak(0.1), start=0.001, factor=10)
    assert [lr for lr, _ in search.trials] == pytest.approx([0.001, 0.01, 0.1, 1.0])
    assert search.best_lr == pytest.approx(0.1)
    assert search.n_trials == 4
    assert "no improvement" in search.stop_reason


def test_trial_and_error_going_down_passes_diverged_runs():
    search = stability.trial_and_error(_peak(0.01), start=10.0, factor=0.1)
    lrs = [lr for lr, _ in search.trials]
    assert lrs == pytest.approx([10.0, 1.0, 0.1, 0.01, 0.001])
    assert np.isnan(search.trials[0][1]) and np.isnan(search.trials[1][1])
    assert search.best_lr == pytest.approx(0.01)


def test_trial_and_error_stops_on_divergence_when_increasing_and_at_max_trials():
    up = stability.trial_and_error(lambda lr: np.nan if lr > 5 else lr, start=0.01, factor=10)
    assert np.isnan(up.trials[-1][1]) and "diverged" in up.stop_reason
    assert up.best_lr == pytest.approx(1.0) and up.n_trials == 4
    capped = stability.trial_and_error(_peak(1.0), start=1e-6, factor=2, max_trials=3)
    assert capped.n_trials == 3 and "max_trials" in capped.stop_reason
    nothing = stability.trial_and_error(lambda lr: np.nan, start=1.0, factor=2)
    assert np.isnan(nothing.best_lr) and nothing.n_trials == 1
    with pytest.raises(ValueError, match="differ from 1"):
        stability.trial_and_error(_peak(1.0), start=1.0, factor=1.0)


def test_trial_and_error_stops_on_a_tie_unless_improvement_is_demanded_smaller():
    flat = {0.01: 0.90, 0.1: 0.95, 1.0: 0.95, 10.0: 0.97}
    search = stability.trial_and_error(lambda lr: flat[round(lr, 6)], start=0.01, factor=10)
    assert search.n_trials == 3 and search.best_lr == pytest.approx(0.1)
    strict = stability.trial_and_error(
        lambda lr: flat[round(lr, 6)], start=0.01, factor=10, min_improvement=0.06
    )
    assert strict.n_trials == 2 and strict.best_lr == pytest.approx(0.01)

from functools import partial

import numpy as np
import pytest
from helpers import make_blobs

from lrcourse import data, lr_finder, models
from lrcourse.optimizers import adam, sgd
from lrcourse.training import fit


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=200, n_classes=3, spread=1.5, seed=0)
    return data.standardize(data.train_val_test_split(X, y, test_fraction=0.0, seed=0))[0]


@pytest.fixture(scope="module")
def linear():
    X, y, _ = data.make_linear_regression(n_samples=128, n_features=8, noise=0.1, seed=0)
    return X, y


# ----------------------------------------------------------------- smoothing and rules


def test_smooth_is_a_bias_corrected_moving_average():
    np.testing.assert_allclose(lr_finder.smooth([3.0, 3.0, 3.0], beta=0.9), 3.0)
    losses = np.array([4.0, 2.0, 1.0])
    np.testing.assert_allclose(lr_finder.smooth(losses, beta=0.0), losses)
    a1 = 0.5 * 4.0
    a2 = 0.5 * a1 + 0.5 * 2.0
    a3 = 0.5 * a2 + 0.5 * 1.0
    np.testing.assert_allclose(lr_finder.smooth(losses, beta=0.5), [a1 / 0.5, a2 / 0.75, a3 / 0.875])


def test_steepest_descent_finds_the_steepest_point_before_the_minimum():
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    curve = 2 - np.tanh(2 * (x + 3)) + np.where(x > -1, 50 * (x + 1) ** 2, 0)  # steepest at 1e-3
    s = lr_finder.steepest_descent(lrs, curve)
    assert s.lr == pytest.approx(1e-3, rel=0.06)
    assert s.evidence["slope_per_decade"] == pytest.approx(-2.0, rel=0.01)
    assert s.rule == "steepest descent" and "lr = 0.001" in str(s)
    m = lr_finder.minimum_over_ten(lrs, curve)
    i = int(np.argmin(curve))
    assert m.lr == pytest.approx(lrs[i] / 10) and m.evidence["index"] == i
    assert m.evidence["min_loss"] == curve[i]


def test_steepest_descent_skips_the_noisy_start():
    lrs = np.logspace(-5, 0, 50)
    curve = np.linspace(3.0, 1.0, 50)
    curve[1] = 0.5 * (curve[0] + curve[2]) - 0.5  # a noisy dip at the start
    curve[-1] = 0.9
    assert lr_finder.steepest_descent(lrs, curve, skip_start=0).evidence["index"] <= 2
    assert lr_finder.steepest_descent(lrs, curve).evidence["index"] >= 10


def test_rules_reject_curves_they_cannot_read():
    with pytest.raises(ValueError, match="never fell"):
        lr_finder.steepest_descent(np.logspace(-3, 0, 5), np.arange(5.0))
    with pytest.raises(ValueError, match="same length"):
        lr_finder.minimum_over_ten(np.logspace(-3, 0, 5), np.arange(4.0))
    with pytest.raises(ValueError, match="lrs must be in"):
        lr_finder.minimum_over_ten(np.array([-1.0, 1.0]), np.arange(2.0))


def test_lowest_final_loss_ignores_diverged_runs():
    s = lr_finder.lowest_final_loss(np.array([0.1, 1.0, 10.0]), np.array([0.5, 0.2, np.nan]))
    assert s.lr == 1.0 and s.evidence == {"index": 1, "final_loss": 0.2}
    with pytest.raises(ValueError, match="finite value"):
        lr_finder.lowest_final_loss(np.array([1.0]), np.array([np.nan]))


def test_inverse_sqrt_rule():
    assert lr_finder.inverse_sqrt_rule(4) == 0.2
    assert lr_finder.inverse_sqrt_rule(100) == pytest.approx(0.1)
    assert lr_finder.inverse_sqrt_rule(4, cap=1.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="n_features"):
        lr_finder.inverse_sqrt_rule(0)


# ----------------------------------------------------------------- sequential test


def test_range_test_grows_the_rate_exponentially_and_stops_on_explosion(blobs):
    r = lr_finder.range_test(models.SoftmaxRegression(2, 3), blobs, start_lr=1e-4, end_lr=1e4, steps=80)
    ratios = r.lrs[1:] / r.lrs[:-1]
    np.testing.assert_allclose(ratios, 10 ** (8 / 79))
    assert r.lrs[0] == pytest.approx(1e-4)
    assert len(r.lrs) < 80 and "> 4 x best" in r.stop_reason
    assert r.smoothed[-1] > 4 * r.smoothed[:-1].min()
    np.testing.assert_allclose(r.smoothed, lr_finder.smooth(r.losses, 0.95))
    assert r.initial_loss == pytest.approx(np.log(3))
    steep, tenth = r.suggestions()
    assert 1e-3 < steep.lr < 1e2 and 1e-3 < tenth.lr < 1e2


def test_range_test_runs_to_the_end_when_nothing_explodes(blobs):
    r = lr_finder.range_test(models.SoftmaxRegression(2, 3), blobs, start_lr=1e-5, end_lr=1e-2, steps=30)
    assert len(r.lrs) == 30 and r.lrs[-1] == pytest.approx(1e-2)
    assert r.stop_reason == "reached end_lr=0.01"


def test_range_test_stops_on_a_non_finite_loss(linear):
    r = lr_finder.range_test(
        models.LinearRegression(8), linear, start_lr=1e-3, end_lr=1e250, steps=60, explode_factor=1e300
    )
    assert "non-finite" in r.stop_reason and np.isfinite(r.losses).all()


def test_range_test_leaves_the_parameters_alone_and_is_seeded(blobs):
    model = models.MLP(2, hidden=(8,), n_classes=3)
    start = model.init(seed=3)
    saved = {k: v.copy() for k, v in start.items()}
    r1 = lr_finder.range_test(model, blobs, partial(adam, betas=(0.9, 0.99)), params=start, steps=40, seed=1)
    r2 = lr_finder.range_test(model, blobs, partial(adam, betas=(0.9, 0.99)), params=start, steps=40, seed=1)
    for k in start:
        np.testing.assert_array_equal(start[k], saved[k])
    np.testing.assert_array_equal(r1.losses, r2.losses)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": sgd(lr=0.1)}, "optimizer must be a constructor"),
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr"),
        ({"steps": 1}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"beta": 1.0}, "beta"),
        ({"explode_factor": 1.0}, "explode_factor"),
    ],
)
def test_range_test_bad_arguments(blobs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_finder.range_test(models.SoftmaxRegression(2, 3), blobs, **kwargs)


# ----------------------------------------------------------------- parallel test


def test_parallel_range_test_equals_separate_runs(blobs):
    model = models.MLP(2, hidden=(6,), n_classes=3)
    lrs = np.array([0.01, 0.1, 0.5])
    r = lr_finder.parallel_range_test(model, blobs, lrs, epochs=2, batch_size=16, seed=2)
    assert r.epoch_loss.shape == (3, 3) and not r.diverged.any()
    for s, lr in enumerate(lrs):
        _, h = fit(model, blobs.train, sgd(lr=lr), epochs=2, batch_size=16, seed=2)
        np.testing.assert_allclose(r.epoch_loss[:, s], h.train_loss, rtol=1e-10)
    np.testing.assert_array_equal(r.final_loss, r.epoch_loss[-1])


def test_parallel_range_test_marks_diverged_rates(linear):
    lrs = np.logspace(-3, 2, 11)
    r = lr_finder.parallel_range_test(models.LinearRegression(8), linear, lrs, epochs=3)
    assert r.diverged[-1] and not r.diverged[0]
    assert np.isnan(r.final_loss[r.diverged]).all() and np.isfinite(r.final_loss[~r.diverged]).all()
    best = r.suggestion()
    assert best.lr == lrs[np.nanargmin(r.final_loss)] and not r.diverged[best.evidence["index"]]


def test_parallel_range_test_default_rates_and_bad_arguments(linear):
    r = lr_finder.parallel_range_test(models.LinearRegression(8), linear, epochs=1, batch_size=64)
    assert r.lrs.shape == (50,) and r.epoch_loss.shape == (2, 50)
    with pytest.raises(ValueError, match="lrs must be 1-D"):
        lr_finder.parallel_range_test(models.LinearRegression(8), linear, np.ones((2, 2)))
    with pytest.raises(ValueError, match="epochs"):
        lr_finder.parallel_range_test(models.LinearRegression(8), linear, epochs=0)
    with pytest.raises(ValueError, match="lrs must be in"):
        lr_finder.parallel_range_test(models.LinearRegression(8), linear, np.array([0.1, -1.0]))


def test_inverse_sqrt_rule_holds_for_uncorrelated_features_and_breaks_for_correlated_ones():
    d = 100
    lr = lr_finder.inverse_sqrt_rule(d)  # 0.1
    model = models.LinearRegression(d)
    for correlation, should_diverge in [(0.0, False), (0.5, True)]:
        X, y, _ = data.make_linear_regression(n_samples=400, n_features=d, correlation=correlation, seed=0)
        # full-batch gradient descent on the mean squared error is stable for lr < 1 / lambda_max(X^T X / n)
        stable_below = 1 / np.linalg.eigvalsh(X.T @ X / len(X))[-1]
        assert (lr > stable_below) == should_diverge
        _, h = fit(model, (X, y), sgd(lr=lr), epochs=100)
        assert h.diverged == should_diverge

from functools import partial

import numpy as np
import pytest
from helpers import make_blobs

from lrcourse import data, lr_finder, models
from lrcourse.optimizers import adam, sgd
from lrcourse.training import fit, minibatches


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


def test_steepest_slope_finds_the_steepest_point_before_the_minimum():
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    curve = 2 - np.tanh(2 * (x + 3)) + np.where(x > -1, 50 * (x + 1) ** 2, 0)  # steepest at 1e-3
    s = lr_finder.steepest_slope(lrs, curve)
    assert s.lr == pytest.approx(1e-3, rel=0.06)
    assert s.evidence["slope_per_decade"] == pytest.approx(-2.0, rel=0.01)
    assert s.rule == "steepest slope" and "lr = 0.001" in str(s)
    m = lr_finder.minimum_over_ten(lrs, curve)
    i = int(np.argmin(curve))
    assert m.lr == pytest.approx(lrs[i] / 10) and m.evidence["index"] == i
    assert m.evidence["min_loss"] == curve[i]


def test_steepest_slope_skips_the_noisy_start():
    lrs = np.logspace(-5, 0, 50)
    curve = np.linspace(3.0, 1.0, 50)
    curve[1] = 0.5 * (curve[0] + curve[2]) - 0.5  # a noisy dip at the start
    curve[-1] = 0.9
    assert lr_finder.steepest_slope(lrs, curve, skip_start=0).evidence["index"] <= 2
    assert lr_finder.steepest_slope(lrs, curve).evidence["index"] >= 10


def test_rules_reject_curves_they_cannot_read():
    with pytest.raises(ValueError, match="never fell"):
        lr_finder.steepest_slope(np.logspace(-3, 0, 5), np.arange(5.0))
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
    r = lr_finder.range_test(
        models.SoftmaxRegression(2, 3), blobs, start_lr=1e-4, end_lr=1e4, steps=80, batch_size=32
    )
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
    r = lr_finder.range_test(
        models.SoftmaxRegression(2, 3), blobs, start_lr=1e-5, end_lr=1e-2, steps=30, batch_size=32
    )
    assert len(r.lrs) == 30 and r.lrs[-1] == pytest.approx(1e-2)
    assert r.stop_reason == "reached end_lr=0.01"


def test_range_test_stops_on_a_non_finite_loss(linear):
    r = lr_finder.range_test(
        models.LinearRegression(8),
        linear,
        start_lr=1e-3,
        end_lr=1e250,
        steps=60,
        batch_size=32,
        stop_factor=1e300,
    )
    assert "non-finite" in r.stop_reason and np.isfinite(r.losses).all()


def test_range_test_leaves_the_parameters_alone_and_is_seeded(blobs):
    model = models.MLP(2, hidden=(8,), n_classes=3)
    start = model.init(seed=3)
    saved = {k: v.copy() for k, v in start.items()}
    adam_099 = partial(adam, betas=(0.9, 0.99))
    r1 = lr_finder.range_test(model, blobs, adam_099, params=start, steps=40, batch_size=32, seed=1)
    r2 = lr_finder.range_test(model, blobs, adam_099, params=start, steps=40, batch_size=32, seed=1)
    for k in start:
        np.testing.assert_array_equal(start[k], saved[k])
    np.testing.assert_array_equal(r1.losses, r2.losses)


def _range_test_by_hand(model, X, y, lrs, batch_size, beta, stop_factor, seed):
    """The range test as a loop of its own: the reference the test through fit must reproduce."""
    p = model.init(seed)
    rng = np.random.default_rng(seed)
    batches, losses, avg, best = [], [], 0.0, np.inf
    with np.errstate(all="ignore"):
        for i in range(len(lrs) + 1):
            if not batches:
                batches.extend(minibatches(len(y), batch_size, rng))
            rows = batches.pop(0)
            loss, grads = model.loss_and_grad(p, X[rows], y[rows])
            if i > 0:  # the loss after update i - 1
                if not np.isfinite(loss):
                    break
                avg = beta * avg + (1 - beta) * loss
                losses.append(loss)
                if avg / (1 - beta**i) > stop_factor * best:
                    break
                best = min(best, avg / (1 - beta**i))
            if i < len(lrs):
                p = {k: p[k] - lrs[i] * grads[k] for k in p}
    return np.array(losses)


@pytest.mark.parametrize(
    "steps, batch_size, end_lr",
    # 160 rows: the last case ends its 20 minibatches exactly at the end of its 5th epoch
    [(80, 16, 1e3), (30, 32, 1e3), (20, 150, 1e3), (19, 40, 1e3), (19, 40, 0.1)],
)
def test_range_test_through_fit_gives_the_losses_of_a_loop_by_hand(blobs, steps, batch_size, end_lr):
    model = models.MLP(2, hidden=(8,), n_classes=3)
    r = lr_finder.range_test(
        model, blobs, start_lr=1e-3, end_lr=end_lr, steps=steps, batch_size=batch_size, seed=2
    )
    expected = _range_test_by_hand(model, *blobs.train, r.lrs, batch_size, 0.95, 4.0, seed=2)
    np.testing.assert_array_equal(r.losses, expected)
    assert r.stop_reason.startswith("reached" if end_lr < 1 else "smoothed")


def test_range_test_is_full_batch_by_default_as_fit(blobs):
    model = models.SoftmaxRegression(2, 3)
    full = lr_finder.range_test(model, blobs, start_lr=1e-5, end_lr=1e-2, steps=30)
    same = lr_finder.range_test(model, blobs, start_lr=1e-5, end_lr=1e-2, steps=30, batch_size=160)
    np.testing.assert_array_equal(full.losses, same.losses)
    expected = _range_test_by_hand(model, *blobs.train, full.lrs, 160, 0.95, 4.0, seed=0)
    np.testing.assert_array_equal(full.losses, expected)


def test_range_test_trains_no_further_than_its_last_rate(blobs):
    model = models.SoftmaxRegression(2, 3)
    calls = []

    def counted(params, X, y):
        calls.append(len(y))
        return models.SoftmaxRegression.loss_and_grad(model, params, X, y)

    model.loss_and_grad = counted
    # 30 updates of 10 rows each: 3 epochs of 64 minibatches would be 192 losses
    lr_finder.range_test(model, blobs, start_lr=1e-5, end_lr=1e-2, steps=30, batch_size=10)
    assert len(calls) == 32  # the loss before every update, and one more after the last


def test_stop_index():
    losses = np.array([2.0, 1.0, 1.0, 5.0, 50.0])
    smoothed = lr_finder.smooth(losses, 0.0)
    assert lr_finder.stop_index(losses, smoothed, 4.0) == (3, "smoothed loss")
    assert lr_finder.stop_index(losses, smoothed, 10.0) == (4, "smoothed loss")
    assert lr_finder.stop_index(losses, smoothed, 100.0) == (5, "end")
    losses[2] = np.nan
    assert lr_finder.stop_index(losses, lr_finder.smooth(losses, 0.0), 4.0) == (2, "non-finite loss")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": sgd(lr=0.1)}, "optimizer must be a constructor"),
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr"),
        ({"steps": 1}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"beta": 1.0}, "beta"),
        ({"stop_factor": 1.0}, "stop_factor"),
    ],
)
def test_range_test_bad_arguments(blobs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_finder.range_test(models.SoftmaxRegression(2, 3), blobs, **kwargs)


# ----------------------------------------------------------------- parallel test


def test_the_parallel_test_is_fit_with_an_array_of_rates_read_by_lowest_final_loss(linear):
    lrs = np.logspace(-3, 2, 11)
    _, h = fit(models.LinearRegression(8), linear, sgd, 3, 32, lr=lrs)
    final = h.final("train_loss")
    assert h.diverged[-1] and not h.diverged[0]
    assert np.isnan(final[h.diverged]).all() and np.isfinite(final[~h.diverged]).all()
    best = lr_finder.lowest_final_loss(lrs, final)
    assert best.lr == lrs[np.nanargmin(final)] and not h.diverged[best.evidence["index"]]


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

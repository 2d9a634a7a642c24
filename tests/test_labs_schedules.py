"""Schedules trained side by side, label noise, the noisy regression, two extra schedules, a landscape."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from lrcourse import data, models, schedules, training
from lrcourse.descent import descend
from lrcourse.labs import schedules as lab
from lrcourse.optimizers import sgd


@pytest.fixture(scope="module")
def split():
    X, y = data.load_digits()
    part, _ = data.standardize(
        data.train_val_test_split(X[:400], y[:400], val_fraction=0.25, test_fraction=0.0)
    )
    return part


@pytest.fixture(scope="module")
def mlp():
    return models.MLP(64, hidden=(16,), n_classes=10)


# ----------------------------------------------------------------- train_schedules


def test_each_member_is_the_fit_of_its_schedule(split, mlp):
    per_epoch = training.updates_per_epoch(len(split.y_train), 32)
    plan = {
        "constant": 0.05,
        "cosine": schedules.cosine(0.3, T_max=3 * per_epoch),
        "warmup": schedules.warmup(schedules.step_decay(0.2, step_size=per_epoch, gamma=0.5), 10),
    }
    params, runs = lab.train_schedules(mlp, split, sgd, 3, 32, schedules=plan, seed=4)
    assert runs.sweep_shape == (3,)
    assert runs.update_lr.shape == (3 * per_epoch, 3) and runs.train_loss.shape == (4, 3)
    for i, lr in enumerate(plan.values()):
        alone, history = training.fit(mlp, split, sgd, 3, 32, lr=lr, seed=4)
        np.testing.assert_array_equal(runs.update_lr[:, i], history.update_lr)
        np.testing.assert_allclose(runs.update_loss[:, i], history.update_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.train_loss[:, i], history.train_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.val_loss[:, i], history.val_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.val_accuracy[:, i], history.val_accuracy)
        np.testing.assert_allclose(params["W1"][i], alone["W1"], rtol=1e-9, atol=1e-12)


def test_per_epoch_stepping_and_momentum_match_fit(split, mlp):
    plan = {"step": schedules.step_decay(0.1, step_size=1, gamma=0.5)}
    heavy = partial(sgd, momentum=0.9)
    _, runs = lab.train_schedules(mlp, split, heavy, 3, 50, schedules=plan, lr_step="epoch")
    _, history = training.fit(mlp, split, heavy, 3, 50, lr=plan["step"], lr_step="epoch")
    np.testing.assert_array_equal(runs.update_lr[:, 0], history.update_lr)
    np.testing.assert_allclose(runs.val_loss[:, 0], history.val_loss, rtol=1e-10)
    assert len(set(runs.update_lr[: runs.updates_per_epoch, 0])) == 1  # constant within an epoch


def test_a_diverging_member_stops_alone(split, mlp):
    _, runs = lab.train_schedules(mlp, split, sgd, 2, 32, schedules={"ok": 0.05, "huge": 80.0})
    assert runs.diverged.tolist() == [False, True]
    assert runs.diverged_at[0] == -1 and runs.diverged_at[1] >= 0
    final = runs.final("val_loss")
    assert np.isnan(final[1]) and np.isfinite(final[0])
    _, history = training.fit(mlp, split, sgd, 2, 32, lr=80.0)
    assert history.diverged and history.diverged_at == runs.diverged_at[1]


def test_regression_and_no_validation():
    X, y, _ = data.make_linear_regression(60, 3, seed=1)
    plan = {"a": 0.1, "b": 0.01}
    _, runs = lab.train_schedules(models.LinearRegression(3), (X, y), sgd, 2, 10, schedules=plan)
    assert runs.val_loss is None and runs.train_accuracy is None
    assert runs.train_loss[-1, 0] < runs.train_loss[-1, 1] < runs.train_loss[0, 0]
    with pytest.raises(ValueError, match="no val_loss"):
        lab.summarize(runs, plan, "val_loss")


def test_summarize_over_seeds(split, mlp):
    plan = {"a": 0.05, "b": schedules.cosine(0.1, T_max=20)}
    _, runs = lab.train_schedules(mlp, split, sgd, 1, 64, schedules=plan, seed=np.arange(3), record="end")
    assert runs.sweep_shape == (3, 2)
    finals = np.array(
        [lab.train_schedules(mlp, split, sgd, 1, 64, schedules=plan, seed=s)[1].final() for s in range(3)]
    )
    np.testing.assert_allclose(runs.final(), finals, rtol=1e-10)
    table = lab.summarize(runs, plan, "val_accuracy")
    assert list(table) == ["a", "b"]
    accuracy = runs.final("val_accuracy")
    assert table["b"] == pytest.approx((accuracy[:, 1].mean(), accuracy[:, 1].std(ddof=1)))
    _, one = lab.train_schedules(mlp, split, sgd, 1, 64, schedules=plan, seed=1, record="end")
    assert lab.summarize(one, plan, "val_accuracy")["b"] == (pytest.approx(finals[1, 1]), 0.0)  # no spread
    with pytest.raises(ValueError, match="names"):
        lab.summarize(runs, ["a", "b", "c"])


def test_a_schedule_that_diverges_for_one_seed_has_no_mean(split, mlp):
    _, runs = lab.train_schedules(mlp, split, sgd, 1, 64, schedules={"ok": 0.05, "huge": 80.0}, seed=[0, 1])
    table = lab.summarize(runs, ["ok", "huge"])
    assert np.isfinite(table["ok"]).all() and np.isnan(table["huge"]).all()


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        ({}, "non-empty dict"),
        ([0.1], "non-empty dict"),
        ({"p": schedules.ReduceLROnPlateau(0.1)}, "ReduceLROnPlateau"),
        ({"sweep": schedules.constant(np.array([0.1, 0.2]))}, "one rate per step"),
        ({"neg": -0.1}, "lr must be"),
        ({"text": "fast"}, "number or a function"),
    ],
)
def test_bad_schedules_are_named(split, mlp, plan, match):
    with pytest.raises(ValueError, match=match):
        lab.train_schedules(mlp, split, sgd, 1, 32, schedules=plan)


def test_bad_settings_are_named(split, mlp):
    with pytest.raises(ValueError, match="lr_step"):
        lab.train_schedules(mlp, split, sgd, 1, 32, schedules={"a": 0.1}, lr_step="batch")
    with pytest.raises(ValueError, match="batch_size"):
        lab.train_schedules(mlp, split, sgd, 1, 0, schedules={"a": 0.1})
    with pytest.raises(ValueError, match="record"):
        lab.train_schedules(mlp, split, sgd, 1, 32, schedules={"a": 0.1}, record="never")


# ----------------------------------------------------------------- label noise


def test_label_noise_flips_exactly_the_fraction(split):
    noisy = lab.with_label_noise(split, 0.2, seed=3)
    wrong = noisy.y_train != split.y_train
    assert wrong.sum() == round(0.2 * len(split.y_train))
    np.testing.assert_array_equal(noisy.y_val, split.y_val)
    np.testing.assert_array_equal(noisy.X_train, split.X_train)
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() <= 9
    again = lab.with_label_noise(split, 0.2, seed=3)
    np.testing.assert_array_equal(again.y_train, noisy.y_train)
    np.testing.assert_array_equal(lab.with_label_noise(split, 0.0).y_train, split.y_train)
    with pytest.raises(ValueError, match="Split"):
        lab.with_label_noise((split.X_train, split.y_train), 0.1)
    with pytest.raises(ValueError, match="fraction"):
        lab.with_label_noise(split, 1.5)


def test_label_noise_is_the_draw_of_data_noisy_labels(split):
    noisy = lab.with_label_noise(split, 0.3, seed=5)
    np.testing.assert_array_equal(noisy.y_train, data.noisy_labels(split.y_train, 0.3, 10, seed=5))


# ----------------------------------------------------------------- the extra schedules


def test_inverse_sqrt_peaks_after_the_warmup():
    sched = lab.inverse_sqrt(2.0, warmup_steps=10)
    rates = sched(np.arange(100))
    assert rates.argmax() == 9 and rates[9] == pytest.approx(2.0)
    assert rates[0] == pytest.approx(0.2)
    assert rates[39] == pytest.approx(2.0 * np.sqrt(10 / 40))
    # Vaswani et al.: d_model^-0.5 * min(k^-0.5, k * w^-1.5) with lr = (d_model * w)^-0.5
    d_model, w = 512, 4000
    k = np.arange(1, 20001)
    paper = d_model**-0.5 * np.minimum(k**-0.5, k * w**-1.5)
    ours = lab.inverse_sqrt((d_model * w) ** -0.5, w)(k - 1)
    np.testing.assert_allclose(ours, paper, rtol=1e-12)


def test_inverse_time_matches_keras_formula():
    sched = lab.inverse_time(0.1, decay_rate=0.5, decay_steps=10)
    t = np.arange(50)
    np.testing.assert_allclose(sched(t), 0.1 / (1 + 0.5 * t / 10))
    stair = lab.inverse_time(0.1, 0.5, 10, staircase=True)
    np.testing.assert_allclose(stair(t), 0.1 / (1 + 0.5 * (t // 10)))
    assert sched(20) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="decay_steps"):
        lab.inverse_time(0.1, 0.5, 0)


# ----------------------------------------------------------------- the noisy regression


def _plain_sgd(problem, rates, steps):
    """Minibatch SGD written out: the excess loss after each step, the batches fit draws."""
    n, B = len(problem.y), problem.batch_size
    rng = np.random.default_rng(problem.seed + 1)
    order = np.concatenate([rng.permutation(n) for _ in range(-(-steps * B // n))])
    w = np.zeros(problem.X.shape[1])
    path = [w]
    for k in range(steps):
        rows = order[k * B : (k + 1) * B]
        Xb, yb = problem.X[rows], problem.y[rows]
        w = w - rates[k] * (2.0 / B) * (Xb.T @ (Xb @ w - yb))
        path.append(w)
    return problem.excess_loss(np.array(path))


def test_noisy_regression_is_minibatch_sgd_on_fixed_batches():
    problem = lab.NoisyRegression(steps=120)
    cosine = schedules.cosine(0.15, T_max=120)
    for lr, rates in ((0.05, np.full(120, 0.05)), (cosine, cosine(np.arange(120)))):
        np.testing.assert_allclose(problem.run(lr), _plain_sgd(problem, rates, 120), rtol=1e-9, atol=1e-14)
    pair = problem.run(np.array([0.01, 0.1]))
    assert pair.shape == (121, 2)
    np.testing.assert_allclose(pair[:, 1], problem.run(0.1), rtol=1e-12)  # a sweep member = its run alone
    assert problem.run(0.05, optimizer=partial(sgd, momentum=0.5)).shape == (121,)


def test_noisy_regression_shows_the_trade_off():
    problem = lab.NoisyRegression()
    assert problem.stability_limit == pytest.approx(2 / problem.curvature)
    small, large = problem.run(np.array([0.01, 0.1]))[-50:].mean(axis=0)
    decayed = problem.run(schedules.cosine(0.1, T_max=problem.steps))[-50:].mean()
    assert decayed < small and decayed < large / 10
    early_small, early_large = problem.run(np.array([0.01, 0.1]))[50]
    assert early_large < early_small  # a large rate is faster at first
    assert problem.run(0.1, steps=10).shape == (11,)
    assert problem.run(0.1, steps=25).shape == (26,)  # not a whole number of epochs
    with pytest.raises(ValueError, match="steps"):
        problem.run(0.1, steps=0)
    assert "stability_limit" in repr(problem)


def test_a_run_that_blows_up_is_nan_after_fit_stops_it():
    problem = lab.NoisyRegression()
    blown = problem.run(3 * problem.stability_limit)
    assert blown.shape == (301,) and np.isnan(blown[-1]) and np.isfinite(blown[0])
    first = int(np.argmax(np.isnan(blown)))
    assert np.isnan(blown[first:]).all()
    both = problem.run(np.array([0.05, 3 * problem.stability_limit]))
    np.testing.assert_array_equal(np.isnan(both[:, 1]), np.isnan(blown))
    assert np.isfinite(both[:, 0]).all()


# ----------------------------------------------------------------- the landscape


def test_sharp_and_wide_minima_and_gradient():
    f = lab.sharp_and_wide()
    sharp, wide = f.minima[:, 0]
    assert sharp == pytest.approx(-0.977, abs=1e-3) and wide == pytest.approx(2.0)
    np.testing.assert_allclose(f.grad(f.minima), 0.0, atol=1e-10)
    assert f.value(f.minima[:1])[0] > f.value(f.minima[1:])[0] + 0.2
    x = np.linspace(-2.4, 3.4, 41)[:, None]
    h = 1e-6
    numeric = (f.value(x + h) - f.value(x - h)) / (2 * h)
    np.testing.assert_allclose(f.grad(x)[:, 0], numeric, atol=1e-6)
    with pytest.raises(ValueError, match="not a local minimum"):
        lab.sharp_and_wide(depth=0.01)


def test_a_small_rate_stays_in_the_sharp_minimum_a_larger_one_cannot():
    f = lab.sharp_and_wide()
    small = descend(f, [-1.5], sgd(lr=0.02), 400)
    assert small.final[0] == pytest.approx(f.minima[0, 0], abs=1e-6)
    cycled = schedules.cyclic(0.02, 0.5, step_size_up=25, cycle_momentum=False)
    escaped = descend(f, [-1.5], sgd(lr=cycled), 400)
    assert escaped.final[0] == pytest.approx(2.0, abs=1e-3)

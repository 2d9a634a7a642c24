"""Schedules trained side by side, label noise, the noisy regression, two extra schedules, a landscape."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import data, models, optimizers, schedule_lab, schedules, training


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
    runs = schedule_lab.train_schedules(mlp, split, plan, epochs=3, batch_size=32, seed=4)
    assert runs.names == tuple(plan)
    assert runs.lr.shape == (3 * per_epoch, 3) and runs.train_loss.shape == (4, 3)
    for name, lr in plan.items():
        _, history = training.fit(mlp, split, optimizers.sgd, 3, 32, lr=lr, seed=4)
        i = runs.index(name)
        np.testing.assert_allclose(runs.lr[:, i], history.update_lr, rtol=0, atol=0)
        np.testing.assert_allclose(runs.update_loss[:, i], history.update_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.train_loss[:, i], history.train_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.val_loss[:, i], history.val_loss, rtol=1e-10)
        np.testing.assert_allclose(runs.val_accuracy[:, i], history.val_accuracy)
    assert runs.final("val_accuracy").keys() == plan.keys()


def test_per_epoch_stepping_and_momentum_match_fit(split, mlp):
    plan = {"step": schedules.step_decay(0.1, step_size=1, gamma=0.5)}
    runs = schedule_lab.train_schedules(mlp, split, plan, 3, 50, lr_step="epoch", momentum=0.9)
    _, history = training.fit(
        mlp, split, lambda lr: optimizers.sgd(lr=lr, momentum=0.9), 3, 50, lr=plan["step"], lr_step="epoch"
    )
    np.testing.assert_allclose(runs.lr[:, 0], history.update_lr)
    np.testing.assert_allclose(runs.val_loss[:, 0], history.val_loss, rtol=1e-10)
    assert len(set(runs.lr[: runs.updates_per_epoch, 0])) == 1  # constant within an epoch


def test_a_diverging_member_stops_alone(split, mlp):
    runs = schedule_lab.train_schedules(mlp, split, {"ok": 0.05, "huge": 80.0}, 2, 32)
    assert runs.diverged.tolist() == [False, True]
    assert runs.diverged_at[0] == -1 and runs.diverged_at[1] >= 0
    assert np.isnan(runs.final("val_loss")["huge"])
    assert np.isfinite(runs.final("val_loss")["ok"])
    _, history = training.fit(mlp, split, optimizers.sgd, 2, 32, lr=80.0)
    assert history.diverged and history.diverged_at == runs.diverged_at[1]


def test_regression_and_no_validation(split):
    X, y, _ = data.make_linear_regression(60, 3, seed=1)
    runs = schedule_lab.train_schedules(models.LinearRegression(3), (X, y), {"a": 0.1, "b": 0.01}, 2, 10)
    assert runs.val_loss is None and runs.train_accuracy is None
    assert runs.train_loss[-1, 0] < runs.train_loss[-1, 1] < runs.train_loss[0, 0]
    with pytest.raises(ValueError, match="no val_loss"):
        runs.final("val_loss")


def test_summarize_over_seeds(split, mlp):
    plan = {"a": 0.05, "b": schedules.cosine(0.1, T_max=20)}
    runs = [schedule_lab.train_schedules(mlp, split, plan, 1, 64, seed=s) for s in (0, 1, 2)]
    table = schedule_lab.summarize(runs, "val_loss")
    finals = np.array([[r.final()["a"], r.final()["b"]] for r in runs])
    assert table["a"] == pytest.approx((finals[:, 0].mean(), finals[:, 0].std(ddof=1)))
    assert schedule_lab.summarize(runs[:1])["b"][1] == 0.0
    with pytest.raises(ValueError, match="same schedule names"):
        schedule_lab.summarize([runs[0], schedule_lab.train_schedules(mlp, split, {"c": 0.1}, 1, 64)])


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
        schedule_lab.train_schedules(mlp, split, plan, 1, 32)


# ----------------------------------------------------------------- label noise


def test_label_noise_flips_exactly_the_fraction(split):
    noisy = schedule_lab.with_label_noise(split, 0.2, seed=3)
    wrong = noisy.y_train != split.y_train
    assert wrong.sum() == round(0.2 * len(split.y_train))
    np.testing.assert_array_equal(noisy.y_val, split.y_val)
    np.testing.assert_array_equal(noisy.X_train, split.X_train)
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() <= 9
    again = schedule_lab.with_label_noise(split, 0.2, seed=3)
    np.testing.assert_array_equal(again.y_train, noisy.y_train)
    np.testing.assert_array_equal(schedule_lab.with_label_noise(split, 0.0).y_train, split.y_train)
    with pytest.raises(ValueError, match="Split"):
        schedule_lab.with_label_noise((split.X_train, split.y_train), 0.1)
    with pytest.raises(ValueError, match="fraction"):
        schedule_lab.with_label_noise(split, 1.5)


# ----------------------------------------------------------------- the extra schedules


def test_inverse_sqrt_peaks_after_the_warmup():
    sched = schedule_lab.inverse_sqrt(2.0, warmup_steps=10)
    rates = sched(np.arange(100))
    assert rates.argmax() == 9 and rates[9] == pytest.approx(2.0)
    assert rates[0] == pytest.approx(0.2)
    assert rates[39] == pytest.approx(2.0 * np.sqrt(10 / 40))
    # Vaswani et al.: d_model^-0.5 * min(k^-0.5, k * w^-1.5) with lr = (d_model * w)^-0.5
    d_model, w = 512, 4000
    k = np.arange(1, 20001)
    paper = d_model**-0.5 * np.minimum(k**-0.5, k * w**-1.5)
    ours = schedule_lab.inverse_sqrt((d_model * w) ** -0.5, w)(k - 1)
    np.testing.assert_allclose(ours, paper, rtol=1e-12)


def test_inverse_time_matches_keras_formula():
    sched = schedule_lab.inverse_time(0.1, decay_rate=0.5, decay_steps=10)
    t = np.arange(50)
    np.testing.assert_allclose(sched(t), 0.1 / (1 + 0.5 * t / 10))
    stair = schedule_lab.inverse_time(0.1, 0.5, 10, staircase=True)
    np.testing.assert_allclose(stair(t), 0.1 / (1 + 0.5 * (t // 10)))
    assert sched(20) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="decay_steps"):
        schedule_lab.inverse_time(0.1, 0.5, 0)


# ----------------------------------------------------------------- the noisy regression


def test_noisy_regression_shortcut_equals_the_optimizer():
    problem = schedule_lab.NoisyRegression(steps=120)
    for lr in (0.05, schedules.cosine(0.15, T_max=120), np.array([0.01, 0.1])):
        fast = problem.run(lr)
        slow = problem.excess_loss(optimizers.run(optimizers.sgd(lr=lr), problem.gradient(), problem.x0, 120))
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-14)
    with_momentum = problem.run(0.05, momentum=0.5)
    assert with_momentum.shape == (121,)


def test_noisy_regression_shows_the_trade_off():
    problem = schedule_lab.NoisyRegression()
    assert problem.stability_limit == pytest.approx(2 / problem.curvature)
    small, large = problem.run(np.array([0.01, 0.1]))[-50:].mean(axis=0)
    decayed = problem.run(schedules.cosine(0.1, T_max=problem.steps))[-50:].mean()
    assert decayed < small and decayed < large / 10
    early_small, early_large = problem.run(np.array([0.01, 0.1]))[50]
    assert early_large < early_small  # a large rate is faster at first
    blown = problem.run(3 * problem.stability_limit)
    assert not np.isfinite(blown[-1]) or blown[-1] > 1e6
    assert problem.run(0.1, steps=10).shape == (11,)
    with pytest.raises(ValueError, match="steps"):
        problem.run(0.1, steps=problem.steps + 1)
    assert "stability_limit" in repr(problem)


# ----------------------------------------------------------------- the landscape


def test_sharp_and_wide_minima_and_gradient():
    f = schedule_lab.sharp_and_wide()
    sharp, wide = f.minima[:, 0]
    assert sharp == pytest.approx(-0.977, abs=1e-3) and wide == pytest.approx(2.0)
    np.testing.assert_allclose(f.grad(f.minima), 0.0, atol=1e-10)
    assert f.value(f.minima[:1])[0] > f.value(f.minima[1:])[0] + 0.2
    x = np.linspace(-2.4, 3.4, 41)[:, None]
    h = 1e-6
    numeric = (f.value(x + h) - f.value(x - h)) / (2 * h)
    np.testing.assert_allclose(f.grad(x)[:, 0], numeric, atol=1e-6)
    with pytest.raises(ValueError, match="not a local minimum"):
        schedule_lab.sharp_and_wide(depth=0.01)


def test_a_small_rate_stays_in_the_sharp_minimum_a_larger_one_cannot():
    f = schedule_lab.sharp_and_wide()
    small = optimizers.descend(f, [-1.5], optimizers.sgd(lr=0.02), 400)
    assert small.final[0] == pytest.approx(f.minima[0, 0], abs=1e-6)
    cycled = schedules.cyclic(0.02, 0.5, step_size_up=25, cycle_momentum=False)
    escaped = optimizers.descend(f, [-1.5], optimizers.sgd(lr=cycled), 400)
    assert escaped.final[0] == pytest.approx(2.0, abs=1e-3)


def test_record_end_keeps_the_final_numbers(split, mlp):
    plan = {"a": 0.05, "b": schedules.cosine(0.2, T_max=30)}
    every = schedule_lab.train_schedules(mlp, split, plan, 3, 32, seed=1)
    ends = schedule_lab.train_schedules(mlp, split, plan, 3, 32, seed=1, record="end")
    assert ends.train_loss.shape == (2, 2) and ends.val_accuracy.shape == (2, 2)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):  # the same runs: exact
        np.testing.assert_array_equal(getattr(ends, key), getattr(every, key)[[0, -1]])
    assert ends.final() == every.final()
    with pytest.raises(ValueError, match="record"):
        schedule_lab.train_schedules(mlp, split, plan, 1, 32, record="never")

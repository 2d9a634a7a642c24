"""The tuning recipe: the step log, the recipe's schedule, and many MLPs trained at once."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from lrcourse import data, models, schedules, training, tuning
from lrcourse.optimizers import sgd


@pytest.fixture(scope="module")
def split():
    X, y = data.load_digits()
    parts, _ = data.standardize(data.train_val_test_split(X, y, seed=0))
    return data.Split(parts.X_train[:300], parts.y_train[:300], parts.X_val[:120], parts.y_val[:120])


def test_recipe_times_and_tabulates_the_steps():
    recipe = tuning.Recipe()
    with recipe.step("1. baseline") as step:
        time.sleep(0.01)
        step.val_accuracy = 0.9123
        step.note = "the defaults, a long note that has to be wrapped onto a second line of the table"
    with recipe.step("2. range test") as step:
        step.note = "a rate"
    assert recipe["1. baseline"].seconds >= 0.01
    assert recipe.total_seconds == pytest.approx(sum(s.seconds for s in recipe.steps))
    table = recipe.table(times=False)
    assert "91.2%" in table and not re.search(r"\d s ", table)
    assert len(table.splitlines()) == 5  # head, rule, two steps, one wrapped line
    assert "total" in recipe.table()
    with recipe.step("2. range test"):  # a step run again replaces the old entry
        pass
    assert [s.name for s in recipe.steps] == ["1. baseline", "2. range test"]
    with pytest.raises(KeyError, match="no step"):
        recipe["3."]


def test_a_failing_step_is_still_timed():
    recipe = tuning.Recipe()
    with pytest.raises(RuntimeError), recipe.step("boom"):
        raise RuntimeError
    assert recipe["boom"].seconds >= 0


def test_warmup_cosine_is_warmup_then_cosine():
    s = tuning.warmup_cosine(0.5, 100, 10, final_lr=0.01)
    t = np.arange(100)
    expected = schedules.warmup(schedules.cosine(0.5, T_max=90, eta_min=0.01), 10)(t)
    np.testing.assert_allclose(s(t), expected)
    assert s(0) == 0.0 and s(10) == pytest.approx(0.5) and s(5) == pytest.approx(0.25)
    np.testing.assert_allclose(tuning.warmup_cosine(0.5, 100, 0)(t), schedules.cosine(0.5, T_max=100)(t))
    assert tuning.warmup_cosine(np.array([0.1, 0.2]), 50, 5)(t[:50]).shape == (50, 2)
    with pytest.raises(ValueError, match="warmup_steps"):
        tuning.warmup_cosine(0.5, 10, 10)


def test_epochs_to_reach():
    curve = [0.1, 0.8, 0.96, 0.95, 0.97]
    assert tuning.epochs_to_reach(curve, 0.95) == 2
    assert tuning.epochs_to_reach(curve, 0.99) is None
    assert tuning.epochs_to_reach([0.99, 0.5], 0.9) is None  # epoch 0 (before training) does not count
    assert tuning.epochs_to_reach([0.1, np.nan, 0.96], 0.95) == 2


@pytest.mark.parametrize(
    "model",
    [
        models.MLP(64, hidden=(16,), n_classes=10),
        models.MLP(64, hidden=(12, 8), n_classes=10, activation="tanh", l2=1e-3),
    ],
)
def test_train_rates_equals_fit(split, model):
    B, E = 32, 3
    upe = training.updates_per_epoch(len(split.y_train), B)
    sched = tuning.warmup_cosine(0.4, E * upe, upe)
    T = np.arange(E * upe)
    rates = np.stack([sched(T), np.full(len(T), 0.05)], axis=1)
    runs = tuning.train_rates(model, split, rates, E, B, seed=3)
    for i, lr in enumerate((sched, 0.05)):
        _, h = training.fit(model, split, sgd, E, B, lr=lr, seed=3)
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            np.testing.assert_allclose(getattr(runs, key)[:, i], getattr(h, key), rtol=1e-10, atol=1e-12)
    assert not runs.diverged.any()


def test_a_diverging_member_is_frozen_as_fit_stops(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    upe = training.updates_per_epoch(len(split.y_train), 32)
    rates = np.stack([np.full(3 * upe, 0.1), np.full(3 * upe, 20.0)], axis=1)
    runs = tuning.train_rates(model, split, rates, 3, 32)
    _, h = training.fit(model, split, sgd(lr=20.0), 3, 32)
    assert h.diverged and runs.diverged.tolist() == [False, True]
    assert runs.diverged_at[1] == h.diverged_at
    assert np.isnan(runs.val_loss[1:, 1]).all() and np.isfinite(runs.val_loss[:, 0]).all()


def test_train_metrics_at_the_end_only(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    upe = training.updates_per_epoch(len(split.y_train), 64)
    rates = np.full((4 * upe, 2), 0.2)
    full = tuning.train_rates(model, split, rates, 4, 64)
    quick = tuning.train_rates(model, split, rates, 4, 64, train_metrics="end")
    # exact: the same training; skipping evaluations changes no update
    np.testing.assert_array_equal(full.val_loss, quick.val_loss)
    np.testing.assert_array_equal(full.train_loss[[0, -1]], quick.train_loss[[0, -1]])
    assert np.isnan(quick.train_loss[1:-1]).all()


def test_train_rates_over_seeds_equals_one_seed_at_a_time(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    upe = training.updates_per_epoch(len(split.y_train), 32)
    # the second rate diverges early: the members left must train on unchanged
    rates = np.stack([np.full(3 * upe, 0.1), np.full(3 * upe, 20.0), np.full(3 * upe, 0.5)], axis=1)
    both = tuning.train_rates(model, split, rates, 3, 32, seed=[4, 7])
    assert both.val_loss.shape == (4, 6)
    for g, seed in enumerate((4, 7)):
        alone = tuning.train_rates(model, split, rates, 3, 32, seed=seed)
        cols = slice(3 * g, 3 * g + 3)  # seed-major
        np.testing.assert_allclose(both.val_loss[:, cols], alone.val_loss, rtol=1e-10)
        np.testing.assert_array_equal(both.diverged[cols], alone.diverged)
        np.testing.assert_array_equal(both.diverged_at[cols], alone.diverged_at)
    assert both.diverged.tolist() == [False, True, False] * 2


def test_sweep_seeds_is_one_grid_per_seed(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.1, 0.5, 30.0])
    grids = tuning.sweep_seeds(model, split, lrs, (0, 1), (32, 100), 3, seeds=range(1, 4))
    assert len(grids) == 3
    for seed, grid in zip(range(1, 4), grids, strict=True):
        alone = tuning.sweep_recipes(model, split, lrs, (0, 1), (32, 100), 3, seed=seed, train_metrics="end")
        np.testing.assert_allclose(grid.val_loss, alone.val_loss, rtol=1e-10)
        np.testing.assert_array_equal(grid.diverged, alone.diverged)
    assert not np.array_equal(grids[0].val_loss, grids[1].val_loss)  # the seeds differ
    with pytest.raises(ValueError, match="distinct"):
        tuning.sweep_seeds(model, split, lrs, (0,), (32,), 2, seeds=[1, 1])


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (
            lambda m, s: tuning.train_rates(models.SoftmaxRegression(64, 10), s, np.ones((10, 1)), 1, 30),
            "MLP",
        ),
        (lambda m, s: tuning.train_rates(m, s, np.ones((5, 2)), 1, 32), "one row per update"),
        (lambda m, s: tuning.train_rates(m, s, -np.ones((10, 1)), 1, 30), "rates"),
        (lambda m, s: tuning.sweep_recipes(m, s, [0.1], (0, 5), (32,), 5), "shorter than the budget"),
        (lambda m, s: tuning.sweep_recipes(m, s.train, [0.1], (0,), (32,), 2), "validation data"),
    ],
)
def test_mistakes_are_explained(split, call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call(models.MLP(64, hidden=(8,), n_classes=10), split)


def test_sweep_recipes(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.05, 0.3, 30.0])
    grid = tuning.sweep_recipes(model, split, lrs, (0, 1), (32, 100), 3)
    assert grid.val_accuracy.shape == (2, 2, 3, 4)
    assert grid.diverged[:, :, 2].all() and not grid.diverged[:, :, :2].any()
    assert grid.updates_per_epoch == (10, 3)
    # one recipe equals fit with its schedule
    upe = 3
    _, h = training.fit(model, split, sgd, 3, 100, lr=tuning.warmup_cosine(0.3, 3 * upe, upe))
    np.testing.assert_allclose(grid.curve(0.3, 1, 100, "val_loss"), h.val_loss, rtol=1e-10)
    np.testing.assert_allclose(grid.curve(0.29, 1, 100), h.val_accuracy)
    lr, w, b = grid.best()
    assert grid.final()[grid.index(lr, w, b)] == np.nanmax(grid.final())
    assert grid.best("val_loss")[0] in lrs
    with pytest.raises(ValueError, match="warmup"):
        grid.index(0.3, 2, 32)

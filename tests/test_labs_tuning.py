"""The tuning recipe: the step log, the recipe's schedule, and the grid of recipes trained through fit."""

from __future__ import annotations

import functools
import re
import time

import numpy as np
import pytest

from lrcourse import data, models, schedules, training
from lrcourse.labs import tuning
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


def test_recipe_rates_are_the_warmup_cosine_of_each_recipe():
    lrs = np.array([0.1, 0.5])
    rates = tuning.recipe_rates(lrs, (0, 1.5), 3, 10)
    assert rates.shape == (30, 2, 2)
    t = np.arange(30)
    np.testing.assert_array_equal(rates[:, 0], tuning.warmup_cosine(lrs, 30, 0)(t))
    np.testing.assert_array_equal(rates[:, 1], tuning.warmup_cosine(lrs, 30, 15)(t))


@pytest.mark.parametrize(
    "model",
    [
        models.MLP(64, hidden=(16,), n_classes=10),
        models.MLP(64, hidden=(12, 8), n_classes=10, activation="tanh", l2=1e-3),
    ],
)
def test_every_recipe_of_the_grid_is_the_fit_of_its_schedule(split, model):
    lrs = np.array([0.05, 0.4])
    grid = tuning.sweep_recipes(model, split, sgd, 3, (32, 100), lr=lrs, warmups=(0, 1), seed=3)
    for B in (32, 100):
        upe = training.updates_per_epoch(len(split.y_train), B)
        for w in (0, 1):
            for lr in lrs:
                sched = tuning.warmup_cosine(lr, 3 * upe, w * upe)
                _, h = training.fit(model, split, sgd, 3, B, lr=sched, seed=3)
                for key in ("train_loss", "val_loss", "val_accuracy"):
                    np.testing.assert_allclose(grid.curve(lr, w, B, key), getattr(h, key), rtol=1e-10)
    assert not grid.diverged.any()


def test_the_optimizer_is_a_constructor_given_the_rates(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    momentum = functools.partial(sgd, momentum=0.9)
    grid = tuning.sweep_recipes(model, split, momentum, 2, (64,), lr=[0.05], warmups=(1,))
    upe = training.updates_per_epoch(len(split.y_train), 64)
    _, h = training.fit(model, split, momentum, 2, 64, lr=tuning.warmup_cosine(0.05, 2 * upe, upe))
    np.testing.assert_allclose(grid.val_loss[0, 0, 0], h.val_loss, rtol=1e-10)
    _, plain = training.fit(model, split, sgd, 2, 64, lr=tuning.warmup_cosine(0.05, 2 * upe, upe))
    assert not np.allclose(grid.val_loss[0, 0, 0], plain.val_loss)


def test_a_diverged_recipe_is_nan_from_its_divergence_on(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    grid = tuning.sweep_recipes(model, split, sgd, 3, (32,), lr=[0.1, 30.0], warmups=(0,))
    _, h = training.fit(model, split, sgd, 3, 32, lr=tuning.warmup_cosine(30.0, 30, 0))
    assert h.diverged and grid.diverged[0, 0].tolist() == [False, True]
    gone = int(h.diverged_at) // 10 + 1  # the first epoch that ends after the divergence
    curve = grid.curve(30.0, 0, 32, "val_loss")
    assert np.isfinite(curve[:gone]).all() and np.isnan(curve[gone:]).all()
    assert np.isnan(grid.final()[0, 0, 1]) and np.isfinite(grid.final()[0, 0, 0])


def test_record_end_keeps_the_finals_and_leaves_the_epochs_between_out(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.1, 0.5])
    every = tuning.sweep_recipes(model, split, sgd, 4, (64,), lr=lrs, warmups=(0, 1))
    ends = tuning.sweep_recipes(model, split, sgd, 4, (64,), lr=lrs, warmups=(0, 1), record="end")
    # exact: the same training; skipping evaluations changes no update
    for key in ("val_accuracy", "val_loss", "train_loss"):
        np.testing.assert_array_equal(getattr(ends, key)[..., [0, -1]], getattr(every, key)[..., [0, -1]])
        assert np.isnan(getattr(ends, key)[..., 1:-1]).all()
    three = tuning.sweep_recipes(model, split, sgd, 4, (64,), lr=lrs, warmups=(0,), record=[2])
    assert np.isnan(three.val_loss[..., [1, 3]]).all() and np.isfinite(three.val_loss[..., [0, 2, 4]]).all()


def test_sweep_seeds_is_one_grid_per_seed(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.1, 0.5, 30.0])
    grids = tuning.sweep_seeds(model, split, sgd, 3, (32, 100), lr=lrs, warmups=(0, 1), seed=range(1, 4))
    assert len(grids) == 3
    for seed, grid in zip(range(1, 4), grids, strict=True):
        alone = tuning.sweep_recipes(
            model, split, sgd, 3, (32, 100), lr=lrs, warmups=(0, 1), seed=seed, record="end"
        )
        np.testing.assert_allclose(grid.val_loss, alone.val_loss, rtol=1e-10)
        np.testing.assert_array_equal(grid.diverged, alone.diverged)
    assert not np.array_equal(grids[0].final(), grids[1].final())  # the seeds differ
    with pytest.raises(ValueError, match="distinct"):
        tuning.sweep_seeds(model, split, sgd, 2, (32,), lr=lrs, warmups=(0,), seed=[1, 1])


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (lambda m, s: tuning.sweep_recipes(m, s, sgd, 5, (32,), lr=[0.1], warmups=(0, 5)), "shorter than"),
        (lambda m, s: tuning.sweep_recipes(m, s.train, sgd, 2, (32,), lr=[0.1], warmups=(0,)), "validation"),
        (lambda m, s: tuning.sweep_recipes(m, s, sgd, 2, (32,), lr=[[0.1]], warmups=(0,)), "1-D"),
        (lambda m, s: tuning.sweep_recipes(m, s, sgd, 2, (32,), lr=[-0.1], warmups=(0,)), "lr"),
        (lambda m, s: tuning.sweep_recipes(m, s, sgd, 2, (), lr=[0.1], warmups=(0,)), "at least one"),
        (lambda m, s: tuning.sweep_recipes(m, s, sgd(lr=0.1), 2, (32,), lr=[0.1], warmups=(0,)), "twice"),
        (lambda m, s: tuning.sweep_seeds(m, s, sgd, 2, (32,), lr=[0.1], warmups=(0,), seed=[]), "seed"),
        (lambda m, s: tuning.sweep_recipes(m, s, sgd, 2, (32,), lr=[0.1], warmups=(0,), record=5), "record"),
    ],
)
def test_mistakes_are_explained(split, call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call(models.MLP(64, hidden=(8,), n_classes=10), split)


def test_sweep_recipes(split):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.05, 0.3, 30.0])
    grid = tuning.sweep_recipes(model, split, sgd, 3, (32, 100), lr=lrs, warmups=(0, 1))
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

"""Chapter 9's lab: Adam's step sizes, RAdam's rectification, the warmup test, budgets and branches."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from helpers import small_split

from lrcourse import descent, models, schedules, training
from lrcourse.labs import warmup_wsd as lab
from lrcourse.optimizers import adam, adamw_schedule_free, eval_params, radam, sgd


@pytest.fixture(scope="module")
def split():
    return small_split()


@pytest.fixture(scope="module")
def mlp():
    return models.MLP(5, hidden=(8,), n_classes=3, l2=0.01)


# ----------------------------------------------------------------- Adam's first steps


def test_rectification_is_radams_step_on_a_constant_gradient():
    """With a steady gradient Adam's step is one rate long, so RAdam's is r_k rates long."""
    k, rho, r = lab.rectification(0.999, 300)
    path = descent.run(lambda x: np.ones_like(x), [0.0], radam(lr=1e-3), 300)
    steps = -np.diff(path[:, 0]) / 1e-3
    np.testing.assert_allclose(steps[5:], r[5:], rtol=1e-6)  # eps aside
    np.testing.assert_allclose(steps[:5], 1.0)  # momentum steps: m_hat = g
    assert (r[:5] == 0).all() and rho[4] < 5 < rho[5]
    assert np.allclose(rho[:3], [1.0, 2.0, 3.0], atol=0.01)  # about k - 1 at first
    with pytest.raises(ValueError, match="beta2"):
        lab.rectification(1.0, 10)


def test_untuned_warmup_ramps_over_two_over_one_minus_beta2():
    ramp = lab.untuned_warmup(schedules.constant(0.1), beta2=0.99)
    t = np.arange(400)
    rates = ramp(t)
    assert rates[0] == pytest.approx(0.1 * 0.005)
    assert rates[198] < 0.1 and rates[199] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.1)
    assert lab.untuned_warmup(0.1, 0.99)(5) == pytest.approx(ramp(5))
    cos = schedules.cosine(1.0, T_max=400)
    np.testing.assert_allclose(lab.untuned_warmup(cos, 0.999)(t), cos(t) * (1e-3 * (t + 1) / 2))


def test_adams_first_step_moves_every_weight_one_rate(split, mlp):
    s = lab.step_sizes(mlp, split, adam(lr=0.01), 3, 10, lr=0.01)
    assert s.quantiles.shape == (len(s.steps), 3) and s.steps[0] == 1
    np.testing.assert_allclose(s.quantiles[0], 1.0, rtol=1e-5)  # |g| / (|g| + eps)
    assert s.at(1) == pytest.approx(1.0, rel=1e-5) and s.at(len(s.steps)) < 0.5
    assert s.n_weights <= mlp.n_params
    warm = lab.step_sizes(mlp, split, adam(lr=schedules.warmup(schedules.constant(0.01), 10)), 3, 10, lr=0.01)
    assert (warm.quantiles[0] == 0).all() and warm.at(5) < 0.5
    with pytest.raises(ValueError, match="one run"):
        lab.step_sizes(mlp, split, adam(lr=[0.01, 0.02]), 1, 10, lr=0.01)


# ----------------------------------------------------------------- the warmup test


def test_warmup_test_members_are_runs_of_their_own(split, mlp):
    T = 2 * training.updates_per_epoch(len(split.y_train), 10)
    methods = {
        "Adam": (adam, lambda lr: schedules.cosine(lr, T_max=T)),
        "Adam, warmup": (adam, lambda lr: schedules.warmup(schedules.cosine(lr, T_max=T - 5), 5)),
        "RAdam": (radam, lambda lr: schedules.cosine(lr, T_max=T)),
    }
    rates = np.array([0.003, 0.03, 100.0])
    table = lab.warmup_test(mlp, split, 2, 10, lr=rates, methods=methods, seed=[0, 1])
    assert table.methods == ("Adam", "Adam, warmup", "RAdam")
    assert table.finals["val_loss"].shape == table.diverged.shape == (2, 3, 3)
    _, one = training.fit(mlp, split, radam(lr=schedules.cosine(0.03, T_max=T)), 2, 10, seed=1)
    assert table.finals["val_loss"][1, 2, 1] == pytest.approx(one.val_loss[-1], rel=1e-10)
    assert table.diverged_count()[0, 2] == 2  # a rate of 100 diverges from both seeds
    assert np.isnan(table.finals["val_loss"][:, 0, 2]).all()
    best = table.tuned("val_loss")
    assert (best >= 0).all() and (best < 2).all()  # never the diverged rate
    at = table.at_tuned("val_accuracy", tuned_on="val_loss")
    assert at.shape == (2, 3)
    np.testing.assert_array_equal(at[:, 0], table.finals["val_accuracy"][:, 0, best[0]])
    with pytest.raises(ValueError, match="methods"):
        lab.warmup_test(mlp, split, 1, 10, lr=rates, methods={})


# ----------------------------------------------------------------- budgets and branches


def test_a_wsd_branch_is_the_run_of_its_own_budget(split, mlp):
    per = training.updates_per_epoch(len(split.y_train), 10)
    budgets, rates = (2, 4), np.array([0.01, 0.05])
    runs = lab.wsd_branches(mlp, split, adam, budgets, 10, lr=rates, seed=[0, 1])
    assert runs.finals["val_loss"].shape == (2, 2, 2) and runs.lrs.shape == (2, 2)
    D = round(0.2 * 2 * per)
    alone = schedules.wsd(0.05, total_steps=2 * per, decay_steps=D)
    _, h = training.fit(mlp, split, adam(lr=alone), 2, 10, seed=1)
    assert runs.finals["val_loss"][1, 0, 1] == pytest.approx(h.val_loss[-1], rel=1e-9)
    assert runs.name == "WSD (linear, 20%)"
    index = runs.tuned()
    np.testing.assert_array_equal(runs.at_tuned()[:, 1], runs.finals["val_loss"][:, 1, index[1]])
    np.testing.assert_array_equal(runs.tuned_lr(), rates[index])
    with pytest.raises(ValueError, match="budgets"):
        lab.wsd_branches(mlp, split, adam, (4, 2), 10, lr=rates)


def test_cosine_budgets_and_checkpoints_are_runs_of_their_own(split, mlp):
    per = training.updates_per_epoch(len(split.y_train), 10)
    cos = lab.cosine_budgets(mlp, split, adam, (1, 3), 10, lr=[0.01, 0.02], seed=[0, 1])
    _, h = training.fit(mlp, split, adam(lr=schedules.cosine(0.02, T_max=3 * per)), 3, 10, seed=0)
    assert cos.finals["train_loss"][0, 1, 1] == pytest.approx(h.train_loss[-1], rel=1e-9)
    sf = partial(adamw_schedule_free, warmup_steps=3)
    at_x = lab.checkpoints(mlp, split, sf, (1, 3), 10, lr=[0.01, 0.02], seed=[0, 1], evaluate_at=eval_params)
    _, h = training.fit(mlp, split, sf(lr=0.01), 1, 10, seed=1, evaluate_at=eval_params)
    assert at_x.finals["val_loss"][1, 0, 0] == pytest.approx(h.val_loss[-1], rel=1e-9)
    at_y = lab.checkpoints(mlp, split, sf, (1, 3), 10, lr=[0.01, 0.02], seed=[0, 1], name="y")
    assert at_y.name == "y" and not np.allclose(at_y.finals["val_loss"], at_x.finals["val_loss"])
    big = lab.checkpoints(mlp, split, sgd, (1, 3), 10, lr=[0.1, 1e6])
    assert big.diverged[0, :, 1].all() and not big.diverged[0, :, 0].any()


def test_decay_variants_include_the_branch_of_wsd_branches(split, mlp):
    runs = lab.wsd_branches(mlp, split, adam, (2, 4), 10, lr=[0.02], seed=[0])
    variants = lab.decay_variants(
        mlp,
        split,
        adam,
        (2, 4),
        10,
        lr=[0.02, 0.02],
        decays=("linear", "1-sqrt"),
        fractions=(0.1, 0.2),
        seed=[0],
    )
    assert set(variants) == {("linear", 0.1), ("linear", 0.2), ("1-sqrt", 0.1), ("1-sqrt", 0.2)}
    same = variants["linear", 0.2]
    np.testing.assert_allclose(same.finals["val_loss"], runs.finals["val_loss"], rtol=1e-10)
    assert variants["1-sqrt", 0.1].name == "WSD (1-sqrt, 10%)"


def test_branching_cost():
    assert lab.branching_cost((2, 4, 8, 16), 0.2) == pytest.approx((18.8, 30.0))
    assert lab.branching_cost((10,), 0.2) == (10.0, 10.0)


def test_branch_grid_branches_leave_the_constant_run(split, mlp):
    grid = lab.branch_grid(mlp, split, adam, 6, 10, lr=0.02, starts=[1, 3], lengths=[1, 2, 4], seed=0)
    assert grid.branches["val_loss"].shape == (7, 2, 3)
    _, h = training.fit(mlp, split, adam(lr=0.02), 6, 10, seed=0)
    np.testing.assert_allclose(grid.stable["val_loss"], h.val_loss, rtol=1e-10)
    b = grid.branches["val_loss"]
    np.testing.assert_allclose(b[:4, 1, 0], h.val_loss[:4], rtol=1e-10)  # before its start
    assert np.isnan(b[:, 1, 2]).all()  # 3 + 4 > 6 epochs
    rates = grid.rates(3, 2)
    assert rates[3 * grid.per_epoch] == 1.0 and rates[5 * grid.per_epoch - 1] > 0 and rates[-1] == 0.0


def test_dead_units_counts_units_silent_on_every_row(split, mlp):
    params = mlp.init(0)
    params["b1"] = params["b1"].copy()
    params["b1"][:3] = -1e6  # three of eight units can never fire
    assert lab.dead_units(mlp, params, split.X_train) == pytest.approx(3 / 8)
    stacked = {k: np.stack([mlp.init(0)[k], params[k]]) for k in params}
    np.testing.assert_allclose(lab.dead_units(mlp, stacked, split.X_train), [0.0, 3 / 8])
    with pytest.raises(ValueError, match="ReLU"):
        lab.dead_units(models.MLP(5, hidden=(8,), n_classes=3, activation="tanh"), params, split.X_train)

"""Chapter 11's recipe lab: the clipped AdamW, gradient norms, schedules, comparisons."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from helpers import small_split

from lrcourse import models, training
from lrcourse.labs import recipe as lab
from lrcourse.labs.tuning import warmup_cosine
from lrcourse.optimizers import adamw, clipped, sgd


@pytest.fixture(scope="module")
def split():
    return small_split()


@pytest.fixture(scope="module")
def mlp():
    return models.MLP(5, hidden=(8,), n_classes=3)


def test_adamw_clipped_is_clipped_adamw(split, mlp):
    build = lab.adamw_clipped(max_norm=0.5, weight_decay=0.1)
    assert (build.max_norm, build.weight_decay) == (0.5, 0.1)
    _, h1 = training.fit(mlp, split, build(0.01), 2, 16, record="end")
    ref = clipped(adamw(lr=0.01, weight_decay=0.1), max_norm=0.5)
    _, h2 = training.fit(mlp, split, ref, 2, 16, record="end")
    np.testing.assert_allclose(h1.val_loss, h2.val_loss, rtol=1e-12)
    assert lab.adamw_clipped(np.inf).max_norm == np.inf
    with pytest.raises(ValueError, match="max_norm"):
        lab.adamw_clipped(-1.0)


def test_gradient_norms_are_the_unclipped_norms(split, mlp):
    norms = lab.gradient_norms(mlp, split, adamw, 2, 16, lr=0.01, seed=[0, 1])
    per_epoch = training.updates_per_epoch(len(split.y_train), 16)
    assert norms.shape == (2 * per_epoch, 2)
    assert np.isfinite(norms).all() and (norms > 0).all()
    one = lab.gradient_norms(mlp, split, adamw, 2, 16, lr=0.01, seed=1)
    np.testing.assert_allclose(one.ravel(), norms[:, 1], rtol=1e-10)
    with pytest.raises(ValueError, match="optimizer"):
        lab.gradient_norms(mlp, split, "adamw", 2, 16, lr=0.01)


def test_clip_threshold_is_a_percentile_of_the_finite_norms():
    norms = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 5.0])
    assert lab.clip_threshold(norms, 50) == 3.0
    assert lab.clip_threshold(norms, 100) == 5.0
    with pytest.raises(ValueError):
        lab.clip_threshold([np.nan])
    with pytest.raises(ValueError, match="percentile"):
        lab.clip_threshold(norms, 120)


def test_recipe_schedules():
    t = np.arange(100)
    np.testing.assert_allclose(lab.recipe_schedule("cosine", 0.1, 100, 10)(t), warmup_cosine(0.1, 100, 10)(t))
    w = lab.recipe_schedule("wsd", 0.1, 100, 10)(t)
    assert w[0] == 0 and np.allclose(w[10:80], 0.1) and w[79] == 0.1 and w[-1] < 0.01
    c = lab.recipe_schedule("constant", 0.1, 100, 10)(t)
    assert c[0] == 0 and np.allclose(c[10:], 0.1)
    sweep = lab.recipe_schedule("wsd", np.array([0.1, 0.2]), 100, 10)(50)
    np.testing.assert_allclose(sweep, [0.1, 0.2])
    with pytest.raises(ValueError, match="kind"):
        lab.recipe_schedule("step", 0.1, 100, 10)


def test_compare_recipes_trains_each_arm_on_its_own_grid(split, mlp):
    arms = {
        "sgd": (partial(sgd, momentum=0.9), "cosine", [0.01, 0.1]),
        "adamw": (lab.adamw_clipped(1.0), "wsd", [1e-3, 1e-2, 1e-1]),
    }
    tables = lab.compare_recipes(mlp, split, 3, 16, arms=arms, seed=[0, 1])
    assert tables["sgd"].finals["val_loss"].shape == (2, 1, 2)
    assert tables["adamw"].finals["val_loss"].shape == (2, 1, 3)
    np.testing.assert_allclose(tables["adamw"].lrs, [1e-3, 1e-2, 1e-1])
    # member (seed 1, rate 0.1) is the run fit makes alone
    per_epoch = training.updates_per_epoch(len(split.y_train), 16)
    sched = lab.recipe_schedule("cosine", 0.1, 3 * per_epoch, per_epoch)
    _, h = training.fit(mlp, split, partial(sgd, momentum=0.9), 3, 16, lr=sched, seed=1, record="end")
    np.testing.assert_allclose(tables["sgd"].finals["val_loss"][1, 0, 1], h.val_loss[-1], rtol=1e-9)
    with pytest.raises(ValueError, match="arms"):
        lab.compare_recipes(mlp, split, 3, 16, arms={})


def test_tuned_rate_skips_rates_where_a_seed_diverged():
    lrs = [0.01, 0.1, 1.0]
    losses = np.array([[0.5, 0.2, 0.1], [0.5, 0.3, np.nan]])
    assert lab.tuned_rate(lrs, losses) == 0.1
    assert lab.tuned_rate(lrs, np.full((2, 3), np.nan)) is None
    with pytest.raises(ValueError, match="shape"):
        lab.tuned_rate(lrs, losses[:, :2])


def test_weight_decays_train_every_pair_in_one_table(split, mlp):
    table = lab.weight_decays(
        mlp, split, 3, 16, lr=[0.01, 0.03], weight_decay=[0.0, 0.5], max_norm=1.0, seed=[0, 1]
    )
    assert table.methods == ("wd 0", "wd 0.5")
    assert table.finals["val_loss"].shape == (2, 2, 2)
    # member (seed 1, weight decay 0.5, rate 0.03) is the run of compare_recipes alone
    arms = {"a": (lab.adamw_clipped(1.0, weight_decay=0.5), "cosine", [0.03])}
    alone = lab.compare_recipes(mlp, split, 3, 16, arms=arms, seed=1)["a"]
    np.testing.assert_allclose(
        table.finals["val_loss"][1, 1, 1], alone.finals["val_loss"][0, 0, 0], rtol=1e-9
    )
    with pytest.raises(ValueError, match="weight_decay"):
        lab.weight_decays(mlp, split, 3, 16, lr=[0.01], weight_decay=[-1.0])

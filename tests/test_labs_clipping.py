"""Chapter 11's clipping lab: the grid of rates and norms, and the spiked gradient."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small_split

from lrcourse import models, training
from lrcourse.labs import clipping as lab
from lrcourse.optimizers import clipped, sgd


@pytest.fixture(scope="module")
def split():
    return small_split()


@pytest.fixture(scope="module")
def mlp():
    return models.MLP(5, hidden=(8,), n_classes=3)


@pytest.fixture(scope="module")
def grid(mlp, split):
    return lab.clip_grid(mlp, split, sgd, 3, 16, lr=[0.1, 1.0, 100.0], max_norm=[np.inf, 0.05], seed=[0, 1])


# ----------------------------------------------------------------- the clipping grid


def test_grid_shapes_and_the_unclipped_member_is_plain_sgd(grid, mlp, split):
    per_epoch = training.updates_per_epoch(len(split.y_train), 16)
    assert grid.grad_norms.shape == (3 * per_epoch, 2, 2, 3)
    assert grid.curves["val_loss"].shape == (4, 2, 2, 3)
    assert grid.diverged.shape == (2, 2, 3)
    _, h = training.fit(mlp, split, sgd(lr=1.0), 3, 16, seed=1)
    assert grid.final("val_loss")[1, 0, 1] == pytest.approx(h.final("val_loss"), rel=1e-12)
    np.testing.assert_array_equal(grid.eval_updates, np.arange(4) * per_epoch)


def test_a_clipped_member_is_the_run_clipped_alone(grid, mlp, split):
    _, h = training.fit(mlp, split, clipped(sgd(lr=0.1), 0.05), 3, 16, seed=0)
    assert grid.final("val_loss")[0, 1, 0] == pytest.approx(h.final("val_loss"), rel=1e-12)


def test_clipping_saves_the_huge_rate(grid):
    assert grid.diverged[:, 0, 2].all() and not grid.diverged[:, 1].any()
    assert np.isnan(grid.final()[:, 0, 2]).all()


def test_active_fraction(grid):
    active = grid.active_fraction()
    assert (active[:, 0] == 0).all()  # no clipping, never active
    norms = grid.grad_norms[:, 0, 1, 0]
    assert active[0, 1, 0] == pytest.approx(np.mean(norms > 0.05))
    assert ((active >= 0) & (active <= 1)).all()


def test_tuned_rates(grid):
    tuned = grid.tuned()
    assert tuned[0] in (0, 1)  # the diverged rate is never picked
    at = grid.at_tuned()
    assert at.shape == (2, 2)
    np.testing.assert_array_equal(at[:, 0], grid.final()[:, 0, tuned[0]])


def test_clip_grid_checks_its_arguments(mlp, split):
    with pytest.raises(ValueError, match="constructor"):
        lab.clip_grid(mlp, split, sgd(lr=0.1), 1, lr=[0.1], max_norm=[1.0])
    with pytest.raises(ValueError, match="max_norm"):
        lab.clip_grid(mlp, split, sgd, 1, lr=[0.1], max_norm=[0.0])
    with pytest.raises(ValueError, match="watch"):
        lab.clip_grid(mlp, split, sgd, 1, lr=[0.1], max_norm=[1.0], watch=lambda s, p: 0)


# ----------------------------------------------------------------- a spike


def test_spiked_multiplies_one_gradient(mlp, split):
    start = mlp.init(0)
    g = {k: np.ones_like(v) for k, v in start.items()}
    opt = lab.spiked(sgd(lr=0.1), at=1, factor=50.0)
    state = opt.init(start)
    steps = []
    for _ in range(3):
        u, state = opt.update(g, state, start)
        steps.append(float(u["W1"][0, 0]))
    assert steps == pytest.approx([-0.1, -5.0, -0.1])
    clipped_spike = lab.spiked(clipped(sgd(lr=0.1), 1.0), at=0, factor=1e6)
    u, _ = clipped_spike.update(g, clipped_spike.init(start), start)
    total = np.sqrt(sum(np.sum(v**2) for v in u.values()))
    assert total == pytest.approx(0.1, rel=1e-5)  # at most lr * max_norm
    with pytest.raises(ValueError, match="Optimizer"):
        lab.spiked(sgd, 0, 10.0)
    with pytest.raises(ValueError, match="factor"):
        lab.spiked(sgd(lr=0.1), 0, -1.0)

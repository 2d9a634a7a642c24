"""Chapter 11's lab of the optimizers after Adam: Muon with AdamW, state sizes, sweeps by rate."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from helpers import small_split

from lrcourse import models, schedules, training
from lrcourse.labs import new_optimizers as newopt
from lrcourse.optimizers import adafactor, adamw, lion


@pytest.fixture(scope="module")
def split():
    return small_split()


@pytest.fixture(scope="module")
def mlp():
    return models.MLP(5, hidden=(8,), n_classes=3)


def test_hidden_matrices_and_muon_adamw(mlp):
    assert newopt.hidden_matrices(mlp) == ["W1"]
    assert newopt.hidden_matrices(models.MLP(5, hidden=(8, 4), n_classes=3)) == ["W1", "W2"]
    opt = newopt.muon_adamw(mlp, 0.01)
    params = mlp.init(0)
    grads = {k: np.full_like(v, 0.1) for k, v in params.items()}
    updates, _ = opt.update(grads, opt.init(params), params)
    # the bias goes to AdamW: its first step is one rate long
    np.testing.assert_allclose(updates["b1"], -0.01, rtol=1e-6)
    assert np.linalg.matrix_rank(updates["W1"]) == 1  # a rank-1 gradient stays rank 1


def test_state_size(mlp):
    params = mlp.init(0)
    n = sum(v.size for v in params.values())
    assert newopt.state_size(adamw(), params) == 2 * n
    assert newopt.state_size(lion(), params) == n
    # Adafactor: rows + columns of each matrix, the whole vector for each bias
    assert newopt.state_size(adafactor(), params) == (5 + 8) + 8 + (8 + 3) + 3
    with pytest.raises(ValueError, match="Optimizer"):
        newopt.state_size(adamw, params)


def test_rate_sweep_matches_single_runs(mlp, split):
    rates = np.array([0.003, 0.03, 3.0])
    sweep = newopt.rate_sweep(
        mlp,
        split,
        {"AdamW": partial(adamw, weight_decay=0.0), "Lion": lambda r: lion(lr=r)},
        4,
        16,
        lr={"AdamW": rates, "Lion": rates / 10},
        seed=[0, 1],
        schedule=lambda r: schedules.cosine(r, T_max=16),
    )
    assert sweep.names == ("AdamW", "Lion")
    assert sweep.finals["AdamW"]["val_loss"].shape == (2, 3)
    _, h = training.fit(
        mlp, split, adamw(lr=schedules.cosine(0.03, T_max=16), weight_decay=0.0), 4, 16, seed=1
    )
    assert sweep.finals["AdamW"]["val_loss"][1, 1] == pytest.approx(h.final("val_loss"), rel=1e-10)
    best = sweep.best("AdamW")
    assert sweep.best_lr("AdamW") == rates[best]
    np.testing.assert_array_equal(sweep.at_best("AdamW"), sweep.finals["AdamW"]["val_loss"][:, best])
    lo, hi = sweep.basin("AdamW", within=1e9)
    assert lo == rates[0] and hi <= rates[-1]
    lo, hi = sweep.basin("AdamW", within=1.0)
    assert lo == hi == rates[best]
    with pytest.raises(ValueError, match="optimizers"):
        newopt.rate_sweep(mlp, split, {}, 1, lr=rates)

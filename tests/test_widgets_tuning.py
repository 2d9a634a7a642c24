"""The recipe dashboard: a lookup in a precomputed grid, drawn fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import data, models, widgets  # noqa: E402
from lrcourse.labs import tuning  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402


@pytest.fixture(scope="module")
def grid():
    X, y = data.load_digits()
    parts, _ = data.standardize(data.train_val_test_split(X, y, seed=0))
    split = data.Split(parts.X_train[:300], parts.y_train[:300], parts.X_val[:120], parts.y_val[:120])
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.03, 0.3, 1.0, 40.0])
    return tuning.sweep_recipes(model, split, sgd, 4, (32, 64), lr=lrs, warmups=(0, 1))


@pytest.fixture(scope="module")
def explorer(grid):
    return widgets.recipe_explorer(grid, baseline=("defaults", np.linspace(0.1, 0.9, 5)))


def test_controls_start_at_the_best_recipe(grid, explorer):
    assert set(explorer.controls) == {"lr", "warmup", "batch_size"}
    lr, w, b = grid.best()
    assert explorer.defaults == {"lr": lr, "warmup": w, "batch_size": b}
    chosen = widgets.recipe_explorer(grid, lr=0.31, warmup=1, batch_size=64)
    assert chosen.defaults == {"lr": 0.3, "warmup": 1.0, "batch_size": 64}
    assert chosen.controls["lr"].validate(0.9) == 1.0  # any rate goes to the nearest option
    with pytest.raises(ValueError, match="lr"):
        chosen.controls["lr"].validate(-1.0)


def test_the_drawing_shows_the_grid(grid, explorer):
    for lr, w, b in ((0.3, 1, 32), (0.03, 0, 64), (40.0, 0, 32)):
        fig = explorer.update(lr=lr, warmup=w, batch_size=b)
        assert isinstance(fig, Figure)
        state = explorer._live.state
        x, y = state["acc_line"].get_data()
        np.testing.assert_array_equal(y, grid.curve(lr, w, b))
        bi, wi, ri = grid.index(lr, w, b)
        shown = state["image"].get_array()
        np.testing.assert_array_equal(shown.filled(np.nan), grid.final()[:, wi, :])
        assert state["frame"].get_xy() == (ri - 0.5, bi - 0.5)
        t, rate = state["lr_line"].get_data()
        assert rate.max() == pytest.approx(1.0, abs=1e-12) and t[-1] == grid.epochs
        if grid.diverged[bi, wi, ri]:
            assert state["title"].get_text() == "diverged"
        else:
            assert state["title"].get_text().startswith(f"final {grid.curve(lr, w, b)[-1]:.1%}")
        crosses = state["crosses"].get_data()
        assert len(crosses[0]) == int(grid.diverged[:, wi, :].sum())


def test_static_and_player(explorer, grid):
    fig = explorer.static([{"lr": 0.3}, {"lr": 1.0, "batch_size": 64}])
    assert isinstance(fig, Figure)
    html = explorer.player("lr", values=list(grid.lrs)).data
    assert html.count("UklGR") >= 1 and "peak rate" in html


def test_a_move_blits_over_a_cached_background(explorer, grid, monkeypatch):
    moves = [{"lr": v, "warmup": w} for v in grid.lrs for w in grid.warmups]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_a_grid_is_required():
    with pytest.raises(ValueError, match="RecipeGrid"):
        widgets.recipe_explorer({"lrs": [0.1]})

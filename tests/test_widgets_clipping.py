"""The clipping explorer: it draws the chosen runs of the recorded grid, and a move is fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import data, models, widgets  # noqa: E402
from lrcourse.labs import clipping as lab  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402


def _grid(lr, max_norm):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)) + 0.8 * rng.normal(size=(100, 3)), axis=1)
    split = data.standardize(data.train_val_test_split(X, y, val_fraction=0.3, test_fraction=0.0, seed=0))[0]
    mlp = models.MLP(4, hidden=(6,), n_classes=3)
    return lab.clip_grid(mlp, split, sgd, 4, 10, lr=lr, max_norm=max_norm, seed=[0, 1])


@pytest.fixture(scope="module")
def grid():
    return _grid([0.1, 1.0, 100.0], [np.inf, 1.0, 0.1])


@pytest.fixture(scope="module")
def explorer(grid):
    return widgets.clipping_explorer(grid, lr=1.0, max_norm=0.1, seed=1)


def test_controls_and_defaults(explorer):
    assert set(explorer.controls) == {"lr", "max_norm"}
    assert explorer.defaults == {"lr": 1.0, "max_norm": 0.1}


def test_the_drawing_is_the_recorded_runs(explorer, grid):
    explorer.update(lr=100.0, max_norm=1.0)
    state = explorer._live.state
    x, v = state["clipped"][1].get_data()
    np.testing.assert_array_equal(x, np.arange(5))
    np.testing.assert_array_equal(v, grid.curves["val_loss"][:, 1, 1, 2])
    _, v = state["plain"][0].get_data()
    np.testing.assert_array_equal(v, grid.curves["val_loss"][:, 0, 0, 2])
    _, norms = state["norms"].get_data()
    np.testing.assert_array_equal(norms, grid.grad_norms[:, 1, 1, 2])
    assert list(state["limit"].get_ydata()) == [1.0, 1.0]
    assert "diverged 2 of 2 without" in state["title"].get_text()
    share = grid.active_fraction()[1, 1, 2]
    assert f"{share:.0%} of updates clipped" in state["share"].get_text()


def test_static_player_and_errors(explorer, grid):
    assert isinstance(explorer.static([{"lr": 0.1, "max_norm": 1.0}, {"lr": 100.0, "max_norm": 0.1}]), Figure)
    html = explorer.player("lr", values=[0.1, 1.0, 100.0], max_norm=1.0).data
    assert html.count("UklGR") >= 3
    with pytest.raises(ValueError, match="ClipGrid"):
        widgets.clipping_explorer({"not": "a grid"})
    with pytest.raises(ValueError, match="metric"):
        widgets.clipping_explorer(grid, metric="test_loss")
    with pytest.raises(ValueError, match="seed"):
        widgets.clipping_explorer(grid, seed=7)


COLUMN_PX = 688
"""The widest frame a player shows at its own size: the site's content column in a window
1280 px wide (pydata-sphinx-theme). A wider frame is shown scaled down, and a scaled
overlay (``lrcourse.widgets.core._overlay``) lets the start frame show through at the
edges of what changed: the old titles and curves appear faintly under the new ones."""


def test_the_player_is_not_scaled_and_the_titles_fit():
    # chapter 11's rates and thresholds: max_norm 0.25 clips 100% of the updates here
    explorer = widgets.clipping_explorer(_grid(10 ** np.arange(-1.25, 0.76, 0.25), [np.inf, 1.0, 0.25]))
    width = explorer.figsize[0] * 80  # the player's dpi
    assert width <= COLUMN_PX
    for lr in explorer.controls["lr"].options:
        for max_norm in explorer.controls["max_norm"].options:
            fig = explorer.update(lr=lr, max_norm=max_norm)
            state, renderer = explorer._live.state, fig.canvas.get_renderer()
            left, right = (state[k].get_window_extent(renderer) for k in ("title", "share"))
            assert left.x1 < fig.axes[1].get_window_extent(renderer).x0, state["title"].get_text()
            assert right.x1 <= fig.bbox.x1, state["share"].get_text()


def test_a_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"lr": r, "max_norm": c} for r in (0.1, 1.0) for c in (1.0, 0.1)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_latency(explorer):
    timing = explorer.latency([{"lr": r, "max_norm": c} for r in (0.1, 1.0, 100.0) for c in (1.0, 0.1)])
    assert timing["p95"] < 100

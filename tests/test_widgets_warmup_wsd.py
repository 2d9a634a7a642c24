"""The WSD branch explorer: it draws the chosen branch of the recorded grid, and a move is fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import data, models, widgets  # noqa: E402
from lrcourse.labs import warmup_wsd as lab  # noqa: E402
from lrcourse.optimizers import adam  # noqa: E402


@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)) + 0.8 * rng.normal(size=(100, 3)), axis=1)
    split = data.standardize(data.train_val_test_split(X, y, val_fraction=0.3, test_fraction=0.0, seed=0))[0]
    mlp = models.MLP(4, hidden=(6,), n_classes=3)
    return lab.branch_grid(mlp, split, adam, 8, 10, lr=0.05, starts=[1, 3, 5], lengths=[1, 2, 4], seed=0)


@pytest.fixture(scope="module")
def explorer(grid):
    return widgets.wsd_branch_explorer(grid, start=3, length=2, reference={4: 0.6, 8: 0.5})


def test_controls_and_defaults(explorer):
    assert set(explorer.controls) == {"start", "length"}
    assert explorer.defaults == {"start": 3, "length": 2}


def test_the_drawing_is_the_recorded_branch(explorer, grid):
    explorer.update(start=5, length=2)
    state = explorer._live.state
    x, v = state["branch"].get_data()
    np.testing.assert_array_equal(x, [5, 6, 7])
    np.testing.assert_array_equal(v, grid.branches["val_loss"][5:8, 2, 1])
    assert np.allclose(state["end"].get_offsets(), [[7, grid.branches["val_loss"][7, 2, 1]]])
    t, rate = state["rate"].get_data()
    assert rate[0] == 1.0 and rate[-1] == 0.0 and t[-1] == pytest.approx(7.0)
    assert "decay epochs 5 to 7" in state["title"].get_text()
    explorer.update(start=3, length=1)
    assert "cosine 0.600" in state["title"].get_text()


def test_a_branch_past_the_end_is_not_drawn(explorer):
    explorer.update(start=5, length=4)
    state = explorer._live.state
    assert len(state["branch"].get_data()[0]) == 0
    assert "no branch" in state["title"].get_text()


def test_static_player_and_errors(explorer, grid):
    assert isinstance(explorer.static([{"start": 1, "length": 4}, {"start": 5, "length": 1}]), Figure)
    html = explorer.player("start", values=[1, 3, 5], length=2).data
    assert html.count("UklGR") >= 3
    with pytest.raises(ValueError, match="BranchGrid"):
        widgets.wsd_branch_explorer({"not": "a grid"})
    with pytest.raises(ValueError, match="metric"):
        widgets.wsd_branch_explorer(grid, metric="test_loss")


def test_a_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"start": s, "length": d} for s in (1, 3) for d in (1, 2, 4)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_latency(explorer):
    timing = explorer.latency([{"start": s, "length": d} for s in (1, 3, 5) for d in (1, 2, 4)])
    assert timing["p95"] < 100

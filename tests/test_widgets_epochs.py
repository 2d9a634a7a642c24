"""The capacity explorer: what it draws is the precomputed sweep, and a move is fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import data, labs, widgets  # noqa: E402
from lrcourse.diagnosis import diagnose  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402
from lrcourse.widgets.epochs import EpochSlider  # noqa: E402


@pytest.fixture(scope="module")
def sweep():
    X, y = data.make_polynomial_regression(15, degree=1, seed=0)
    X_val, y_val = data.make_polynomial_regression(60, degree=1, seed=1)
    points = (X[:, 0], y, X_val[:, 0], y_val)
    return labs.epochs.polynomial_sweep(range(1, 9), points, sgd(lr=0.35), 400)


@pytest.fixture(scope="module")
def explorer(sweep):
    return widgets.capacity_explorer(sweep, degree=8, truth=lambda x: np.sin(np.pi * x))


def test_epoch_slider_gives_whole_epochs():
    s = EpochSlider("epoch", 1, 5000, 100, description="epochs")
    assert s.value == 100 and s.validate(33.4) == 33 and s.validate(4999.7) == 5000
    assert s.format(450) == "epochs = 450"
    grid = s.grid(12)
    assert (
        grid[0] == 1
        and grid[-1] == 5000
        and all(isinstance(v, int) for v in grid)
        and grid == sorted(set(grid))
    )
    with pytest.raises(ValueError):
        s.validate(0.5)
    widget = s.widget()
    assert widget.value == 100 and widget.label == "100"
    assert {1, 3, 10, 30, 450, 3500, 5000} <= set(s.options)


def test_controls_and_defaults(explorer):
    assert set(explorer.controls) == {"epoch", "degree"}
    assert explorer.defaults == {"epoch": 400, "degree": 8}


def test_the_drawing_is_the_sweep(explorer, sweep):
    for degree, epoch in ((2, 10), (8, 37), (8, 400), (5, 1)):
        fig = explorer.update(degree=degree, epoch=epoch)
        assert isinstance(fig, Figure)
        state = explorer._live.state
        xs, fitted = state["fit"].get_data()
        np.testing.assert_allclose(fitted, sweep.predict(degree, epoch, xs), rtol=1e-10, atol=1e-12)
        run = sweep.history(degree)
        assert state["now_val"].get_data()[1][0] == run.val_loss[epoch]
        assert state["now_train"].get_data()[1][0] == run.train_loss[epoch]
        shown, val = state["val"].get_data()
        np.testing.assert_array_equal(val, run.val_loss[shown])
        verdict = diagnose(sweep.history(degree, epoch)).verdict
        assert state["verdict"].get_text() == f"diagnose: {verdict}"
        assert state["fit_title"].get_text() == f"degree {degree}, epoch {epoch}"
        assert state["best"].get_xdata()[0] == max(run.best_epoch, 1)


def test_png_static_and_player(explorer):
    a, b = explorer.png(epoch=5, degree=8), explorer.png(epoch=400, degree=8)
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a != b
    assert isinstance(explorer.static([{"degree": 3}, {"degree": 8, "epoch": 20}]), Figure)
    html = explorer.player("epoch", values=[1, 10, 100, 400], degree=8).data
    assert html.count("UklGR") >= 4 and "epochs = 100" in html


def test_a_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"epoch": e, "degree": d} for e in (1, 20, 400) for d in (2, 8)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_bad_arguments(sweep):
    with pytest.raises(ValueError, match="PolynomialSweep"):
        widgets.capacity_explorer("sweep")
    with pytest.raises(ValueError, match="degree"):
        widgets.capacity_explorer(sweep, degree=9)
    X, y = data.make_polynomial_regression(10, degree=1, seed=0)
    gappy = labs.epochs.polynomial_sweep((1, 3), (X[:, 0], y, X[:, 0], y), sgd(lr=0.1), 5)
    with pytest.raises(ValueError, match="consecutive"):
        widgets.capacity_explorer(gappy)

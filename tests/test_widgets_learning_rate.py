"""The chapter 2 explorer: gradient descent on a bowl, its loss and its step factors."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from helpers import assert_moves_blit

from lrcourse import widgets
from lrcourse.widgets.learning_rate import run_status

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def explorer():
    return widgets.stability_explorer(a=1.0, b=15.0, lr=0.06, lr_range=(0.005, 0.16), lr_step=0.001)


def _state(explorer, lr):
    explorer.update(lr=lr)
    return explorer._live.state


@pytest.mark.parametrize(
    ("lr", "status", "regime"),
    [
        (0.06, "converging", "monotone"),
        (0.12, "converging", "oscillating"),
        (0.133, "converging", "oscillating"),
        (0.134, "diverging: loss grows", "diverging"),
        (0.16, "diverged (step", "diverging"),
    ],
)
def test_the_labels_follow_the_stability_limit(explorer, lr, status, regime):
    state = _state(explorer, lr)
    assert status in state["status"].get_text()
    assert state["info"].get_text() == f"steep direction: {regime}"


def test_the_dots_sit_on_the_step_factors(explorer):
    state = _state(explorer, 0.1)
    x, y = state["dots"].get_data()
    np.testing.assert_allclose(y, [1 - 0.1, 1 - 0.1 * 15])
    np.testing.assert_allclose(x, [0.1, 0.1])


def test_the_path_and_loss_are_the_descent(explorer):
    state = _state(explorer, 0.05)
    xs, ys = state["path"].get_data()
    assert len(xs) == 101 and xs[0] == 1.5 and ys[0] == 1.0
    np.testing.assert_allclose(xs[1:3], [1.5 * 0.95, 1.5 * 0.95**2])
    _, losses = state["loss"].get_data()
    assert losses[0] == pytest.approx(0.5 * (1.5**2 + 15 * 1.0))


def test_png_static_and_player(explorer):
    assert explorer.png(lr=0.1)[:4] == b"\x89PNG"
    fig = explorer.static([{"lr": 0.06}, {"lr": 0.14}])
    assert len(fig.subfigs) == 2
    html = explorer.player("lr", values=[0.05, 0.13, 0.14]).data
    assert html.count("data:image/webp;base64,") >= 1 and "learning rate" in html


def test_the_slider_is_linear_and_fine(explorer):
    control = explorer.controls["lr"]
    assert isinstance(control, widgets.FloatSlider)
    assert control.step == 0.001 and (control.low, control.high) == (0.005, 0.16)


def test_a_slider_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"lr": v} for v in np.linspace(0.005, 0.16, 12)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_run_status():
    assert run_status([4.0, 2.0, 1.0], -1) == "converging"
    assert run_status([4.0, 2.0, 3.0], -1) == "diverging: loss grows"
    assert run_status([4.0, 2.0, np.nan], 2) == "diverged (step 2)"


def test_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        widgets.stability_explorer(x0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="a must be"):
        widgets.stability_explorer(a=-1.0)

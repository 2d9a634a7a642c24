"""The chapter 3 explorer: minibatch SGD on a line with batch-size and rate sliders."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from helpers import assert_moves_blit

from lrcourse import data, widgets
from lrcourse.labs.batch_size import LineSGD
from lrcourse.widgets.batch_size import ChoiceSlider

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def line_data():
    X, y, _ = data.make_linear_regression(n_samples=200, n_features=1, noise=0.5, seed=1)
    return X[:, 0], y + 1.5


@pytest.fixture(scope="module")
def explorer(line_data):
    return widgets.batch_size_explorer(*line_data, batch_size=8, lr=0.05, epochs=3)


def _state(explorer, **values):
    explorer.update(**values)
    return explorer._live.state


def test_powers_of_two():
    assert widgets.powers_of_two(200) == [1, 2, 4, 8, 16, 32, 64, 128, 200]
    assert widgets.powers_of_two(64) == [1, 2, 4, 8, 16, 32, 64]
    assert widgets.powers_of_two(1) == [1]
    with pytest.raises(ValueError):
        widgets.powers_of_two(0)


def test_choice_slider():
    c = ChoiceSlider("batch_size", [1, 2, 4, 8], 4, description="batch size")
    assert c.value == 4 and c.validate(8) == 8 and c.validate(2.0) == 2
    assert c.grid(10) == [1, 2, 4, 8] and c.grid(2) == [1, 8]
    assert c.format(4) == "batch size = 4"
    with pytest.raises(ValueError):
        c.validate(3)
    with pytest.raises(ValueError):
        ChoiceSlider("b", [1, 1])
    with pytest.raises(ValueError):
        ChoiceSlider("b", [])
    w = c.widget()
    assert w.value == 4 and list(w.options) == [("1", 1), ("2", 2), ("4", 4), ("8", 8)]


def test_the_controls(explorer):
    assert explorer.controls["batch_size"].options == widgets.powers_of_two(200)
    assert explorer.defaults == {"batch_size": 8, "lr": 0.05}


@pytest.mark.parametrize("b", [1, 8, 200])
def test_the_path_and_curves_are_the_precomputed_run(explorer, line_data, b):
    state = _state(explorer, batch_size=b, lr=0.05)
    line = LineSGD(*line_data, epochs=3, seed=0)
    path, batch_loss, full_loss, diverged_at = line.run(b, 0.05)
    xs, ys = state["path"].get_data()
    np.testing.assert_allclose(np.column_stack([xs, ys]), path)
    t, full = state["full"].get_data()
    np.testing.assert_allclose(full, full_loss)
    per_epoch = line.updates_per_epoch(b)
    assert t[-1] == pytest.approx(3.0) and len(t) == 3 * per_epoch + 1
    assert f"B = {b}: {per_epoch} updates/epoch, {3 * per_epoch} in all" in state["info"].get_text()
    assert not state["bad"].get_visible()


def test_divergence_is_labelled(explorer):
    state = _state(explorer, batch_size=1, lr=1.5)
    assert state["bad"].get_visible() and "diverged at update" in state["bad"].get_text()
    assert "diverged" in state["info"].get_text()
    state = _state(explorer, batch_size=1, lr=0.05)
    assert not state["bad"].get_visible()


def test_png_static_and_player(explorer):
    assert explorer.png(batch_size=4, lr=0.1)[:4] == b"\x89PNG"
    fig = explorer.static([{"batch_size": 1}, {"batch_size": 200}])
    assert len(fig.subfigs) == 2
    html = explorer.player("batch_size", values=[1, 16, 200]).data
    assert html.count("data:image/webp;base64,") >= 1 and "batch size" in html


def test_a_slider_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"batch_size": b, "lr": lr} for b in (1, 8, 64, 200) for lr in (0.01, 0.3)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_arguments_are_checked(line_data):
    with pytest.raises(ValueError):
        widgets.batch_size_explorer(*line_data, batch_sizes=[0, 4])
    explorer = widgets.batch_size_explorer(*line_data, batch_sizes=[4, 50], batch_size=7)
    assert explorer.defaults["batch_size"] == 4  # not a stop of the slider: the first one

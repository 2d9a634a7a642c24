"""The rate-transfer explorer: two width sweeps, one slider, drawn fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import data, models, widgets  # noqa: E402
from lrcourse.labs import scaling  # noqa: E402
from lrcourse.optimizers import adam  # noqa: E402


@pytest.fixture(scope="module")
def sweeps():
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    small = data.Split(split.X_train[:200], split.y_train[:200], None, None)
    lrs = np.array([1e-3, 1e-2, 1e-1, 30.0])
    out = {}
    for key, base in (("sp", None), ("mup", 8)):
        model = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh", base_width=base)
        out[key] = scaling.width_sweep(model, small, adam, 1, 50, widths=[8, 16, 64], lr=lrs, seed=[0, 1])
    return out


@pytest.fixture(scope="module")
def explorer(sweeps):
    return widgets.rate_transfer_explorer(sweeps["sp"], sweeps["mup"])


def test_the_slider_holds_the_widths(explorer):
    assert set(explorer.controls) == {"width"}
    assert explorer.defaults == {"width": 64}
    assert explorer.controls["width"].options == [8, 16, 64]
    with pytest.raises(ValueError, match="width"):
        explorer.controls["width"].validate(32)


def test_the_drawing_shows_the_chosen_width(sweeps, explorer):
    for width in (8, 16, 64):
        fig = explorer.update(width=width)
        assert isinstance(fig, Figure)
        state = explorer._live.state
        w = [8, 16, 64].index(width)
        for key in ("sp", "mup"):
            sweep = sweeps[key]
            x, y = state[key, "line"].get_data()
            np.testing.assert_array_equal(x, sweep.lrs)
            np.testing.assert_array_equal(y, sweep.mean_loss()[w])
            b = sweep.best()[w]
            assert state[key, "best"].get_data()[0][0] == sweep.lrs[b]
            assert f"width {width}: best {sweep.lrs[b]:.3g}" in state[key, "title"].get_text()


def test_moves_only_redraw_what_changes(explorer, monkeypatch):
    assert_moves_blit(explorer, [{"width": w} for w in (8, 16, 64, 8)], monkeypatch)


def test_static_and_player(explorer):
    assert isinstance(explorer.static([{"width": 8}, {"width": 64}], dpi=40), Figure)
    html = explorer.player("width", values=[8, 16, 64], dpi=40)
    assert "width" in html.data


def test_latency_is_small(explorer):
    timing = explorer.latency([{"width": w} for w in (8, 16, 64) * 4])
    assert timing["p95"] < 100


def test_the_sweeps_must_match(sweeps):
    with pytest.raises(ValueError, match="WidthSweep"):
        widgets.rate_transfer_explorer(sweeps["sp"], None)
    other = scaling.WidthSweep(
        widths=np.array([8, 16]),
        lrs=sweeps["sp"].lrs,
        seeds=np.array([0]),
        parametrization="mup",
        train_loss=np.ones((2, 1, 4)),
        val_loss=None,
        diverged=np.zeros((2, 1, 4), dtype=bool),
    )
    with pytest.raises(ValueError, match="same widths"):
        widgets.rate_transfer_explorer(sweeps["sp"], other)

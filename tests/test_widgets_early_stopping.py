"""The early-stopping explorer: what it draws matches the rule, and a move is fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import widgets  # noqa: E402
from lrcourse.labs import early_stopping as es  # noqa: E402


def _curves(budget, n, seed, test=True):
    rng = np.random.default_rng(seed)
    t = np.arange(budget + 1)
    bottom = rng.integers(5, budget, size=(n, 1))
    val = 0.5 + np.exp(-t / 3) + 0.3 * ((t - bottom) / budget) ** 2 + rng.normal(0, 0.01, (n, budget + 1))
    return es.Curves(np.arange(n), 0.5 * val, val, 1.1 * val if test else None, label=f"fake {seed}")


@pytest.fixture(scope="module")
def problems():
    return {"short": _curves(30, 4, 0), "long": _curves(80, 6, 1), "no test": _curves(40, 3, 2, test=False)}


@pytest.fixture(scope="module")
def explorer(problems):
    return widgets.stopping_explorer(problems, patience=3)


def test_controls_and_defaults(explorer):
    assert set(explorer.controls) == {"patience", "min_delta", "problem"}
    assert explorer.defaults == {"patience": 3, "min_delta": 0.0, "problem": "short"}
    single = widgets.stopping_explorer(_curves(20, 2, 3))
    assert set(single.controls) == {"patience", "min_delta"}
    assert isinstance(single.update(patience=1), Figure)


def test_the_drawing_follows_the_rule(explorer, problems):
    for name, patience, delta in (("short", 0, 0.0), ("long", 7, 0.01), ("no test", 2, 0.02)):
        fig = explorer.update(problem=name, patience=patience, min_delta=delta)
        c = problems[name]
        stop, best = es.stopping_epoch(c.val_loss, patience, delta)
        state = explorer._live.state
        rows = np.arange(len(c.seeds))
        assert np.allclose(state["best"].get_offsets(), np.column_stack([best, c.val_loss[rows, best]]))
        assert np.allclose(state["stop"].get_offsets(), np.column_stack([stop, c.val_loss[rows, stop]]))
        bars = [seg[1, 0] for seg in state["bars"].get_segments()]
        assert bars == list(stop)
        oracle = es.oracle_epoch(c.val_loss)
        assert np.allclose(state["star"].get_offsets()[:, 0], oracle)
        trained = state["trained"].get_segments()
        assert [len(seg) for seg in trained] == list(stop + 1)
        assert state["ax"].get_xlim() == (0, c.budget)
        text = fig.texts[0].get_text() if fig.texts else state["title"].get_text()
        assert f"epochs run {stop.mean():.1f} of {c.budget}" in text
        if c.test_loss is not None:
            assert f"test loss {c.test_loss[rows, best].mean():.3f}" in text


def test_png_changes_with_the_slider(explorer):
    a = explorer.png(problem="long", patience=0, min_delta=0.0)
    b = explorer.png(problem="long", patience=20, min_delta=0.0)
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a != b


def test_static_and_player(explorer):
    fig = explorer.static([{"patience": p} for p in (0, 5)])
    assert isinstance(fig, Figure)
    html = explorer.player("patience", values=[0, 2, 4], problem="long").data
    assert html.count("UklGR") >= 3  # three WebP frames


def test_a_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"patience": p, "min_delta": d} for p in (0, 4, 8) for d in (0.0, 0.02)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Curves"):
        widgets.stopping_explorer({"x": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="at least one"):
        widgets.stopping_explorer({})

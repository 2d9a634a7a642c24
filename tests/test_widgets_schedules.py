"""The chapter 5 explorer: a schedule designer that draws the rate and trains with it."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from helpers import assert_moves_blit

from lrcourse import labs, schedules, widgets
from lrcourse.widgets.schedules import DESIGNER_KINDS

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def problem():
    return labs.schedules.NoisyRegression(steps=120)


@pytest.fixture(scope="module")
def designer(problem):
    return widgets.schedule_explorer(problem, period=120)


def _state(designer, **values):
    designer.update(**values)
    return designer._live.state


# ----------------------------------------------------------------- the mapping of the sliders


def test_every_kind_builds_a_schedule_of_the_right_shape():
    t = np.arange(300)
    for kind in DESIGNER_KINDS.values():
        rates = widgets.designer_schedule(kind, 0.1, warmup=20, period=100, factor=0.1)(t)
        assert rates.shape == (300,) and np.all(rates >= 0) and rates.max() <= 0.1 + 1e-12


def test_the_sliders_mean_what_the_docstring_says():
    t = np.arange(300)
    cases = [
        ("step_decay", schedules.step_decay(0.2, step_size=50, gamma=0.3)),
        ("exponential", schedules.exponential(0.2, gamma=0.3 ** (1 / 50))),
        ("cosine", schedules.cosine(0.2, T_max=50, eta_min=0.06)),
        ("cosine_restarts", schedules.cosine_restarts(0.2, T_0=50, eta_min=0.06)),
        ("cyclic", schedules.cyclic(0.06, 0.2, step_size_up=25, cycle_momentum=False)),
        (
            "polynomial",
            schedules.clamp(schedules.polynomial(0.2, total_iters=50, power=2.0), min_lr=0.06),
        ),
    ]
    for kind, expected in cases:
        got = widgets.designer_schedule(kind, 0.2, warmup=0, period=50, factor=0.3)(t)
        np.testing.assert_allclose(got, expected(t), err_msg=kind)
    one = widgets.designer_schedule("one_cycle", 0.2, warmup=40, period=50, factor=0.04, steps=300)
    np.testing.assert_allclose(one(t), schedules.one_cycle(0.2, 300, div_factor=25.0)(t))
    assert one(0) == pytest.approx(0.2 / 25)


def test_the_warmup_goes_in_front():
    t = np.arange(200)
    warm = widgets.designer_schedule("cosine", 0.1, warmup=30, period=100, factor=0.01)(t)
    assert warm[0] == 0.0 and warm[30] == pytest.approx(0.1)
    np.testing.assert_allclose(warm[:30], 0.1 * np.arange(30) / 30)
    plain = widgets.designer_schedule("cosine", 0.1, warmup=0, period=100, factor=0.01)(t)
    np.testing.assert_allclose(warm[30:], plain[:170])
    isqrt = widgets.designer_schedule("inverse_sqrt", 0.1, warmup=30)(t)
    np.testing.assert_allclose(isqrt, labs.schedules.inverse_sqrt(0.1, 30)(t))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "sawtooth"}, "kind"),
        ({"lr": 0.0}, "lr"),
        ({"warmup": -1}, "warmup"),
        ({"period": 1}, "period"),
        ({"factor": 0.0}, "factor"),
        ({"factor": 1.5}, "factor"),
    ],
)
def test_bad_slider_values_are_named(kwargs, match):
    args = {"kind": "cosine", "lr": 0.1, "warmup": 0, "period": 100, "factor": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        widgets.designer_schedule(**args)


# ----------------------------------------------------------------- the explorer


def test_the_panels_show_the_schedule_and_its_run(designer, problem):
    state = _state(designer, kind="step_decay", lr=0.1, warmup=0, period=40, factor=0.5)
    sched = widgets.designer_schedule("step_decay", 0.1, 0, 40, 0.5, problem.steps)
    t, rel = state["rate"].get_data()
    np.testing.assert_allclose(rel, sched(np.arange(problem.steps)) / 0.1)
    steps, loss = state["loss"].get_data()
    np.testing.assert_allclose(loss, problem.run(sched), rtol=1e-12)
    _, reference = state["reference"].get_data()
    np.testing.assert_allclose(reference, problem.run(0.1), rtol=1e-12)
    assert "x0.5 every 40 steps" in state["name"].get_text()
    assert not state["bad"].get_visible()
    assert "final excess loss" in state["info"].get_text()


def test_a_blow_up_is_marked_and_the_limit_drawn(designer, problem):
    state = _state(designer, kind="constant", lr=0.8, warmup=0)
    assert state["bad"].get_visible() and "diverged at step" in state["bad"].get_text()
    assert state["limit"].get_visible()
    np.testing.assert_allclose(state["limit"].get_ydata(), problem.stability_limit / 0.8)
    state = _state(designer, kind="constant", lr=0.05)
    assert not state["bad"].get_visible() and not state["limit"].get_visible()


def test_decay_beats_the_constant_peak_in_the_explorer(designer):
    state = _state(designer, kind="cosine", lr=0.1, warmup=0, period=120, factor=0.001)
    _, loss = state["loss"].get_data()
    _, reference = state["reference"].get_data()
    assert loss[-20:].mean() < reference[-20:].mean() / 5


def test_png_static_and_player(designer):
    assert designer.png(kind="one_cycle", lr=0.1)[:4] == b"\x89PNG"
    fig = designer.static([{"kind": "constant"}, {"kind": "cosine", "warmup": 30}])
    assert len(fig.subfigs) == 2
    html = designer.player("period", values=[20, 60, 120], kind="cosine").data
    assert html.count("UklGR") >= 3  # three base64 WebP frames


def test_a_move_blits_over_a_cached_background(designer, monkeypatch):
    moves = [{"kind": k, "lr": 0.1, "period": 60} for k in ("cosine", "cyclic", "step_decay")]
    assert_moves_blit(designer, moves, monkeypatch)

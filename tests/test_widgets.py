"""The explorer machinery: live updates, small multiples, the kernel-free player."""

from __future__ import annotations

import io
import re

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from lrcourse import objectives, widgets
from lrcourse.widgets import core

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def himmelblau():
    return widgets.descent_explorer(
        objectives.himmelblau(), [0.0, 0.0], lr=0.01, lr_range=(1e-3, 0.1), steps=40, start_sliders=True
    )


@pytest.fixture(scope="module")
def valleys():
    return widgets.descent_explorer_1d(objectives.two_valleys(), [-1.8], lr=0.05, steps=30)


def _counter_explorer():
    calls = {"first": 0, "update": 0}

    def draw(fig, state, lr, kind="a"):
        if not state:
            calls["first"] += 1
            ax = fig.subplots()
            ax.set(xlim=(0, 1), ylim=(0, 1))
            (state["line"],) = ax.plot([], [], animated=True)
        calls["update"] += 1
        state["line"].set_data([0, 1], [0, lr])

    controls = [
        widgets.LogSlider("lr", 1e-3, 1.0, 0.1),
        widgets.Dropdown("kind", ["a", "b"], "a"),
    ]
    return widgets.Explorer(draw, controls, figsize=(3, 2)), calls


def test_update_returns_figure_and_builds_artists_once():
    explorer, calls = _counter_explorer()
    for lr in (0.01, 0.1, 0.5):
        fig = explorer.update(lr=lr)
        assert isinstance(fig, Figure)
    assert calls == {"first": 1, "update": 3}
    assert explorer.update(lr=0.5) is fig  # the same figure, redrawn in place


def test_update_changes_the_pixels(himmelblau):
    a = himmelblau.png(lr=0.002)
    b = himmelblau.png(lr=0.02)
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert a != b
    assert himmelblau.png(lr=0.002) == a  # deterministic


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (264, 672)])
def test_png_encoder_is_lossless(shape):
    from PIL import Image

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(*shape, 4), dtype=np.uint8)  # every byte difference, wrapping too
    rgba[: shape[0] // 2, : shape[1] // 2] = (255, 255, 255, 255)  # and a flat area, as a plot has
    png = core.encode_png(rgba)
    image = Image.open(io.BytesIO(png))
    image.load()  # checks the chunks' CRCs and the stream
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image), rgba)


def test_explorer_frames_decode_to_the_canvas(himmelblau):
    from PIL import Image

    png = himmelblau.png(lr=0.01)
    rgba = np.asarray(himmelblau._live.fig.canvas.buffer_rgba())
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), rgba)


def test_unknown_or_out_of_range_values_raise(himmelblau):
    with pytest.raises(ValueError, match="unknown control"):
        himmelblau.update(learning_rate=0.1)
    with pytest.raises(ValueError, match="lr must be in"):
        himmelblau.update(lr=5.0)


@pytest.mark.parametrize("fixture", ["himmelblau", "valleys"])
def test_divergence_is_marked(fixture, request):
    explorer = request.getfixturevalue(fixture)
    lr = 0.09 if fixture == "himmelblau" else 0.99
    fig = explorer.update(lr=lr, x_start=-1.9) if fixture == "valleys" else explorer.update(lr=lr)
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible()]
    assert any(t.startswith("diverged") for t in texts), texts
    fig = explorer.update(lr=0.002)
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible()]
    assert not any(t.startswith("diverged") for t in texts)


def test_static_draws_small_multiples(himmelblau):
    settings = [{"lr": 0.001}, {"lr": 0.01}, {"lr": 0.05}, {"lr": 0.09}]
    fig = himmelblau.static(settings, ncols=2)
    assert isinstance(fig, Figure)
    assert len(fig.subfigs) == 4
    assert len(fig.get_axes()) == 4 * 2  # the same draw function: contour + loss per panel
    titles = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert titles[0] == "learning rate = 0.001"
    fig.canvas.draw()


def test_static_figure_shows_as_png_without_pyplot(himmelblau):
    from IPython.core.formatters import PNGFormatter

    fig = himmelblau.static([{"lr": 0.01}, {"lr": 0.05}])
    assert isinstance(fig, Figure)
    png, shown = PNGFormatter()(fig)  # what a notebook displays when the inline backend is not loaded
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(shown) == {"width", "height"}  # shown at half its pixels


def test_static_stacks_wide_explorers_one_per_row(himmelblau):
    fig = himmelblau.static([{"lr": 0.001}, {"lr": 0.01}, {"lr": 0.05}])
    tops = sorted({round(sub.bbox.y0) for sub in fig.subfigs}, reverse=True)
    assert len(tops) == 3  # three rows of one
    explorer, _ = _counter_explorer()  # 3 inches wide: three per row
    fig = explorer.static([{"lr": 0.001}, {"lr": 0.01}, {"lr": 0.1}])
    assert len({round(sub.bbox.y0) for sub in fig.subfigs}) == 1


def test_static_with_custom_titles_and_validation(valleys):
    fig = valleys.static([{"lr": 0.1}, {"lr": 0.5}], titles=["small", "large"])
    assert [s._suptitle.get_text() for s in fig.subfigs[:2]] == ["small", "large"]
    with pytest.raises(ValueError, match="titles"):
        valleys.static([{"lr": 0.1}], titles=["a", "b"])
    with pytest.raises(ValueError, match="settings"):
        valleys.static([])


def test_player_has_n_frames_and_no_external_urls(valleys):
    html = valleys.player("lr", values=[0.01, 0.1, 0.3, 0.6, 0.9], x_start=-1.8).data
    frames = re.search(r"var frames = (\[.*?\]);", html).group(1)
    assert frames.count('"UklGR') == 4 and "null" in frames  # the start frame is in the <img>
    assert html.count("UklGR") == 5  # five base64 WebP frames, each stored once
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert "<script src" not in html
    assert html.count("<script>") == 1
    assert 'type="range"' in html and "<button" in html
    # The first frame shown is the one nearest the control's default (lr = 0.05 -> 0.1).
    assert 'value="1"' in html


def test_player_limits(valleys):
    with pytest.raises(ValueError, match="frames"):
        valleys.player("lr", values=list(np.geomspace(0.001, 1, widgets.MAX_FRAMES + 1)))
    with pytest.raises(ValueError, match="control"):
        valleys.player("momentum")


def test_player_frames_are_small(valleys):
    html = valleys.player("lr", n=10).data
    assert len(html) / 10 < 40_000  # bytes per frame, base64 included


def _clocked_explorer(monkeypatch, ms_per_lr):
    """An explorer whose ``png`` only advances a fake clock by ``ms_per_lr[lr]`` milliseconds."""
    explorer, _ = _counter_explorer()
    clock, rendered = [0.0], []

    def png(**values):
        rendered.append(values)
        clock[0] += ms_per_lr[values["lr"]] / 1e3

    monkeypatch.setattr(explorer, "png", png)
    monkeypatch.setattr(core.time, "perf_counter", lambda: clock[0])
    return explorer, rendered


def test_latency_percentiles_of_known_times(monkeypatch):
    ms = {0.1: 4.0, 0.2: 1.0, 0.3: 3.0, 0.4: 2.0, 0.5: 10.0}
    explorer, _ = _clocked_explorer(monkeypatch, ms)
    stats = explorer.latency([{"lr": lr} for lr in ms])
    # times 1, 2, 3, 4, 10 ms: the median is 3; p95 interpolates 80% of the way from 4 to 10
    assert stats == {"p50": pytest.approx(3.0), "p95": pytest.approx(8.8), "max": pytest.approx(10.0), "n": 5}


@pytest.mark.parametrize("warmup", [0, 1, 3])
def test_latency_renders_the_warmup_then_times_every_move_once(monkeypatch, warmup):
    ms = {0.1: 5.0, 0.2: 1.0, 0.3: 2.0}
    explorer, rendered = _clocked_explorer(monkeypatch, ms)
    moves = [{"lr": lr} for lr in ms]
    stats = explorer.latency(moves, warmup=warmup)
    assert rendered == moves[:warmup] + moves  # untimed warm-up renders first, then every move
    assert stats["n"] == 3 and stats["max"] == pytest.approx(5.0)  # the warm-up is not timed


def test_latency_needs_a_move(himmelblau):
    with pytest.raises(ValueError, match="values_list"):
        himmelblau.latency([])


def test_moving_the_start_keeps_the_loss_axis(himmelblau):
    # Fixed limits let a move redraw only the paths over a cached background.
    fig = himmelblau.update(x_start=-4.0, y_start=4.0)
    limits = [ax.get_ylim() for ax in fig.axes]
    fig = himmelblau.update(x_start=0.5, y_start=-0.5)
    assert [ax.get_ylim() for ax in fig.axes] == limits
    start = widgets.descent_explorer_1d(objectives.two_valleys(), [-1.8], start_slider=True)
    limits = [ax.get_ylim() for ax in start.update(x_start=-1.9).axes]
    assert [ax.get_ylim() for ax in start.update(x_start=0.1).axes] == limits


def test_show_builds_widgets_without_a_frontend(valleys):
    box = valleys.show(display=False)
    import ipywidgets

    assert isinstance(box, ipywidgets.VBox)
    sliders = [c for c in box.children if isinstance(c, ipywidgets.SelectionSlider)]
    image = next(c for c in box.children if isinstance(c, ipywidgets.Image))
    before = image.value
    sliders[0].value = 0.5  # moving the slider redraws the image
    assert image.value != before


def test_show_says_what_went_wrong_and_then_nothing():
    import ipywidgets

    def draw(fig, state, x):
        if x == 2:
            raise ValueError("x = 2 is not drawable")
        if not state:
            (state["line"],) = fig.subplots().plot([0, 1], [0, 0], animated=True)
        state["line"].set_ydata([0, x])

    box = widgets.Explorer(draw, [widgets.IntSlider("x", 0, 3, 0)]).show(display=False)
    slider = next(c for c in box.children if isinstance(c, ipywidgets.IntSlider))
    image = next(c for c in box.children if isinstance(c, ipywidgets.Image))
    status = box.children[-1]
    assert status.value == ""  # a redraw that works says nothing (no timing printout)
    slider.value = 2
    assert "ValueError" in status.value and "x = 2 is not drawable" in status.value
    shown = image.value
    slider.value = 3
    assert status.value == "" and image.value != shown


def test_controls_validate():
    with pytest.raises(ValueError, match="low"):
        widgets.LogSlider("lr", 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="value"):
        widgets.FloatSlider("x", 0.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="identifier"):
        widgets.IntSlider("batch size", 1, 10, 5)
    assert widgets.IntSlider("b", 1, 64, 8).grid(4) == [1, 22, 43, 64]
    assert widgets.LogSlider("lr", 1e-3, 1e-1, 1e-2).grid(3) == pytest.approx([1e-3, 1e-2, 1e-1])
    d = widgets.Dropdown("opt", [("plain SGD", "sgd"), ("Adam", "adam")])
    assert d.value == "sgd" and d.format("adam") == "opt: Adam"


def test_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="callable"):
        widgets.Explorer(None, [])
    with pytest.raises(ValueError, match="unique"):
        widgets.Explorer(lambda fig, state, lr: None, [widgets.LogSlider("lr", 0.1, 1, 0.5)] * 2)
    with pytest.raises(ValueError, match="optimizer_name"):
        widgets.descent_explorer(objectives.quadratic(), [1.0, 1.0], optimizer_name="lbfgs")
    with pytest.raises(ValueError, match="x0"):
        widgets.descent_explorer(objectives.quadratic(), [1.0, 1.0, 1.0])


def test_descent_explorer_dispatches_on_dimension():
    one_d = widgets.descent_explorer(objectives.parabola(), [1.5])
    assert "x_start" in one_d.controls
    two_d = widgets.descent_explorer(objectives.quadratic(1, 10), [1.5, 1.0], optimizer_name="adam", lr=0.1)
    assert list(two_d.controls) == ["lr"]
    assert isinstance(two_d.update(lr=0.2), Figure)


def test_prerender_draws_every_option_once_then_switches_blit(monkeypatch):
    explorer, calls = _counter_explorer()
    explorer.prerender = ["kind"]
    explorer.update(lr=0.1)
    assert calls == {"first": 1, "update": 4}  # the values, each option, the values again
    assert len(explorer._live._backgrounds) == 1  # the limits do not depend on kind here
    canvas = explorer._live.fig.canvas
    full_draws, draw = [], canvas.draw
    monkeypatch.setattr(canvas, "draw", lambda: full_draws.append(draw()))
    explorer.update(kind="b")
    assert not full_draws
    with pytest.raises(ValueError, match="prerender"):
        widgets.Explorer(
            lambda fig, state, lr: None, [widgets.LogSlider("lr", 1e-3, 1.0, 0.1)], prerender=["lr"]
        )
    many = widgets.Dropdown("kind", [str(k) for k in range(8)])
    with pytest.raises(ValueError, match="8 options in all, at most 7"):
        widgets.Explorer(lambda fig, state, kind: None, [many], prerender=["kind"])


def test_static_figures_have_twice_the_pixels_they_are_shown_at():
    import struct

    explorer = widgets.descent_explorer_1d(objectives.two_valleys(), [-1.8], lr=0.05, steps=30)
    fig = explorer.static([{"lr": 0.05}, {"lr": 0.3}])
    png, shown = fig._repr_png_()
    width, height = struct.unpack(">II", png[16:24])
    assert shown == {"width": width // 2, "height": height // 2}
    assert abs(shown["width"] - fig.get_size_inches()[0] * fig.dpi) < 0.05 * shown["width"]  # (a tight bbox)

"""The kernel-free player: full-colour frames stored once, accessible controls."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import matplotlib
import numpy as np
import pytest
from PIL import Image

from lrcourse import objectives, widgets
from lrcourse.plotting import PALETTE
from lrcourse.widgets import core
from lrcourse.widgets.optimizers import RACERS

matplotlib.use("Agg")

RACE_RATES = [10 ** (k / 20) for k in range(-80, 1, 5)]


@pytest.fixture(scope="module")
def valleys():
    return widgets.descent_explorer_1d(objectives.two_valleys(), [-1.8], lr=0.05, steps=30)


@pytest.fixture(scope="module")
def race():
    return widgets.optimizer_race_explorer(landscape="rosenbrock", lr=0.003, momentum=0.9, steps=120)


class _Tags(HTMLParser):
    """Every start tag of a snippet, as (tag, attributes)."""

    def __init__(self, html):
        super().__init__()
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def _frames(html):
    """The frames of a player as the browser shows them (RGB arrays), and the start frame's index."""
    listed = json.loads(re.search(r"var frames = (\[.*?\]);", html).group(1))
    shown = re.search(r'base" src="data:image/webp;base64,([^"]+)"', html).group(1)
    start = listed.index(None)
    listed[start] = shown
    listed = [listed[f] if isinstance(f, int) else f for f in listed]
    images = [Image.open(io.BytesIO(base64.b64decode(f))) for f in listed]
    assert {im.format for im in images} == {"WEBP"}
    base = np.asarray(images[start].convert("RGB"))
    frames = []
    for image in images:  # each overlay drawn over the start frame
        rgba = np.asarray(image.convert("RGBA"))
        assert set(np.unique(rgba[..., 3])) <= {0, 255}
        frames.append(np.where(rgba[..., 3:] == 255, rgba[..., :3], base))
    return frames, start


def test_each_frame_is_stored_once(valleys):
    html = valleys.player("lr", values=[0.01, 0.1, 0.3, 0.6]).data
    frames = re.findall(r"UklGR[A-Za-z0-9+/=]+", html)  # base64 of "RIFF": one per WebP
    assert len(frames) == 4 and len(set(frames)) == 4
    assert html.count("data:image/png") == 0


def test_frames_are_the_full_colour_render(valleys):
    """Lossless: each decoded frame is exactly the figure drawn at its value."""
    rates = [0.01, 0.1, 0.6]
    decoded, _ = _frames(valleys.player("lr", values=rates).data)
    for lr, frame in zip(rates, decoded, strict=True):
        canvas = core._Canvas(valleys.draw, valleys.figsize, 80)
        canvas.update(valleys._resolve({"lr": lr}))
        rgb = np.asarray(canvas.fig.canvas.buffer_rgba())[..., :3]
        np.testing.assert_array_equal(frame, rgb)


def _hex_rgb(colour):
    return tuple(int(round(255 * c)) for c in matplotlib.colors.to_rgb(colour))


def test_the_race_keeps_every_legend_colour(race):
    """Each racer's colour is drawn in the frame, exactly: none merges with another."""
    html = race.player("lr", values=RACE_RATES[8:10], landscape="rosenbrock").data
    decoded, _ = _frames(html)
    colours = [_hex_rgb(c) for c, _, _ in RACERS.values()]
    assert len(set(colours)) == len(RACERS)
    pixels = decoded[0].reshape(-1, 3)
    for name, colour in zip(RACERS, colours, strict=True):
        exact = np.all(pixels == colour, axis=1).sum()
        assert exact >= 20, f"{name}'s colour {colour} has {exact} pixels in the frame"
    # RMSProp and Adam were merged into one colour by the old 64-colour palette
    assert _hex_rgb(PALETTE["orange"]) != _hex_rgb(PALETTE["vermillion"])


def test_caption_min_max_and_aria(valleys):
    html = valleys.player("lr", values=[0.01, 0.1, 0.3, 0.6]).data
    tags = _Tags(html)
    (root,) = tags.find("div", "lrcourse-player")
    (caption,) = tags.find("p", "lrcourse-player-caption")
    assert root["role"] == "group" and root["aria-labelledby"] == caption["id"]
    assert "learning rate from 0.01 to 0.6, 4 frames" in html
    (slider,) = tags.find("input")
    assert slider["type"] == "range" and slider["aria-label"] == "learning rate"
    assert slider["value"] == "1" and slider["aria-valuetext"] == "0.1"  # the value, not "1"
    assert "height:44px" in slider["style"]
    assert re.search(r'lrcourse-player-min"[^>]*>0.01<', html)
    assert re.search(r'lrcourse-player-max"[^>]*>0.6<', html)
    (button,) = tags.find("button")
    assert button["type"] == "button" and "min-height:44px" in button["style"]
    texts = json.loads(re.search(r"var texts = (\[.*?\]);", html).group(1))
    assert texts == ["0.01", "0.1", "0.3", "0.6"]
    assert 'setAttribute("aria-valuetext", texts[i])' in html  # updated on every move


def test_value_text_of_every_kind_of_control():
    assert core._value_text("learning rate = 0.067", "learning rate") == "0.067"
    assert core._value_text("landscape: Rosenbrock", "landscape") == "Rosenbrock"
    assert core._value_text("epochs = 450", "epochs") == "450"
    assert core._value_text("other", "lr") == "other"


def test_play_stops_at_the_last_frame(valleys):
    html = valleys.player("lr", values=[0.01, 0.1, 0.3]).data
    assert "% frames.length" not in html  # no wrap-around
    assert "if (+range.value >= last) stop();" in html
    assert "if (+range.value >= last) show(0);" in html  # Play at the end starts again


def test_colours_come_from_classes_with_inline_defaults(valleys):
    html = valleys.player("lr", values=[0.01, 0.1]).data
    assert "html[data-theme=dark] .lrcourse-player" in html
    assert "color:#" not in re.sub(r"<style>.*?</style>", "", html, flags=re.S)  # no inline colours
    assert html.count("<style>") == 1 and html.count("<script>") == 1
    assert "http://" not in html and "https://" not in html


def test_a_repeated_frame_is_stored_once():
    """Frames that look the same are stored once; the others point at the first by index."""

    def draw(fig, state, lr, kind="a"):
        if not state:
            ax = fig.subplots()
            ax.set(xlim=(0, 1), ylim=(0, 1))
            (state["line"],) = ax.plot([], [], animated=True)
        state["line"].set_data([0, 1], [0, min(lr, 0.5)])  # the same picture above 0.5

    explorer = widgets.Explorer(draw, [widgets.LogSlider("lr", 1e-3, 1.0, 0.1)], figsize=(3, 2))
    html = explorer.player("lr", values=[0.1, 0.6, 0.8, 1.0]).data
    listed = json.loads(re.search(r"var frames = (\[.*?\]);", html).group(1))
    assert listed[0] is None and isinstance(listed[1], str) and listed[2:] == [1, 1]
    assert html.count("UklGR") == 2


def test_overlays_are_smaller_than_full_frames(valleys):
    html = valleys.player("lr", values=[0.01, 0.1, 0.3, 0.6]).data
    listed = json.loads(re.search(r"var frames = (\[.*?\]);", html).group(1))
    base = re.search(r'base" src="data:image/webp;base64,([^"]+)"', html).group(1)
    assert all(len(f) < 0.6 * len(base) for f in listed if isinstance(f, str))

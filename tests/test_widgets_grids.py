"""Every explorer of the book: its sliders reach the values the chapters name, exactly.

Each explorer is built with the slider arguments its chapter passes (the data behind
it is replaced by a small stand-in where it does not shape the sliders). For every
slider the starting value and the values of ``NAMED`` (the rates, epochs, ... that
the prose, the exercises and the small multiples ask a reader to set) must be on the
slider's grid: one of the options of a log slider, ``low + k * step`` of a linear one.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from lrcourse import data, labs, models, objectives, widgets  # noqa: E402
from lrcourse.labs import clipping as clip  # noqa: E402
from lrcourse.labs import early_stopping as es  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402


def _curves(budget, n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(budget + 1)
    val = 0.5 + np.exp(-t / 3) + rng.normal(0, 0.01, (n, budget + 1))
    return es.Curves(np.arange(n), 0.5 * val, val, 1.1 * val, label=f"fake {seed}")


def _line():
    X, y, _ = data.make_linear_regression(n_samples=200, n_features=1, noise=0.5, seed=1)
    return X[:, 0], y + 1.5


def _sweep():
    X, y = data.make_polynomial_regression(15, degree=1, seed=0)
    X_val, y_val = data.make_polynomial_regression(30, degree=1, seed=1)
    points = (X[:, 0], y, X_val[:, 0], y_val)
    return labs.epochs.polynomial_sweep(range(1, 3), points, sgd(lr=0.1), 5000)


def _clip_grid():
    # the chapter's rates and thresholds over a small stand-in for the digits network
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)) + 0.8 * rng.normal(size=(60, 3)), axis=1)
    split = data.standardize(data.train_val_test_split(X, y, val_fraction=0.3, test_fraction=0.0, seed=0))[0]
    rates = 10 ** np.arange(-1.25, 0.76, 0.25)
    model = models.MLP(4, hidden=(6,), n_classes=3)
    return clip.clip_grid(model, split, sgd, 3, 10, lr=rates, max_norm=[np.inf, 1.0, 0.25], seed=[0, 1])


# chapter: (build the explorer as the chapter does, {control: values the text names})
BOOK = {
    "00 parabola": (
        lambda: widgets.descent_explorer_1d(
            objectives.parabola(), x0=[1.8], lr=0.3, lr_range=(0.05, 2.5), steps=15
        ),
        {"lr": [0.1, 0.3, 1.0, 1.8, 2.0, 2.1]},
    ),
    "01 valleys": (
        lambda: widgets.descent_explorer_1d(
            objectives.two_valleys(), x0=[-1.9], lr=0.1, lr_range=(0.01, 1.0), steps=40
        ),
        {"lr": [0.1, 0.3, 0.45, 0.7]},
    ),
    "01 himmelblau": (
        lambda: widgets.descent_explorer(
            objectives.himmelblau(),
            x0=[0.0, 0.0],
            lr=0.01,
            lr_range=(0.001, 0.1),
            steps=80,
            start_sliders=True,
        ),
        {"lr": [0.01, 0.04]},
    ),
    "02 stability": (
        lambda: widgets.stability_explorer(a=1.0, b=15.0, lr=0.06, lr_range=(0.005, 0.16), lr_step=0.001),
        {"lr": [0.06, 0.125, 0.13, 0.132, 0.133, 0.134, 0.137, 0.14]},
    ),
    "03 batch size": (
        lambda: widgets.batch_size_explorer(*_line(), batch_size=8, lr=0.05, epochs=3),
        {"lr": [0.01, 0.05], "batch_size": [1, 8, 16, 64, 200]},
    ),
    "04 capacity": (
        lambda: widgets.capacity_explorer(_sweep(), degree=2, epoch=5000),
        {"epoch": [30, 450, 5000]},
    ),
    "05 designer": (
        lambda: widgets.schedule_explorer(labs.schedules.NoisyRegression()),
        {
            "lr": [0.01, 0.1, 0.2, 0.3],
            "warmup": [50, 60],
            "period": [100, 240, 300],
            "factor": [0.001, 0.01, 0.3],
        },
    ),
    "06 race": (
        lambda: widgets.optimizer_race_explorer(landscape="rosenbrock", lr=0.003, momentum=0.9, steps=5),
        {"lr": [1e-4, 0.003, 0.01], "momentum": [0.0, 0.9]},
    ),
    "07 stopping": (
        lambda: widgets.stopping_explorer(
            {"a": _curves(30, 3, 0), "b": _curves(30, 3, 1)}, patience=5, max_patience=25, max_min_delta=0.05
        ),
        {"patience": [0, 2, 5, 20], "min_delta": [0.0, 0.05]},
    ),
    "11 clipping": (
        lambda: widgets.clipping_explorer(_clip_grid(), lr=1.0, max_norm=0.25),
        {"lr": [0.0562, 0.1, 0.178, 0.316, 0.562, 1.0, 1.78, 3.16, 5.62], "max_norm": [1.0, 0.25]},
    ),
}


def on_grid(control, value):
    """Whether the widget of ``control`` can be set to ``value`` exactly (to 1e-12 relative)."""
    if isinstance(control, widgets.Dropdown):
        return value in [v for _, v in control.options]
    if hasattr(control, "options"):  # LogSlider, EpochSlider, ChoiceSlider: a list of values
        return any(abs(v - value) <= 1e-12 * abs(value) for v in control.options)
    k = (value - control.low) / control.step
    return control.low <= value <= control.high and abs(k - round(k)) <= 1e-12 * max(abs(k), 1)


@pytest.mark.parametrize("name", list(BOOK))
def test_the_values_the_text_names_are_on_the_sliders(name):
    build, named = BOOK[name]
    explorer = build()
    assert set(named) <= set(explorer.controls)
    for key, control in explorer.controls.items():
        values = [control.value, *named.get(key, [])]
        missed = [v for v in values if not on_grid(control, v)]
        assert not missed, f"{name}: {key} cannot be set to {missed}"


@pytest.mark.parametrize("name", ["00 parabola", "04 capacity"])
def test_the_widget_shows_and_uses_the_value(name):
    build, named = BOOK[name]
    explorer = build()
    key = next(iter(named))
    control = explorer.controls[key]
    slider = control.widget()
    assert slider.value == control.value
    for value in named[key]:
        slider.value = value  # a value that is not an option raises
        assert slider.value == value and float(slider.label) == value


def test_round_values():
    assert widgets.round_values(0.1, 1.0) == [
        *(round(0.1 + 0.01 * k, 2) for k in range(15)),
        *(0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    ]
    assert widgets.round_values(0.0031, 0.0052) == [0.0031, 0.0035, 0.004, 0.0045, 0.005, 0.0052]
    values = widgets.round_values(1e-5, 10.0)
    assert len(values) == 6 * 25 + 1 and values[0] == 1e-5 and 0.003 in values
    steps = np.diff(np.log(values))
    assert steps.min() > np.log(1.04) and steps.max() < np.log(1.21)
    with pytest.raises(ValueError, match="low"):
        widgets.round_values(0.0, 1.0)
    with pytest.raises(ValueError, match="low must be below high"):
        widgets.round_values(1.0, 0.5)


def test_log_slider_keeps_an_unround_start():
    s = widgets.LogSlider("lr", 0.01, 1.0, 0.0316)
    assert 0.0316 in s.options and s.widget().value == 0.0316
    assert s.grid(3) == [0.01, 0.1, 1.0]


def _tour(explorer):
    """Moves that set every named value and every menu option, then go back over them."""
    moves = [{k: v} for k, values in _tour_values(explorer) for v in values]
    return moves + moves[::-1]


def _tour_values(explorer):
    for key, control in explorer.controls.items():
        if isinstance(control, widgets.Dropdown):
            yield key, [v for _, v in control.options]
        else:
            yield key, control.grid(3)


@pytest.mark.parametrize("name", list(BOOK))
def test_kept_backgrounds_give_the_frames_of_a_full_redraw(name, monkeypatch):
    # a background is reused for limits seen before; the frames must be those of a
    # canvas that never reuses one (its limits never match: it redraws every frame)
    from lrcourse.widgets.core import _Canvas

    explorer = BOOK[name][0]()
    kept = [explorer.png(**move) for move in _tour(explorer)]
    monkeypatch.setattr(_Canvas, "_limits", lambda self: object())
    explorer = BOOK[name][0]()
    full = [explorer.png(**move) for move in _tour(explorer)]
    for move, a, b in zip(_tour(explorer), kept, full, strict=True):
        # The same pixels, up to one level on a few antialiased edge pixels: with
        # matplotlib 3.10.9, a line blitted onto a kept background now and then differs
        # so from the same line in a full redraw (chapter 2's loss curve: 14 pixels by 1,
        # in about half of the runs; 3.11.2 gives the same bytes). A background that
        # is stale (an artist left out of the animated ones) differs by far more.
        a, b = (np.asarray(Image.open(io.BytesIO(png)), dtype=int) for png in (a, b))
        assert a.shape == b.shape, move
        off = np.abs(a - b).max(axis=-1)
        assert off.max() <= 1 and np.count_nonzero(off) <= 50, (move, off.max(), np.count_nonzero(off))

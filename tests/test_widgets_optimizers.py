"""The optimizer race: the runs it draws are the optimizers' runs, precomputed, and a move is fast."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import assert_moves_blit
from matplotlib.figure import Figure  # noqa: E402

from lrcourse import objectives, optimizers, widgets  # noqa: E402
from lrcourse.descent import descend, run  # noqa: E402
from lrcourse.widgets import optimizers as wo  # noqa: E402
from lrcourse.widgets.core import round_values  # noqa: E402
from lrcourse.widgets.optimizers import LANDSCAPES, _scene, race  # noqa: E402


@pytest.fixture(scope="module")
def explorer():
    return widgets.optimizer_race_explorer(steps=60)


def test_controls_and_defaults(explorer):
    assert set(explorer.controls) == {"landscape", "lr", "momentum"}
    defaults = explorer.defaults
    assert defaults["landscape"] == "rosenbrock" and defaults["momentum"] == 0.9
    # the starting rate is one of the slider's round values, the runs' grid
    assert defaults["lr"] == 0.003 and 0.003 in explorer.controls["lr"].options
    off_grid = wo.optimizer_race_explorer(lr=0.00316, steps=10).defaults["lr"]
    assert off_grid == 0.003
    assert explorer.controls["landscape"].options == [(n, n) for n in wo.LANDSCAPES]


def test_race_runs_each_optimizer_once_with_the_rates_as_a_sweep():
    f = objectives.rosenbrock()
    lrs = np.array([1e-3, 3e-3])
    res = wo.race(f, [-1.2, 1.0], lrs, momentum=0.5, steps=30)
    assert list(res) == list(wo.RACERS)
    # exact, as in test_optimizers: only the rate is swept, and it meets only + - * / sqrt
    single = descend(f, [-1.2, 1.0], optimizers.adam(lr=3e-3, betas=(0.5, 0.999)), 30)
    np.testing.assert_array_equal(res["Adam"].path[:, 1], single.path)
    mom = descend(f, [-1.2, 1.0], optimizers.sgd(lr=1e-3, momentum=0.5, nesterov=True), 30)
    np.testing.assert_array_equal(res["Nesterov"].path[:, 0], mom.path)
    only = wo.race(f, [-1.2, 1.0], 1e-3, steps=5, racers=["SGD", "AdaGrad"])
    assert list(only) == ["SGD", "AdaGrad"]
    with pytest.raises(ValueError, match="racers"):
        wo.race(f, [-1.2, 1.0], 1e-3, racers=["Adagrad"])


def test_nesterov_without_momentum_is_plain_gradient_descent():
    f = objectives.quadratic(1.0, 10.0)
    res = wo.race(f, [1.0, 1.0], 0.05, momentum=0.0, steps=20, racers=["Nesterov", "SGD"])
    np.testing.assert_array_equal(res["Nesterov"].path, res["SGD"].path)


@pytest.mark.parametrize("name", list(wo.LANDSCAPES))
def test_the_drawn_paths_are_the_optimizers_paths(explorer, name):
    lr = 10 ** (-50 / 20)
    explorer.update(landscape=name, lr=lr, momentum=0.8)
    state = explorer._live.state
    make, x0, _ = wo.LANDSCAPES[name]
    expected = wo.race(make(), x0, lr, momentum=0.8, steps=60)
    for r, d in expected.items():
        xs, ys = state["paths"][r].get_data()
        ok = np.isfinite(d.path).all(axis=-1)
        np.testing.assert_allclose(xs, d.path[ok, 0], rtol=1e-12)
        np.testing.assert_allclose(ys, d.path[ok, 1], rtol=1e-12)


def test_a_rate_off_the_grid_is_computed_directly(explorer):
    explorer.update(landscape="ravine", lr=0.0123, momentum=0.9)
    xs, _ = explorer._live.state["paths"]["SGD"].get_data()
    direct = run(objectives.quadratic(1.0, 50.0).grad, [-1.5, 1.0], optimizers.sgd(lr=0.0123), 60)
    np.testing.assert_allclose(xs, direct[:, 0], rtol=1e-12)


def test_divergence_is_reported(explorer):
    explorer.update(landscape="rosenbrock", lr=0.1, momentum=0.9)
    text = explorer._live.state["bad"].get_text()
    assert text.startswith("diverged at step: ") and "SGD" in text


def test_every_landscape_has_its_own_limits():
    # the explorer redraws its static background (the contours) when the limits change
    keys = set()
    for name in wo.LANDSCAPES:
        sc = wo._scene(name)
        keys.add((sc["bounds"], sc["ylim"], sc["yscale"]))
    assert len(keys) == len(wo.LANDSCAPES)


def test_the_rotated_ravine_is_the_ravine_turned():
    # same start relative to the bowl: the axis-free methods lose the same, up to the
    # round-off of the rotation
    runs = {}
    for name in ("ravine", "rotated ravine"):
        make, x0, _ = wo.LANDSCAPES[name]
        runs[name] = wo.race(make(), x0, 0.01, steps=50)
    for r in ("SGD", "momentum", "Nesterov"):
        np.testing.assert_allclose(runs["ravine"][r].losses, runs["rotated ravine"][r].losses, rtol=1e-8)
    assert abs(runs["ravine"]["Adam"].final_loss - runs["rotated ravine"]["Adam"].final_loss) > 0.1


def test_static_and_player(explorer):
    fig = explorer.static([{"landscape": n} for n in ("ravine", "saddle")])
    assert isinstance(fig, Figure)
    rates = [10 ** (k / 20) for k in (-60, -50, -40)]
    html = explorer.player("lr", values=rates, landscape="beale").data
    assert html.count("UklGR") >= 3


def test_a_move_blits_over_a_cached_background(explorer, monkeypatch):
    moves = [{"landscape": "rosenbrock", "momentum": 0.9, "lr": 10 ** (k / 20)} for k in range(-80, 1, 8)]
    assert_moves_blit(explorer, moves, monkeypatch)


def test_bad_arguments():
    with pytest.raises(ValueError, match="landscape"):
        widgets.optimizer_race_explorer(landscape="valley")
    with pytest.raises(ValueError, match="lr"):
        widgets.optimizer_race_explorer(lr=5.0)


def test_a_new_momentum_runs_at_the_rate_shown_then_at_every_rate():
    explorer = widgets.optimizer_race_explorer(steps=40)
    first = explorer.png(lr=0.003, momentum=0.5)  # one rate: three short runs
    explorer.png(lr=0.004, momentum=0.5)  # the rate moves: every rate at momentum 0.5
    assert explorer.png(lr=0.003, momentum=0.5) == first  # a column of the grid, same picture
    fresh = widgets.optimizer_race_explorer(steps=40)
    fresh.png(lr=0.003, momentum=0.5)
    again = fresh.png(lr=0.003, momentum=0.5)  # the grid this time
    assert again == first


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_a_column_of_the_grid_is_a_run_at_its_rate(name):
    # the race shows a column of its runs at every rate; a run at that one rate must
    # give the same numbers (element-wise arithmetic on 2-D landscapes: exactly)
    scene = _scene(name)
    grid = np.array(round_values(1e-4, 1.0))[::7]
    for mu in (0.0, 0.5, 0.93):
        swept = race(scene["f"], scene["x0"], grid, mu, steps=60)
        for i, lr in enumerate(grid):
            single = race(scene["f"], scene["x0"], float(lr), mu, steps=60)
            for racer, one in single.items():
                np.testing.assert_array_equal(swept[racer].path[:, i], one.path)
                np.testing.assert_array_equal(swept[racer].losses[:, i], one.losses)
                assert int(swept[racer].diverged_at[i]) == int(one.diverged_at)


def test_the_landscapes_have_different_limits():
    # a kept background is found by its axis limits: two scenes must never share them
    limits = [(_scene(name)["bounds"], _scene(name)["ylim"], _scene(name)["yscale"]) for name in LANDSCAPES]
    assert len(set(map(str, limits))) == len(LANDSCAPES)

r"""The optimizer race: every optimizer of the chapter on momentum and adaptive methods, side by side.

:func:`race` runs SGD, momentum, Nesterov, AdaGrad, RMSProp and Adam from one
starting point on one landscape, one vectorised call per optimizer;
:func:`optimizer_race_explorer` wires it to a landscape menu, a learning-rate
slider (one rate for all, as a reader would try it) and a momentum / β₁ slider
(momentum of the two momentum methods, β₁ of Adam).

Everything that does not depend on a slider is computed when the explorer is
built: the contour images and lines of every landscape, and every optimizer's
run at *every* rate of the slider's grid (one call per optimizer, the rates as
a sweep axis) for the starting momentum. Moving the rate slider then only picks
a column; moving the momentum recomputes the three optimizers that use it, at
the rate shown, and at all rates in one call each when the rate moves next.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import LineCollection

from lrcourse import _validate as check
from lrcourse import objectives, optimizers
from lrcourse.descent import descend
from lrcourse.labs.optimizers import rotate, rotated_quadratic
from lrcourse.plotting import PALETTE
from lrcourse.widgets.core import Dropdown, Explorer, FloatSlider, LogSlider, axes_text, round_values

__all__ = ["RACERS", "LANDSCAPES", "race", "optimizer_race_explorer"]


def _nesterov(lr, mu):
    mu = np.asarray(mu, dtype=float)
    if np.all(mu > 0):
        return optimizers.sgd(lr=lr, momentum=mu, nesterov=True)
    return optimizers.sgd(lr=lr)  # Nesterov without momentum is plain gradient descent


RACERS = {
    "SGD": (PALETTE["black"], False, lambda lr, mu: optimizers.sgd(lr=lr)),
    "momentum": (PALETTE["blue"], True, lambda lr, mu: optimizers.sgd(lr=lr, momentum=mu)),
    "Nesterov": (PALETTE["sky blue"], True, _nesterov),
    "AdaGrad": (PALETTE["bluish green"], False, lambda lr, mu: optimizers.adagrad(lr=lr)),
    "RMSProp": (PALETTE["orange"], False, lambda lr, mu: optimizers.rmsprop(lr=lr)),
    "Adam": (PALETTE["vermillion"], True, lambda lr, mu: optimizers.adam(lr=lr, betas=(mu, 0.999))),
}
"""``name: (colour, uses the momentum slider, constructor(lr, momentum))``, PyTorch defaults otherwise."""

LANDSCAPES = {
    "ravine": (lambda: objectives.quadratic(1.0, 50.0), (-1.5, 1.0), ((-2.0, 2.0), (-1.5, 1.5))),
    # the same bowl and the same start, turned by 30 degrees
    "rotated ravine": (
        lambda: rotated_quadratic(1.0, 50.0, 30.0),
        tuple(float(v) for v in rotate([-1.5, 1.0], 30.0)),
        None,
    ),
    "rosenbrock": (objectives.rosenbrock, (-1.2, 1.0), None),
    "saddle": (objectives.saddle, (1.8, 1e-3), None),
    "himmelblau": (objectives.himmelblau, (0.0, 0.0), None),
    "beale": (objectives.beale, (1.0, 1.4), None),
}
"""``name: (objective factory, start, window)``: the landscapes of the race (``window``
``((x0, x1), (y0, y1))``, or ``None`` for the objective's own ``bounds``)."""


KEPT_MOMENTA = 2 * len(LANDSCAPES)
"""The (landscape, momentum) pairs whose runs at every rate the race keeps."""


def race(objective, x0, lr, momentum=0.9, steps=120, racers=None, divergence_factor=1e6):
    """Run every optimizer of :data:`RACERS` (or the names in ``racers``) from ``x0``.

    One :func:`~lrcourse.descent.descend` call per optimizer; ``lr`` may be an
    array of rates (a sweep: every rate in the same call). ``momentum`` is the
    momentum of "momentum" and "Nesterov" and β₁ of Adam; the others ignore it.
    Returns ``{name: Descent}``.
    """
    names = list(RACERS) if racers is None else list(racers)
    for name in names:
        check.check_choice("racers", name, tuple(RACERS))
    check.check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    steps = check.check_int("steps", steps, 1)
    return {
        name: descend(
            objective, x0, RACERS[name][2](lr, momentum), steps, divergence_factor=divergence_factor
        )
        for name in names
    }


def _scene(name):
    """Everything about a landscape that no slider changes: image, contour lines, limits."""
    from contourpy import contour_generator

    make, x0, window = LANDSCAPES[name]
    f = make()
    bounds = window or f.bounds
    X, Y, Z = f.grid(160, bounds=bounds)
    low = float(np.min(f.value(f.minima))) if len(f.minima) else None
    image = np.log10(Z - low + 1e-3) if low is not None else Z
    gen = contour_generator(X, Y, image)
    levels = np.quantile(image, np.linspace(0.03, 0.97, 14))
    segments = [seg for level in levels for seg in gen.lines(level)]
    f0 = float(f.value(np.asarray(x0, dtype=float)))
    # The explorer redraws its static background (contours, title) only when an axis'
    # limits change, so every landscape has its own window or loss range.
    if low is not None:
        top = 10.0 * max(f0 - low, 1e-12)
        ylim, yscale = (top * 1e-10, top), "log"
    else:
        ylim, yscale = (-4.0 * max(abs(f0), 1.0), abs(f0) + 1.0), "linear"
    return {
        "f": f,
        "x0": np.asarray(x0, dtype=float),
        "image": image,
        "clim": (float(image.min()), float(np.quantile(image, 0.98))),
        "segments": segments,
        "extent": (*bounds[0], *bounds[1]),
        "bounds": bounds,
        "low": low,
        "ylim": ylim,
        "yscale": yscale,
        "marks": f.minima if len(f.minima) else f.saddles,
    }


def optimizer_race_explorer(
    landscape="rosenbrock", lr=0.003, momentum=0.9, steps=120, lr_range=(1e-4, 1.0), divergence_factor=1e6
):
    """Six optimizers race on a landscape: paths on the contour (left), loss per step (right).

    Controls: the landscape (:data:`LANDSCAPES`), one learning rate for all
    (log slider over the round values of ``lr_range``) and the momentum / β₁
    (0 to 0.99). A run that diverged (its loss exceeded ``divergence_factor`` times the
    start) ends in a cross, and the loss panel names the step. For landscapes with a minimum the loss
    panel shows :math:`f(x_t) - f_\\min` on a log scale; for the saddle,
    :math:`f(x_t)` on a linear one.
    """
    check.check_choice("landscape", landscape, tuple(LANDSCAPES))
    steps = check.check_int("steps", steps, 1, 2000)
    lo, hi = (float(check.check_positive("lr_range", v)) for v in lr_range)
    check.check_range("lr", lr, lo, hi)
    # The rates the slider can take (round_values); the runs at all of them are computed at once.
    grid = np.array(round_values(lo, hi))
    lr = float(grid[np.argmin(np.abs(np.log(grid) - math.log(lr)))])  # start on the grid
    slider = LogSlider("lr", lo, hi, lr, description="learning rate")
    scenes = {name: _scene(name) for name in LANDSCAPES}

    uses_mu = [r for r in RACERS if RACERS[r][1]]
    fixed, moving, seen = {}, {}, set()

    def runs(name, mu):
        sc = scenes[name]
        if name not in fixed:
            fixed[name] = race(
                sc["f"],
                sc["x0"],
                grid,
                0.0,
                steps,
                [r for r in RACERS if r not in uses_mu],
                divergence_factor,
            )
        key = (name, round(float(mu), 6))
        if key not in moving:
            moving[key] = race(sc["f"], sc["x0"], grid, mu, steps, uses_mu, divergence_factor)
            while len(moving) > KEPT_MOMENTA:  # about 1 MB each: forget the oldest
                del moving[next(iter(moving))]
        return {**fixed[name], **moving[key]}

    for name in LANDSCAPES:  # precompute the starting momentum everywhere
        runs(name, momentum)

    def column(name, lr, mu):
        """``{racer: (path, losses, diverged_at)}`` at rate ``lr``: a column of the grid, or a fresh run.

        A momentum met for the first time (a move of its slider) runs its three
        optimizers at the one rate shown; the next frame at that momentum (a move of
        the rate) runs them at every rate of the grid. A column of the grid and a run
        at its rate give the same numbers.
        """
        sc = scenes[name]
        i = int(np.argmin(np.abs(np.log(grid) - math.log(lr))))
        if abs(math.log(grid[i] / lr)) > 1e-9:  # off the grid
            res = race(sc["f"], sc["x0"], lr, mu, steps, None, divergence_factor)
            return {r: (d.path, d.losses, int(d.diverged_at)) for r, d in res.items()}
        key = (name, round(float(mu), 6))
        if key not in moving and key not in seen:
            seen.add(key)
            out = {r: (d.path[:, i], d.losses[:, i], int(d.diverged_at[i])) for r, d in fixed[name].items()}
            res = race(sc["f"], sc["x0"], float(grid[i]), mu, steps, uses_mu, divergence_factor)
            out.update({r: (d.path, d.losses, int(d.diverged_at)) for r, d in res.items()})
            return {r: out[r] for r in RACERS}  # in the order of the legend
        res = runs(name, mu)
        return {r: (d.path[:, i], d.losses[:, i], int(d.diverged_at[i])) for r, d in res.items()}

    t_axis = np.arange(steps + 1)

    def draw(fig, state, landscape, lr, momentum):
        sc = scenes[landscape]
        if not state:
            ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
            state["ax"], state["ax_loss"] = ax, ax_loss
            state["image"] = ax.imshow(
                sc["image"],
                origin="lower",
                extent=sc["extent"],
                cmap="Greys",
                alpha=0.35,
                aspect="auto",
                interpolation="bilinear",
            )
            state["lines"] = LineCollection([], colors="0.45", linewidths=0.5)
            ax.add_collection(state["lines"])
            (state["marks"],) = ax.plot([], [], "*", ms=12, color=PALETTE["yellow"], mec="k", zorder=8)
            state["paths"], state["ends"], state["curves"] = {}, {}, {}
            for r, (color, _, _) in RACERS.items():
                (state["paths"][r],) = ax.plot([], [], "-", color=color, lw=1.4, zorder=5, animated=True)
                (state["ends"][r],) = ax.plot(
                    [], [], "o", color=color, mec="w", ms=6, zorder=6, animated=True
                )
                (state["curves"][r],) = ax_loss.plot([], [], color=color, lw=1.5, label=r, animated=True)
            (state["start"],) = ax.plot([], [], "o", color="w", mec="k", ms=7, zorder=7)
            ax.set(xlabel="$x$", ylabel="$y$")
            state["title"] = ax.set_title("", fontsize="medium")
            ax_loss.set(xlim=(0, steps), xlabel="step $t$")
            ax_loss.grid(True, alpha=0.3)
            ax_loss.set_title("loss per step (one rate for all)", fontsize="medium")
            ax_loss.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
            state["bad"] = axes_text(ax_loss, 0.02, 0.03, fontsize="small", color=PALETTE["vermillion"])
            state["scene"] = None
        ax, ax_loss = state["ax"], state["ax_loss"]
        if state["scene"] != landscape:
            state["scene"] = landscape
            state["image"].set_data(sc["image"])
            state["image"].set_extent(sc["extent"])
            state["image"].set_clim(*sc["clim"])
            state["lines"].set_segments(sc["segments"])
            ax.set_xlim(*sc["bounds"][0])
            ax.set_ylim(*sc["bounds"][1])
            state["marks"].set_data(sc["marks"][:, 0], sc["marks"][:, 1])
            # minima as stars, the saddle point as a white cross
            saddle = not len(sc["f"].minima)
            state["marks"].set_marker("X" if saddle else "*")
            state["marks"].set_markerfacecolor("w" if saddle else PALETTE["yellow"])
            state["start"].set_data([sc["x0"][0]], [sc["x0"][1]])
            x0, y0 = sc["x0"]
            state["title"].set_text(f"{landscape}, start ({x0:.3g}, {y0:.3g})")
            ax_loss.set_yscale(sc["yscale"])
            ax_loss.set_ylim(*sc["ylim"])
            ax_loss.set_ylabel("$f(x_t) - f_{\\min}$" if sc["low"] is not None else "$f(x_t)$")
        diverged = []
        for r, (path, losses, bad) in column(landscape, lr, momentum).items():
            ok = np.isfinite(path).all(axis=-1)
            state["paths"][r].set_data(path[ok, 0], path[ok, 1])
            last = path[ok][-1]
            state["ends"][r].set_data([last[0]], [last[1]])
            state["ends"][r].set_marker("X" if bad >= 0 else "o")
            shown = losses - sc["low"] if sc["low"] is not None else losses
            if sc["low"] is not None:
                shown = np.maximum(shown, 1e-300)
            state["curves"][r].set_data(t_axis, shown)
            if bad >= 0:
                diverged.append(f"{r} ({bad})")
        state["bad"].set_text("diverged at step: " + ", ".join(diverged) if diverged else "")

    controls = [
        Dropdown("landscape", list(LANDSCAPES), landscape, description="landscape"),
        slider,
        FloatSlider("momentum", 0.0, 0.99, momentum, step=0.01, description="momentum / β₁"),
    ]
    # every landscape has its own axis limits: draw each once, so a switch restores it
    return Explorer(draw, controls, figsize=(9.0, 3.5), title="The optimizer race", prerender=["landscape"])

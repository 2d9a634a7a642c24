"""Explorers of the chapter on the learning rate: the stability limit on a quadratic bowl.

:func:`stability_explorer` runs plain gradient descent on the ill-conditioned bowl
:math:`f(x, y) = \\tfrac12 (a x^2 + b y^2)` (:func:`lrcourse.objectives.quadratic`)
and shows, for the rate on the slider, three views of the same run: the path on
the contours, the loss per step, and the step factors :math:`1 - \\eta a` and
:math:`1 - \\eta b` (:func:`lrcourse.labs.learning_rate.step_factors`) against the rate,
with :math:`1/L` and the stability limit :math:`2/L` marked. The slider is linear
with a fine step, so the limit can be found to two digits.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from lrcourse import _validate as check
from lrcourse import labs, objectives, optimizers
from lrcourse.descent import descend
from lrcourse.plotting import PALETTE
from lrcourse.widgets.core import Explorer, FloatSlider, axes_text

__all__ = ["stability_explorer", "run_status"]

_LOSS_LIMITS = (1e-12, 1e7)


def run_status(losses, diverged_at):
    """A short description of a run from its losses (NaN after it exploded) and ``diverged_at``.

    ``"diverged (step k)"`` if it exploded, ``"diverging: loss grows"`` if
    the last loss is above the loss half-way (the test of
    :func:`lrcourse.labs.learning_rate.diverging`), otherwise ``"converging"``.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if diverged_at >= 0:
        return f"diverged (step {int(diverged_at)})"
    if losses[-1] > losses[(len(losses) - 1) // 2] * (1 + 1e-9):
        return "diverging: loss grows"
    return "converging"


def stability_explorer(
    a=1.0, b=15.0, x0=(1.5, 1.0), steps=100, lr=0.06, lr_range=(0.005, 0.16), lr_step=0.001
):
    """Gradient descent on the bowl ``quadratic(a, b)``, its loss, and its step factors, with a rate slider.

    Left: contours and the path from ``x0``; middle: the loss per step on a log
    scale, labelled "diverged (step k)" once it exceeds :math:`10^6` times the
    start, or "diverging" while it grows; right: the factors :math:`1 - \\eta a`
    and :math:`1 - \\eta b` against :math:`\\eta`. A factor between 0 and 1 gives a
    monotone approach, between -1 and 0 an oscillating one, below -1 divergence.
    The slider is linear from ``lr_range[0]`` to ``lr_range[1]`` in steps of ``lr_step``.
    """
    bowl = objectives.quadratic(a, b)
    a, b = float(a), float(b)
    x0 = np.asarray(check.as_float_array("x0", x0), dtype=float)
    if x0.shape != (2,):
        raise ValueError(f"x0 must be a point (x, y) of shape (2,), got shape {x0.shape}")
    steps = check.check_int("steps", steps, 2, 2000)
    low, high = (float(v) for v in lr_range)
    L = max(a, b)
    limit = labs.learning_rate.stability_limit(np.diag([a, b]))

    # everything that does not depend on the slider, computed once
    X, Y, Z = bowl.grid(120)
    levels = np.geomspace(max(Z.min(), 1e-3), Z.max(), 14)
    etas = np.linspace(0.0, high, 300)
    factor_curves = labs.learning_rate.step_factors(etas[:, None], np.array([a, b]))
    step_axis = np.arange(steps + 1)
    colors = {"x": PALETTE["blue"], "y": PALETTE["vermillion"], "path": PALETTE["vermillion"]}

    def draw(fig, state, lr):
        if not state:
            ax_path, ax_loss, ax_f = fig.subplots(1, 3, width_ratios=[1.0, 1.1, 1.1])
            ax_path.contour(X, Y, Z, levels=levels, colors="0.6", linewidths=0.7)
            ax_path.plot(0, 0, "*", ms=12, color=PALETTE["yellow"], mec="k", zorder=5)
            (state["path"],) = ax_path.plot([], [], "-o", ms=2.5, lw=1.0, color=colors["path"], animated=True)
            ax_path.plot(*x0, "o", color="w", mec="k", ms=7, zorder=6)
            (lo_x, hi_x), (lo_y, hi_y) = bowl.bounds
            ax_path.set(
                xlim=(lo_x, hi_x),
                ylim=(lo_y, hi_y),
                xlabel="$x$ (curvature $a$)",
                ylabel="$y$ (curvature $b$)",
            )
            ax_path.xaxis.set_major_locator(MaxNLocator(4))
            ax_path.yaxis.set_major_locator(MaxNLocator(4))
            ax_path.set_title(f"path, curvatures {a:g} and {b:g}", fontsize="medium")

            (state["loss"],) = ax_loss.plot([], [], color=PALETTE["blue"], lw=1.6, animated=True)
            ax_loss.set(yscale="log", xlim=(0, steps), ylim=_LOSS_LIMITS, xlabel="step $t$", ylabel="loss")
            # few ticks: every tick label costs time at each full redraw
            ax_loss.yaxis.set_major_locator(LogLocator(numticks=5))
            ax_loss.yaxis.set_minor_locator(NullLocator())
            ax_loss.xaxis.set_major_locator(MaxNLocator(4))
            ax_loss.grid(True, alpha=0.3)
            state["status"] = axes_text(
                ax_loss,
                0.5,
                0.95,
                ha="center",
                va="top",
                fontsize="small",
                fontweight="bold",
                bbox={"boxstyle": "round", "facecolor": "w", "edgecolor": "0.7", "alpha": 0.9},
            )

            ax_f.axhspan(-1, 1, color=PALETTE["bluish green"], alpha=0.12, lw=0)
            ax_f.axhline(0, color="0.5", lw=0.8)
            ax_f.plot(etas, factor_curves[:, 0], color=colors["x"], lw=1.5, label="$1-\\eta a$ ($x$)")
            ax_f.plot(etas, factor_curves[:, 1], color=colors["y"], lw=1.5, label="$1-\\eta b$ ($y$)")
            for value, text in ((1 / L, "1/L"), (limit, "2/L")):
                ax_f.axvline(value, color="0.3", ls=":", lw=1)
                ax_f.text(value, -1.55, f" {text}", ha="left", va="bottom", fontsize="small")
            ax_f.set(
                xlim=(0, high), ylim=(-1.6, 1.25), xlabel="learning rate $\\eta$", ylabel="factor per step"
            )
            ax_f.xaxis.set_major_locator(MaxNLocator(4))
            ax_f.text(
                0.2 * high,
                -0.6,
                "|factor| < 1:\nthe run\nconverges",
                fontsize="x-small",
                ha="center",
                color="0.3",
            )
            ax_f.legend(loc="center right", fontsize="x-small")
            state["now"] = ax_f.axvline(lr, color="k", lw=1.2, animated=True)
            (state["dots"],) = ax_f.plot([], [], "o", color="k", ms=5, animated=True, zorder=6)
            state["info"] = ax_f.set_title("", fontsize="medium", animated=True)

        run = descend(bowl, x0, optimizers.sgd(lr=lr), steps)
        ok = np.isfinite(run.path).all(axis=-1)
        state["path"].set_data(run.path[ok, 0], run.path[ok, 1])
        state["loss"].set_data(step_axis, np.maximum(run.losses, 1e-300))
        status = run_status(run.losses, int(run.diverged_at))
        state["status"].set_text(status)  # short: every glyph is redrawn at each move
        state["status"].get_bbox_patch().set_facecolor("#f6d5c3" if status != "converging" else "w")
        fx, fy = labs.learning_rate.step_factors(lr, np.array([a, b]))
        state["now"].set_xdata([lr, lr])
        state["dots"].set_data([lr, lr], [fx, fy])
        state["info"].set_text(f"steep direction: {labs.learning_rate.regime(lr, L)}")

    control = FloatSlider("lr", low, high, lr, step=lr_step, description="learning rate")
    return Explorer(draw, [control], figsize=(9.0, 3.0), title="The stability limit on a quadratic bowl")

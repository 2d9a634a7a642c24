"""The explorer of the chapter on learning-rate schedules: design a schedule, watch it train.

:func:`schedule_explorer` draws the rate of a schedule built from a menu and four
sliders, and next to it the loss of a minibatch SGD run that uses it, on the noisy
regression of :class:`lrcourse.labs.schedules.NoisyRegression` (about a hundredth
of a second per run). :func:`designer_schedule` turns the slider values into the
:mod:`lrcourse.schedules` call the explorer uses, so a reader can rebuild it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from lrcourse import _validate as check
from lrcourse import schedules as _schedules
from lrcourse.labs.schedules import NoisyRegression, inverse_sqrt
from lrcourse.widgets.core import Dropdown, Explorer, IntSlider, LogSlider, diverged_badge

__all__ = ["DESIGNER_KINDS", "designer_schedule", "schedule_explorer"]

DESIGNER_KINDS = {
    "constant": "constant",
    "step decay": "step_decay",
    "exponential": "exponential",
    "polynomial (power 2)": "polynomial",
    "cosine": "cosine",
    "cosine, warm restarts": "cosine_restarts",
    "cyclical (triangular)": "cyclic",
    "one-cycle": "one_cycle",
    "inverse square root": "inverse_sqrt",
}
"""The menu of :func:`schedule_explorer`: label -> kind."""

_LOSS = "#0072B2"
_REFERENCE = "#999999"
_RATE = "#CC79A7"
_BAD = "#D55E00"
_DECADES = [1e-4, 1e-2, 1.0, 1e2]


def designer_schedule(kind, lr, warmup=0, period=100, factor=0.1, steps=300):
    r"""The schedule the designer builds from its controls.

    ``lr`` is the peak rate, ``warmup`` the steps of linear warmup from 0 put in
    front (:func:`lrcourse.schedules.warmup`; ignored by ``one_cycle``, which warms
    up by itself, and by ``inverse_sqrt``, whose warmup it is). ``period`` and
    ``factor`` mean, for each ``kind``:

    ==================  ====================================  =====================================
    kind                ``period`` (steps)                    ``factor``
    ==================  ====================================  =====================================
    constant            (unused)                              (unused)
    step_decay          ``step_size``                         ``gamma``
    exponential         steps over which the rate falls by    ``gamma = factor ** (1 / period)``
                        ``factor``
    polynomial          ``total_iters`` (power 2)             floor ``factor * lr`` (``clamp``)
    cosine              ``T_max``                             ``eta_min = factor * lr``
    cosine_restarts     ``T_0``                               ``eta_min = factor * lr``
    cyclic              one whole cycle (up + down)           ``base_lr = factor * lr``
    one_cycle           (``total_steps = steps``)             ``div_factor = 1 / factor``
    inverse_sqrt        (unused; the warmup is ``warmup``)    (unused)
    ==================  ====================================  =====================================
    """
    kind = check.check_choice("kind", kind, tuple(DESIGNER_KINDS.values()))
    lr = float(check.check_positive("lr", lr))
    warmup = check.check_int("warmup", warmup, 0)
    period = check.check_int("period", period, 2)
    factor = float(check.check_range("factor", factor, 0.0, 1.0, low_open=True))
    steps = check.check_int("steps", steps, 2)
    S = _schedules
    if kind == "one_cycle":
        return S.one_cycle(lr, total_steps=steps, div_factor=1.0 / factor, cycle_momentum=False)
    if kind == "inverse_sqrt":
        return inverse_sqrt(lr, warmup_steps=max(warmup, 1))
    if kind == "constant":
        sched = S.constant(lr)
    elif kind == "step_decay":
        sched = S.step_decay(lr, step_size=period, gamma=factor)
    elif kind == "exponential":
        sched = S.exponential(lr, gamma=factor ** (1.0 / period))
    elif kind == "polynomial":
        sched = S.clamp(S.polynomial(lr, total_iters=period, power=2.0), min_lr=factor * lr)
    elif kind == "cosine":
        sched = S.cosine(lr, T_max=period, eta_min=factor * lr)
    elif kind == "cosine_restarts":
        sched = S.cosine_restarts(lr, T_0=period, eta_min=factor * lr)
    else:  # cyclic
        up = max(1, period // 2)
        sched = S.cyclic(
            factor * lr, lr, step_size_up=up, step_size_down=max(1, period - up), cycle_momentum=False
        )
    return S.warmup(sched, warmup) if warmup else sched


def schedule_explorer(problem=None, kind="cosine", lr=0.1, warmup=0, period=300, factor=0.01, title=None):
    """A schedule designer: a menu of schedule kinds, sliders for their parameters.

    Left: the rate :math:`\\eta_t` of every step, with the stability limit
    :math:`2/h` of the problem (dashed). Right: the excess training loss of minibatch
    SGD with that schedule on ``problem`` (default
    :class:`~lrcourse.labs.schedules.NoisyRegression()`), and in grey the same run at
    the constant peak rate, for comparison. Both runs share the minibatches, so the
    difference is the schedule's alone. See :func:`designer_schedule` for what the
    sliders mean for each kind.
    """
    problem = NoisyRegression() if problem is None else problem
    steps = problem.steps
    t = np.arange(steps)
    limit = problem.stability_limit
    designer_schedule(DESIGNER_KINDS.get(kind, kind), lr, warmup, period, factor, steps)  # fail early
    kind = DESIGNER_KINDS.get(kind, kind)

    def draw(fig, state, kind, lr, warmup, period, factor):
        sched = designer_schedule(kind, lr, warmup, period, factor, steps)
        rates = sched(t)
        if not state:
            ax_lr, ax_loss = fig.subplots(1, 2)
            (state["rate"],) = ax_lr.plot([], [], color=_RATE, lw=1.8, animated=True)
            (state["limit"],) = ax_lr.plot([0, steps], [1, 1], color="0.35", ls="--", lw=1, animated=True)
            state["limit_text"] = ax_lr.text(
                steps, 1, "", ha="right", va="bottom", fontsize="small", color="0.3", animated=True
            )
            ax_lr.set(xlim=(0, steps), ylim=(0, 1.15), xlabel="update $t$", ylabel=r"rate / peak rate")
            ax_lr.grid(True, alpha=0.3)
            state["name"] = ax_lr.set_title("", fontsize="small", animated=True)
            (state["reference"],) = ax_loss.plot([], [], color=_REFERENCE, lw=1.0, animated=True)
            (state["loss"],) = ax_loss.plot([], [], color=_LOSS, lw=1.4, animated=True)
            ax_loss.set(
                xlim=(0, steps),
                ylim=(1e-5, 1e2),
                yscale="log",
                xlabel="update $t$",
                ylabel="excess loss",
            )
            # Plain-text labels at every second decade: mathtext tick labels would
            # dominate the cost of a full redraw (small multiples, players).
            ax_loss.yaxis.set_major_locator(FixedLocator(_DECADES))
            ax_loss.yaxis.set_major_formatter(FixedFormatter([f"{d:g}" for d in _DECADES]))
            ax_loss.yaxis.set_minor_locator(NullLocator())
            ax_loss.grid(True, alpha=0.3)
            state["info"] = ax_loss.set_title("", fontsize="small", animated=True)
            state["bad"] = diverged_badge(ax_loss, _BAD)
        relative_limit = limit / lr
        state["limit"].set_ydata([relative_limit, relative_limit])
        state["limit_text"].set_y(relative_limit)
        state["limit_text"].set_text(f"stability limit 2/h = {limit:.2f} ")
        for key in ("limit", "limit_text"):
            state[key].set_visible(relative_limit < 1.12)
        state["rate"].set_data(t, rates / lr)
        state["name"].set_text(_describe(kind, lr, warmup, period, factor))
        pair = np.stack([rates, np.full(steps, lr)], axis=1)
        losses = problem.run(lambda k: pair[k])
        ok = np.isfinite(losses) & (losses < 1e6)
        for key, column in (("loss", 0), ("reference", 1)):
            good = np.cumprod(ok[:, column]).astype(bool)
            state[key].set_data(np.arange(steps + 1)[good], np.maximum(losses[good, column], 1e-300))
        diverged = not ok[:, 0].all()
        state["bad"].set_visible(diverged)
        if diverged:
            at = int(np.argmin(ok[:, 0]))
            state["bad"].set_text(f"diverged at step {at}")
            state["info"].set_text("schedule diverged")
        else:
            end = float(losses[-1, 0])
            ref = "diverged" if not ok[:, 1].all() else f"{float(losses[-1, 1]):.2g}"
            state["info"].set_text(f"final excess loss {end:.2g}  (grey, constant {lr:.3g}: {ref})")

    controls = [
        Dropdown("kind", list(DESIGNER_KINDS.items()), kind, description="schedule"),
        LogSlider("lr", 0.003, 1.0, lr, description="peak rate"),
        IntSlider("warmup", 0, 150, warmup, step=5, description="warmup steps"),
        IntSlider("period", 10, steps, period, step=5, description="period (steps)"),
        LogSlider("factor", 1e-3, 1.0, factor, description="factor"),
    ]
    return Explorer(draw, controls, figsize=(8.4, 3.3), title=title)


def _describe(kind, lr, warmup, period, factor):
    """A one-line summary of the designer's schedule (the title of the rate panel)."""
    parts = {
        "constant": "constant",
        "step_decay": f"step decay: x{factor:.2g} every {period} steps",
        "exponential": f"exponential: x{factor:.2g} per {period} steps",
        "polynomial": f"polynomial: to 0 in {period} steps, floor {factor:.2g}",
        "cosine": f"cosine: T_max = {period}, floor {factor:.2g}",
        "cosine_restarts": f"warm restarts: T_0 = {period}, floor {factor:.2g}",
        "cyclic": f"triangular: cycle {period} steps, base {factor:.2g}",
        "one_cycle": f"one-cycle: start at {factor:.2g} of the peak",
        "inverse_sqrt": f"inverse sqrt: warmup {max(warmup, 1)}",
    }
    text = f"{parts[kind]} (peak {lr:.3g})"
    if warmup and kind not in ("one_cycle", "inverse_sqrt"):
        text += f", warmup {warmup}"
    return text

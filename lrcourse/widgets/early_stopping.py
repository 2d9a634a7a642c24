"""The early-stopping explorer: patience and ``min_delta`` replayed on recorded validation curves.

The curves come from real runs (:func:`lrcourse.labs.early_stopping.record_curves`),
recorded once for the whole budget; a slider move only replays the stopping rule
with :func:`lrcourse.labs.early_stopping.stopping_epoch` (the rule of
:func:`lrcourse.training.fit`), so every frame is exact and fast.
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection

from lrcourse.labs import early_stopping as _es
from lrcourse.plotting import PALETTE, STYLE, run_color
from lrcourse.widgets.core import Dropdown, Explorer, FloatSlider, IntSlider

__all__ = ["stopping_explorer"]


def _limits(curves):
    """A y-range around the bottoms of the validation curves and the typical rise after them.

    From the lowest loss to the highest seed's minimum plus 2.5 times the median
    (over seeds) of median-minus-minimum: every restored epoch and oracle is in
    view, while a seed that overfits far more than the others runs off the top.
    """
    v = curves.val_loss[:, 1:]
    lows = np.nanmin(v, axis=1)
    rise = float(np.nanmedian(np.nanmedian(v, axis=1) - lows))
    low, high = float(lows.min()), float(lows.max()) + 2.5 * rise
    high = max(high, low * 1.05 + 1e-12)
    pad = 0.06 * (high - low)
    return low - pad, high + pad


def stopping_explorer(curves, *, patience=5, min_delta=0.0, max_patience=30, max_min_delta=0.05, title=None):
    """Sliders for ``patience`` and ``min_delta`` over recorded validation curves.

    ``curves`` is a :class:`~lrcourse.labs.early_stopping.Curves` (several seeds of one
    problem) or a dict ``{name: Curves}``, which adds a menu to switch problems.
    Left: every seed's validation curve, solid up to the epoch where training
    stops and faded over the budget it would not use, with a dot at the restored
    epoch and a star at the oracle epoch (the lowest validation loss in
    hindsight). Right: epochs run per seed against the budget, and the averages:
    epochs run, and the test loss of the restored model next to the oracle's.
    """
    problems = {"": curves} if not isinstance(curves, dict) else dict(curves)
    if not problems:
        raise ValueError("curves must hold at least one Curves object")
    for name, c in problems.items():
        if not isinstance(c, _es.Curves):
            raise ValueError(
                f"curves[{name!r}] must be a lrcourse.labs.early_stopping.Curves, got {type(c).__name__}"
            )
    n_seeds = max(len(c.seeds) for c in problems.values())
    # everything that does not depend on the sliders, once per problem
    pre = {}
    for name, c in problems.items():
        oracle = np.asarray(_es.oracle_epoch(c.val_loss)).reshape(-1)
        rows = np.arange(len(c.seeds))
        pre[name] = {
            "oracle": oracle,
            "val_oracle": c.val_loss[rows, oracle],
            "test_oracle": None if c.test_loss is None else float(np.mean(c.test_loss[rows, oracle])),
            "test_full": None if c.test_loss is None else float(np.mean(c.test_loss[:, -1])),
            "ylim": _limits(c),
        }

    first = next(iter(problems))

    def draw(fig, state, patience, min_delta, problem=first):
        c, p = problems[problem], pre[problem]
        n = len(c.seeds)
        colors = [run_color(i) for i in range(n)]
        if not state:
            ax, ax_bar = fig.subplots(1, 2, width_ratios=[1.7, 1.0])
            state["ax"], state["ax_bar"] = ax, ax_bar
            # one collection per kind of artist: few artists keep a frame fast
            state["trained"] = LineCollection([], linewidths=1.4, animated=True)
            state["left"] = LineCollection([], linewidths=1.0, alpha=0.25, animated=True)
            ax.add_collection(state["trained"])
            ax.add_collection(state["left"])
            marks = {"s": 40, "edgecolors": "black", "linewidths": 0.6, "animated": True}
            star = {**marks, "marker": "*", "c": STYLE["minimum"]["color"], "s": 120}  # the oracle epoch
            state["best"] = ax.scatter([], [], marker="o", zorder=5, **marks)
            state["stop"] = ax.scatter([], [], marker="|", s=150, linewidths=2.2, zorder=5, animated=True)
            state["star"] = ax.scatter([], [], zorder=4, **star)
            ax.scatter([], [], marker="o", c="0.6", edgecolors="black", s=40, label="restored epoch")
            ax.scatter([], [], marker="|", c="0.3", s=150, linewidths=2.2, label="stopped here")
            ax.scatter(
                [],
                [],
                marker="*",
                c=STYLE["minimum"]["color"],
                edgecolors="black",
                s=120,
                label="oracle (hindsight)",
            )
            ax.legend(loc="upper right", fontsize="small", framealpha=0.9)
            ax.set(xlabel="epoch", ylabel="validation loss")
            ax.grid(True, alpha=0.3)
            state["bars"] = LineCollection([], linewidths=9, colors=PALETTE["sky blue"], animated=True)
            ax_bar.add_collection(state["bars"])
            state["bar_best"] = ax_bar.scatter(
                [], [], marker="o", c=PALETTE["bluish green"], zorder=5, **marks
            )
            state["bar_oracle"] = ax_bar.scatter([], [], zorder=5, **star)
            ax_bar.set(
                xlabel="epochs run", ylabel="seed", yticks=np.arange(n_seeds), ylim=(n_seeds - 0.4, -0.6)
            )
            ax_bar.grid(True, axis="x", alpha=0.3)
            # an axes title, not a figure title: the small multiples put their label there
            state["title"] = ax.set_title("", fontsize="medium", loc="left", animated=True)
        ax, ax_bar = state["ax"], state["ax_bar"]
        if ax.get_xlim() != (0, c.budget):
            ax.set_xlim(0, c.budget)
            ax_bar.set_xlim(0, c.budget * 1.02)
        if ax.get_ylim() != p["ylim"]:
            ax.set_ylim(*p["ylim"])
        stop, best = _es.stopping_epoch(c.val_loss, patience, min_delta)
        stop, best = np.atleast_1d(stop), np.atleast_1d(best)
        rows = np.arange(n)
        v, e = c.val_loss, c.epochs
        state["trained"].set_segments(
            [np.column_stack([e[: s + 1], v[i, : s + 1]]) for i, s in enumerate(stop)]
        )
        state["left"].set_segments([np.column_stack([e[s:], v[i, s:]]) for i, s in enumerate(stop)])
        state["trained"].set_color(colors)
        state["left"].set_color(colors)
        state["best"].set_offsets(np.column_stack([best, v[rows, best]]))
        state["best"].set_facecolor(colors)
        state["stop"].set_offsets(np.column_stack([stop, v[rows, stop]]))
        state["stop"].set_color(colors)
        state["star"].set_offsets(np.column_stack([p["oracle"], p["val_oracle"]]))
        state["bars"].set_segments([[(0, i), (s, i)] for i, s in enumerate(stop)])
        state["bar_best"].set_offsets(np.column_stack([best, rows]))
        state["bar_oracle"].set_offsets(np.column_stack([p["oracle"], rows]))
        ran = f"epochs run {stop.mean():.1f} of {c.budget}"
        if p["test_oracle"] is not None:
            restored = float(np.mean(c.test_loss[rows, best]))
            state["title"].set_text(f"{ran}; test loss {restored:.3f} (oracle {p['test_oracle']:.3f})")
        else:
            restored = float(np.mean(v[rows, best]))
            state["title"].set_text(
                f"{ran}; val. loss {restored:.3f} (oracle {np.mean(p['val_oracle']):.3f})"
            )

    controls = [
        IntSlider("patience", 0, max_patience, patience, description="patience"),
        FloatSlider(
            "min_delta", 0.0, max_min_delta, min_delta, step=max_min_delta / 50, description="min_delta"
        ),
    ]
    if len(problems) > 1:
        controls.append(Dropdown("problem", list(problems), description="problem"))
    # each problem has its own axis limits: draw each once, so a switch restores it
    menus = ["problem"] if len(problems) > 1 else []
    return Explorer(draw, controls, figsize=(9.0, 3.6), title=title, prerender=menus)

"""The recipe dashboard: peak rate, warmup and batch size against precomputed training curves.

:func:`recipe_explorer` shows a :class:`lrcourse.labs.tuning.RecipeGrid` (every recipe
of a grid trained once, :func:`lrcourse.labs.tuning.sweep_recipes`). A slider move only
looks up curves that are already there and redraws them, so it costs a few
milliseconds. Left: the schedule the sliders describe (warmup, then cosine).
Middle: the validation accuracy of that recipe per epoch, among the other peak
rates of the same warmup and batch size, beside a baseline. Right: the final
validation accuracy of every (peak rate, batch size) at this warmup, the chosen
cell framed.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps as plt_colormaps
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from lrcourse import _validate as check
from lrcourse.labs.tuning import RecipeGrid, epochs_to_reach, warmup_cosine
from lrcourse.plotting import PALETTE, STYLE
from lrcourse.widgets.batch_size import ChoiceSlider
from lrcourse.widgets.core import Explorer

__all__ = ["RateChoice", "recipe_explorer"]


class RateChoice(ChoiceSlider):
    """A :class:`~lrcourse.widgets.ChoiceSlider` over learning rates, labelled with 3 significant digits.

    Any positive rate is accepted and moved to the nearest option (on a log scale),
    so ``static`` and ``player`` can be given the rates a computation produced.
    """

    def validate(self, value):
        value = float(check.check_positive(self.name, value))
        options = np.asarray(self.options, dtype=np.float64)
        return self.options[int(np.argmin(np.abs(np.log(options) - np.log(value))))]

    def _option_label(self, value):
        return f"{value:.3g}"


def recipe_explorer(grid, *, lr=None, warmup=None, batch_size=None, baseline=None, target=0.95, title=None):
    """Sliders for the peak rate, the warmup (epochs) and the batch size over a recipe grid.

    ``grid`` is a :class:`lrcourse.labs.tuning.RecipeGrid`. ``lr``, ``warmup`` and
    ``batch_size`` are the starting values (default: the grid's best recipe);
    ``baseline`` is ``(label, val_accuracy_per_epoch)``, a curve drawn for
    comparison (say, the defaults); ``target`` the validation accuracy whose first
    epoch is marked. Everything is precomputed: a move is a lookup and a redraw.
    """
    if not isinstance(grid, RecipeGrid):
        raise ValueError(f"grid must be a lrcourse.labs.tuning.RecipeGrid, got {type(grid).__name__}")
    target = float(check.check_range("target", target, 0.0, 1.0))
    best_lr, best_w, best_b = grid.best()
    rates = [float(v) for v in grid.lrs]
    lr = best_lr if lr is None else rates[grid.index(lr, grid.warmups[0], grid.batch_sizes[0])[2]]
    warmup = best_w if warmup is None else float(warmup)
    batch_size = best_b if batch_size is None else batch_size
    if baseline is not None:
        base_label, base_curve = baseline
        base_curve = np.asarray(base_curve, dtype=np.float64)
    E = grid.epochs
    epochs = np.arange(E + 1)
    finals = grid.final("val_accuracy")  # (B, W, R)
    n_b, n_r = len(grid.batch_sizes), len(rates)
    # the colours resolve the top of the range, where the good recipes differ
    good = finals[np.isfinite(finals)]
    map_high = float(np.ceil(good.max() * 100) / 100) if good.size else 1.0
    map_low = max(0.0, map_high - 0.08)
    acc_low = max(0.0, np.floor((map_high - 0.15) * 20) / 20)  # curves below it leave the panel
    schedules = {}

    def schedule(b, w, r):
        key = (b, w, r)
        if key not in schedules:
            upe = grid.updates_per_epoch[b]
            total = E * upe
            rates_t = warmup_cosine(rates[r], total, int(round(grid.warmups[w] * upe)))(np.arange(total + 1))
            schedules[key] = (np.arange(total + 1) / upe, rates_t)
        return schedules[key]

    cmap = plt_colormaps["viridis"].with_extremes(bad="white")

    def draw(fig, state, lr, warmup, batch_size):
        b, w, r = grid.index(lr, warmup, batch_size)
        if not state:
            ax_lr, ax_acc, ax_map = fig.subplots(1, 3, width_ratios=[1.0, 1.3, 1.25])
            state.update(ax_lr=ax_lr, ax_acc=ax_acc, ax_map=ax_map)
            (state["lr_line"],) = ax_lr.plot([], [], color=STYLE["lr"]["color"], lw=2, animated=True)
            ax_lr.set(xlim=(0, E), ylim=(0, 1.05), xlabel="epoch", ylabel="rate / peak rate")
            ax_lr.set_title("the schedule", fontsize="small")
            ax_lr.grid(True, alpha=0.3)
            state["others"] = LineCollection([], colors="0.6", linewidths=0.8, alpha=0.6, animated=True)
            ax_acc.add_collection(state["others"])
            if baseline is not None:
                ax_acc.plot(
                    np.arange(len(base_curve)), base_curve, ls="--", color="0.3", lw=1.3, label=base_label
                )
            ax_acc.axhline(target, color=STYLE["best"]["color"], ls=":", lw=1.2)
            (state["acc_line"],) = ax_acc.plot(
                [], [], color=STYLE["val"]["color"], lw=2.4, label="this recipe", animated=True
            )
            (state["hit"],) = ax_acc.plot(
                [], [], "o", color=STYLE["best"]["color"], mec="black", ms=7, animated=True
            )
            ax_acc.plot([], [], color="0.6", lw=0.8, label="other peak rates")
            ax_acc.set(xlim=(0, E), ylim=(acc_low, 1.0), xlabel="epoch", ylabel="validation accuracy")
            ax_acc.grid(True, alpha=0.3)
            ax_acc.legend(loc="lower right", fontsize="x-small", framealpha=0.9)
            state["title"] = ax_acc.set_title("", fontsize="small", animated=True)
            state["image"] = ax_map.imshow(
                np.zeros((n_b, n_r)),
                cmap=cmap,
                vmin=map_low,
                vmax=map_high,
                aspect="auto",
                origin="upper",
                animated=True,
            )
            bar = fig.colorbar(state["image"], ax=ax_map, shrink=0.9, extend="min")
            bar.set_label("final val. accuracy", fontsize="small")
            bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax_map.set_xticks(range(n_r), [f"{v:.2g}" for v in rates], rotation=90, fontsize="x-small")
            ax_map.set_yticks(range(n_b), [str(v) for v in grid.batch_sizes], fontsize="small")
            ax_map.set(xlabel="peak learning rate", ylabel="batch size")
            ax_map.set_title("final accuracy, this warmup", fontsize="small")
            state["frame"] = Rectangle(
                (r - 0.5, b - 0.5), 1, 1, fill=False, ec="black", lw=2.2, animated=True, zorder=5
            )
            ax_map.add_patch(state["frame"])
            state["crosses"] = ax_map.plot(
                [], [], "x", color=PALETTE["vermillion"], ms=7, mew=2.0, animated=True
            )[0]
        values = finals[:, w, :]
        state["image"].set_data(np.ma.masked_invalid(values))
        dead_b, dead_r = np.nonzero(~np.isfinite(values))
        state["crosses"].set_data(dead_r, dead_b)
        state["frame"].set_xy((r - 0.5, b - 0.5))
        t_epoch, rate = schedule(b, w, r)
        state["lr_line"].set_data(t_epoch, rate / rates[r])
        curves = grid.val_accuracy[b, w]
        state["others"].set_segments(
            [np.column_stack([epochs, curves[i]]) for i in range(n_r) if i != r and np.isfinite(curves[i, 1])]
        )
        curve = curves[r]
        state["acc_line"].set_data(epochs, curve)
        hit = epochs_to_reach(curve, target)
        state["hit"].set_data([hit] if hit else [], [curve[hit]] if hit else [])
        if grid.diverged[b, w, r]:
            text = "diverged"
        else:
            reached = f"{target:.0%} at epoch {hit}" if hit else f"never {target:.0%}"
            text = f"final {curve[-1]:.1%}; {reached}"
        state["title"].set_text(text)

    controls = [
        RateChoice("lr", rates, lr, description="peak rate"),
        ChoiceSlider("warmup", list(grid.warmups), warmup, description="warmup (epochs)"),
        ChoiceSlider("batch_size", list(grid.batch_sizes), batch_size, description="batch size"),
    ]
    return Explorer(draw, controls, figsize=(9.0, 3.3), title=title)

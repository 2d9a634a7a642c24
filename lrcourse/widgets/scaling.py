"""The rate-transfer explorer of chapter 10: the loss against the rate, width by width, SP beside muP.

:func:`rate_transfer_explorer` shows two :class:`lrcourse.labs.scaling.WidthSweep` of the
same widths and rates, one in the standard parametrization and one in muP. Each panel
draws the final training loss (mean over seeds) against the base rate for every width
in grey, the width on the slider in colour with its best rate marked, and the best rate
of the narrowest width as a dotted line: where the curve of a wider network has its
minimum on that line, the rate has transferred. Everything is precomputed; a slider move
only swaps the data of a few artists.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import LineCollection

from lrcourse.labs.scaling import WidthSweep
from lrcourse.plotting import PALETTE
from lrcourse.widgets.batch_size import ChoiceSlider
from lrcourse.widgets.core import Explorer

__all__ = ["rate_transfer_explorer"]

NAMES = {"sp": "standard parametrization", "mup": "muP"}


def _check_pair(sp, mup):
    for name, sweep in (("sp", sp), ("mup", mup)):
        if not isinstance(sweep, WidthSweep):
            raise ValueError(f"{name} must be a lrcourse.labs.scaling.WidthSweep, got {type(sweep).__name__}")
    if list(sp.widths) != list(mup.widths) or not np.array_equal(sp.lrs, mup.lrs):
        raise ValueError("the two sweeps must have the same widths and the same rates")
    if len(sp.widths) < 2:
        raise ValueError("the sweeps must hold at least two widths")


def rate_transfer_explorer(sp, mup, *, width=None, metric="train_loss", title=None):
    """A width slider over two width sweeps (standard parametrization, muP), drawn side by side.

    ``sp`` and ``mup`` are :class:`~lrcourse.labs.scaling.WidthSweep` of the same widths
    and base rates. ``width`` is the starting width (default: the widest); ``metric`` the
    loss drawn (``"train_loss"`` or ``"val_loss"``).
    """
    _check_pair(sp, mup)
    widths = [int(w) for w in sp.widths]
    width = widths[-1] if width is None else int(width)
    sweeps = {"sp": sp, "mup": mup}
    curves = {k: s.mean_loss(metric) for k, s in sweeps.items()}  # (width, rate), NaN: diverged
    best = {k: s.best(metric) for k, s in sweeps.items()}
    lrs = sp.lrs
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()])
    low = 10 ** math.floor(math.log10(finite.min()))
    high = min(10 ** math.ceil(math.log10(finite.max())), 100 * np.median(finite))
    colors = [PALETTE["blue"], PALETTE["vermillion"]]

    def draw(fig, state, width):
        w = widths.index(width)
        if not state:
            axes = fig.subplots(1, 2, sharey=True)
            for ax, key, color in zip(axes, ("sp", "mup"), colors, strict=True):
                lines = [np.column_stack([lrs, curves[key][i]]) for i in range(len(widths))]
                ax.add_collection(LineCollection(lines, colors="0.75", linewidths=0.9))
                base_lr = lrs[best[key][0]]
                ax.axvline(base_lr, color="0.3", ls=":", lw=1.2, label=f"best at width {widths[0]}")
                (state[key, "line"],) = ax.plot([], [], "o-", color=color, ms=3.5, lw=2.2, animated=True)
                (state[key, "best"],) = ax.plot(
                    [], [], "*", color=color, mec="k", ms=14, animated=True, label="best rate"
                )
                state[key, "title"] = ax.set_title("", fontsize="small", animated=True)
                ax.set(xscale="log", yscale="log", xlim=(lrs[0] / 1.2, lrs[-1] * 1.2), ylim=(low, high))
                ax.set_xlabel("base learning rate")
                ax.grid(True, alpha=0.3)
                ax.legend(loc="upper center", fontsize="x-small")
            axes[0].set_ylabel("final training loss" if metric == "train_loss" else "final validation loss")
        for key in ("sp", "mup"):
            curve = curves[key][w]
            state[key, "line"].set_data(lrs, curve)
            b = best[key][w]
            state[key, "best"].set_data([lrs[b]], [curve[b]])
            state[key, "title"].set_text(f"{NAMES[key]}, width {width}: best {lrs[b]:.3g}")

    controls = [ChoiceSlider("width", widths, width, description="width")]
    return Explorer(draw, controls, figsize=(8.6, 3.4), title=title)

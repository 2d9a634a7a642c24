"""The WSD branch explorer: where to branch the decay off a constant-rate run, and for how long.

The runs come from :func:`lrcourse.labs.warmup_wsd.branch_grid`: the stable run at a
constant rate and a decay branched off it for every (start, length) of a grid, all
recorded after every epoch, once. A slider move only picks the branch to draw.
"""

from __future__ import annotations

import numpy as np

from lrcourse.labs import warmup_wsd as _lab
from lrcourse.plotting import PALETTE
from lrcourse.widgets.batch_size import ChoiceSlider
from lrcourse.widgets.core import Explorer

__all__ = ["wsd_branch_explorer"]

_STABLE = "0.55"
_BRANCH = PALETTE["vermillion"]
_REFERENCE = PALETTE["blue"]
_LABELS = {
    "val_loss": "validation loss",
    "train_loss": "training loss",
    "val_accuracy": "validation accuracy",
}


def wsd_branch_explorer(grid, *, start=None, length=None, metric="val_loss", reference=None, title=None):
    """Sliders for the start and the length of a WSD decay, over recorded branches.

    ``grid`` is a :class:`~lrcourse.labs.warmup_wsd.BranchGrid`. Left: the rate of the
    chosen branch as a fraction of the peak (grey: the constant run it leaves). Right:
    ``metric`` after every epoch, of the constant run (grey) and of the branch (orange),
    with a dot where the branch ends; ``reference`` (a dict ``{epochs: value}``, for
    example a cosine schedule tuned for each budget) is drawn as blue crosses. A
    branch that would end after the last recorded epoch is not drawn.
    """
    if not isinstance(grid, _lab.BranchGrid):
        raise ValueError(f"grid must be a lrcourse.labs.warmup_wsd.BranchGrid, got {type(grid).__name__}")
    if metric not in grid.stable:
        raise ValueError(f"metric must be one of {sorted(grid.stable)}, got {metric!r}")
    starts, lengths = [int(s) for s in grid.starts], [int(d) for d in grid.lengths]
    start = starts[len(starts) // 2] if start is None else start
    length = lengths[0] if length is None else length
    reference = dict(reference or {})
    epochs = np.arange(grid.epochs + 1)
    updates = np.arange(grid.epochs * grid.per_epoch + 1) / grid.per_epoch
    stable = grid.stable[metric]
    branches = grid.branches[metric]
    values = np.concatenate([stable[1:], branches[1:].ravel(), list(reference.values())])
    values = values[np.isfinite(values)]
    low, high = float(values.min()), float(np.quantile(values, 0.98))
    pad = 0.08 * (high - low)
    ylim = (low - pad, high + pad)
    rates = {  # each branch's rate up to its end, where it is 0
        (s, d): np.append(grid.rates(s, d), 0.0)[: (s + d) * grid.per_epoch + 1]
        for s in starts
        for d in lengths
        if s + d <= grid.epochs
    }

    def draw(fig, state, start, length):
        if not state:
            ax_lr, ax = fig.subplots(1, 2, width_ratios=[1.0, 1.4])
            ax_lr.plot([0, grid.epochs], [1, 1], color=_STABLE, lw=1.2, label="constant run")
            (state["rate"],) = ax_lr.plot([], [], color=_BRANCH, lw=1.8, label="branch", animated=True)
            ax_lr.set(xlim=(0, grid.epochs), ylim=(-0.05, 1.12), xlabel="epoch", ylabel="rate / peak rate")
            ax_lr.legend(fontsize="small", loc="lower left")
            ax_lr.grid(True, alpha=0.3)
            ax.plot(epochs[1:], stable[1:], color=_STABLE, lw=1.2, marker=".", label="constant run")
            if reference:
                ax.plot(
                    list(reference),
                    list(reference.values()),
                    "x",
                    color=_REFERENCE,
                    ms=8,
                    mew=2,
                    label="cosine, tuned per budget",
                )
            (state["branch"],) = ax.plot(
                [], [], color=_BRANCH, lw=1.8, marker=".", label="branch", animated=True
            )
            state["end"] = ax.scatter(
                [], [], s=60, color=_BRANCH, edgecolors="black", zorder=5, animated=True
            )
            ax.set(xlim=(0, grid.epochs + 0.5), ylim=ylim, xlabel="epoch", ylabel=_LABELS.get(metric, metric))
            ax.legend(fontsize="small", loc="upper right")
            ax.grid(True, alpha=0.3)
            state["title"] = ax.set_title("", fontsize="small", loc="left", animated=True)
        key = (start, length)
        if key not in rates:
            state["rate"].set_data([], [])
            state["branch"].set_data([], [])
            state["end"].set_offsets(np.empty((0, 2)))
            state["title"].set_text(f"start {start} + length {length} > {grid.epochs} epochs: no branch")
            return
        end = start + length
        state["rate"].set_data(updates[: len(rates[key])], rates[key])
        i, j = starts.index(start), lengths.index(length)
        curve = branches[start : end + 1, i, j]
        state["branch"].set_data(epochs[start : end + 1], curve)
        state["end"].set_offsets([[end, curve[-1]]])
        text = f"decay epochs {start} to {end}: {curve[-1]:.3f} (constant run {stable[end]:.3f}"
        if end in reference:
            text += f", cosine {reference[end]:.3f}"
        state["title"].set_text(text + ")")

    controls = [
        ChoiceSlider("start", starts, start, description="decay starts (epoch)"),
        ChoiceSlider("length", lengths, length, description="decay length (epochs)"),
    ]
    return Explorer(draw, controls, figsize=(9.0, 3.4), title=title)

"""The clipping explorer: a rate and a ``max_norm``, over a recorded grid of runs.

The runs come from :func:`lrcourse.labs.clipping.clip_grid`: one optimizer at a grid
of rates times a grid of ``max_norm`` values (one of them ``inf``, no clipping), every
seed, recorded after every epoch with the gradient norm of every update, once. A slider
move only picks the runs to draw.
"""

from __future__ import annotations

import numpy as np

from lrcourse.labs import clipping as _lab
from lrcourse.plotting import PALETTE
from lrcourse.widgets.batch_size import ChoiceSlider
from lrcourse.widgets.core import Explorer

__all__ = ["clipping_explorer"]

_PLAIN = "0.55"
_CLIPPED = PALETTE["vermillion"]
_LIMIT = PALETTE["blue"]
_LABELS = {"val_loss": "validation loss", "train_loss": "training loss"}


def _label(value):
    return float(f"{value:.3g}")


def clipping_explorer(grid, *, lr=None, max_norm=None, metric="val_loss", seed=0, title=None):
    """Sliders for the rate and ``max_norm`` over a :class:`~lrcourse.labs.clipping.ClipGrid`.

    Left: ``metric`` after every epoch at the chosen rate, without clipping (grey) and
    clipped at ``max_norm`` (orange), one line per seed (a run that diverged stops, and
    the title counts them). Right: the global gradient norm of every update of seed
    ``seed``'s clipped run, with ``max_norm`` as a blue line, and the share of the
    updates it clipped. The grid must hold ``inf`` (the runs without clipping) and at
    least one finite ``max_norm``.
    """
    if not isinstance(grid, _lab.ClipGrid):
        raise ValueError(f"grid must be a lrcourse.labs.clipping.ClipGrid, got {type(grid).__name__}")
    if metric not in grid.curves:
        raise ValueError(f"metric must be one of {sorted(grid.curves)}, got {metric!r}")
    norms = list(grid.max_norms)
    if np.inf not in norms or all(np.isinf(norms)):
        raise ValueError(f"the grid needs max_norm inf and a finite one, got {norms}")
    if seed not in list(grid.seeds):
        raise ValueError(f"seed must be one of the grid's seeds {list(grid.seeds)}, got {seed!r}")
    s = list(grid.seeds).index(seed)
    plain = norms.index(np.inf)
    finite = [(i, _label(c)) for i, c in enumerate(norms) if np.isfinite(c)]
    rate_options = [_label(r) for r in grid.lrs]
    norm_options = [c for _, c in finite]
    lr = rate_options[len(rate_options) // 2] if lr is None else _label(lr)
    max_norm = norm_options[0] if max_norm is None else _label(max_norm)
    curves = grid.curves[metric]
    epochs = np.arange(curves.shape[0])
    updates = np.arange(1, grid.grad_norms.shape[0] + 1)
    finite_values = curves[np.isfinite(curves)]
    low = float(finite_values.min())
    high = float(max(np.quantile(finite_values, 0.9), curves[0].max()))
    ylim = (low / 1.3, high * 1.5)
    positive = grid.grad_norms[np.isfinite(grid.grad_norms) & (grid.grad_norms > 0)]
    nlim = (float(np.quantile(positive, 0.01)) / 2, float(positive.max()) * 1.5)  # past stray zeros
    active = grid.active_fraction()
    n_seeds = len(grid.seeds)

    def draw(fig, state, lr, max_norm):
        if not state:
            ax, ax_n = fig.subplots(1, 2)
            state["plain"] = [
                ax.plot([], [], color=_PLAIN, lw=1.2, label="no clipping" if k == 0 else None, animated=True)[
                    0
                ]
                for k in range(n_seeds)
            ]
            state["clipped"] = [
                ax.plot([], [], color=_CLIPPED, lw=1.6, label="clipped" if k == 0 else None, animated=True)[0]
                for k in range(n_seeds)
            ]
            ax.set(
                yscale="log",
                xlim=(0, epochs[-1]),
                ylim=ylim,
                xlabel="epoch",
                ylabel=_LABELS.get(metric, metric),
            )
            ax.legend(fontsize="small", loc="upper right")
            ax.grid(True, alpha=0.3)
            state["title"] = ax.set_title("", fontsize="small", loc="left", animated=True)
            (state["norms"],) = ax_n.plot([], [], color=_CLIPPED, lw=0.6, animated=True)
            state["limit"] = ax_n.axhline(1.0, color=_LIMIT, lw=1.5, ls="--", animated=True)
            ax_n.set(
                yscale="log",
                xlim=(0, updates[-1]),
                ylim=nlim,
                xlabel="update",
                ylabel=f"gradient norm (seed {seed})",
            )
            ax_n.grid(True, alpha=0.3)
            state["share"] = ax_n.set_title("", fontsize="small", loc="left", animated=True)
        i = rate_options.index(lr)
        c = finite[norm_options.index(max_norm)][0]
        for k in range(n_seeds):
            state["plain"][k].set_data(epochs, curves[:, k, plain, i])
            state["clipped"][k].set_data(epochs, curves[:, k, c, i])
        lost = [int(grid.diverged[:, j, i].sum()) for j in (plain, c)]
        state["title"].set_text(
            f"rate {lr:g}: diverged {lost[0]} of {n_seeds} without, {lost[1]} with clipping"
        )
        state["norms"].set_data(updates, grid.grad_norms[:, s, c, i])
        state["limit"].set_ydata([max_norm, max_norm])
        state["share"].set_text(
            f"max_norm {max_norm:g}: {active[s, c, i]:.0%} of updates clipped, steps \u2264 {lr * max_norm:.3g}"
        )

    controls = [
        ChoiceSlider("lr", rate_options, lr, description="learning rate"),
        ChoiceSlider("max_norm", norm_options, max_norm, description="max_norm"),
    ]
    return Explorer(draw, controls, figsize=(8.4, 3.4), title=title)

"""Matplotlib helpers for the book. They draw arrays and results; they compute nothing.

Every function takes an optional ``ax`` (default: the current axes, so several
calls overlay on one plot) and returns the axes. Colours, markers and labels
come from :data:`STYLE` and :data:`LABELS` so that every chapter looks the same:
training is always blue, validation orange, a diverged run a vermillion ``x``.
The colours are the colour-blind-safe palette of Okabe & Ito (2008)
(:data:`PALETTE`); :func:`run_color` gives the ``i``-th colour for comparing runs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lrcourse import _validate as check

# Okabe, M. & Ito, K. (2008). Color Universal Design: distinguishable by all common colour-vision types.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "vermillion": "#D55E00",
    "yellow": "#F0E442",
    "black": "#000000",
}

RUN_COLORS = list(PALETTE.values())
"""Colours for runs compared side by side, in order (see :func:`run_color`)."""

STYLE = {
    "train": {"color": PALETTE["blue"], "label": "training"},
    "val": {"color": PALETTE["orange"], "label": "validation"},
    "lr": {"color": PALETTE["reddish purple"]},
    "raw": {"color": PALETTE["sky blue"], "alpha": 0.5, "linewidth": 0.8},
    "smoothed": {"color": PALETTE["blue"], "linewidth": 2.0},
    "diverged": {
        "color": PALETTE["vermillion"],
        "marker": "x",
        "markersize": 10,
        "markeredgewidth": 2.5,
        "linestyle": "none",
        "label": "diverged",
    },
    "best": {"color": PALETTE["bluish green"], "linestyle": "--", "linewidth": 1.5},
    "stopped": {"color": PALETTE["black"], "linestyle": ":", "linewidth": 1.5},
    "start": {
        "color": PALETTE["black"],
        "marker": "o",
        "markersize": 6,
        "linestyle": "none",
        "label": "start",
    },
    "minimum": {
        "color": PALETTE["yellow"],
        "marker": "*",
        "markersize": 14,
        "markeredgecolor": PALETTE["black"],
        "linestyle": "none",
        "label": "minimum",
    },
    "suggestions": [PALETTE["vermillion"], PALETTE["bluish green"], PALETTE["reddish purple"]],
}
"""Matplotlib keyword arguments for each kind of artist, shared by the whole book."""

LABELS = {
    "update": "update (step)",
    "epoch": "epoch",
    "loss": "loss",
    "accuracy": "accuracy",
    "lr": "learning rate",
}
"""Axis labels shared by the whole book."""


def run_color(i):
    """The colour of run ``i`` when several runs share a plot (cycles through :data:`RUN_COLORS`)."""
    return RUN_COLORS[i % len(RUN_COLORS)]


def _axes(ax):
    return plt.gca() if ax is None else ax


def _label_axes(ax, x, y, log=False):
    """Label the axes with :data:`LABELS` ``x`` and ``y``; ``log``: the vertical axis on a log scale."""
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(LABELS[x])
    ax.set_ylabel(LABELS[y])


def _legend(ax):
    """A legend with one entry per label (several diverged runs share one "diverged")."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys())


# ----------------------------------------------------------------- curves of one run


def _series(source, per, what):
    """The values to plot and their x positions, from a History or an array."""
    check.check_choice("per", per, ("update", "epoch"))
    if not hasattr(source, "train_loss"):
        values = np.asarray(source, dtype=np.float64)
        return np.arange(len(values)), values
    if what == "loss":
        values = source.update_loss if per == "update" else source.train_loss
        return np.arange(len(values)), np.asarray(values)
    values = source.update_lr if per == "update" else source.epoch_lr
    start = 0 if per == "update" else 1  # epoch_lr[e] is the rate during epoch e + 1
    return np.arange(start, start + len(values)), np.asarray(values)


def plot_loss(source, *, per="update", log=True, label=None, color=None, diverged_at=None, ax=None):
    """A loss curve: per update (minibatch losses) or per epoch (training loss), log scale by default.

    ``source`` is a :class:`~lrcourse.training.History` or an array of losses. A
    diverged run (``history.diverged``, or ``diverged_at`` given for an array)
    gets an ``x`` labelled "diverged" at the step where it stopped, at the last
    finite loss.
    """
    ax = _axes(ax)
    x, values = _series(source, per, "loss")
    color = STYLE["train"]["color"] if color is None else color
    ax.plot(x, values, color=color, label=label)
    if getattr(source, "diverged", False):
        diverged_at = source.diverged_at if per == "update" else len(values) - 1
    if diverged_at is not None and diverged_at >= 0:
        finite = np.flatnonzero(np.isfinite(values[: diverged_at + 1]))
        if len(finite):
            ax.plot(diverged_at, values[finite[-1]], **STYLE["diverged"])
    _label_axes(ax, per, "loss", log)
    _legend(ax)
    return ax


def plot_lr(source, *, per="update", log=False, label=None, color=None, ax=None):
    """The learning rate per update or per epoch, from a History or an array (e.g. ``schedule(np.arange(T))``)."""
    ax = _axes(ax)
    x, values = _series(source, per, "lr")
    color = STYLE["lr"]["color"] if color is None else color
    ax.plot(x, values, color=color, label=label, drawstyle="steps-post" if per == "epoch" else "default")
    _label_axes(ax, per, "lr", log)
    _legend(ax)
    return ax


def plot_train_val(history, *, metric="loss", log=False, ax=None):
    """Training and validation curves per epoch, with the best epoch and the stopping epoch marked.

    ``metric`` is ``"loss"`` or ``"accuracy"``. A dashed line marks
    ``history.best_epoch`` ("best epoch k"); if the run ended early (early
    stopping, a callback, divergence) a dotted line marks the last epoch.
    """
    check.check_choice("metric", metric, ("loss", "accuracy"))
    ax = _axes(ax)
    train = getattr(history, f"train_{metric}")
    val = getattr(history, f"val_{metric}")
    if train is None:
        raise ValueError(f"this history has no {metric} (accuracy is recorded for classifiers only)")
    ax.plot(np.arange(len(train)), train, **STYLE["train"])
    if val is not None:
        ax.plot(np.arange(len(val)), val, **STYLE["val"])
    ax.axvline(history.best_epoch, label=f"best epoch {history.best_epoch}", **STYLE["best"])
    if history.stop_reason != "epochs done":
        ax.axvline(
            history.epochs_run,
            label=f"stopped ({history.stop_reason}) at epoch {history.epochs_run}",
            **STYLE["stopped"],
        )
    _label_axes(ax, "epoch", metric, log)
    _legend(ax)
    return ax


# ----------------------------------------------------------------- range tests


def plot_range_test(result, suggestions=(), *, ax=None):
    """The LR range test: raw and smoothed loss against the rate (log axis), suggestions as vertical lines.

    ``result`` is a :class:`~lrcourse.lr_finder.RangeTest`; ``suggestions`` are
    :class:`~lrcourse.lr_finder.Suggestion` objects (e.g. ``result.suggestions()``),
    each labelled with its rule and rate. The vertical axis stops a little above
    the starting loss, so the final explosion does not flatten the rest.
    """
    ax = _axes(ax)
    ax.plot(result.lrs, result.losses, label="loss (per batch)", **STYLE["raw"])
    ax.plot(result.lrs, result.smoothed, label="smoothed loss", **STYLE["smoothed"])
    for i, s in enumerate(suggestions):
        color = STYLE["suggestions"][i % len(STYLE["suggestions"])]
        ax.axvline(s.lr, color=color, linestyle="--", label=f"{s.rule}: {s.lr:.2g}")
    # the final explosion would squash the interesting part: show up to a little above the start
    top = 1.25 * max(result.smoothed[0], result.initial_loss)
    ax.set_ylim(min(0.0, np.min(result.losses)), top)
    ax.set_xscale("log")
    _label_axes(ax, "lr", "loss")
    _legend(ax)
    return ax


# ----------------------------------------------------------------- reading learning curves


def plot_diagnosis(history, diagnosis=None, *, notes=None, title=None, log=True, ax=None):
    """Training and validation loss per epoch, titled with a verdict and annotated with its evidence.

    ``diagnosis`` is a :class:`~lrcourse.diagnosis.Diagnosis` of ``history`` (its
    verdict becomes the title unless ``title`` is given); ``notes`` are lines of
    text written in a box in the upper right corner, above the curves (e.g.
    :func:`lrcourse.labs.epochs.evidence_lines` with ``compact=True``). A dashed
    line marks the epoch of the lowest validation loss; a diverged run ends in an
    ``x``. Without ``diagnosis`` and ``notes`` it draws the bare curves, for reading
    them yourself.
    """
    ax = _axes(ax)
    train = np.asarray(history.train_loss, dtype=np.float64)
    epochs = np.arange(len(train))
    ax.plot(epochs, train, **STYLE["train"])
    val = getattr(history, "val_loss", None)
    if val is not None:
        val = np.asarray(val, dtype=np.float64)
        ax.plot(epochs, val, **STYLE["val"])
        finite = np.where(np.isfinite(val), val, np.inf)
        best = int(np.argmin(finite))
        ax.axvline(best, label=f"lowest validation loss (epoch {best})", **STYLE["best"])
    if getattr(history, "diverged", False):
        last = np.flatnonzero(np.isfinite(train))
        if len(last):
            ax.plot(epochs[last[-1]], train[last[-1]], **STYLE["diverged"])
    _label_axes(ax, "epoch", "loss", log)
    if title is not None or diagnosis is not None:
        ax.set_title(title if title is not None else diagnosis.verdict, fontweight="bold")
    if notes:
        # room above the curves for the box: about 7 % of the height per line
        share = min(0.6, 0.06 + 0.07 * len(notes))
        low, high = ax.get_ylim()
        if ax.get_yscale() == "log":
            span = np.log10(high) - np.log10(low)
            ax.set_ylim(low, 10 ** (np.log10(high) + share / (1 - share) * span))
        else:
            ax.set_ylim(low, high + share / (1 - share) * (high - low))
        ax.text(
            0.98,
            0.97,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize="small",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
        )
    _legend(ax)
    return ax

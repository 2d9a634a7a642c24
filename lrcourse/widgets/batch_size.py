"""Explorers for the chapter on batch size: minibatch SGD on a line, with a batch-size slider.

:func:`batch_size_explorer` shows minibatch SGD fitting a straight line
:math:`\\hat y = w x + b`: on the left its path over the loss landscape
:math:`L(w, b)`, on the right the loss of every update against the epochs. The
batch size moves on a slider of powers of two (:class:`ChoiceSlider`), the
learning rate on a log slider. A slider move trains the line again
(:class:`lrcourse.labs.batch_size.LineSGD`, through :func:`lrcourse.training.fit`);
the loss landscape is computed once, when the explorer is built.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.labs.batch_size import LineSGD
from lrcourse.plotting import PALETTE
from lrcourse.widgets.core import SLIDER_LOOK, Control, Explorer, LogSlider, diverged_badge

__all__ = ["ChoiceSlider", "batch_size_explorer", "powers_of_two"]


class ChoiceSlider(Control):
    """A slider over a fixed list of values (for example batch sizes 1, 2, 4, ..., n).

    The values are shown in order and spaced evenly, so powers of two give a
    log-scale integer slider. Uses ``ipywidgets.SelectionSlider`` (ipywidgets 7 and 8).
    """

    def __init__(self, name, options, value=None, description=None):
        options = list(options)
        if not options:
            raise ValueError("options must hold at least one value, got an empty list")
        if len(set(options)) != len(options):
            raise ValueError(f"options must be distinct, got {options}")
        value = options[0] if value is None else value
        check.check_choice("value", value, options)
        super().__init__(name, value, description)
        self.options = options

    def validate(self, value):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        return check.check_choice(self.name, value, self.options)

    def grid(self, n):
        if n >= len(self.options):
            return list(self.options)
        picks = np.unique(np.round(np.linspace(0, len(self.options) - 1, n)).astype(int))
        return [self.options[i] for i in picks]

    def _option_label(self, value):
        """The text the slider shows for ``value``."""
        return str(value)

    def widget(self):
        import ipywidgets as w

        return w.SelectionSlider(
            options=[(self._option_label(v), v) for v in self.options],
            value=self.value,
            description=self.description,
            **SLIDER_LOOK,
        )


def powers_of_two(n):
    """``[1, 2, 4, ...]`` up to ``n``, then ``n`` itself (the full batch) if it is not a power of two."""
    n = check.check_int("n", n, 1)
    out = [2**k for k in range(n.bit_length()) if 2**k <= n]
    return out if out[-1] == n else [*out, n]


def batch_size_explorer(
    x,
    y,
    batch_sizes=None,
    batch_size=8,
    lr=0.05,
    lr_range=(0.003, 1.5),
    epochs=3,
    start=(0.0, 0.0),
    bounds=((-2.0, 1.5), (-0.5, 3.0)),
    seed=0,
    divergence_factor=1e6,
    title=None,
):
    """Minibatch SGD on a line ``y ≈ w x + b`` with sliders for the batch size and the learning rate.

    Left: contours of the full-data loss :math:`L(w, b)` over ``bounds`` and the path
    of ``epochs`` epochs of minibatch SGD from ``start``. Right: the loss of each
    update's minibatch (thin) and of all the data (thick) against the epochs, so
    runs with different numbers of updates per epoch line up. ``batch_sizes``
    (default :func:`powers_of_two` of ``len(y)``) are the slider's stops. A run
    diverges by the rule of :func:`lrcourse.training.fit` with ``divergence_factor``.
    """
    x = np.ravel(check.as_float_array("x", x))
    y = np.ravel(check.as_float_array("y", y))
    n = len(y)
    sizes = (
        powers_of_two(n)
        if batch_sizes is None
        else [check.check_int("batch_sizes", int(b), 1, n) for b in batch_sizes]
    )
    line = LineSGD(x, y, epochs=epochs, seed=seed)
    W, B, L = line.grid(bounds, n=120)  # computed once
    levels = np.geomspace(line.min_loss * 1.02, float(L.max()), 16)
    start = tuple(float(v) for v in start)
    top = 40.0 * float(line.loss(np.array(start)))  # room for the legend above the curves
    bottom = 0.5 * line.min_loss
    (w0, w1), (b0, b1) = bounds

    def draw(fig, state, batch_size, lr):
        if not state:
            ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
            ax.contour(W, B, L, levels=levels, colors="0.55", linewidths=0.7)
            ax.plot(*line.minimum, "*", ms=13, color=PALETTE["yellow"], mec="k", zorder=5)
            ax.plot(*start, "o", color="w", mec="k", ms=7, zorder=7)
            (state["path"],) = ax.plot(
                [], [], "-", color=PALETTE["vermillion"], lw=1.0, marker=".", ms=3, zorder=6, animated=True
            )
            (state["end"],) = ax.plot(
                [], [], "s", color=PALETTE["vermillion"], mec="k", ms=6, zorder=8, animated=True
            )
            ax.set(xlim=(w0, w1), ylim=(b0, b1), xlabel="slope $w$", ylabel="intercept $b$")
            ax.set_title("path of minibatch SGD", fontsize="medium")
            (state["batch"],) = ax_loss.plot(
                [],
                [],
                color=PALETTE["sky blue"],
                lw=0.7,
                alpha=0.8,
                label="minibatch",
                animated=True,
            )
            (state["full"],) = ax_loss.plot(
                [],
                [],
                color=PALETTE["blue"],
                lw=2.0,
                marker=".",
                ms=4,
                label="all data",
                animated=True,
            )
            ax_loss.axhline(line.min_loss, color="0.3", ls=":", lw=1, label="lowest possible")
            ax_loss.set(
                xlim=(0, epochs), ylim=(bottom, top), yscale="log", xlabel="epochs", ylabel="loss (MSE)"
            )
            # one row at the top, where the axis leaves room above the curves
            ax_loss.legend(loc="upper center", ncols=3, fontsize="x-small", handlelength=1.5)
            ax_loss.grid(True, alpha=0.3)
            state["info"] = ax_loss.set_title("", fontsize="medium", animated=True)
            state["bad"] = diverged_badge(ax_loss, PALETTE["vermillion"])
        path, batch_loss, full_loss, diverged_at = line.run(
            batch_size, lr, start=start, divergence_factor=divergence_factor
        )
        per_epoch = line.updates_per_epoch(batch_size)
        t = np.arange(len(full_loss)) / per_epoch
        state["path"].set_data(path[:, 0], path[:, 1])
        state["end"].set_data([path[-1, 0]], [path[-1, 1]])
        state["batch"].set_data(np.arange(len(batch_loss)) / per_epoch, np.clip(batch_loss, 1e-300, None))
        state["full"].set_data(t, full_loss)
        # dense curves go without markers ("None", not size 0: Agg would still draw each one)
        state["full"].set_marker("." if per_epoch <= 40 else "None")
        state["path"].set_marker("." if len(path) <= 150 else "None")
        total = len(batch_loss) if diverged_at < 0 else diverged_at
        if diverged_at >= 0:
            end = f"diverged at update {diverged_at}"
        else:
            end = f"final loss {full_loss[-1]:.3g}"
        state["info"].set_text(f"B = {batch_size}: {per_epoch} updates/epoch, {total} in all; {end}")
        state["bad"].set_visible(diverged_at >= 0)
        state["bad"].set_text(f"diverged at update {diverged_at}" if diverged_at >= 0 else "")

    controls = [
        ChoiceSlider(
            "batch_size", sizes, batch_size if batch_size in sizes else sizes[0], description="batch size"
        ),
        LogSlider("lr", *lr_range, lr, description="learning rate"),
    ]
    return Explorer(draw, controls, figsize=(8.4, 3.4), title=title)

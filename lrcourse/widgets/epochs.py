"""Explorers for the chapter on epochs, overfitting and underfitting.

- :func:`capacity_explorer`: a polynomial fitted to a few noisy points, with a
  slider for the number of epochs and one for the degree (the model's capacity).
  Left, the fitted curve on the data; right, the training and validation losses
  of that degree over all epochs with the current epoch marked, and the verdict
  of :func:`~lrcourse.diagnosis.diagnose` on the run so far. Every degree is
  trained for the whole budget once, when the explorer is built
  (:func:`lrcourse.labs.epochs.polynomial_sweep`), so moving a slider only
  evaluates a polynomial, reads the diagnosis of the run so far and moves a few
  artists. The loss curves are drawn at about 400 epochs spread evenly on the
  logarithmic epoch axis (the same picture, less to draw).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import LogLocator, NullLocator

from lrcourse import _validate as check
from lrcourse.diagnosis import diagnose
from lrcourse.labs.epochs import PolynomialSweep
from lrcourse.plotting import PALETTE, STYLE
from lrcourse.widgets.core import Explorer, IntSlider, LogSlider, round_values

__all__ = ["EpochSlider", "capacity_explorer"]


class EpochSlider(LogSlider):
    """A slider for a number of epochs on a log scale: the whole round numbers from ``low`` to ``high``.

    The options are the integers among :func:`~lrcourse.widgets.round_values`
    (1, 2, ..., 24, 25, 30, 35, ..., 50, 60, ..., 100, 110, ...), plus both ends.
    """

    def __init__(self, name, low, high, value, description=None):
        low, high = check.check_int("low", low, 1), check.check_int("high", high, 1)
        value = check.check_int("value", value, low, high)
        super().__init__(name, low, high, value, description)
        self.value = value
        self.options = sorted({*self._round_options(), value})

    def _round_options(self):
        ends = {int(self.low), int(self.high)}
        return sorted({int(v) for v in round_values(self.low, self.high) if v.is_integer()} | ends)

    def validate(self, value):
        value = float(check.check_range(self.name, value, self.low, self.high))
        return int(min(max(round(value), self.low), self.high))

    def format(self, value):
        return f"{self.description} = {int(value)}"

    def _option_label(self, value):
        return str(int(value))


def capacity_explorer(sweep, *, degree=None, epoch=None, truth=None, ylim=(-2.5, 2.5), title=None):
    """Polynomial degree and epochs: the fit on the data and the learning curves, with two sliders.

    ``sweep`` is a :class:`~lrcourse.labs.epochs.PolynomialSweep` (every degree
    trained for the whole budget). ``truth``, a function of ``x``, draws the curve
    the data came from (e.g. ``lambda x: np.sin(np.pi * x)``). The sliders start at
    ``degree`` (default: the largest) and ``epoch`` (default: the whole budget).
    """
    if not isinstance(sweep, PolynomialSweep):
        raise ValueError(f"sweep must be a PolynomialSweep, got {type(sweep).__name__}")
    degrees = sweep.degrees
    if list(degrees) != list(range(min(degrees), max(degrees) + 1)) or len(degrees) < 2:
        raise ValueError(f"sweep must hold consecutive degrees (at least two), got {list(degrees)}")
    E = sweep.epochs
    degree = max(degrees) if degree is None else check.check_int("degree", degree, min(degrees), max(degrees))
    epoch = E if epoch is None else check.check_int("epoch", epoch, 1, E)
    if E < 2:
        raise ValueError("the sweep must run at least 2 epochs")

    # everything that does not depend on the sliders, once
    lo, hi = min(sweep.x_train.min(), sweep.x_val.min()), max(sweep.x_train.max(), sweep.x_val.max())
    pad = 0.02 * (hi - lo)
    xs = np.linspace(lo - pad, hi + pad, 300)
    powers = xs[:, None] ** np.arange(1, max(degrees) + 1)  # (300, D)
    # the loss curves drawn at about 400 epochs spread evenly on the log axis: the same picture, less to draw
    shown = np.unique(np.geomspace(1, E, 400).astype(int))
    losses = np.concatenate([sweep.runs.train_loss, sweep.runs.val_loss])
    finite = losses[np.isfinite(losses)]
    loss_low = 10 ** math.floor(math.log10(max(finite.min(), 1e-12)))
    loss_high = 10 ** math.ceil(math.log10(np.quantile(finite, 0.995)))
    histories = {}

    def verdict(d, e):
        key = (d, e)
        if key not in histories:
            histories[key] = diagnose(sweep.history(d, e))
        return histories[key]

    def draw(fig, state, degree, epoch):
        s = sweep.index(degree)
        if not state:
            ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.0, 1.15])
            if truth is not None:
                ax.plot(xs, truth(xs), color="0.55", lw=1.2, ls="--", label="true curve")
            ax.plot(
                sweep.x_val,
                sweep.y_val,
                "o",
                color=STYLE["val"]["color"],
                ms=2.5,
                alpha=0.5,
                label="validation",
            )
            ax.plot(
                sweep.x_train,
                sweep.y_train,
                "o",
                color=STYLE["train"]["color"],
                mec="k",
                mew=0.5,
                ms=6,
                label="training",
            )
            (state["fit"],) = ax.plot(
                [], [], color=PALETTE["vermillion"], lw=2, animated=True, label="fitted"
            )
            ax.set(xlim=(xs[0], xs[-1]), ylim=ylim, xlabel="$x$", ylabel="$y$")
            ax.legend(loc="lower right", fontsize="small")
            state["fit_title"] = ax.set_title("", fontsize="medium", animated=True)

            (state["train"],) = ax_loss.plot([], [], animated=True, **STYLE["train"])
            (state["val"],) = ax_loss.plot([], [], animated=True, **STYLE["val"])
            (state["now_train"],) = ax_loss.plot(
                [], [], "o", color=STYLE["train"]["color"], mec="k", ms=6, animated=True
            )
            (state["now_val"],) = ax_loss.plot(
                [], [], "o", color=STYLE["val"]["color"], mec="k", ms=6, animated=True
            )
            state["now"] = ax_loss.axvline(epoch, color="k", lw=0.8, ls=":", animated=True)
            state["best"] = ax_loss.axvline(1, animated=True, **{k: v for k, v in STYLE["best"].items()})
            ax_loss.set(xscale="log", yscale="log", xlim=(1, E), ylim=(loss_low, loss_high))
            for axis in (ax_loss.xaxis, ax_loss.yaxis):  # decades only: quicker to lay out
                axis.set_major_locator(LogLocator(base=10, numticks=8))
                axis.set_minor_locator(NullLocator())
            ax_loss.set(xlabel="epoch", ylabel="mean squared error")
            ax_loss.grid(True, alpha=0.3)
            ax_loss.legend(loc="lower left", fontsize="small")
            state["verdict"] = ax_loss.set_title("", fontsize="medium", animated=True)
        theta = np.nan_to_num(sweep.coefficients(degree, epoch))
        state["fit"].set_data(xs, powers[:, :degree] @ theta[:degree] + theta[-1])
        T, V = sweep.runs.train_loss[:, s], sweep.runs.val_loss[:, s]
        state["train"].set_data(shown, T[shown])
        state["val"].set_data(shown, V[shown])
        state["now_train"].set_data([epoch], [T[epoch]])
        state["now_val"].set_data([epoch], [V[epoch]])
        state["now"].set_xdata([epoch, epoch])
        best = int(sweep.runs.best_epoch[s])
        state["best"].set_xdata([max(best, 1)] * 2)
        state["fit_title"].set_text(f"degree {degree}, epoch {epoch}")
        state["verdict"].set_text(f"diagnose: {verdict(degree, epoch).verdict}")

    controls = [
        EpochSlider("epoch", 1, E, epoch, description="epochs"),
        IntSlider("degree", min(degrees), max(degrees), degree, description="degree"),
    ]
    return Explorer(draw, controls, figsize=(8.6, 3.4), title=title)

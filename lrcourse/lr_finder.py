r"""The learning-rate range test, two ways, and rules that turn its curve into a rate.

**Sequential** (:func:`range_test`, fastai's ``lr_find``; Smith 2017 raised the rate
linearly and watched the accuracy):
one short run whose rate grows exponentially with every minibatch, from a tiny
``start_lr`` to a large ``end_lr``. The loss first does not move (rate too small),
then falls (good rates), then explodes (too large). The curve is noisy, so it is
smoothed (:func:`smooth`) and the test stops once the smoothed loss exceeds
``stop_factor`` (4) × its best. Two pure functions read a rate off the curve:
:func:`steepest_slope` and :func:`minimum_over_ten`. The run itself is
:func:`lrcourse.training.fit` with the ramp as its schedule.

**Parallel**: train many *constant* rates at once for a few epochs, one
:func:`~lrcourse.training.fit` call with an array of rates, and compare the
final training losses with :func:`lowest_final_loss`::

    _, history = training.fit(model, (X, y), sgd, 3, 32, lr=np.logspace(-5, 1, 50))
    lowest_final_loss(np.logspace(-5, 1, 50), history.final("train_loss"))

Slower per rate but without the lag and the mixing of rates of the sequential test.

The original parameters are never modified: every function works on copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.optimizers import check_constructor, sgd
from lrcourse.training import fit, updates_per_epoch


@dataclass(frozen=True)
class Suggestion:
    """A learning rate read off a range test, the rule that chose it and the numbers behind it."""

    rule: str
    lr: float
    evidence: dict = field(default_factory=dict)

    def __str__(self):
        details = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.evidence.items()
        )
        return f"{self.rule}: lr = {self.lr:.3g} ({details})"


# ----------------------------------------------------------------- the rule of thumb


def inverse_sqrt_rule(n_features, cap=0.2):
    r"""The rule of thumb :math:`\eta = \min(1/\sqrt{d}, \text{cap})` for ``d = n_features``.

    For a linear model on standardised, uncorrelated features the curvature of
    the loss grows with the scale of :math:`x^\top w`, about :math:`\sqrt d`
    times a single feature; correlated features break the rule (see
    :func:`lrcourse.data.make_linear_regression`).
    """
    n_features = check.check_int("n_features", n_features, 1)
    cap = float(check.check_positive("cap", cap))
    return min(1.0 / np.sqrt(n_features), cap)


# ----------------------------------------------------------------- smoothing and suggestions


def smooth(losses, beta=0.95):
    r"""Exponential moving average with bias correction.

    .. math::

        a_i = \beta\, a_{i-1} + (1-\beta)\, L_i, \quad a_{-1} = 0, \qquad
        \hat a_i = \frac{a_i}{1 - \beta^{\,i+1}}

    Without the correction the average would start near 0 (it starts from
    :math:`a_{-1} = 0`); dividing by :math:`1-\beta^{i+1}` makes it a weighted
    mean of the losses seen so far. ``beta = 0`` returns the losses unchanged.
    """
    beta = float(check.check_range("beta", beta, 0.0, 1.0, high_open=True))
    losses = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(losses)
    avg = 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def _curve(lrs, losses):
    lrs = check.check_positive("lrs", lrs)
    losses = check.as_float_array("losses", losses)
    if lrs.ndim != 1 or lrs.shape != losses.shape or len(lrs) < 2:
        raise ValueError(
            f"lrs and losses must be 1-D of the same length >= 2, got shapes {lrs.shape} and {losses.shape}"
        )
    return lrs, losses


def steepest_slope(lrs, smoothed, skip_start=10):
    r"""The rate where the smoothed loss falls fastest: :math:`\arg\min_i\, dL/d\log_{10}\eta` before the minimum.

    The slope is ``np.gradient(smoothed, log10(lrs))`` over the points from
    index ``skip_start`` up to the lowest loss (after it the loss only climbs).
    The first points are left out because their average is over few losses and
    still noisy (fewer are skipped if the minimum comes early). Evidence: the
    index, the slope (loss per decade of rate) and the loss there.
    """
    lrs, smoothed = _curve(lrs, smoothed)
    skip_start = check.check_int("skip_start", skip_start, 0)
    lowest = int(np.argmin(smoothed))
    if lowest < 1:
        raise ValueError(
            "the smoothed loss never fell below its first value: start the range test at a smaller rate"
        )
    first = min(skip_start, lowest - 1)
    slopes = np.gradient(smoothed[first : lowest + 1], np.log10(lrs[first : lowest + 1]))
    i = first + int(np.argmin(slopes))
    evidence = {"index": i, "slope_per_decade": float(slopes[i - first]), "loss": float(smoothed[i])}
    return Suggestion("steepest slope", float(lrs[i]), evidence)


def minimum_over_ten(lrs, smoothed):
    r"""One tenth of the rate with the lowest smoothed loss: :math:`\eta_{\min} / 10`.

    At the minimum the rate is already about to make the loss explode; a tenth
    of it is a safe margin. Evidence: the index and rate of the minimum, and the loss there.
    """
    lrs, smoothed = _curve(lrs, smoothed)
    i = int(np.argmin(smoothed))
    evidence = {"index": i, "lr_at_minimum": float(lrs[i]), "min_loss": float(smoothed[i])}
    return Suggestion("minimum / 10", float(lrs[i]) / 10, evidence)


def lowest_final_loss(lrs, final_loss):
    """The constant rate whose run ended with the lowest loss (diverged runs, NaN, are ignored)."""
    lrs = check.check_positive("lrs", lrs)
    final_loss = np.asarray(final_loss, dtype=np.float64)
    if final_loss.shape != lrs.shape or np.isnan(final_loss).all():
        raise ValueError(f"final_loss must match lrs (shape {lrs.shape}) and hold a finite value")
    i = int(np.nanargmin(final_loss))
    return Suggestion("lowest final loss", float(lrs[i]), {"index": i, "final_loss": float(final_loss[i])})


# ----------------------------------------------------------------- the sequential range test


@dataclass(frozen=True)
class RangeTest:
    """The result of :func:`range_test`.

    ``lrs[i]`` is the rate of update ``i`` and ``losses[i]`` the minibatch loss
    just *after* that update; ``smoothed`` is :func:`smooth` of ``losses``.
    ``initial_loss`` is the loss of the first minibatch before any update.
    ``stop_reason`` says why the test ended.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    initial_loss: float
    stop_reason: str

    def suggestions(self):
        """Both rules: ``[steepest_slope(...), minimum_over_ten(...)]``."""
        return [steepest_slope(self.lrs, self.smoothed), minimum_over_ten(self.lrs, self.smoothed)]


NOT_FINITE_ONLY = 1e300
"""The ``divergence_factor`` the range test gives :func:`~lrcourse.training.fit`: only a
loss that is not finite stops the run, the test applies its own stop rule afterwards."""


def range_test(
    model,
    data,
    optimizer=sgd,
    *,
    start_lr=1e-7,
    end_lr=10.0,
    steps=100,
    batch_size=None,
    beta=0.95,
    stop_factor=4.0,
    params=None,
    seed=0,
):
    r"""The learning-rate range test: grow the rate exponentially per minibatch and watch the loss.

    Update :math:`i = 0, \dots, \text{steps}-1` uses

    .. math:: \eta_i = \eta_\text{start}\,(\eta_\text{end}/\eta_\text{start})^{\,i/(\text{steps}-1)}

    on the next shuffled minibatch of ``batch_size`` rows of the training data
    (``None``: the whole training set, as in :func:`~lrcourse.training.fit`; the
    test is usually run with minibatches, e.g. ``batch_size=32``). The test stops early
    when a loss is not finite or when the smoothed loss (:func:`smooth` with
    ``beta``; 0.95 as in ``torch-lr-finder``, fastai uses 0.98, which lags more)
    exceeds ``stop_factor`` × its lowest value so far.
    ``optimizer`` is a constructor (``sgd``, or a ``functools.partial`` of
    another optimizer) called as ``optimizer(lr=schedule)``. The parameters
    (``params``, default ``model.init(seed)``) are not modified.

    The run is one :func:`~lrcourse.training.fit` call on the training data with the
    ramp as the schedule of the update count, over the epochs that hold ``steps + 1``
    minibatches; the loss after update :math:`i` is the loss fit records before update
    :math:`i + 1`. After the ramp the schedule gives NaN: the next loss is NaN, and fit
    stops the run there instead of training to the end of the epoch. The stop rule is
    then applied to the recorded losses (:func:`stop_index`).
    """
    check_constructor(optimizer)
    start_lr = float(check.check_positive("start_lr", start_lr))
    end_lr = float(check.check_range("end_lr", end_lr, start_lr, low_open=True))
    steps = check.check_int("steps", steps, 2)
    stop_factor = float(check.check_range("stop_factor", stop_factor, 1.0, low_open=True))
    beta = float(check.check_range("beta", beta, 0.0, 1.0, high_open=True))
    X, y, _, _ = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    batch_size = len(y) if batch_size is None else check.check_int("batch_size", batch_size, 1, len(y))

    lrs = start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))

    def ramp(t):
        return lrs[t] if t < steps else np.nan

    epochs = math.ceil((steps + 1) / updates_per_epoch(len(y), batch_size))
    _, history = fit(
        model,
        (X, y),
        optimizer,
        epochs,
        batch_size,
        lr=ramp,
        params=params,
        seed=seed,
        record="end",
        divergence_factor=NOT_FINITE_ONLY,
    )
    losses = history.update_loss[1 : steps + 1]  # the loss after update i, for i < steps
    with np.errstate(all="ignore"):  # an exploding loss is the expected end of the test
        smoothed = smooth(losses, beta)
        i, rule = stop_index(losses, smoothed, stop_factor)
    if rule == "smoothed loss":
        n = i + 1  # the loss that stopped the test is kept
        reason = f"smoothed loss {smoothed[i]:.3g} > {stop_factor:g} x best {smoothed[:i].min():.3g}"
    elif rule == "non-finite loss":
        n, reason = i, f"non-finite loss after the update with lr={lrs[i]:.3g}"
    else:
        n, reason = i, f"reached end_lr={end_lr:g}"
    return RangeTest(lrs[:n], losses[:n], smoothed[:n], float(history.update_loss[0]), reason)


def stop_index(losses, smoothed, stop_factor):
    """Where the range test stops, as ``(i, reason)``: at the first loss ``i`` whose smoothed
    loss exceeds ``stop_factor`` × the lowest smoothed loss before it (``"smoothed loss"``), or
    at the first loss that is not finite (``"non-finite loss"``), whichever comes first;
    ``(len(losses), "end")`` if neither happens."""
    losses = np.asarray(losses, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    bad = ~np.isfinite(losses)
    end = int(np.argmax(bad)) if bad.any() else len(losses)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], smoothed[:end]]))[:end]
    up = smoothed[:end] > stop_factor * best_before
    if up.any():
        return int(np.argmax(up)), "smoothed loss"
    return end, "non-finite loss" if end < len(losses) else "end"

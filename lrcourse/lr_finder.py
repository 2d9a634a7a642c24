r"""The learning-rate range test, two ways, and rules that turn its curve into a rate.

**Sequential** (:func:`range_test`, after Smith 2017 and fastai's ``lr_find``):
one short run whose rate grows exponentially with every minibatch, from a tiny
``start_lr`` to a large ``end_lr``. The loss first does not move (rate too small),
then falls (good rates), then explodes (too large). The curve is noisy, so it is
smoothed (:func:`smooth`) and the run stops once the smoothed loss exceeds
4 × its best. Two pure functions read a rate off the curve:
:func:`steepest_descent` and :func:`minimum_over_ten`.

**Parallel** (:func:`parallel_range_test`): train many *constant* rates at once
for a few epochs through the sweep axis of the models and optimizers, and
compare the final losses (:func:`lowest_final_loss`). Slower per rate but
without the lag and the mixing of rates of the sequential test.

The original parameters are never modified: every function works on copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.optimizers import apply_updates, check_constructor, sgd
from lrcourse.training import minibatches
from lrcourse.tree import tree_copy


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


def steepest_descent(lrs, smoothed, skip_start=10):
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
    return Suggestion("steepest descent", float(lrs[i]), evidence)


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
    ``stop_reason`` says why the test ended.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    initial_loss: float
    stop_reason: str

    def suggestions(self):
        """Both rules: ``[steepest_descent(...), minimum_over_ten(...)]``."""
        return [steepest_descent(self.lrs, self.smoothed), minimum_over_ten(self.lrs, self.smoothed)]


def range_test(
    model,
    data,
    optimizer=sgd,
    *,
    start_lr=1e-7,
    end_lr=10.0,
    steps=100,
    batch_size=32,
    beta=0.95,
    explode_factor=4.0,
    params=None,
    seed=0,
):
    r"""The learning-rate range test: grow the rate exponentially per minibatch and watch the loss.

    Update :math:`i = 0, \dots, \text{steps}-1` uses

    .. math:: \eta_i = \eta_\text{start}\,(\eta_\text{end}/\eta_\text{start})^{\,i/(\text{steps}-1)}

    on the next shuffled minibatch of the training data. The test stops early
    when a loss is not finite or when the smoothed loss (:func:`smooth` with
    ``beta``; 0.95 as in ``torch-lr-finder``, fastai uses 0.98, which lags more)
    exceeds ``explode_factor`` × its lowest value so far.
    ``optimizer`` is a constructor (``sgd``, or a ``functools.partial`` of
    another optimizer) called as ``optimizer(lr=schedule)``. The parameters
    (``params``, default ``model.init(seed)``) are not modified.
    """
    check_constructor(optimizer)
    start_lr = float(check.check_positive("start_lr", start_lr))
    end_lr = float(check.check_range("end_lr", end_lr, start_lr, low_open=True))
    steps = check.check_int("steps", steps, 2)
    explode_factor = float(check.check_range("explode_factor", explode_factor, 1.0, low_open=True))
    check.check_range("beta", beta, 0.0, 1.0, high_open=True)
    X, y, _, _ = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    batch_size = check.check_int("batch_size", batch_size, 1, len(y))

    lrs = start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))
    opt = optimizer(lr=lambda t: lrs[t])
    p = tree_copy(model.init(seed) if params is None else params)
    state = opt.init(p)
    rng = np.random.default_rng(seed)
    batches = []
    losses, smoothed = [], []
    avg, best = 0.0, np.inf
    stop_reason = f"reached end_lr={end_lr:g}"

    def next_batch():
        if not batches:
            batches.extend(minibatches(len(y), batch_size, rng))
        rows = batches.pop(0)
        return X[rows], y[rows]

    with np.errstate(all="ignore"):  # an exploding loss is the expected end of the test
        initial_loss, grads = model.loss_and_grad(p, *next_batch())
        for i in range(steps):
            updates, state = opt.update(grads, state, p)
            p = apply_updates(p, updates)
            loss, grads = model.loss_and_grad(p, *next_batch())
            if not np.isfinite(loss):
                stop_reason = f"non-finite loss after the update with lr={lrs[i]:.3g}"
                break
            avg = beta * avg + (1 - beta) * loss
            losses.append(float(loss))
            smoothed.append(avg / (1 - beta ** (i + 1)))
            if smoothed[-1] > explode_factor * best:
                stop_reason = f"smoothed loss {smoothed[-1]:.3g} > {explode_factor:g} x best {best:.3g}"
                break
            best = min(best, smoothed[-1])
    n = len(losses)
    return RangeTest(lrs[:n], np.array(losses), np.array(smoothed), float(initial_loss), stop_reason)


# ----------------------------------------------------------------- the parallel range test


@dataclass(frozen=True)
class ParallelRangeTest:
    """The result of :func:`parallel_range_test`.

    ``epoch_loss`` has shape ``(epochs + 1, S)``: the training loss of every
    rate before training (row 0) and after each epoch. ``final_loss`` is its
    last row with NaN for the ``diverged`` rates.
    """

    lrs: np.ndarray
    epoch_loss: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray

    def suggestion(self):
        """:func:`lowest_final_loss` of this test."""
        return lowest_final_loss(self.lrs, self.final_loss)


def parallel_range_test(
    model,
    data,
    lrs=None,
    optimizer=sgd,
    *,
    epochs=3,
    batch_size=32,
    divergence_factor=1e3,
    params=None,
    seed=0,
):
    r"""Train every rate in ``lrs`` (default ``np.logspace(-5, 1, 50)``) for ``epochs`` epochs at once.

    All rates start from the same parameters and see the same minibatches;
    the sweep axis of the model and the optimizer does the rest (one matrix
    product per batch for all rates). A rate has *diverged* when a minibatch
    loss is not finite or exceeds ``divergence_factor * max(L_0, 1)``, as in
    :func:`~lrcourse.training.fit`. Reports the training loss of every rate
    after every epoch (see :class:`ParallelRangeTest`).
    """
    check_constructor(optimizer)
    lrs = np.logspace(-5, 1, 50) if lrs is None else check.check_positive("lrs", lrs)
    if lrs.ndim != 1:
        raise ValueError(f"lrs must be 1-D, got shape {lrs.shape}")
    epochs = check.check_int("epochs", epochs, 1)
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    X, y, _, _ = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    batch_size = check.check_int("batch_size", batch_size, 1, len(y))

    S = len(lrs)
    start = model.init(seed) if params is None else params
    p = {k: np.broadcast_to(v, (S,) + np.shape(v)).copy() for k, v in start.items()}
    opt = optimizer(lr=lrs)
    state = opt.init(p)
    rng = np.random.default_rng(seed)
    epoch_loss = [model.loss(p, X, y)]
    limit = divergence_factor * np.maximum(epoch_loss[0], 1.0)
    diverged = np.zeros(S, dtype=bool)
    with np.errstate(all="ignore"):  # too-large rates are expected to blow up
        for _ in range(epochs):
            for rows in minibatches(len(y), batch_size, rng):
                loss, grads = model.loss_and_grad(p, X[rows], y[rows])
                diverged |= ~np.isfinite(loss) | (loss > limit)
                updates, state = opt.update(grads, state, p)
                p = apply_updates(p, updates)
            epoch_loss.append(model.loss(p, X, y))
    epoch_loss = np.array(epoch_loss)
    diverged |= ~np.isfinite(epoch_loss[-1])
    final_loss = np.where(diverged, np.nan, epoch_loss[-1])
    return ParallelRangeTest(lrs, epoch_loss, final_loss, diverged)

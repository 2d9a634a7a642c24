r"""Searching for a learning rate on a real model: many rates trained at once, and trial and error.

:func:`sweep_fit` trains one model with every rate of a list at once (the sweep
axis of :mod:`lrcourse.models` and :mod:`lrcourse.optimizers`) and records what
:func:`lrcourse.training.fit` records per epoch, validation loss and accuracy
included. Each rate sees the same initial parameters and the same minibatches as
``fit(..., seed=seed)`` would give it, so rate ``i`` of a sweep is the run ``fit``
makes with that rate; :meth:`SweepFit.history` returns it as a
:class:`~lrcourse.training.History`, ready for :func:`~lrcourse.diagnosis.diagnose`
and :mod:`lrcourse.plotting`. (:func:`lrcourse.lr_finder.parallel_range_test`
does the same for the training loss only.)

:func:`good_range` reads off the run of rates whose score is close to the best, and
:func:`trial_and_error` replays the hand-tuning recipe "try a rate, look, move it
by a factor, stop when it gets worse" on a score function, counting the trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lrcourse import _validate as check
from lrcourse.optimizers import apply_updates, check_constructor, sgd
from lrcourse.training import DIVERGENCE_FACTOR, History, checked_data, minibatches, updates_per_epoch

__all__ = ["SweepFit", "sweep_fit", "good_range", "Search", "trial_and_error"]


# ----------------------------------------------------------------- many rates at once


@dataclass(frozen=True)
class SweepFit:
    """The result of :func:`sweep_fit`; one column per rate.

    Per epoch (row 0: before training, row ``e``: after ``e`` epochs), shape
    ``(epochs + 1, S)``: ``train_loss``, ``val_loss`` and the accuracies (``None``
    when there is no validation set / for a regression model). Per update, shape
    ``(n_updates, S)``: ``update_loss``, the minibatch loss before each update. After
    a rate diverged its entries are NaN. ``diverged_at`` is the update that stopped
    it (-1 if none), as in :class:`~lrcourse.training.History`.
    """

    lrs: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray | None
    train_accuracy: np.ndarray | None
    val_accuracy: np.ndarray | None
    update_loss: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray
    epochs_run: np.ndarray
    n_recorded: np.ndarray
    diverged_at_epoch_end: np.ndarray
    batch_size: int
    n_train: int

    @property
    def monitor(self):
        """``"val_loss"`` with a validation set, else ``"train_loss"``."""
        return "train_loss" if self.val_loss is None else "val_loss"

    def final(self, metric="val_accuracy"):
        """The value of ``metric`` after the last epoch for every rate, NaN for diverged rates."""
        values = getattr(self, check.check_choice("metric", metric, _METRICS))
        if values is None:
            raise ValueError(f"this sweep has no {metric} (no validation set, or a regression model)")
        return np.where(self.diverged, np.nan, values[-1])

    def index(self, lr):
        """The column of the rate closest to ``lr`` (in log distance)."""
        lr = float(check.check_positive("lr", lr))
        return int(np.argmin(np.abs(np.log(self.lrs) - math.log(lr))))

    def history(self, i):
        """Rate ``i`` as a :class:`~lrcourse.training.History`, as :func:`~lrcourse.training.fit` would return it."""
        i = check.check_int("i", i, 0, len(self.lrs) - 1)
        E = int(self.epochs_run[i])
        n_up = updates_per_epoch(self.n_train, self.batch_size)
        upd = self.update_loss[:, i]
        n_recorded = int(self.n_recorded[i])
        rows = slice(0, E + 1)

        def column(a):
            return None if a is None else np.asarray(a[rows, i], dtype=np.float64)

        h = History(
            batch_size=self.batch_size,
            n_train=self.n_train,
            updates_per_epoch=n_up,
            monitor=self.monitor,
            update_loss=np.asarray(upd[:n_recorded], dtype=np.float64),
            update_lr=np.full(n_recorded, float(self.lrs[i])),
            train_loss=column(self.train_loss),
            val_loss=column(self.val_loss),
            train_accuracy=column(self.train_accuracy),
            val_accuracy=column(self.val_accuracy),
            epoch_lr=np.full(E, float(self.lrs[i])),
            n_updates=int(self.diverged_at[i]) if self.diverged[i] else E * n_up,
            epochs_run=E,
        )
        monitored = getattr(h, self.monitor)
        if self.diverged_at_epoch_end[i]:
            monitored = monitored[:-1]  # fit never counts the epoch that ended on a non-finite loss
        h.best_epoch = int(np.nanargmin(monitored))
        h.best_loss = float(monitored[h.best_epoch])
        if self.diverged[i]:
            h.diverged, h.diverged_at, h.stop_reason = True, int(self.diverged_at[i]), "diverged"
            h.divergence_reason = (
                "non-finite loss at the end of an epoch"
                if self.diverged_at_epoch_end[i]
                else "non-finite or exploding minibatch loss"
            )
        return h


_METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


def sweep_fit(
    model,
    data,
    lrs,
    optimizer=sgd,
    epochs=10,
    batch_size=32,
    *,
    divergence_factor=DIVERGENCE_FACTOR,
    params=None,
    seed=0,
):
    r"""Train ``model`` with every rate in ``lrs`` at once; the runs :func:`~lrcourse.training.fit` makes.

    Every rate starts from ``params`` (default ``model.init(seed)``) and sees the
    minibatches of ``np.random.default_rng(seed)``, exactly as
    ``fit(model, data, optimizer, epochs, batch_size, lr=lr, seed=seed)``. A rate
    *diverges*, and is frozen from then on, at the first minibatch whose loss is not
    finite or exceeds ``divergence_factor × max(L_0, 1)`` (:math:`L_0` the initial
    training loss), or when a loss at the end of an epoch is not finite, as in
    ``fit``. ``optimizer`` is a constructor called as ``optimizer(lr=lrs)``.
    One matrix product per minibatch serves every rate, so a sweep of 30 rates
    costs far less than 30 calls of ``fit``. That product adds in another order
    than ``fit``'s, so the losses agree with ``fit``'s to round-off, not bit for bit.
    """
    check_constructor(optimizer)
    lrs = check.check_positive("lrs", lrs)
    if lrs.ndim != 1 or len(lrs) == 0:
        raise ValueError(f"lrs must be 1-D and non-empty, got shape {lrs.shape}")
    epochs = check.check_int("epochs", epochs, 1)
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    batch_size = n if batch_size is None else check.check_int("batch_size", batch_size, 1, n)
    classifier = model.task == "classification"

    S = len(lrs)
    start = model.init(seed) if params is None else params
    p = {k: np.broadcast_to(v, (S,) + np.shape(v)).copy() for k, v in start.items()}
    opt = optimizer(lr=lrs)
    state = opt.init(p)
    rng = np.random.default_rng(seed)

    records = {k: [] for k in _METRICS}

    def evaluate():
        train = model.evaluate(p, X, y)
        val = (None, None) if X_val is None else model.evaluate(p, X_val, y_val)
        for key, value in zip(_METRICS, (train[0], val[0], train[1], val[1]), strict=True):
            records[key].append(None if value is None else np.where(alive, value, np.nan))

    alive = np.ones(S, dtype=bool)
    diverged_at = np.full(S, -1)
    epochs_run = np.zeros(S, dtype=int)
    recorded = np.zeros(S, dtype=int)  # minibatch losses recorded per rate, as in History.update_loss
    at_epoch_end = np.zeros(S, dtype=bool)  # diverged on a non-finite loss at the end of an epoch
    update_loss = []
    # too-large rates are expected to blow up; many medium-sized matrix products run
    # faster on one BLAS thread, above all on a busy machine (threadpoolctl)
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        evaluate()
        limit = divergence_factor * np.maximum(records["train_loss"][0], 1.0)
        t = 0
        for _ in range(epochs):
            for rows in minibatches(n, batch_size, rng):
                loss, grads = model.loss_and_grad(p, X[rows], y[rows])
                bad = alive & (~np.isfinite(loss) | (loss > limit))
                diverged_at[bad] = t
                update_loss.append(np.where(alive, loss, np.nan))
                recorded += alive
                alive &= ~bad
                updates, state = opt.update(grads, state, p)
                new = apply_updates(p, updates)
                p = {k: np.where(alive.reshape((S,) + (1,) * (v.ndim - 1)), new[k], v) for k, v in p.items()}
                t += 1
            evaluate()
            epochs_run += alive  # fit counts an epoch that ends on a non-finite loss, then stops
            ends = [records[k][-1] for k in ("train_loss", "val_loss") if records[k][-1] is not None]
            bad = alive & ~np.all([np.isfinite(e) for e in ends], axis=0)
            diverged_at[bad] = t
            at_epoch_end |= bad
            alive &= ~bad
            if not alive.any():
                break
    pad = epochs + 1 - len(records["train_loss"])

    def stacked(key):
        if records[key][0] is None:
            return None
        a = np.array(records[key], dtype=np.float64)
        return np.vstack([a, np.full((pad, S), np.nan)]) if pad else a

    U = updates_per_epoch(n, batch_size) * epochs
    ul = np.array(update_loss, dtype=np.float64).reshape(-1, S)
    ul = np.vstack([ul, np.full((U - len(ul), S), np.nan)]) if len(ul) < U else ul
    return SweepFit(
        lrs=lrs,
        train_loss=stacked("train_loss"),
        val_loss=stacked("val_loss"),
        train_accuracy=stacked("train_accuracy") if classifier else None,
        val_accuracy=stacked("val_accuracy") if classifier else None,
        update_loss=ul,
        diverged=~alive,
        diverged_at=diverged_at,
        epochs_run=epochs_run,
        n_recorded=recorded,
        diverged_at_epoch_end=at_epoch_end,
        batch_size=batch_size,
        n_train=n,
    )


# ----------------------------------------------------------------- reading a sweep


def good_range(lrs, scores, tolerance, higher_is_better=True):
    r"""The run of rates around the best whose score is within ``tolerance`` of it: ``(low, high, best_lr)``.

    With scores :math:`s_i` (NaN for diverged rates) and best :math:`s^*`, a rate
    is *good* when :math:`s_i \ge s^* - \text{tolerance}` (or
    :math:`s_i \le s^* + \text{tolerance}` when lower is better, e.g. a loss).
    Returns the smallest and largest rate of the unbroken run of good rates that
    contains the best one (``lrs`` sorted), and the best rate itself (the first
    of ties). A good score beyond a rate that is not good does not widen the
    range: far above the good range a too-large rate trains erratically, and its
    final score can land near the best by chance and differently on every machine.
    """
    lrs = check.check_positive("lrs", lrs)
    scores = np.asarray(scores, dtype=np.float64)
    tolerance = float(check.check_nonnegative("tolerance", tolerance))
    if lrs.ndim != 1 or scores.shape != lrs.shape or np.isnan(scores).all():
        raise ValueError(f"scores must match lrs (shape {lrs.shape}) and hold at least one finite value")
    if np.any(np.diff(lrs) <= 0):
        raise ValueError("lrs must be sorted in increasing order")
    s = scores if higher_is_better else -scores
    best = int(np.nanargmax(s))
    good = np.nan_to_num(s, nan=-np.inf) >= s[best] - tolerance
    low = high = best
    while low > 0 and good[low - 1]:
        low -= 1
    while high < len(s) - 1 and good[high + 1]:
        high += 1
    return float(lrs[low]), float(lrs[high]), float(lrs[best])


@dataclass(frozen=True)
class Search:
    """The result of :func:`trial_and_error`: every ``(lr, score)`` tried, in order, and the pick."""

    trials: tuple
    best_lr: float
    best_score: float
    stop_reason: str

    @property
    def n_trials(self):
        """How many rates were tried (trained)."""
        return len(self.trials)


def trial_and_error(score, start, factor, max_trials=20, min_improvement=0.0):
    r"""Tune a rate by hand, as a recipe: try, look, move by ``factor``, stop when it stops improving.

    ``score(lr)`` trains with ``lr`` and returns a number, higher is better (for
    example the validation accuracy), or NaN when the run diverged. Starting at
    ``start``, the rate is multiplied by ``factor`` after every trial
    (``factor < 1``: start large and decrease; ``factor > 1``: start small and
    increase). A trial *improves* when its score beats the best so far by more
    than ``min_improvement``. The search stops

    - at the first finite score that does not improve (the best is behind us);
    - at a diverged run after finite scores, or at a diverged first run when
      increasing (larger rates will not help). When decreasing, diverged runs
      at the start are passed: a smaller rate may be fine;
    - after ``max_trials``.

    Returns a :class:`Search` with every trial and the best rate seen (NaN if every run diverged).
    """
    start = float(check.check_positive("start", start))
    factor = float(check.check_positive("factor", factor))
    if factor == 1.0:
        raise ValueError("factor must differ from 1, got 1 (the rate would never change)")
    max_trials = check.check_int("max_trials", max_trials, 1)
    min_improvement = float(check.check_nonnegative("min_improvement", min_improvement))
    trials, best_lr, best = [], None, -np.inf
    lr, reason = start, f"reached max_trials={max_trials}"
    for _ in range(max_trials):
        s = float(score(lr))
        trials.append((lr, s))
        if np.isnan(s):
            if best_lr is not None:
                reason = f"diverged at lr={lr:.3g}"
                break
            if factor > 1:
                reason = f"diverged at the first rate tried (lr={lr:.3g}) while increasing"
                break
        elif best_lr is None or s > best + min_improvement:
            best_lr, best = lr, s
        else:
            reason = f"no improvement at lr={lr:.3g} ({s:.4g} vs best {best:.4g})"
            break
        lr *= factor
    if best_lr is None:
        return Search(tuple(trials), float("nan"), float("nan"), reason)
    return Search(tuple(trials), best_lr, best, reason)

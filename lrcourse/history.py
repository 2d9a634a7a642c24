"""What :func:`lrcourse.training.fit` records: the :class:`History` of one run or of a sweep.

:class:`Recorder` is the bookkeeping of one call of the training loop (it lives as long as
that call); :func:`stack` puts the histories of several calls side by side as sweep axes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from lrcourse import _validate as check

__all__ = ["METRICS", "History", "Recorder", "stack", "trimmed"]

METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")

PER_TIME = ("update_loss", "update_lr", "epoch_lr", "eval_updates", "watched") + METRICS
"""The fields of :class:`History` whose first axis is time (updates, epochs or evaluations)."""


@dataclass
class History:
    """Everything :func:`fit` recorded; with a sweep, the sweep axes follow the time axis.

    Per update ``t`` (0-based): ``update_loss[t]``, the minibatch loss *before*
    update ``t``, and ``update_lr[t]``, the learning rate it used. A run that
    diverged on a minibatch records the loss that stopped it, at ``diverged_at``.

    Per evaluation on the whole training (and validation) set: ``train_loss`` and,
    when there is a validation set / the model is a classifier, ``val_loss`` and the
    accuracies (else ``None``). ``eval_updates[k]`` counts the updates made before
    evaluation ``k``; with ``record="epoch"`` evaluation ``e`` is after ``e`` epochs
    (index 0: before training). ``epoch_lr[e]`` is the rate at the start of epoch
    ``e + 1``. The monitored loss (``monitor``: the validation loss, or the training
    loss without a validation set) was lowest at ``best_epoch``. ``wall_time`` is the
    seconds spent on updates (the evaluations on whole data sets not counted).

    Without a sweep the arrays end where the run stopped and the counts are numbers.
    With a sweep the counts are arrays of the sweep shape, the arrays run to the end
    of the budget, and a run's entries after it stopped are NaN; ``history[i]`` is
    run ``i`` as a history of its own, and ``history.final(metric)`` the last values.
    """

    batch_size: int
    n_train: int
    updates_per_epoch: int
    monitor: str
    update_loss: np.ndarray
    update_lr: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray | None
    train_accuracy: np.ndarray | None
    val_accuracy: np.ndarray | None
    eval_updates: np.ndarray
    epoch_lr: np.ndarray
    n_updates: int | np.ndarray
    n_evals: int | np.ndarray
    epochs_run: int | np.ndarray
    best_epoch: int | np.ndarray
    best_loss: float | np.ndarray
    stop_reason: str | np.ndarray
    diverged: bool | np.ndarray
    diverged_at: int | np.ndarray
    diverged_at_evaluation: bool | np.ndarray
    wall_time: float = 0.0
    watched: np.ndarray | None = None

    @property
    def sweep_shape(self):
        """The shape of the sweep axes (``()`` for one run)."""
        return np.shape(self.diverged)

    @property
    def epochs(self):
        """The epoch axis ``0, 1, ..., epochs_run`` for plotting per-epoch curves."""
        return np.arange(len(self.train_loss))

    @property
    def stopped_epoch(self):
        """The last epoch completed (``epochs_run``)."""
        return self.epochs_run

    @property
    def stopped_early(self):
        """``True`` where early stopping ended the run."""
        return (
            np.asarray(self.stop_reason) == "early stopping"
            if self.sweep_shape
            else self.stop_reason == "early stopping"
        )

    @property
    def divergence_reason(self):
        """Why a run diverged, in words (``None`` if it did not)."""
        if self.sweep_shape:
            raise ValueError("divergence_reason describes one run: use history[i].divergence_reason")
        if not self.diverged:
            return None
        if self.diverged_at_evaluation:
            return (
                f"after update {self.diverged_at} the loss on a whole data set was not finite "
                "or exceeded divergence_factor x max(initial loss, 1)"
            )
        loss = self.update_loss[self.diverged_at]
        if not np.isfinite(loss):
            return f"non-finite minibatch loss ({loss}) at update {self.diverged_at}"
        return f"minibatch loss {loss:.4g} exceeded divergence_factor x max(initial loss, 1)"

    def final(self, metric="val_accuracy"):
        """The last value of ``metric`` for every run, NaN where a run diverged."""
        values = getattr(self, check.check_choice("metric", metric, METRICS))
        if values is None:
            raise ValueError(f"this history has no {metric} (no validation set, or a regression model)")
        last = np.asarray(self.n_evals) - 1  # each run's last evaluation
        return np.where(self.diverged, np.nan, np.take_along_axis(values, last[None, ...], axis=0)[0])

    def __getitem__(self, index):
        """Run ``index`` of a sweep as a :class:`History` of its own (ending where it stopped);
        an index that leaves sweep axes (``history[0]`` of a ``(3, 2)`` sweep) gives that sub-sweep."""
        if not self.sweep_shape:
            raise ValueError("this history holds one run: it has no sweep axis to index")
        index = index if isinstance(index, tuple) else (index,)
        one = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in PER_TIME and value is not None:
                value = value[(slice(None), *index)]
            elif isinstance(value, np.ndarray):
                value = value[index]
                value = (
                    value.item()
                    if isinstance(value, np.generic | np.ndarray) and np.ndim(value) == 0
                    else value
                )
            one[f.name] = value
        part = History(**one)
        return part if part.sweep_shape else trimmed(part)

    def __str__(self):
        if self.sweep_shape:
            return (
                f"{int(np.size(self.diverged))} runs (sweep shape {self.sweep_shape}) of "
                f"{self.updates_per_epoch} updates per epoch, {int(np.sum(self.diverged))} diverged, "
                f"in {self.wall_time:.3g} s"
            )
        lines = [
            f"{self.epochs_run} epochs x {self.updates_per_epoch} updates (batch {self.batch_size} "
            f"of {self.n_train}) = {self.n_updates} updates in {self.wall_time:.3g} s; "
            f"stopped: {self.stop_reason}",
            f"train loss {self.train_loss[0]:.4g} -> {self.train_loss[-1]:.4g}",
        ]
        if self.val_loss is not None:
            lines.append(f"val loss {self.val_loss[0]:.4g} -> {self.val_loss[-1]:.4g}")
        if self.best_epoch >= 0:
            lines.append(f"best {self.monitor} {self.best_loss:.4g} at epoch {self.best_epoch}")
        if self.diverged:
            lines.append(f"diverged at update {self.diverged_at}: {self.divergence_reason}")
        return "\n".join(lines)


def trimmed(run):
    """A one-run history cut where the run stopped (its recorded entries only)."""
    logged = run.n_updates + int(run.diverged and not run.diverged_at_evaluation)
    changes = {"update_loss": run.update_loss[:logged], "update_lr": run.update_lr[:logged]}
    changes["epoch_lr"] = run.epoch_lr[: run.epochs_run]
    if run.watched is not None:
        changes["watched"] = run.watched[: run.n_updates]
    for name in METRICS + ("eval_updates",):
        if getattr(run, name) is not None:
            changes[name] = getattr(run, name)[: run.n_evals]
    return replace(run, **changes)


_KEPT = (
    "n_train",
    "monitor",
    "update_loss",
    "update_lr",
    "epoch_lr",
    "n_updates",
    "n_evals",
    "epochs_run",
    "stop_reason",
    "diverged",
    "diverged_at",
)
"""The fields of :class:`History` that a :class:`Recorder` keeps under the same names."""


class Recorder:
    """What one call of the training loop records, run by run (it lives as long as that call)."""

    def __init__(self, model, setup, shape, n_train, has_val):
        self.setup, self.shape, self.n_train = setup, shape, n_train
        self.monitor = "val_loss" if has_val else "train_loss"
        self.classifier = model.task == "classification"
        self.has_val = has_val
        total = setup.epochs * setup.per_epoch
        self.eval_updates = np.array([0, *sorted(setup.evals)])
        self.update_loss = np.full((total,) + shape, np.nan)
        self.update_lr = np.full((total,) + shape, np.nan)
        self.metrics = {key: np.full((len(self.eval_updates),) + shape, np.nan) for key in METRICS}
        self.epoch_lr = np.full((setup.epochs,) + shape, np.nan)
        self.training = np.ones(shape, dtype=bool)
        self.everyone = self.anyone = True  # all / any runs still training (a fast path)
        self.diverged = np.zeros(shape, dtype=bool)
        self.at_evaluation = np.zeros(shape, dtype=bool)
        self.diverged_at = np.full(shape, -1)
        self.n_updates, self.n_evals, self.epochs_run = (np.zeros(shape, dtype=int) for _ in range(3))
        self.updates = 0  # updates made so far; a run that stops keeps this count in n_updates
        self.stop_reason = np.full(shape, "epochs done", dtype=object)
        self.watched = []
        self.limit = np.inf  # the divergence limit, set after the first evaluation

    def update(self, t, loss, lr):
        """Record the minibatch loss before update ``t``; runs whose loss is too large diverge."""
        self.updates = t
        if self.everyone:
            self.update_loss[t], self.update_lr[t] = loss, lr
            ok = loss <= self.limit  # (one run: a numpy bool, whose .all() would cost more than this)
            if ok.all() if self.shape else ok:
                return
        else:
            self.update_loss[t] = np.where(self.training, loss, np.nan)
            self.update_lr[t] = np.where(self.training, lr, np.nan)
        self._diverge(self.training & ~(np.asarray(loss) <= self.limit), t, at_evaluation=False)

    def evaluation(self, t, metrics):
        """Record the losses on the whole data sets after ``t`` updates; non-finite ones diverge."""
        self.updates = t
        k = int(np.searchsorted(self.eval_updates, t))
        for key, value in metrics.items():
            if value is not None:
                self.metrics[key][k] = value if self.everyone else np.where(self.training, value, np.nan)
        self.n_evals += self.training
        good = np.asarray(metrics["train_loss"]) <= self.limit  # False for NaN
        if metrics["val_loss"] is not None:
            good &= np.isfinite(metrics["val_loss"])
        self._diverge(self.training & ~good, t, at_evaluation=True)
        return metrics

    def _diverge(self, bad, t, at_evaluation):
        if bad.any():
            self.diverged |= bad
            self.diverged_at = np.where(bad, t, self.diverged_at)
            self.at_evaluation |= bad & at_evaluation
            self.stop(bad, "diverged")

    def stop(self, where, reason):
        """Stop the runs still training where ``where`` holds, for ``reason``."""
        self.stop_reason = np.where(where & self.training, reason, self.stop_reason)
        self.n_updates = np.where(where & self.training, self.updates, self.n_updates)
        self.training = self.training & ~where
        self.everyone, self.anyone = bool(self.training.all()), bool(self.training.any())

    def _watched(self):
        """What ``watch`` returned after every update, NaN after a run stopped."""
        if not self.watched:
            return None
        watched = np.array(self.watched, dtype=np.float64)
        t = np.arange(len(watched)).reshape((-1,) + (1,) * len(self.shape))
        stopped = (t >= self.n_updates) if self.shape else np.zeros_like(t, dtype=bool)
        if watched.ndim > stopped.ndim:
            stopped = stopped.reshape(stopped.shape + (1,) * (watched.ndim - stopped.ndim))
        return np.where(stopped, np.nan, watched) if self.shape else watched

    def history(self, tracker, seconds, updates):
        """The :class:`History` of the call after ``updates`` updates (one run: cut where it stopped,
        counts as numbers); without a ``tracker`` (not evaluated after every epoch) no best epoch: -1."""
        s = self.setup
        self.n_updates = np.where(self.training, updates, self.n_updates)
        keep = {"train_loss": True, "val_loss": self.has_val, "train_accuracy": self.classifier}
        keep["val_accuracy"] = self.classifier and self.has_val
        metrics = {k: (v if keep[k] else None) for k, v in self.metrics.items()}
        h = History(
            batch_size=s.batch_size,
            updates_per_epoch=s.per_epoch,
            eval_updates=np.broadcast_to(
                self.eval_updates.reshape((-1,) + (1,) * len(self.shape)),
                self.eval_updates.shape + self.shape,
            ).copy(),
            best_epoch=np.full(self.shape, -1) if tracker is None else tracker.best_epoch,
            best_loss=np.full(self.shape, np.nan) if tracker is None else tracker.best_loss,
            diverged_at_evaluation=self.at_evaluation,
            wall_time=seconds,
            watched=self._watched(),
            **{name: getattr(self, name) for name in _KEPT},
            **metrics,
        )
        if self.shape:
            return h
        scalars = {
            f.name: getattr(h, f.name).item()
            for f in fields(h)
            if isinstance(getattr(h, f.name), np.ndarray) and getattr(h, f.name).ndim == 0
        }
        return trimmed(replace(h, **scalars))


def stack(params, histories, grid):
    """The runs of several calls of ``fit`` (``params`` and ``histories`` in the order of the
    cells of ``grid``) as one result whose leading sweep axes are ``grid``."""
    first = histories[0]
    for h in histories:
        if h.sweep_shape != first.sweep_shape:
            raise ValueError("every batch size and seed must give runs of the same sweep shape")
    inner = first.sweep_shape

    def stack(values, per_time):
        values = [np.asarray(v, dtype=np.float64 if per_time else None) for v in values]
        if per_time:  # pad the time axis with NaN to the longest, then put the grid after it
            T = max(len(v) for v in values)
            values = [np.concatenate([v, np.full((T - len(v),) + v.shape[1:], np.nan)]) for v in values]
            return np.stack(values, axis=1).reshape((T,) + grid + inner)
        return np.stack([np.broadcast_to(v, inner) for v in values]).reshape(grid + inner)

    merged = {}
    for f in fields(History):
        values = [getattr(h, f.name) for h in histories]
        if f.name in ("n_train", "monitor") or values[0] is None:
            merged[f.name] = values[0]
        elif f.name == "wall_time":
            merged[f.name] = float(sum(values))
        else:
            merged[f.name] = stack(values, f.name in PER_TIME)
    out = {k: np.stack([p[k] for p in params]).reshape(grid + np.shape(v)) for k, v in params[0].items()}
    return out, History(**merged)

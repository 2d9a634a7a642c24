r"""Training a model: epochs of shuffled minibatches, learning-rate control, early stopping.

::

    from lrcourse import data, models, training
    from lrcourse.optimizers import sgd

    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    model = models.MLP(64, hidden=(32,), n_classes=10)
    params, history = training.fit(model, split, sgd(lr=0.1), epochs=20, batch_size=32)

One **epoch** is one pass over the training set in minibatches of ``batch_size``
rows, so it makes :math:`\lceil n / B \rceil` updates (:math:`\lfloor n / B\rfloor`
with ``drop_last=True``). With ``batch_size = n`` every epoch is a single step of
full-batch gradient descent.

The learning rate is either inside the optimizer (``sgd(lr=0.1)``, or a
schedule stepped per update by the optimizer itself) or given to :func:`fit` as
``lr`` together with an optimizer *constructor* (``optimizer=sgd``): then it can
be a number, a schedule stepped per update or per epoch (``lr_step``), or a
``ReduceLROnPlateau`` driven by the validation loss.

:func:`fit` never plots; :mod:`lrcourse.plotting` draws its :class:`History`, and
:func:`diagnose` (from :mod:`lrcourse.diagnosis`) names what happened.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.diagnosis import Diagnosis, diagnose
from lrcourse.optimizers import Optimizer, apply_updates
from lrcourse.tree import tree_copy

__all__ = [
    "DIVERGENCE_FACTOR",
    "Diagnosis",
    "EarlyStopping",
    "History",
    "diagnose",
    "fit",
    "minibatches",
    "updates_per_epoch",
]

DIVERGENCE_FACTOR = 1e3
"""A run has diverged when a minibatch loss exceeds this many times ``max(initial loss, 1)``."""


# ----------------------------------------------------------------- minibatches


def updates_per_epoch(n, batch_size, drop_last=False):
    r"""Updates in one epoch of ``n`` rows: :math:`\lceil n/B \rceil`, or :math:`\lfloor n/B \rfloor` with ``drop_last``."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def checked_data(model, data):
    """``(X_train, y_train, X_val, y_val)`` from ``data`` (see :func:`lrcourse.data.unpack`),
    each pair checked by ``model.validate``; the validation pair may be ``(None, None)``."""
    X, y, X_val, y_val = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    if X_val is not None:
        X_val, y_val = model.validate(X_val, y_val, name="X_val")
    return X, y, X_val, y_val


def minibatches(n, batch_size, rng, shuffle=True, drop_last=False):
    """The row indices of every minibatch of one epoch, as a list of arrays.

    The rows are shuffled with ``rng.permutation(n)`` (unless ``shuffle=False``)
    and cut into consecutive batches of ``batch_size``. The last batch holds the
    :math:`n \\bmod B` rows left over: it is kept (a smaller batch) or, with
    ``drop_last=True``, dropped, so those rows sit this epoch out.
    """
    order = rng.permutation(n) if shuffle else np.arange(n)
    batches = [order[start : start + batch_size] for start in range(0, n, batch_size)]
    if drop_last and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


# ----------------------------------------------------------------- early stopping


class EarlyStopping:
    r"""Stop when the monitored loss has not improved for more than ``patience`` epochs.

    An epoch *improves* when its loss :math:`L_e < L_\text{best} - \text{min\_delta}`.
    After ``patience`` epochs in a row without improvement training goes on; at the
    next one it stops (the same counting as PyTorch's ``ReduceLROnPlateau``), so
    ``patience=0`` stops at the first epoch that does not improve. With
    ``patience=None`` it never stops and only keeps track of the best epoch.
    """

    def __init__(self, patience, min_delta=0.0):
        self.patience = None if patience is None else check.check_int("patience", patience, 0)
        self.min_delta = float(check.check_nonnegative("min_delta", min_delta))
        self.best_loss = np.inf
        self.best_epoch = 0
        self.epochs_without_improvement = 0

    def update(self, epoch, loss):
        """Record the loss after ``epoch``; return ``True`` when training should stop."""
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = float(loss), epoch
            self.epochs_without_improvement = 0
            return False
        self.epochs_without_improvement += 1
        return self.patience is not None and self.epochs_without_improvement > self.patience


# ----------------------------------------------------------------- history


@dataclass
class History:
    """Everything :func:`fit` recorded.

    Per update ``i`` (0-based): ``update_loss[i]``, the minibatch loss *before*
    update ``i``, and ``update_lr[i]``, the learning rate it used. If the run
    diverged, one more entry holds the loss that stopped it, at ``diverged_at``.

    Per epoch ``e``: index 0 is *before* training and index ``e`` is after ``e``
    epochs, so ``train_loss`` has ``epochs_run + 1`` entries. ``val_loss`` and the
    accuracies are ``None`` when there is no validation set / the model is a
    regression. ``epoch_lr[e]`` is the rate at the start of epoch ``e + 1``.
    The monitored loss (``monitor``: validation loss, or training loss without a
    validation set) was lowest at ``best_epoch``.
    """

    batch_size: int
    n_train: int
    updates_per_epoch: int
    monitor: str
    update_loss: list = field(default_factory=list)
    update_lr: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list | None = None
    train_accuracy: list | None = None
    val_accuracy: list | None = None
    epoch_lr: list = field(default_factory=list)
    n_updates: int = 0
    epochs_run: int = 0
    best_epoch: int = 0
    best_loss: float = np.inf
    stop_reason: str = "epochs done"
    diverged: bool = False
    diverged_at: int = -1
    divergence_reason: str | None = None
    wall_time: float = 0.0

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
        """``True`` if early stopping ended the run."""
        return self.stop_reason == "early stopping"

    def _record_epoch(self, metrics):
        self.train_loss.append(metrics["train_loss"])
        for key in ("val_loss", "train_accuracy", "val_accuracy"):
            if metrics[key] is not None:
                getattr(self, key).append(metrics[key])

    def _freeze(self):
        """Turn the recorded lists into arrays once training is over."""
        for key in ("update_loss", "update_lr", "train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            if getattr(self, key) is not None:
                setattr(self, key, np.asarray(getattr(self, key), dtype=np.float64))
        self.epoch_lr = np.asarray(self.epoch_lr, dtype=np.float64)

    def __str__(self):
        lines = [
            f"{self.epochs_run} epochs x {self.updates_per_epoch} updates (batch {self.batch_size} "
            f"of {self.n_train}) = {self.n_updates} updates in {self.wall_time:.3g} s; "
            f"stopped: {self.stop_reason}",
            f"train loss {self.train_loss[0]:.4g} -> {self.train_loss[-1]:.4g}",
        ]
        if self.val_loss is not None:
            lines.append(f"val loss {self.val_loss[0]:.4g} -> {self.val_loss[-1]:.4g}")
        lines.append(f"best {self.monitor} {self.best_loss:.4g} at epoch {self.best_epoch}")
        if self.diverged:
            lines.append(f"diverged at update {self.diverged_at}: {self.divergence_reason}")
        return "\n".join(lines)


# ----------------------------------------------------------------- helpers of fit


class _SettableRate:
    """A 'schedule' whose value :func:`fit` sets before each update (the optimizer calls it with t)."""

    def __init__(self, value):
        self.value = value

    def __call__(self, t):
        return self.value


def _is_plateau(lr):
    return hasattr(lr, "step") and hasattr(lr, "lr") and not isinstance(lr, (int, float, np.ndarray))


def _evaluate(model, params, X, y, X_val, y_val):
    """Loss (and accuracy for a classifier) on the whole training and validation sets."""
    train_loss, train_accuracy = model.evaluate(params, X, y)
    val_loss, val_accuracy = (None, None) if X_val is None else model.evaluate(params, X_val, y_val)

    def number(value):
        return None if value is None else float(value)

    return {
        "train_loss": number(train_loss),
        "val_loss": number(val_loss),
        "train_accuracy": number(train_accuracy),
        "val_accuracy": number(val_accuracy),
    }


def _epoch_divergence_reason(metrics, epoch):
    """Why the losses at the end of ``epoch`` count as diverged, or ``None``."""
    for key in ("train_loss", "val_loss"):
        if metrics[key] is not None and not np.isfinite(metrics[key]):
            return f"non-finite {key.replace('_', ' ')} ({metrics[key]}) after epoch {epoch}"
    return None


def _divergence_reason(loss, limit):
    """Why ``loss`` counts as diverged (a string), or ``None`` if it does not."""
    if not np.isfinite(loss):
        return f"non-finite loss ({loss})"
    if loss > limit:
        return f"loss {loss:.4g} exceeded {limit:.4g} (divergence_factor x max(initial loss, 1))"
    return None


def _progress_bar(enabled, total):
    """A tqdm bar (notebook-aware through ``tqdm.auto``), or ``None`` if off or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", desc="training")


# ----------------------------------------------------------------- fit


def fit(
    model,
    data,
    optimizer,
    epochs,
    batch_size=None,
    *,
    lr=None,
    lr_step="update",
    drop_last=False,
    shuffle=True,
    patience=None,
    min_delta=0.0,
    restore_best=True,
    divergence_factor=DIVERGENCE_FACTOR,
    params=None,
    seed=0,
    progress=False,
    callback=None,
):
    r"""Train ``model`` on ``data`` with minibatch gradient descent; return ``(params, history)``.

    Each update :math:`t` draws the next minibatch :math:`\mathcal B_t` and applies

    .. math:: \theta_{t+1} = \theta_t + \operatorname{update}\big(\nabla_\theta \tfrac{1}{|\mathcal B_t|}
              \textstyle\sum_{i\in\mathcal B_t} \ell_i(\theta_t),\ \eta_t\big)

    with the optimizer's rule (plain SGD: :math:`-\eta_t\nabla`).

    Parameters
    ----------
    model : a model from :mod:`lrcourse.models` (one model: no sweep axes).
    data : a :class:`~lrcourse.data.Split`, or ``(X_train, y_train)``, or
        ``(X_train, y_train, X_val, y_val)``. Checked once (shapes, NaN, labels).
    optimizer : an :class:`~lrcourse.optimizers.Optimizer` such as ``sgd(lr=0.1, momentum=0.9)``,
        whose own ``lr`` (a number, or a schedule the optimizer steps per update) is used;
        or a constructor such as ``sgd`` or ``functools.partial(adam, betas=(0.9, 0.99))``,
        called as ``optimizer(lr=...)`` with the rate that ``lr`` and ``lr_step`` give.
    epochs : the number of passes over the training set (at least 1).
    batch_size : rows per update, in ``[1, n_train]``; ``None`` means ``n_train``
        (full-batch gradient descent: exactly one update per epoch).
    lr : with an optimizer constructor: a number, a schedule ``lr(t)`` from
        :mod:`lrcourse.schedules`, or a ``ReduceLROnPlateau``, which is stepped with
        the monitored loss after every epoch (also when it is the optimizer's own
        ``lr``). It keeps its state between runs: give each run a fresh one.
    lr_step : ``"update"`` evaluates a schedule at the 0-based update count,
        ``"epoch"`` at the 0-based epoch index (constant within an epoch).
    drop_last : drop the last, smaller minibatch of each epoch (``n mod batch_size`` rows).
    shuffle : reshuffle the rows every epoch with ``np.random.default_rng(seed)``.
    patience : early stopping (off with ``None``): stop after more than ``patience``
        epochs in a row without the monitored loss improving by more than
        ``min_delta`` (see :class:`EarlyStopping`). The monitored loss is the
        validation loss, or the training loss without a validation set.
    restore_best : with early stopping, return the parameters of the best epoch
        (default) instead of the last ones.
    divergence_factor : the run has *diverged*, and stops, at the first minibatch
        whose loss is not finite or exceeds ``divergence_factor * max(L_0, 1)``,
        :math:`L_0` the initial training loss (default :data:`DIVERGENCE_FACTOR`
        = 1000); also if a loss at the end of an epoch is not finite. Numpy's
        overflow warnings are silenced meanwhile: divergence is reported in the
        history instead. The parameters returned are then those at the end of the
        last good epoch (or the best ones, see ``restore_best``): always finite.
    params : starting parameters (copied, never modified); default ``model.init(seed)``.
    seed : seeds the initialisation and the shuffling.
    progress : show a progress bar over epochs (tqdm, if installed; off by default).
    callback : ``callback(epoch, params, logs)`` after every epoch, ``logs`` a dict of
        that epoch's losses, accuracies and rate; returning ``True`` stops training.

    Returns
    -------
    ``(params, history)``: the trained parameters and a :class:`History`.
    """
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    epochs = check.check_int("epochs", epochs, 1)
    batch_size = n if batch_size is None else check.check_int("batch_size", batch_size, 1, n)
    lr_step = check.check_choice("lr_step", lr_step, ("update", "epoch"))
    tracker = EarlyStopping(patience, min_delta)
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    opt, lr, settable = _learning_rate(optimizer, lr, lr_step)
    params = model.init(seed) if params is None else _checked_copy(model, params)

    history = History(
        batch_size=batch_size,
        n_train=n,
        updates_per_epoch=updates_per_epoch(n, batch_size, drop_last),
        monitor="train_loss" if X_val is None else "val_loss",
        val_loss=None if X_val is None else [],
        train_accuracy=[] if model.task == "classification" else None,
        val_accuracy=[] if model.task == "classification" and X_val is not None else None,
    )
    with np.errstate(all="ignore"):  # divergence is detected and reported, not warned about
        metrics = _evaluate(model, params, X, y, X_val, y_val)
    history._record_epoch(metrics)
    tracker.update(0, metrics[history.monitor])
    limit = divergence_factor * max(metrics["train_loss"], 1.0)
    best_params = last_good = params
    rng = np.random.default_rng(seed)
    state = opt.init(params)
    t = 0
    bar = _progress_bar(progress, epochs)
    start = time.perf_counter()
    try:
        with np.errstate(all="ignore"):
            for epoch in range(epochs):
                # ---- one epoch of minibatch updates
                history.epoch_lr.append(_rate_at(lr, lr_step, t, epoch))
                for rows in minibatches(n, batch_size, rng, shuffle, drop_last):
                    lr_now = _rate_at(lr, lr_step, t, epoch)
                    if settable is not None:
                        settable.value = lr_now
                    loss, grads = model.loss_and_grad(params, X[rows], y[rows])
                    history.update_loss.append(float(loss))
                    history.update_lr.append(lr_now)
                    reason = _divergence_reason(loss, limit)
                    if reason:
                        history.diverged, history.diverged_at, history.divergence_reason = True, t, reason
                        break
                    updates, state = opt.update(grads, state, params)
                    params = apply_updates(params, updates)
                    t += 1
                if history.diverged:
                    history.epoch_lr.pop()  # the epoch did not finish
                    break

                # ---- end of the epoch: evaluate, then decide whether to go on
                metrics = _evaluate(model, params, X, y, X_val, y_val)
                history._record_epoch(metrics)
                history.epochs_run = epoch + 1
                reason = _epoch_divergence_reason(metrics, epoch + 1)
                if reason:
                    history.diverged, history.diverged_at, history.divergence_reason = True, t, reason
                    break
                last_good = params
                monitored = metrics[history.monitor]
                stop = tracker.update(epoch + 1, monitored)
                if tracker.best_epoch == epoch + 1:
                    best_params = params
                if _is_plateau(lr):
                    lr.step(monitored)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({history.monitor: f"{monitored:.4g}"})
                logs = {**metrics, "epoch": epoch + 1, "lr": history.epoch_lr[-1]}
                if callback is not None and callback(epoch + 1, params, logs):
                    history.stop_reason = "callback"
                    break
                if stop:
                    history.stop_reason = "early stopping"
                    break
    finally:
        if bar is not None:
            bar.close()

    history.wall_time = time.perf_counter() - start
    history.n_updates = t
    history.best_loss, history.best_epoch = tracker.best_loss, tracker.best_epoch
    if history.diverged:
        history.stop_reason = "diverged"
    history._freeze()
    if patience is not None and restore_best:
        return best_params, history
    return (last_good if history.diverged else params), history


def _learning_rate(optimizer, lr, lr_step):
    """Return ``(optimizer, lr, settable)``: the optimizer to step, where its rate comes from,
    and the handle fit sets the rate through (``None`` when the optimizer owns its rate)."""
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(
                f"lr was given twice: inside the optimizer {optimizer!r} and as lr={lr!r}; pass an "
                "optimizer constructor (e.g. optimizer=sgd) to let fit control the rate"
            )
        if lr_step != "update":
            raise ValueError("lr_step='epoch' needs lr given to fit together with an optimizer constructor")
        if optimizer.sweep_shape != ():
            raise ValueError(f"fit trains one model; the optimizer has sweep shape {optimizer.sweep_shape}")
        return optimizer, optimizer.hyperparams["lr"], None
    if not callable(optimizer):
        raise ValueError(f"optimizer must be an Optimizer or a constructor such as sgd, got {optimizer!r}")
    if lr is None:
        raise ValueError("lr is required with an optimizer constructor, e.g. fit(..., optimizer=sgd, lr=0.1)")
    first = lr.lr if _is_plateau(lr) else lr(0) if callable(lr) else lr
    if np.ndim(first) != 0:
        raise ValueError(
            f"fit trains one model: lr must be one number or a schedule of one rate, got shape {np.shape(first)}"
        )
    if not (callable(lr) or _is_plateau(lr)):
        lr = float(check.check_nonnegative("lr", lr))
    settable = _SettableRate(_rate_at(lr, lr_step, 0, 0))
    return optimizer(lr=settable), lr, settable


def _rate_at(lr, lr_step, t, epoch):
    """The learning rate of update ``t`` (0-based) in epoch ``epoch`` (0-based)."""
    if _is_plateau(lr):
        return float(lr.lr)
    if callable(lr):
        return float(lr(epoch if lr_step == "epoch" else t))
    return float(lr)


def _checked_copy(model, params):
    """A copy of ``params`` after checking it has the model's keys and shapes (no sweep axes)."""
    expected = model.init(0)
    if not isinstance(params, dict) or set(params) != set(expected):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {sorted(expected)}, got {got}")
    for key, value in expected.items():
        if np.shape(params[key]) != value.shape:
            raise ValueError(
                f"params[{key!r}] must have shape {value.shape} (fit trains one model, no sweep axes), "
                f"got shape {np.shape(params[key])}"
            )
    return tree_copy(params)

r"""The one trainer: epochs of shuffled minibatches, learning-rate control, early stopping, sweeps.

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

**Sweeps.** Every experiment of the course trains through :func:`fit`. Many runs
train at once along a *sweep axis*: array hyperparameters of the optimizer
(``sgd(lr=np.logspace(-3, 0, 30))``), parameters with leading axes
(``model.init(seed, sweep=(S,))``), an array of ``seed`` (each seed its own
initialisation and minibatch order) and an array of ``batch_size``. The members
are independent; the history then carries the sweep axes after its time axis.

**Divergence.** A run has *diverged*, and is frozen from then on, at the first loss
(of a minibatch, or of the whole training set at an evaluation) that is not finite or
exceeds ``divergence_factor`` (default :data:`DIVERGENCE_FACTOR`)
:math:`\times \max(L_0, 1)`, :math:`L_0` its loss on the whole training set before
training; also at a non-finite validation loss. This is the one divergence rule of the
course's training (a landscape has its own, in :mod:`lrcourse.descent`).

:func:`fit` never plots; :mod:`lrcourse.plotting` draws its :class:`History`, and
:func:`lrcourse.diagnosis.diagnose` names what happened.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.history import METRICS, History, Recorder, stack
from lrcourse.optimizers import Optimizer, apply_updates
from lrcourse.tree import tree_copy

__all__ = [
    "DIVERGENCE_FACTOR",
    "EarlyStopping",
    "History",
    "fit",
    "minibatches",
    "updates_per_epoch",
]

DIVERGENCE_FACTOR = 1e3
"""A run has diverged when a loss exceeds this many times ``max(initial loss, 1)``."""

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
    The loss may be an array (one per run of a sweep): every run is followed apart.
    """

    def __init__(self, patience, min_delta=0.0, shape=()):
        self.patience = None if patience is None else check.check_int("patience", patience, 0)
        self.min_delta = float(check.check_nonnegative("min_delta", min_delta))
        self.best_loss = np.full(shape, np.inf)
        self.best_epoch = np.zeros(shape, dtype=int)
        self.epochs_without_improvement = np.zeros(shape, dtype=int)

    def update(self, epoch, loss):
        """Record the loss after ``epoch``; return where training should stop (a bool or bool array)."""
        better = np.asarray(loss) < self.best_loss - self.min_delta
        self.best_loss = np.where(better, loss, self.best_loss)
        self.best_epoch = np.where(better, epoch, self.best_epoch)
        self.epochs_without_improvement = np.where(better, 0, self.epochs_without_improvement + 1)
        stop = (
            ~better & (self.patience is not None) & (self.epochs_without_improvement > (self.patience or 0))
        )
        return bool(stop) if stop.ndim == 0 else stop


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
    seed=0,
    params=None,
    shuffle=True,
    drop_last=False,
    patience=None,
    min_delta=0.0,
    restore_best=True,
    divergence_factor=DIVERGENCE_FACTOR,
    record="epoch",
    watch=None,
    callback=None,
    progress=False,
    evaluate_at=None,
):
    r"""Train ``model`` on ``data`` with minibatch gradient descent; return ``(params, history)``.

    Each update :math:`t` draws the next minibatch :math:`\mathcal B_t` and applies

    .. math:: \theta_{t+1} = \theta_t + \operatorname{update}\big(\nabla_\theta \tfrac{1}{|\mathcal B_t|}
              \textstyle\sum_{i\in\mathcal B_t} \ell_i(\theta_t),\ \eta_t\big)

    with the optimizer's rule (plain SGD: :math:`-\eta_t\nabla`).

    Parameters
    ----------
    model : a model from :mod:`lrcourse.models`.
    data : a :class:`~lrcourse.data.Split`, or ``(X_train, y_train)``, or
        ``(X_train, y_train, X_val, y_val)``. Checked once (shapes, NaN, labels).
    optimizer : an :class:`~lrcourse.optimizers.Optimizer` such as ``sgd(lr=0.1, momentum=0.9)``,
        whose own ``lr`` (a number, an array of rates: a sweep, or a schedule of the
        update count) is used; or a constructor such as ``sgd`` or
        ``functools.partial(adam, betas=(0.9, 0.99))``, called with the rate ``lr`` gives.
    epochs : the number of passes over the training set (at least 1).
    batch_size : rows per update, in ``[1, n_train]``; ``None`` means ``n_train``
        (full-batch gradient descent: one update per epoch). An array of sizes is a sweep.
    lr : with an optimizer constructor: a number, an array (a sweep), a schedule
        ``lr(t)`` from :mod:`lrcourse.schedules`, or a ``ReduceLROnPlateau``, stepped
        with the monitored loss after every epoch.
    lr_step : ``"update"`` evaluates a schedule at the 0-based update count,
        ``"epoch"`` at the 0-based epoch index (constant within an epoch).
    seed : seeds the initialisation (``model.init(seed)``) and the shuffling
        (``np.random.default_rng(seed)``). An array of seeds is a sweep.
    params : starting parameters (copied, never modified); default ``model.init(seed)``.
        Leading axes beyond the model's shapes are sweep axes.
    shuffle, drop_last : reshuffle the rows every epoch; drop the last, smaller minibatch.
    patience, min_delta : early stopping (off with ``None``), see :class:`EarlyStopping`;
        the monitored loss is the validation loss, or the training loss without one.
    restore_best : with early stopping, return the parameters of the best epoch.
    divergence_factor : the divergence rule of the module docstring (default 1000).
        A diverged run returns the parameters of its last good evaluation.
    record : when to evaluate on the whole data sets: ``"epoch"`` (after every epoch),
        ``"end"`` (before and after training only), a list of epochs, or an integer
        ``k`` (after every ``k`` updates). Early stopping and plateaus need ``"epoch"``.
    watch : ``watch(state, params)`` after every update; its values are stacked in
        ``history.watched`` (for example the optimizer's effective rates).
    callback : ``callback(epoch, params, logs)`` after every epoch of one run, ``logs`` a
        dict of that epoch's losses, accuracies and rate; returning ``True`` stops training.
    progress : show a progress bar over epochs (tqdm, if installed).
    evaluate_at : ``evaluate_at(state, params)`` gives the parameters to evaluate, keep and
        return, from the optimizer's state and the trained parameters; the default is the
        trained parameters themselves. A schedule-free optimizer takes its gradients at
        :math:`y` but is meant to be evaluated at its average :math:`x`:
        ``evaluate_at=lrcourse.optimizers.eval_params``. Early stopping, ``callback`` and
        a diverged run's return see these parameters too; training does not change.

    Returns
    -------
    ``(params, history)``: the trained parameters and a :class:`History`.
    """
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    epochs = check.check_int("epochs", epochs, 1)
    sizes = np.asarray(n if batch_size is None else batch_size)
    seeds = np.asarray(seed)
    if sizes.ndim or seeds.ndim:
        if callback is not None:
            raise ValueError("callback follows one run; arrays of batch_size or seed train a grid of runs")
        settings = dict(shuffle=shuffle, drop_last=drop_last, patience=patience, min_delta=min_delta)
        settings.update(restore_best=restore_best, divergence_factor=divergence_factor, record=record)
        settings.update(watch=watch, lr=lr, lr_step=lr_step, params=params, progress=progress)
        settings.update(evaluate_at=evaluate_at)
        return _fit_grid(model, (X, y, X_val, y_val), optimizer, epochs, sizes, seeds, settings)
    batch_size = check.check_int("batch_size", sizes.item(), 1, n)
    seed = check.check_int("seed", seeds.item(), 0)
    per_epoch = updates_per_epoch(n, batch_size, drop_last)
    evals, every_epoch = _evaluation_points(record, epochs, per_epoch)
    setup = _Setup(
        epochs=epochs,
        batch_size=batch_size,
        per_epoch=per_epoch,
        shuffle=bool(shuffle),
        drop_last=bool(drop_last),
        patience=None if patience is None else check.check_int("patience", patience, 0),
        min_delta=float(check.check_nonnegative("min_delta", min_delta)),
        restore_best=bool(restore_best),
        divergence_factor=float(
            check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True)
        ),
        evals=evals,
        every_epoch=every_epoch,
        rates=_Rates.of(optimizer, lr, lr_step, per_epoch),
    )
    if not every_epoch and (setup.patience is not None or setup.rates.plateau is not None or callback):
        raise ValueError(
            f"early stopping, plateau schedules and callbacks need record='epoch', got record={record!r}"
        )
    for name, function in (("watch", watch), ("callback", callback), ("evaluate_at", evaluate_at)):
        if function is not None and not callable(function):
            raise ValueError(f"{name} must be a function or None, got {function!r}")
    start = model.init(seed) if params is None else _checked_params(model, params)
    hooks = _Hooks(watch, callback, evaluate_at)
    return _train(model, (X, y, X_val, y_val), start, np.random.default_rng(seed), setup, hooks, progress)


@dataclass
class _Setup:
    """The settings of one call of :func:`_train`, checked by :func:`fit`."""

    epochs: int
    batch_size: int
    per_epoch: int
    shuffle: bool
    drop_last: bool
    patience: int | None
    min_delta: float
    restore_best: bool
    divergence_factor: float
    evals: frozenset
    every_epoch: bool
    rates: _Rates


def _evaluation_points(record, epochs, per_epoch):
    """The update counts after which :func:`fit` evaluates on the whole data sets, and whether
    that is after every epoch (what early stopping, plateaus and callbacks need)."""
    total = epochs * per_epoch
    if isinstance(record, str):
        every = check.check_choice("record", record, ("epoch", "end")) == "epoch"
        return frozenset(range(per_epoch, total + 1, per_epoch) if every else [total]), every or epochs == 1
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        k = check.check_int("record (every k updates)", record, 1, total)
        points = frozenset(range(k, total + 1, k)) | {total}
    elif isinstance(record, (list, tuple, range)) and all(isinstance(e, (int, np.integer)) for e in record):
        chosen = [check.check_int("record (a list of epochs)", e, 0, epochs) for e in record]
        points = frozenset(e * per_epoch for e in chosen if e > 0) | {total}
    else:
        raise ValueError(
            f"record must be 'epoch', 'end', a number of updates or a list of epochs, got {record!r}"
        )
    return points, all(e * per_epoch in points for e in range(1, epochs + 1))


@dataclass
class _Hooks:
    """The caller's functions: ``watch`` after every update, ``callback`` after every epoch,
    ``evaluate_at`` for the parameters that evaluations see (see :func:`fit`)."""

    watch: object = None
    callback: object = None
    evaluate_at: object = None

    def shown(self, state, params):
        """The parameters to evaluate, keep and return."""
        return params if self.evaluate_at is None else self.evaluate_at(state, params)


class _Rates:
    """Where the learning rate comes from: the optimizer for each epoch, and a plateau if any."""

    def __init__(self, build, plateau):
        self.build, self.plateau = build, plateau

    @classmethod
    def of(cls, optimizer, lr, lr_step, per_epoch):
        lr_step = check.check_choice("lr_step", lr_step, ("update", "epoch"))
        if isinstance(optimizer, Optimizer):
            if lr is not None:
                raise ValueError(
                    f"lr was given twice: inside the optimizer {optimizer!r} and as lr={lr!r}; pass an "
                    "optimizer constructor (e.g. optimizer=sgd) to let fit control the rate"
                )
            if lr_step != "update":
                raise ValueError(
                    "lr_step='epoch' needs lr given to fit together with an optimizer constructor"
                )
            own = optimizer.hyperparams.get("lr")
            if _is_plateau(own) or any(_is_plateau(d) for d in getattr(own, "__defaults__", None) or ()):
                raise ValueError(
                    "a ReduceLROnPlateau goes to fit as lr=, with an optimizer constructor: "
                    "fit(model, data, sgd, epochs, lr=plateau)"
                )
            return cls(lambda rate: optimizer, None)
        if not callable(optimizer):
            raise ValueError(
                f"optimizer must be an Optimizer or a constructor such as sgd, got {optimizer!r}"
            )
        if lr is None:
            raise ValueError(
                "lr is required with an optimizer constructor, e.g. fit(..., optimizer=sgd, lr=0.1)"
            )
        if _is_plateau(lr):
            return cls(lambda rate: optimizer(lr=rate), lr)
        if callable(lr) and lr_step == "epoch":
            schedule = lr
            lr = lambda t: schedule(t // per_epoch)  # noqa: E731
        elif not callable(lr):
            lr = check.check_nonnegative("lr", lr)
            lr = float(lr) if lr.ndim == 0 else lr
        built = optimizer(lr=lr)
        return cls(lambda rate: built, None)


@functools.cache
def _blas():
    """threadpoolctl's view of the BLAS libraries numpy loaded, looked up once (it takes ~0.2 ms)."""
    return ThreadpoolController()


def one_blas_thread():
    """A context in which numpy's BLAS uses one thread (:mod:`threadpoolctl`).

    The course's many small matrix products run faster on one thread than on
    several, above all when other programs (a browser, say) share the CPU.
    """
    return _blas().limit(limits=1, user_api="blas")


def _is_plateau(lr):
    return hasattr(lr, "step") and hasattr(lr, "lr") and not isinstance(lr, (int, float, np.ndarray))


def _lr_of(opt, t):
    """The rate the optimizer uses at update ``t``."""
    lr = opt.hyperparams["lr"]
    return lr(t) if callable(lr) else lr


def _checked_params(model, params):
    """A copy of ``params`` after checking it has the model's keys and shapes (leading axes: a sweep)."""
    expected = model.init(0)
    if not isinstance(params, dict) or set(params) != set(expected):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {sorted(expected)}, got {got}")
    for key, value in expected.items():
        shape = np.shape(params[key])
        if shape[len(shape) - value.ndim :] != value.shape:
            raise ValueError(
                f"params[{key!r}] must have shape {value.shape} (after any sweep axes), got shape {shape}"
            )
    return tree_copy(params)


def _evaluate(model, params, X, y, X_val, y_val):
    """Loss (and accuracy for a classifier) on the whole training and validation sets."""
    train_loss, train_accuracy = model.evaluate(params, X, y)
    val_loss, val_accuracy = (None, None) if X_val is None else model.evaluate(params, X_val, y_val)
    return dict(zip(METRICS, (train_loss, val_loss, train_accuracy, val_accuracy), strict=True))


def _progress_bar(enabled, total):
    """A tqdm bar (notebook-aware through ``tqdm.auto``), or ``None`` if off or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # (a failed import is not cached: try it only when asked)
        return None
    return tqdm(total=total, unit="epoch", desc="training")


# ----------------------------------------------------------------- the training loop


def _train(model, data, params, rng, setup, hooks, progress):
    """The training loop of the course: every run of every chapter goes through here."""
    X, y, X_val, y_val = data
    watch, callback = hooks.watch, hooks.callback
    rates = setup.rates
    if rates.plateau is not None:
        rates.plateau.reset()  # every run starts from the plateau's first rate
    opt = rates.build(None if rates.plateau is None else rates.plateau.lr)
    params, shape = _with_sweep(model, params, opt)
    if callback is not None and shape:
        raise ValueError(f"callback follows one run; this call trains a sweep of shape {shape}")
    rec = Recorder(model, setup, shape, len(y), X_val is not None)
    tracker = EarlyStopping(setup.patience, setup.min_delta, shape)
    state = opt.init(params)
    bar = _progress_bar(progress, setup.epochs)
    seconds = {"evaluating": 0.0}

    def evaluate(t):
        """Evaluate on the whole data sets after ``t`` updates; the metrics and the parameters seen."""
        begin = time.perf_counter()
        shown = hooks.shown(state, params)
        metrics = rec.evaluation(t, _evaluate(model, shown, X, y, X_val, y_val))
        seconds["evaluating"] += time.perf_counter() - begin
        return metrics, shown

    start = time.perf_counter()
    # divergence is detected and reported, not warned about; the course's many small matrix
    # products run faster on one BLAS thread (threadpoolctl), above all on a busy machine
    with np.errstate(all="ignore"), one_blas_thread():
        metrics, shown = evaluate(0)
        rec.limit = setup.divergence_factor * np.maximum(metrics["train_loss"], 1.0)
        tracker.update(0, metrics[rec.monitor])
        best = last_good = shown
        t = 0
        for epoch in range(setup.epochs):
            if rates.plateau is not None:
                opt = rates.build(rates.plateau.lr)
            rec.epoch_lr[epoch] = (
                _lr_of(opt, t) if rec.everyone else np.where(rec.training, _lr_of(opt, t), np.nan)
            )
            for rows in minibatches(len(y), setup.batch_size, rng, setup.shuffle, setup.drop_last):
                whole = not setup.shuffle and len(rows) == len(y)  # all rows in order: no copy
                loss, grads = model.loss_and_grad(params, *((X, y) if whole else (X[rows], y[rows])))
                rec.update(t, loss, _lr_of(opt, t))
                if not rec.anyone:
                    break
                updates, state = opt.update(grads, state, params)
                new = apply_updates(params, updates)
                params = new if rec.everyone else _where(rec.training, new, params)
                t += 1
                if watch is not None:
                    rec.watched.append(np.asarray(watch(state, params)))
                if t in setup.evals and t % setup.per_epoch:  # an evaluation within the epoch
                    _, shown = evaluate(t)
                    last_good = _where(rec.training, shown, last_good)
            if not rec.anyone:
                break
            rec.epochs_run += rec.training
            if bar is not None:
                bar.update(1)
            if t in setup.evals:
                metrics, shown = evaluate(t)
                last_good = _where(rec.training, shown, last_good)
                if setup.every_epoch:
                    best = _end_of_epoch(epoch + 1, metrics, shown, best, rec, tracker, setup, callback)
            if not rec.anyone:
                break
    if bar is not None:
        bar.close()
    history = rec.history(
        tracker if setup.every_epoch else None, time.perf_counter() - start - seconds["evaluating"], t
    )
    if setup.patience is not None and setup.restore_best:
        return best, history
    return _where(np.asarray(history.diverged), last_good, hooks.shown(state, params)), history


def _end_of_epoch(epoch, metrics, params, best, rec, tracker, setup, callback):
    """After an epoch: early stopping, the plateau, the callback; returns the best parameters so far."""
    monitored = np.where(rec.training, metrics[rec.monitor], np.nan)
    stop = rec.training & tracker.update(epoch, np.where(rec.training, monitored, np.inf))
    if setup.patience is not None:  # the best parameters are returned only with early stopping
        best = _where(rec.training & (tracker.best_epoch == epoch), params, best)
    if setup.rates.plateau is not None:
        setup.rates.plateau.step(monitored)
    if callback is not None and rec.anyone:
        logs = {key: float(value) for key, value in metrics.items() if value is not None}
        if callback(epoch, params, {**logs, "epoch": epoch, "lr": float(rec.epoch_lr[epoch - 1])}):
            rec.stop(rec.training, "callback")
    if np.any(stop):
        rec.stop(stop, "early stopping")
    return best


def _with_sweep(model, params, opt):
    """``params`` given the sweep axes of the optimizer and of the parameters themselves, and that shape."""
    shapes = {key: value.shape for key, value in model.init(0).items()}
    key = next(iter(shapes))
    own = np.shape(params[key])[: np.ndim(params[key]) - len(shapes[key])]
    try:
        shape = np.broadcast_shapes(opt.sweep_shape, own)
    except ValueError:
        raise ValueError(
            f"the sweep shape {opt.sweep_shape} of the optimizer does not broadcast with the sweep shape "
            f"{own} of the parameters"
        ) from None
    return {k: np.broadcast_to(v, shape + shapes[k]).copy() for k, v in params.items()}, shape


def _where(mask, new, old):
    """``new`` where ``mask`` holds (over the leading sweep axes), else ``old``; parameter dicts."""
    mask = np.asarray(mask)
    if mask.all():
        return new
    if not mask.any():
        return old
    return {
        k: np.where(mask.reshape(mask.shape + (1,) * (v.ndim - mask.ndim)), v, old[k]) for k, v in new.items()
    }


def _fit_grid(model, data, optimizer, epochs, sizes, seeds, settings):
    """:func:`fit` over arrays of batch sizes and seeds: one call per pair, stacked as sweep axes in front."""
    if sizes.size == 0 or seeds.size == 0:
        raise ValueError(
            f"batch_size and seed must not be empty arrays, got shapes {sizes.shape} and {seeds.shape}"
        )
    cells = [(b, s) for b in sizes.reshape(-1).tolist() for s in seeds.reshape(-1).tolist()]
    results = [fit(model, data, optimizer, epochs, b, seed=s, **settings) for b, s in cells]
    return stack([p for p, _ in results], [h for _, h in results], sizes.shape + seeds.shape)

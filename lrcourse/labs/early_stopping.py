r"""Chapter 7: early stopping as pure functions of a recorded validation curve.

:func:`lrcourse.training.fit` decides *during* training when to stop; the
functions here replay that decision *after* training, on a whole curve
``val_losses[e]``, :math:`e = 0, \dots, E` (index 0 is before the first epoch, as in
:class:`~lrcourse.training.History`). They follow the rule of
:class:`~lrcourse.training.EarlyStopping` exactly (the tests compare them with
``fit``), so one full-budget run answers "where would patience ``p`` and
``min_delta`` :math:`\delta` have stopped, and which epoch would it restore?" for
every ``p`` and :math:`\delta` at once:

- :func:`improvements`: which epochs count as an improvement (a new best).
- :func:`epochs_without_improvement`: the counter that patience is compared with.
- :func:`stopping_epoch`: the epoch training stops at and the epoch it restores.
- :func:`required_patience`: the smallest patience that still restores the epoch a
  run of the whole budget would have restored.
- :func:`oracle_epoch`: the epoch with the lowest validation loss, in hindsight.
- :func:`record_curves` runs ``fit`` for several seeds and stores the training,
  validation and test losses of every epoch; :func:`evaluate_stopping` scores a
  grid of patience and ``min_delta`` on them against the oracle.
- :func:`noisy_digits` and :func:`overfitting_problems`: the chapter's three
  overfitting problems, recorded as in its sections 7.1 and 7.4, for a page that
  needs them again.

Everything is vectorised: curves may have leading axes (seeds, runs) and
``patience`` and ``min_delta`` may be arrays; the results broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse import data as _data
from lrcourse import models as _models
from lrcourse import training as _training
from lrcourse.optimizers import sgd as _sgd

__all__ = [
    "Curves",
    "StoppingOutcome",
    "epochs_without_improvement",
    "evaluate_stopping",
    "improvements",
    "noisy_digits",
    "oracle_epoch",
    "overfitting_problems",
    "record_curves",
    "required_patience",
    "stopping_epoch",
]


# ----------------------------------------------------------------- the rule


def _curves(val_losses):
    v = np.asarray(val_losses, dtype=np.float64)
    if v.ndim < 1 or v.shape[-1] < 2:
        raise ValueError(
            "val_losses must hold the loss before training and after at least one epoch "
            f"(last axis of length >= 2), got shape {v.shape}"
        )
    return v


def _min_delta(min_delta):
    md = np.asarray(min_delta, dtype=np.float64)
    if np.isnan(md).any() or (md < 0).any():
        raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
    return md


def _patience(patience):
    if patience is None:
        return np.asarray(np.inf)
    p = np.asarray(patience, dtype=np.float64)
    if np.isnan(p).any() or (p < 0).any() or not np.all((p == np.floor(p)) | np.isinf(p)):
        raise ValueError(f"patience must be a whole number >= 0 (or None for never), got {patience!r}")
    return p


def improvements(val_losses, min_delta=0.0):
    r"""Which epochs improve on the best loss so far: a boolean array shaped like the curves.

    Epoch :math:`e` improves when :math:`L_e < L^\ast_{e-1} - \delta`, where
    :math:`L^\ast_{e-1}` is the loss of the last improving epoch before :math:`e`
    (:math:`+\infty` before epoch 0, so a finite loss at epoch 0 always improves).
    With :math:`\delta > 0` the best loss moves only in steps larger than :math:`\delta`:
    an epoch that is lower, but by no more than :math:`\delta`, neither improves nor
    becomes the new reference. A NaN loss never improves.

    ``val_losses`` has shape ``(..., E + 1)``; ``min_delta`` broadcasts against its
    leading axes; the result has their broadcast shape plus ``(E + 1,)``.
    """
    v = _curves(val_losses)
    md = _min_delta(min_delta)
    lanes = np.broadcast_shapes(v.shape[:-1], md.shape)
    v = np.broadcast_to(v, lanes + v.shape[-1:])
    if not md.any():
        # delta = 0: the reference is the running minimum (fmin skips NaN, which never improves)
        before = np.concatenate(
            [np.full(lanes + (1,), np.inf), np.fmin.accumulate(v, axis=-1)[..., :-1]], axis=-1
        )
        return v < before
    md = np.broadcast_to(md, lanes)
    out = np.empty(v.shape, dtype=bool)
    best = np.full(lanes, np.inf)
    for e in range(v.shape[-1]):  # the reference depends on the past: one pass over the epochs
        better = v[..., e] < best - md
        out[..., e] = better
        best = np.where(better, v[..., e], best)
    return out


def _since_last(improved):
    """Epochs since the last improvement (0 at an improving epoch) and the last improving epoch."""
    idx = np.arange(improved.shape[-1])
    last = np.maximum.accumulate(np.where(improved, idx, -1), axis=-1)
    return idx - last, last


def epochs_without_improvement(val_losses, min_delta=0.0):
    r"""The counter :math:`c_e` of :class:`~lrcourse.training.EarlyStopping` after every epoch.

    :math:`c_e = e - e^\ast(e)`, the number of epochs since the last improving
    epoch :math:`e^\ast(e) \le e` (see :func:`improvements`): 0 at an improving
    epoch, then 1, 2, ... until the next one. Same shape as :func:`improvements`.
    Training with patience :math:`p` stops at the first epoch where :math:`c_e > p`.
    """
    return _since_last(improvements(val_losses, min_delta))[0]


def stopping_epoch(val_losses, patience, min_delta=0.0):
    r"""Where early stopping ends training and which epoch it restores: ``(stop, best)``.

    The rule of :class:`lrcourse.training.EarlyStopping` (and so of
    :func:`~lrcourse.training.fit`): with :math:`e^\ast(e)` the last improving epoch up
    to :math:`e` (see :func:`improvements`) and :math:`c_e = e - e^\ast(e)` the number of
    epochs since it, training stops after epoch

    .. math::

        e_\text{stop} = \min\{\, e \ge 1 : c_e > p \,\} \quad (\text{or } E \text{ if there is none}),

    that is after :math:`p + 1` epochs in a row without improvement, and restores
    :math:`e_\text{best} = e^\ast(e_\text{stop})`. ``patience=0`` stops at the first
    epoch that does not improve; ``patience=None`` never stops.

    ``val_losses`` has shape ``(..., E + 1)``; ``patience`` and ``min_delta`` broadcast
    against its leading axes. Returns two integer arrays of the broadcast shape
    (plain ints for one curve and scalar settings).
    """
    p = _patience(patience)
    improved = improvements(val_losses, min_delta)
    since, last = _since_last(improved)
    lanes = np.broadcast_shapes(improved.shape[:-1], p.shape)
    since = np.broadcast_to(since, lanes + since.shape[-1:])
    last = np.broadcast_to(last, lanes + last.shape[-1:])
    over = since > np.broadcast_to(p, lanes)[..., None]
    over[..., 0] = False  # fit decides only after an epoch of training
    E = improved.shape[-1] - 1
    stop = np.where(over.any(axis=-1), np.argmax(over, axis=-1), E)
    best = np.maximum(np.take_along_axis(last, stop[..., None], axis=-1)[..., 0], 0)
    if stop.ndim == 0:
        return int(stop), int(best)
    return stop, best


def required_patience(val_losses, min_delta=0.0):
    r"""The smallest patience that restores the same epoch as training the whole budget.

    Write :math:`r` for the last improving epoch of the whole curve (with
    ``min_delta = 0`` the epoch of the lowest validation loss). Early stopping with
    patience :math:`p` reaches :math:`r` only if no stretch of non-improving epochs
    before it is longer than :math:`p`, so

    .. math:: p_\text{min} = \max_{1 \le e \le r} c_e ,

    the longest run of epochs without improvement before :math:`r` (0 if every epoch
    up to :math:`r` improved). Any :math:`p \ge p_\text{min}` restores :math:`r` and stops
    after epoch :math:`\min(r + p + 1, E)`; a smaller one stops earlier and restores an
    earlier, worse epoch. Noisy curves have long stretches and need a large patience.
    """
    improved = improvements(val_losses, min_delta)
    since, last = _since_last(improved)
    r = last[..., -1]
    idx = np.arange(improved.shape[-1])
    before = np.where(idx <= r[..., None], since, 0)
    out = before[..., 1:].max(axis=-1) if before.shape[-1] > 1 else np.zeros(r.shape, int)
    return int(out) if out.ndim == 0 else out


def oracle_epoch(val_losses):
    """The epoch with the lowest validation loss over the whole curve (the first if tied; NaN ignored)."""
    v = _curves(val_losses)
    out = np.nanargmin(np.where(np.isnan(v).all(axis=-1, keepdims=True), 0.0, v), axis=-1)
    return int(out) if out.ndim == 0 else out


# ----------------------------------------------------------------- recorded runs


@dataclass(frozen=True)
class Curves:
    """Per-epoch losses of several full-budget runs, one row per seed, shape ``(n_seeds, E + 1)``.

    Index 0 is before training, as in :class:`~lrcourse.training.History`.
    ``test_loss`` is ``None`` without a test set.
    """

    seeds: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    test_loss: np.ndarray | None
    label: str = ""

    @property
    def epochs(self):
        """The epoch axis ``0, 1, ..., E``."""
        return np.arange(self.val_loss.shape[-1])

    @property
    def budget(self):
        """``E``, the number of epochs each run trained for."""
        return self.val_loss.shape[-1] - 1

    def __repr__(self):
        return f"Curves({self.label!r}, seeds={len(self.seeds)}, epochs={self.budget})"


def record_curves(model, data, optimizer, epochs, batch_size=None, *, seed=0, label="", **fit_options):
    """Train with :func:`~lrcourse.training.fit` for the whole budget once per seed; return :class:`Curves`.

    ``seed`` is one seed or a list of them. ``data`` is a :class:`~lrcourse.data.Split`
    with validation (and, for test losses, test) parts, or a function ``data(seed)``
    returning one, so each seed may also draw its own split. ``optimizer``,
    ``batch_size`` and the keywords (``lr=``, ``lr_step=``, ...) go to ``fit``
    unchanged; a ``ReduceLROnPlateau`` rate is reset before every run. Every run
    uses ``fit(..., seed=s)``, ``s`` one of the seeds, without early
    stopping, and the test loss is measured after every epoch through ``fit``'s
    callback. A run that diverges is padded with NaN.
    """
    seeds = np.atleast_1d(np.asarray(seed, dtype=np.int64))
    epochs = check.check_int("epochs", epochs, 1)
    if "patience" in fit_options:
        raise ValueError("record_curves trains the whole budget: early stopping is replayed afterwards")
    rows = {"train": [], "val": [], "test": []}
    all_test = True
    for s in seeds:
        split = data(int(s)) if callable(data) else data
        if split.X_val is None:
            raise ValueError(
                "record_curves needs a validation set: early stopping monitors the validation loss"
            )
        for rate in (fit_options.get("lr"), getattr(optimizer, "hyperparams", {}).get("lr")):
            if hasattr(rate, "reset"):
                rate.reset()  # a ReduceLROnPlateau remembers the last run
        has_test = split.X_test is not None
        all_test = all_test and has_test
        test = []
        if has_test:
            start = fit_options.get("params") or model.init(int(s))
            test.append(float(model.evaluate(start, split.X_test, split.y_test)[0]))

        def on_epoch(epoch, params, logs, split=split, test=test, has_test=has_test):
            if has_test:
                test.append(float(model.evaluate(params, split.X_test, split.y_test)[0]))

        _, history = _training.fit(
            model, split, optimizer, epochs, batch_size, seed=int(s), callback=on_epoch, **fit_options
        )
        for key, values in (("train", history.train_loss), ("val", history.val_loss), ("test", test)):
            row = np.full(epochs + 1, np.nan)
            row[: len(values)] = values
            rows[key].append(row)
    return Curves(
        seeds=seeds,
        train_loss=np.array(rows["train"]),
        val_loss=np.array(rows["val"]),
        test_loss=np.array(rows["test"]) if all_test else None,
        label=label,
    )


@dataclass(frozen=True)
class StoppingOutcome:
    """Early stopping replayed on :class:`Curves`, per seed and setting: shape ``(n_seeds, *grid)``.

    ``stop``: epochs run; ``best``: the restored epoch; ``val_best`` / ``test_best``:
    validation and test loss of the restored model (``restore_best=True``);
    ``test_last``: test loss of the last model (``restore_best=False``). The oracle
    trains the whole budget and keeps the epoch of the lowest validation loss in
    hindsight: ``oracle``, ``val_oracle``, ``test_oracle``, shape ``(n_seeds,)``, and
    ``test_full``, the test loss after the whole budget without any stopping.
    """

    stop: np.ndarray
    best: np.ndarray
    val_best: np.ndarray
    test_best: np.ndarray | None
    test_last: np.ndarray | None
    oracle: np.ndarray
    val_oracle: np.ndarray
    test_oracle: np.ndarray | None
    test_full: np.ndarray | None
    budget: int


def evaluate_stopping(curves, patience, min_delta=0.0):
    """Replay early stopping on every seed of ``curves`` at every ``patience`` × ``min_delta``.

    ``patience`` and ``min_delta`` broadcast to a grid shape ``G`` (e.g. ``p[:, None]``
    and ``d[None, :]``); each field of the :class:`StoppingOutcome` then has shape
    ``(n_seeds, *G)``. Stopping follows :func:`stopping_epoch` (the rule of ``fit``).
    """
    p = _patience(patience)
    md = _min_delta(min_delta)
    grid = np.broadcast_shapes(p.shape, md.shape)
    n = len(curves.seeds)
    pad = (1,) * len(grid)
    v = curves.val_loss.reshape((n, *pad, -1))
    stop, best = stopping_epoch(v, np.broadcast_to(p, grid), np.broadcast_to(md, grid))
    stop, best = np.asarray(stop).reshape((n, *grid)), np.asarray(best).reshape((n, *grid))

    def at(values, epochs):
        if values is None:
            return None
        rows = values.reshape((n, *pad, -1))
        rows = np.broadcast_to(rows, (n, *grid, values.shape[-1]))
        return np.take_along_axis(rows, epochs[..., None], axis=-1)[..., 0]

    oracle = np.asarray(oracle_epoch(curves.val_loss)).reshape(n)
    rows = np.arange(n)
    test = curves.test_loss
    return StoppingOutcome(
        stop=stop,
        best=best,
        val_best=at(curves.val_loss, best),
        test_best=at(test, best),
        test_last=at(test, stop),
        oracle=oracle,
        val_oracle=curves.val_loss[rows, oracle],
        test_oracle=None if test is None else test[rows, oracle],
        test_full=None if test is None else test[:, -1],
        budget=curves.budget,
    )


# ----------------------------------------------------------------- the chapter's problems


def noisy_digits(seed):
    """The noisy-digits split of chapter 7 for one ``seed``: a :class:`~lrcourse.data.Split`.

    A seeded split of the first 800 UCI digits, standardised: 200 for training (20%
    of them given a wrong class by :func:`lrcourse.labs.schedules.with_label_noise`),
    200 for validation and 400 for testing, both with their true labels.
    """
    from lrcourse.labs.schedules import with_label_noise

    X, y = _data.load_digits()
    split = _data.train_val_test_split(X[:800], y[:800], val_fraction=0.25, test_fraction=0.5, seed=seed)
    split, _ = _data.standardize(split)
    return with_label_noise(split, 0.2, seed=seed)


def overfitting_problems(seeds=range(6)):
    """The three overfitting problems of chapter 7, recorded for the whole budget: a dict of :class:`Curves`.

    ``"digits"``: an MLP with 64 hidden units on :func:`noisy_digits`, rate 0.2,
    minibatches of 20, 50 epochs. ``"poly B=5"`` and ``"poly B=2"``: a linear model on
    12 polynomial features (60 points, a third each for training, validation and
    test, one split for every seed), rate 0.05 with minibatches of 5 for 100 epochs,
    and rate 0.1 with minibatches of 2 for 60 epochs. Every run is
    ``record_curves(..., seed=s)`` for each ``s`` in ``seeds``.
    """
    mlp = _models.MLP(64, hidden=(64,), n_classes=10)
    digits = record_curves(
        mlp, noisy_digits, _sgd(lr=0.2), 50, 20, seed=list(seeds), label="digits, 20% wrong labels"
    )
    X, y = _data.make_polynomial_regression(n_samples=60, degree=12, noise=0.3, seed=0)
    poly = _data.train_val_test_split(X, y, val_fraction=1 / 3, test_fraction=1 / 3, seed=0)
    linear = _models.LinearRegression(12)
    smooth = record_curves(linear, poly, _sgd(lr=0.05), 100, 5, seed=list(seeds), label="polynomial, B = 5")
    noisy = record_curves(linear, poly, _sgd(lr=0.1), 60, 2, seed=list(seeds), label="polynomial, B = 2")
    return {"digits": digits, "poly B=5": smooth, "poly B=2": noisy}

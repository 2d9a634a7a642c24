r"""Batch size experiments: many batch sizes × many learning rates, wall-clock time, and a line to watch.

Three tools for the chapter on batch size:

- :func:`sweep_batch_sizes` trains one model for every pair (batch size, learning
  rate) and several seeds, all rates and seeds of a batch size at once through
  the sweep axis of :mod:`lrcourse.models` and :mod:`lrcourse.optimizers`, and
  records the training and validation metrics after every epoch.
  :meth:`BatchSweep.tuned` then picks the best rate of each batch size, and
  :func:`linear_scaling_rule` is the rule to compare it with.
- :func:`time_per_epoch` measures the wall-clock time of one epoch (and of one
  update) for each batch size.
- :class:`LineSGD` runs minibatch SGD on a straight-line regression
  :math:`\hat y = w x + b` with every minibatch's statistics computed in
  advance, so that a whole run for a new learning rate costs a few
  milliseconds (for the explorer of :mod:`lrcourse.widgets`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.optimizers import apply_updates, check_constructor, sgd
from lrcourse.training import checked_data, minibatches, updates_per_epoch

__all__ = [
    "BatchSweep",
    "LineSGD",
    "Tuned",
    "linear_scaling_rule",
    "sweep_batch_sizes",
    "time_per_epoch",
]


# ----------------------------------------------------------------- the rule


def linear_scaling_rule(lr_ref, batch_ref, batch_size):
    r"""The linear scaling rule (Goyal et al., 2017): :math:`\eta(B) = \eta_\text{ref}\, B / B_\text{ref}`.

    When the batch grows :math:`k`-fold, grow the learning rate :math:`k`-fold.
    Works elementwise on an array of batch sizes.
    """
    lr_ref = check.check_positive("lr_ref", lr_ref)
    batch_ref = check.check_positive("batch_ref", batch_ref)
    batch_size = check.check_positive("batch_size", batch_size)
    return lr_ref * batch_size / batch_ref


# ----------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class Tuned:
    """The best learning rate of each batch size, from :meth:`BatchSweep.tuned`.

    ``best_lr[k]`` is the rate with the best ``metric`` (mean over seeds) for
    ``batch_sizes[k]`` after ``epoch`` epochs; ``best_index[k]`` its index in the
    rate grid; ``value[k]`` and ``std[k]`` the mean and the standard deviation
    over seeds of the metric at that rate; ``per_seed[k]`` the values of the seeds.
    ``at_edge[k]`` is ``True`` when the best rate is the first or last of the grid
    (the grid may be too narrow there).
    """

    batch_sizes: np.ndarray
    metric: str
    epoch: int
    best_index: np.ndarray
    best_lr: np.ndarray
    value: np.ndarray
    std: np.ndarray
    per_seed: np.ndarray
    at_edge: np.ndarray


@dataclass(frozen=True)
class BatchSweep:
    r"""The result of :func:`sweep_batch_sizes`.

    Axes of the metric arrays: ``(batch size, epoch, seed, rate)``, epoch 0 being
    before training, so ``train_loss[k, e, s, j]`` is the training loss of batch
    size ``batch_sizes[k]``, seed ``seeds[s]`` and rate ``lrs[j]`` after ``e``
    epochs. A run that diverged holds NaN from the epoch it diverged in on, and
    ``diverged[k, s, j]`` is ``True``. ``val_loss`` and ``val_accuracy`` are
    ``None`` without validation data (accuracy: classifiers only). Epochs that
    were not evaluated (see ``eval_epochs``) hold NaN; ``evaluated`` lists the
    ones that were. ``updates_per_epoch[k]`` is :math:`\lceil n/B\rceil` and ``seconds[k]`` the
    wall time of all the runs of batch size ``k`` together.
    """

    batch_sizes: np.ndarray
    lrs: np.ndarray
    seeds: tuple
    epochs: int
    n_train: int
    updates_per_epoch: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray | None
    val_accuracy: np.ndarray | None
    diverged: np.ndarray
    seconds: np.ndarray
    evaluated: tuple = ()

    def metric(self, name):
        """The array of ``name``: ``"train_loss"``, ``"val_loss"`` or ``"val_accuracy"``."""
        check.check_choice("metric", name, ("train_loss", "val_loss", "val_accuracy"))
        values = getattr(self, name)
        if values is None:
            raise ValueError(f"this sweep has no {name} (no validation data, or not a classifier)")
        return values

    def tuned(self, metric="val_accuracy", epoch=None):
        """The best rate of every batch size by ``metric`` after ``epoch`` epochs (default: the last).

        Accuracy is maximised, losses minimised, both averaged over the seeds; a
        rate that diverged for any seed is never chosen. Ties go to the smaller rate.
        """
        values = self.metric(metric)
        epoch = self.epochs if epoch is None else check.check_int("epoch", epoch, 0, self.epochs)
        if self.evaluated and epoch not in self.evaluated:
            raise ValueError(f"epoch {epoch} was not evaluated; the sweep evaluated epochs {self.evaluated}")
        at = values[:, epoch]  # (batch size, seed, rate)
        mean = at.mean(axis=1)
        bad = ~np.isfinite(mean)
        score = np.where(bad, -np.inf, mean if metric == "val_accuracy" else -mean)
        best = np.argmax(score, axis=1)
        rows = np.arange(len(self.batch_sizes))
        per_seed = at[rows, :, best]
        return Tuned(
            batch_sizes=self.batch_sizes,
            metric=metric,
            epoch=epoch,
            best_index=best,
            best_lr=self.lrs[best],
            value=mean[rows, best],
            std=per_seed.std(axis=1),
            per_seed=per_seed,
            at_edge=(best == 0) | (best == len(self.lrs) - 1),
        )


def _chunks(n, chunk):
    """Row slices of at most ``chunk`` rows covering ``range(n)``, with their weights ``len / n``."""
    return [(slice(i, min(i + chunk, n)), (min(i + chunk, n) - i) / n) for i in range(0, n, chunk)]


def _loss_and_grad(model, params, X, y, chunk):
    r"""``model.loss_and_grad`` on the rows of ``X``, computed ``chunk`` rows at a time.

    The loss and the gradient are means over the rows, so the chunks' values
    weighted by their share of the rows add up to the same numbers, up to
    round-off (gradient accumulation). Small matrix products are much faster
    than large batched ones on a busy CPU, where the threads of the
    linear-algebra library wait for each other.
    """
    if len(y) <= chunk:
        return model.loss_and_grad(params, X, y)
    loss, grads = 0.0, None
    for rows, w in _chunks(len(y), chunk):
        l, g = model.loss_and_grad(params, X[rows], y[rows])
        loss = loss + w * l
        grads = {k: w * v for k, v in g.items()} if grads is None else {k: grads[k] + w * g[k] for k in g}
    return loss, grads


def _evaluate(model, params, X, y, chunk):
    """``model.evaluate`` (loss, accuracy or ``None``) on the rows of ``X``, ``chunk`` rows at a time."""
    loss, acc = 0.0, 0.0
    for rows, w in _chunks(len(y), chunk):
        l, a = model.evaluate(params, X[rows], y[rows])
        loss = loss + w * l
        acc = None if a is None else acc + w * a
    return loss, acc


def _stack_seeds(model, seeds, n_rates):
    """Parameters with sweep axes ``(seed, rate)``: seed ``s``'s initialisation for every rate."""
    inits = [model.init(s) for s in seeds]
    return {
        key: np.stack([np.broadcast_to(p[key], (n_rates,) + p[key].shape) for p in inits]).copy()
        for key in inits[0]
    }


def sweep_batch_sizes(
    model,
    data,
    batch_sizes,
    lrs,
    epochs,
    *,
    seeds=(0,),
    optimizer=sgd,
    drop_last=False,
    shuffle_seed=0,
    divergence_factor=1e3,
    eval_epochs=None,
    chunk=64,
):
    r"""Train ``model`` for every batch size, learning rate and seed; return a :class:`BatchSweep`.

    For each batch size :math:`B` one loop of ``epochs`` epochs of shuffled
    minibatches (:func:`~lrcourse.training.minibatches`, shuffled with
    ``np.random.default_rng(shuffle_seed)``) trains all ``len(seeds) × len(lrs)``
    runs at once: the parameters carry sweep axes ``(seed, rate)``, seed ``s``
    starting from ``model.init(s)``, and the optimizer (a constructor such as
    ``sgd`` or ``functools.partial(sgd, momentum=0.9)``) gets the rates as an
    array. So the runs of one batch size share their minibatch order and differ
    in the rate and the initialisation. Each update is

    .. math:: \theta \leftarrow \theta - \eta\,\frac1B\sum_{i\in\mathcal B_t}\nabla\ell_i(\theta)

    (with plain ``sgd``). After every epoch the loss on the whole training set
    and the validation loss and accuracy are recorded; ``eval_epochs`` (a list of
    epoch numbers, 0 = before training) limits this to those epochs and saves the
    time of the others (the initial and the final epoch are always evaluated).
    Batches and evaluation sets larger than ``chunk`` rows are processed ``chunk``
    rows at a time and the results averaged with weights: the same gradients and
    metrics (up to rounding), computed faster on a CPU.
    A run *diverges* at the
    first minibatch loss that is not finite or exceeds ``divergence_factor`` ×
    ``max(initial loss, 1)``, as in :func:`~lrcourse.training.fit`; its metrics
    are NaN from then on.
    """
    check_constructor(optimizer)
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    sizes = np.array([check.check_int("batch_sizes", int(b), 1, n) for b in np.atleast_1d(batch_sizes)])
    lrs = check.check_positive("lrs", lrs)
    if lrs.ndim != 1 or len(lrs) == 0:
        raise ValueError(f"lrs must be a 1-D array of rates, got shape {lrs.shape}")
    epochs = check.check_int("epochs", epochs, 1)
    seeds = tuple(check.check_int("seeds", int(s), 0) for s in np.atleast_1d(seeds))
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    chunk = check.check_int("chunk", chunk, 1)
    if eval_epochs is None:
        evaluated = tuple(range(epochs + 1))
    else:
        chosen = {check.check_int("eval_epochs", int(e), 0, epochs) for e in np.atleast_1d(eval_epochs)}
        evaluated = tuple(sorted(chosen | {0, epochs}))
    classify = model.task == "classification"
    has_val = X_val is not None
    R, S = len(seeds), len(lrs)
    shape = (len(sizes), epochs + 1, R, S)
    train_loss = np.full(shape, np.nan)
    val_loss = np.full(shape, np.nan) if has_val else None
    val_acc = np.full(shape, np.nan) if has_val and classify else None
    diverged = np.zeros((len(sizes), R, S), dtype=bool)
    seconds = np.zeros(len(sizes))
    rates = np.broadcast_to(lrs, (R, S)).copy()

    for k, b in enumerate(sizes):
        start = time.perf_counter()
        params = _stack_seeds(model, seeds, S)
        opt = optimizer(lr=rates)
        state = opt.init(params)
        rng = np.random.default_rng(shuffle_seed)
        bad = np.zeros((R, S), dtype=bool)
        with np.errstate(all="ignore"):  # too-large rates are expected to blow up
            loss0 = _evaluate(model, params, X, y, chunk)[0]
            limit = divergence_factor * np.maximum(loss0, 1.0)
            for e in range(epochs + 1):
                if e > 0:
                    for rows in minibatches(n, int(b), rng, drop_last=drop_last):
                        loss, grads = _loss_and_grad(model, params, X[rows], y[rows], chunk)
                        bad |= ~np.isfinite(loss) | (loss > limit)
                        updates, state = opt.update(grads, state, params)
                        params = apply_updates(params, updates)
                if e not in evaluated:
                    continue
                train_loss[k, e] = loss0 if e == 0 else _evaluate(model, params, X, y, chunk)[0]
                if has_val:
                    vl, va = _evaluate(model, params, X_val, y_val, chunk)
                    val_loss[k, e] = vl
                    if classify:
                        val_acc[k, e] = va
                bad |= ~np.isfinite(train_loss[k, e])
                for values in (train_loss, val_loss, val_acc):
                    if values is not None:
                        values[k, e][bad] = np.nan
        diverged[k] = bad
        seconds[k] = time.perf_counter() - start
    return BatchSweep(
        batch_sizes=sizes,
        lrs=lrs,
        seeds=seeds,
        epochs=epochs,
        n_train=n,
        updates_per_epoch=np.array([updates_per_epoch(n, int(b), drop_last) for b in sizes]),
        train_loss=train_loss,
        val_loss=val_loss,
        val_accuracy=val_acc,
        diverged=diverged,
        seconds=seconds,
        evaluated=evaluated,
    )


# ----------------------------------------------------------------- wall-clock time


def time_per_epoch(model, data, batch_sizes, lr=0.01, *, repeats=3, seed=0, optimizer=sgd, chunk=None):
    """Wall-clock seconds of one epoch of minibatch updates for each batch size.

    Plain minibatch SGD (no evaluation), one ``model.loss_and_grad`` call per
    batch, or, with ``chunk``, one call per ``chunk`` rows of a batch, averaged
    as in :func:`sweep_batch_sizes` (small products run on one core, which keeps
    the measurement steady on a busy machine), timed with
    :func:`time.perf_counter`. The batch sizes take turns:
    ``repeats`` rounds of one epoch each, and each batch size keeps its fastest
    epoch, so that a burst of other work on the machine does not fall on one
    batch size only. Returns ``(seconds_per_epoch, seconds_per_update)``, two arrays.
    """
    X, y, _, _ = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    n = len(y)
    sizes = [check.check_int("batch_sizes", int(b), 1, n) for b in np.atleast_1d(batch_sizes)]
    repeats = check.check_int("repeats", repeats, 1)
    chunk = n if chunk is None else check.check_int("chunk", chunk, 1)
    runs = []
    for _ in sizes:
        params = model.init(seed)
        opt = optimizer(lr=lr)
        runs.append([params, opt, opt.init(params), np.random.default_rng(seed)])
    best = np.full(len(sizes), np.inf)
    for _ in range(repeats):
        for k, b in enumerate(sizes):
            params, opt, state, rng = runs[k]
            batches = minibatches(n, b, rng)
            start = time.perf_counter()
            for rows in batches:
                _, grads = _loss_and_grad(model, params, X[rows], y[rows], chunk)
                updates, state = opt.update(grads, state, params)
                params = apply_updates(params, updates)
            best[k] = min(best[k], time.perf_counter() - start)
            runs[k][0], runs[k][2] = params, state
    return best, best / np.array([updates_per_epoch(n, b) for b in sizes])


# ----------------------------------------------------------------- a line, precomputed


class LineSGD:
    r"""Minibatch SGD on a straight line :math:`\hat y = w x + b` with the mean squared error.

    The loss of a batch :math:`\mathcal B` is a quadratic in :math:`\theta = (w, b)`,

    .. math:: L_\mathcal B(\theta) = \theta^\top A_\mathcal B\,\theta - 2 c_\mathcal B^\top\theta + s_\mathcal B,
              \qquad A_\mathcal B = \overline{u u^\top},\ c_\mathcal B = \overline{u\,y},\ s_\mathcal B = \overline{y^2}

    with :math:`u = (x, 1)` and bars for the mean over the batch, so one SGD step
    is the affine map :math:`\theta \leftarrow \theta - 2\eta\,(A_\mathcal B\theta - c_\mathcal B)`.
    The constructor draws the batches of ``epochs`` shuffled epochs for every
    batch size in ``batch_sizes`` (seeded with ``seed``, the order of
    :func:`~lrcourse.training.minibatches`) and stores their moments; :meth:`run`
    then costs a few operations per update, whatever the rate.
    """

    def __init__(self, x, y, batch_sizes, epochs=3, seed=0):
        x = check.as_float_array("x", x).ravel()
        y = check.as_float_array("y", y).ravel()
        if len(x) != len(y) or len(x) < 1:
            raise ValueError(f"x and y must be 1-D of the same length >= 1, got {len(x)} and {len(y)}")
        self.x, self.y, self.n = x, y, len(y)
        self.epochs = check.check_int("epochs", epochs, 1)
        self.batch_sizes = [check.check_int("batch_sizes", int(b), 1, self.n) for b in batch_sizes]
        self.A = np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
        self.c = np.array([np.mean(x * y), np.mean(y)])
        self.s = float(np.mean(y * y))
        self.minimum = np.linalg.solve(self.A, self.c)
        self.min_loss = float(self.loss(self.minimum))
        self._moments = {b: self._batch_moments(b, seed) for b in self.batch_sizes}

    def _batch_moments(self, b, seed):
        rng = np.random.default_rng(seed)
        xx, x1, xy, y1, yy = [], [], [], [], []
        for _ in range(self.epochs):
            for rows in minibatches(self.n, b, rng):
                xr, yr = self.x[rows], self.y[rows]
                xx.append(np.mean(xr * xr))
                x1.append(np.mean(xr))
                xy.append(np.mean(xr * yr))
                y1.append(np.mean(yr))
                yy.append(np.mean(yr * yr))
        return tuple([float(a) for a in v] for v in (xx, x1, xy, y1, yy))  # python floats: fast, no warnings

    def updates_per_epoch(self, batch_size):
        r""":math:`\lceil n / B\rceil`."""
        return updates_per_epoch(self.n, batch_size)

    def loss(self, theta):
        r"""The full-data loss :math:`L(\theta)` at points ``theta`` of shape ``(..., 2)``."""
        theta = np.asarray(theta, dtype=np.float64)
        quad = np.einsum("...i,ij,...j->...", theta, self.A, theta)
        return quad - 2 * theta @ self.c + self.s

    def grid(self, bounds, n=120):
        """``(W, B, L)``: the full-data loss on an ``n × n`` grid of ``bounds = ((w0, w1), (b0, b1))``."""
        (w0, w1), (b0, b1) = bounds
        W, B = np.meshgrid(np.linspace(w0, w1, n), np.linspace(b0, b1, n))
        return W, B, self.loss(np.stack([W, B], axis=-1))

    def run(self, batch_size, lr, start=(0.0, 0.0), explode=1e6):
        r"""SGD with ``batch_size`` (one of ``batch_sizes``) and rate ``lr`` for ``epochs`` epochs.

        Returns ``(path, batch_loss, full_loss, diverged_at)``: ``path`` of shape
        ``(T + 1, 2)`` (row 0 the start), ``batch_loss[t]`` the loss of the minibatch
        used by update ``t`` before it, ``full_loss[t]`` the loss on all the data at
        ``path[t]``, and the update at which the full loss first exceeded ``explode`` ×
        ``max(L_0, 1)`` or stopped being finite (−1 if never); from there the path is cut.
        """
        if batch_size not in self._moments:
            raise ValueError(f"batch_size must be one of {self.batch_sizes}, got {batch_size!r}")
        lr = float(check.check_nonnegative("lr", lr))
        xx, x1, xy, y1, yy = self._moments[batch_size]
        T = len(xx)
        w, b = (float(v) for v in start)
        ws, bs, losses = [w], [b], []
        limit = explode * max(float(self.loss(np.array([w, b]))), 1.0)
        diverged_at = -1
        a11, a12, a22 = float(self.A[0, 0]), float(self.A[0, 1]), float(self.A[1, 1])
        c1, c2, s = float(self.c[0]), float(self.c[1]), self.s
        for t in range(T):
            p, q, r, u, v = xx[t], x1[t], xy[t], y1[t], yy[t]
            losses.append(p * w * w + 2 * q * w * b + b * b - 2 * (r * w + u * b) + v)
            gw, gb = 2 * (p * w + q * b - r), 2 * (q * w + b - u)
            w, b = w - lr * gw, b - lr * gb
            full = a11 * w * w + 2 * a12 * w * b + a22 * b * b - 2 * (c1 * w + c2 * b) + s
            if not math.isfinite(full) or full > limit:
                diverged_at = t + 1
                break
            ws.append(w)
            bs.append(b)
        path = np.column_stack([ws, bs])
        return path, np.array(losses), self.loss(path), diverged_at

r"""Batch size (chapter 3): many batch sizes × many rates, wall-clock time, gradient noise, a line.

- :func:`sweep_batch_sizes` trains one model for every batch size, learning rate
  and seed in one call of :func:`~lrcourse.training.fit`; :func:`tuned` then picks
  the best rate of each batch size, and :func:`linear_scaling_rule` is the rule to
  compare it with.
- :func:`time_per_epoch` measures the wall-clock time of one epoch (and of one
  update) for each batch size.
- :func:`gradient_noise` measures how far minibatch gradients fall from the full
  gradient, against the exact :func:`expected_squared_error`.
- :class:`LineSGD` is minibatch SGD on a straight-line regression
  :math:`\hat y = w x + b`, with its loss landscape (for the explorer of
  :mod:`lrcourse.widgets.batch_size`).

**Gradient noise.** The gradient of a loss that averages over :math:`N` examples is
the mean of the per-example gradients :math:`g_i = \nabla\ell_i(\theta)`:

.. math:: g = \frac1N \sum_{i=1}^N g_i, \qquad
          \sigma^2 = \frac1N \sum_{i=1}^N \lVert g_i - g\rVert^2 ,

:math:`\sigma^2` being the total variance (the trace of the covariance) of one
example's gradient. A minibatch of :math:`B` examples drawn at random estimates
:math:`g` by :math:`g_B = \frac1B\sum_{i\in\mathcal B} g_i`, which is unbiased, with
mean squared error

.. math:: \mathbb E\,\lVert g_B - g\rVert^2 = \frac{\sigma^2}{B}
          \quad\text{(with replacement)}, \qquad
          \mathbb E\,\lVert g_B - g\rVert^2 = \frac{\sigma^2}{B}\cdot\frac{N-B}{N-1}
          \quad\text{(without replacement)} .

The second factor is the *finite-population correction*: drawing without
replacement, as a shuffled epoch does, a batch of the whole data set is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse import training
from lrcourse.models import LinearRegression
from lrcourse.optimizers import check_constructor, sgd
from lrcourse.tree import tree_leaves

__all__ = [
    "GradientNoise",
    "LineSGD",
    "Tuned",
    "batch_weights",
    "expected_squared_error",
    "flat_gradient",
    "gradient_noise",
    "linear_scaling_rule",
    "per_example_gradients",
    "stack_seeds",
    "sweep_batch_sizes",
    "time_per_epoch",
    "tuned",
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


def stack_seeds(model, seeds, n_rates):
    """Parameters with sweep axes ``(seed, rate)``: seed ``s``'s initialisation for every rate."""
    inits = [model.init(int(s)) for s in seeds]
    return {
        key: np.stack([np.broadcast_to(p[key], (n_rates,) + p[key].shape) for p in inits]).copy()
        for key in inits[0]
    }


def sweep_batch_sizes(
    model, data, optimizer, epochs, batch_size, *, lr, seed=0, shuffle_seed=0, **fit_options
):
    r"""Train ``model`` for every batch size, rate and seed; return :func:`~lrcourse.training.fit`'s ``(params, history)``.

    One call of :func:`~lrcourse.training.fit` with the 1-D array ``batch_size``, the
    rates ``lr`` (a 1-D array) given to the optimizer constructor (``sgd``, or
    ``functools.partial(sgd, momentum=0.9)``) and starting parameters stacked by
    :func:`stack_seeds`: ``seed`` is one seed or a list, and seed ``s`` starts from
    ``model.init(s)``. The minibatches are shuffled with the one seed ``shuffle_seed``:
    the runs of a batch size share their minibatch order and differ in the rate and the
    initialisation. The history's sweep axes are always ``(batch size, seed, rate)``, so
    ``history.val_accuracy[k, i, s, j]`` is evaluation ``k`` of batch size
    ``batch_size[i]``, seed ``seed[s]`` and rate ``lr[j]``. ``fit_options`` go to
    ``fit`` (``record=``, ``divergence_factor=``,
    ``drop_last=``, ...). The matrix products run on one BLAS thread
    (:mod:`threadpoolctl`), which is faster for these small products on a busy CPU.
    """
    check_constructor(optimizer)
    lr = check.check_positive("lr", lr)
    if lr.ndim != 1 or len(lr) == 0:
        raise ValueError(f"lr must be a 1-D array of rates, got shape {lr.shape}")
    seeds = [check.check_int("seed", int(s), 0) for s in np.atleast_1d(seed)]
    if not seeds:
        raise ValueError("seed must hold at least one seed")
    sizes = np.atleast_1d(np.asarray(batch_size))
    if sizes.ndim != 1 or len(sizes) == 0:
        raise ValueError(f"batch_size must be a 1-D list of sizes, got shape {sizes.shape}")
    params = stack_seeds(model, seeds, len(lr))
    rates = np.broadcast_to(lr, (len(seeds), len(lr))).copy()  # the optimizer's axes: (seed, rate)
    return training.fit(
        model, data, optimizer, epochs, sizes, lr=rates, seed=shuffle_seed, params=params, **fit_options
    )


@dataclass(frozen=True)
class Tuned:
    """The best learning rate of each batch size, from :func:`tuned`.

    ``best_lr[k]`` is the rate with the best ``metric`` (mean over seeds) for
    ``batch_sizes[k]`` after ``epoch`` epochs; ``best_index[k]`` its index in the
    rate grid; ``value[k]`` and ``std[k]`` the mean and the sample standard deviation
    (``ddof=1``; 0 for one seed) over seeds of the metric at that rate; ``per_seed[k]``
    the values of the seeds. ``near[k, j]`` is ``True`` when rate ``j`` cannot be told
    apart from the best: no seed failed and the range of its seeds overlaps the range of
    the best rate's seeds (its best seed is at least as good as the best rate's worst).
    ``at_edge[k]`` is ``True`` when the best rate is the first or last of the grid (the
    grid may be too narrow there).
    """

    batch_sizes: np.ndarray
    metric: str
    epoch: int
    best_index: np.ndarray
    best_lr: np.ndarray
    value: np.ndarray
    std: np.ndarray
    per_seed: np.ndarray
    near: np.ndarray
    at_edge: np.ndarray


def tuned(history, lrs, metric="val_accuracy", epoch=None):
    """The best rate of every batch size by ``metric`` after ``epoch`` epochs (default: the last).

    ``history`` comes from :func:`sweep_batch_sizes` (sweep axes ``(batch size, seed,
    rate)``) and ``lrs`` holds its rates. Accuracy is maximised, losses minimised,
    both averaged over the seeds; a rate that diverged for any seed by then is
    never chosen. Ties go to the smaller rate; ``near`` says which rates are within
    the seed noise of the best.
    """
    metric = check.check_choice("metric", metric, ("train_loss", "val_loss", "val_accuracy"))
    values = getattr(history, metric)
    if values is None:
        raise ValueError(f"this sweep has no {metric} (no validation data, or not a classifier)")
    if len(history.sweep_shape) != 3:
        raise ValueError(
            f"history must have the sweep axes (batch size, seed, rate), got sweep shape {history.sweep_shape}"
        )
    lrs = np.asarray(lrs, dtype=np.float64)
    if lrs.shape != history.sweep_shape[-1:]:
        raise ValueError(
            f"lrs must hold the {history.sweep_shape[-1]} rates of the sweep, got shape {lrs.shape}"
        )
    # every batch size is evaluated after the same epochs: read them off the first one
    evaluated = history.eval_updates[:, 0, 0, 0] / history.updates_per_epoch[0, 0, 0]
    if epoch is None:
        k = len(evaluated) - 1
    elif np.any(evaluated == epoch):
        k = int(np.flatnonzero(evaluated == epoch)[0])
    else:
        raise ValueError(
            f"epoch {epoch!r} was not evaluated; the sweep evaluated after epochs {evaluated.tolist()}"
        )
    finite = np.isfinite(history.train_loss[k])  # a run that failed at this evaluation counts as diverged
    if history.val_loss is not None:
        finite &= np.isfinite(history.val_loss[k])
    at = np.where(finite, values[k], np.nan)  # (batch size, seed, rate)
    mean = at.mean(axis=1)
    score = np.where(np.isfinite(mean), mean if metric == "val_accuracy" else -mean, -np.inf)
    best = np.argmax(score, axis=1)
    rows = np.arange(len(best))
    per_seed = at[rows, :, best]
    ddof = 1 if at.shape[1] > 1 else 0
    # the range of the seeds overlaps the best rate's: (batch size, rate)
    sign = 1.0 if metric == "val_accuracy" else -1.0  # larger is better
    with np.errstate(invalid="ignore"):
        best_seed = (sign * at).max(axis=1)  # NaN where a seed failed
    worst_of_best = (sign * per_seed).min(axis=1)[:, None]
    near = np.isfinite(mean) & (best_seed >= worst_of_best)
    return Tuned(
        batch_sizes=history.batch_size[:, 0, 0],
        metric=metric,
        epoch=int(evaluated[k]) if float(evaluated[k]).is_integer() else float(evaluated[k]),
        best_index=best,
        best_lr=lrs[best],
        value=mean[rows, best],
        std=per_seed.std(axis=1, ddof=ddof),
        per_seed=per_seed,
        near=near,
        at_edge=(best == 0) | (best == len(lrs) - 1),
    )


# ----------------------------------------------------------------- wall-clock time


def time_per_epoch(model, data, optimizer, batch_size, *, lr=None, repeats=3, seed=0):
    """Wall-clock seconds of one epoch of minibatch updates for each of ``batch_size`` (a list).

    Each epoch is one :func:`~lrcourse.training.fit` of one epoch with
    ``record="end"``, timed by its ``history.wall_time`` (the updates only, not the
    evaluations), with the matrix products on one BLAS thread as in
    :func:`sweep_batch_sizes` (steadier on a busy machine). The batch sizes take
    turns: ``repeats`` rounds of one epoch each, and each batch size keeps its
    fastest epoch, so that a burst of other work on the machine does not fall on
    one batch size only. Returns ``(seconds_per_epoch, seconds_per_update)``, two arrays.
    """
    X, y, _, _ = training.checked_data(model, data)
    n = len(y)
    sizes = [check.check_int("batch_size", int(b), 1, n) for b in np.atleast_1d(batch_size)]
    repeats = check.check_int("repeats", repeats, 1)
    best = np.full(len(sizes), np.inf)
    for _ in range(repeats):
        for k, b in enumerate(sizes):
            _, h = training.fit(model, (X, y), optimizer, 1, b, lr=lr, seed=seed, record="end")
            best[k] = min(best[k], h.wall_time)
    return best, best / np.array([training.updates_per_epoch(n, b) for b in sizes])


# ----------------------------------------------------------------- gradient noise


def flat_gradient(grads):
    """The arrays of a gradient (a dict of arrays, see :mod:`lrcourse.tree`) as one flat vector."""
    return np.concatenate([np.ravel(leaf) for leaf in tree_leaves(grads)])


def per_example_gradients(model, params, X, y):
    r"""The gradient of every example's loss :math:`\ell_i` at ``params``, shape ``(N, P)``.

    Row :math:`i` is ``model.loss_and_grad(params, X[i:i+1], y[i:i+1])`` flattened
    with :func:`flat_gradient` (``P = model.n_params``); the rows average to the
    full-batch gradient. One model only (no sweep axes). The loop over the rows
    costs :math:`N` small gradient evaluations: fine for a few thousand examples.
    """
    X, y = model.validate(X, y)
    shapes = [np.shape(leaf) for leaf in tree_leaves(params)]
    expected = [leaf.shape for leaf in tree_leaves(model.init(0))]
    if shapes != expected:
        raise ValueError(
            f"params must be the parameters of one model (shapes {expected}, no sweep axes), got {shapes}"
        )
    rows = [flat_gradient(model.loss_and_grad(params, X[i : i + 1], y[i : i + 1])[1]) for i in range(len(y))]
    return np.array(rows)


def expected_squared_error(sigma2, n, batch_size, replace=False):
    r"""The mean squared error :math:`\mathbb E\lVert g_B - g\rVert^2` of a minibatch gradient.

    ``sigma2`` is the per-example variance :math:`\sigma^2`, ``n`` the data set size
    :math:`N`. With ``replace=True`` the batch is drawn with replacement and the error
    is :math:`\sigma^2/B`; otherwise (the default, as in a shuffled epoch) it is
    :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}`, which is 0 at :math:`B = N`.
    Works elementwise on arrays of batch sizes.
    """
    sigma2 = check.check_nonnegative("sigma2", sigma2)
    n = check.check_int("n", n, 1)
    b = check.check_range("batch_size", batch_size, 1, None if replace else n)
    if replace:
        return sigma2 / b
    if n == 1:  # one example: the only batch is the whole data set
        return np.zeros(np.broadcast_shapes(np.shape(sigma2), b.shape))
    return sigma2 / b * (n - b) / (n - 1)


def batch_weights(n, batch_size, n_batches, rng, replace=False):
    r"""``n_batches`` random minibatches as rows of weights, shape ``(n_batches, n)``.

    Row :math:`k` holds :math:`1/B` at the examples of batch :math:`k` and 0
    elsewhere (with ``replace=True`` an example drawn twice gets :math:`2/B`), so
    ``batch_weights(...) @ G`` is every minibatch gradient at once. Without
    replacement each row picks the :math:`B` examples with the smallest of
    :math:`n` uniform random numbers: a uniformly random subset.
    """
    n = check.check_int("n", n, 1)
    batch_size = check.check_int("batch_size", batch_size, 1, None if replace else n)
    n_batches = check.check_int("n_batches", n_batches, 1)
    if replace:
        picks = rng.integers(0, n, size=(n_batches, batch_size))
        weights = np.zeros((n_batches, n))
        np.add.at(weights, (np.arange(n_batches)[:, None], picks), 1.0 / batch_size)
        return weights
    u = rng.random((n_batches, n))
    kth = np.partition(u, batch_size - 1, axis=1)[:, batch_size - 1 : batch_size]
    return (u <= kth) / batch_size


@dataclass(frozen=True)
class GradientNoise:
    r"""The result of :func:`gradient_noise`.

    For each batch size in ``batch_sizes``: ``squared_error`` is the measured mean of
    :math:`\lVert g_B - g\rVert^2` over ``n_batches`` sampled batches and
    ``theory`` its exact expectation (:func:`expected_squared_error`);
    ``relative_error`` and ``relative_theory`` are their square roots divided by
    :math:`\lVert g\rVert` (``grad_norm``). ``cosine`` is the mean cosine between
    :math:`g_B` and :math:`g` (1: the same direction). ``sigma2`` is the per-example
    variance and ``n`` the number of examples.
    """

    batch_sizes: np.ndarray
    n: int
    n_batches: int
    replace: bool
    grad_norm: float
    sigma2: float
    squared_error: np.ndarray
    theory: np.ndarray
    cosine: np.ndarray

    @property
    def relative_error(self):
        r"""Measured :math:`\sqrt{\mathbb E\lVert g_B - g\rVert^2} / \lVert g\rVert`."""
        return np.sqrt(self.squared_error) / self.grad_norm

    @property
    def relative_theory(self):
        r"""The same from the formula: :math:`\sqrt{\text{theory}} / \lVert g\rVert`."""
        return np.sqrt(self.theory) / self.grad_norm

    @property
    def noise_scale(self):
        r"""The batch size at which the noise equals the signal, :math:`\sigma^2 / \lVert g\rVert^2`
        (with replacement): the relative error is 1 there and falls as :math:`1/\sqrt B` beyond it."""
        return self.sigma2 / self.grad_norm**2


def gradient_noise(G, batch_sizes, n_batches=300, seed=0, replace=False):
    r"""Measure the error of minibatch gradients against the full gradient, for each batch size.

    ``G`` holds the per-example gradients, shape ``(N, P)`` (from
    :func:`per_example_gradients`). For every batch size :math:`B`, ``n_batches``
    batches are drawn (:func:`batch_weights`, seeded with ``seed``) and all their
    gradients computed in one matrix product; the result compares their mean
    squared error with :func:`expected_squared_error`. See :class:`GradientNoise`.
    """
    G = check.as_float_array("G", G)
    if G.ndim != 2:
        raise ValueError(f"G must be 2-D (n_examples, n_params), got shape {G.shape}")
    n = len(G)
    sizes = np.atleast_1d(np.asarray(batch_sizes))
    sizes = np.array([check.check_int("batch_sizes", int(b), 1, None if replace else n) for b in sizes])
    n_batches = check.check_int("n_batches", n_batches, 1)
    g = G.mean(axis=0)
    centred = G - g
    sigma2 = float(np.mean(np.sum(centred * centred, axis=1)))
    norm = float(np.linalg.norm(g))
    rng = np.random.default_rng(seed)
    errors, cosines = [], []
    for b in sizes:
        gb = batch_weights(n, int(b), n_batches, rng, replace) @ G
        diff = gb - g
        errors.append(float(np.mean(np.sum(diff * diff, axis=1))))
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = gb @ g / (np.linalg.norm(gb, axis=1) * norm)
        cosines.append(float(np.mean(cos)))
    theory = expected_squared_error(sigma2, n, sizes, replace)
    return GradientNoise(
        batch_sizes=sizes,
        n=n,
        n_batches=n_batches,
        replace=bool(replace),
        grad_norm=norm,
        sigma2=sigma2,
        squared_error=np.array(errors),
        theory=np.asarray(theory, dtype=np.float64),
        cosine=np.array(cosines),
    )


# ----------------------------------------------------------------- a line


def _theta(state, params):
    """``(w, b)`` of a line's parameters, for ``fit``'s ``watch``."""
    return np.concatenate([params["w"], params["b"][..., None]], axis=-1)


class LineSGD:
    r"""Minibatch SGD on a straight line :math:`\hat y = w x + b` with the mean squared error.

    The full-data loss is a quadratic in :math:`\theta = (w, b)`,

    .. math:: L(\theta) = \theta^\top A\,\theta - 2 c^\top\theta + s,
              \qquad A = \overline{u u^\top},\ c = \overline{u\,y},\ s = \overline{y^2}

    with :math:`u = (x, 1)` and bars for the mean over the data, so :meth:`loss` and
    :meth:`grid` cost a few operations per point. :meth:`run` trains
    :class:`~lrcourse.models.LinearRegression` for ``epochs`` shuffled epochs
    (shuffled with ``seed``) through :func:`~lrcourse.training.fit`.
    """

    def __init__(self, x, y, epochs=3, seed=0):
        x = check.as_float_array("x", x).ravel()
        y = check.as_float_array("y", y).ravel()
        if len(x) != len(y) or len(x) < 1:
            raise ValueError(f"x and y must be 1-D of the same length >= 1, got {len(x)} and {len(y)}")
        self.x, self.y, self.n = x, y, len(y)
        self.epochs = check.check_int("epochs", epochs, 1)
        self.seed = check.check_int("seed", seed, 0)
        self.model = LinearRegression(1)
        self.A = np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
        self.c = np.array([np.mean(x * y), np.mean(y)])
        self.s = float(np.mean(y * y))
        self.minimum = np.linalg.solve(self.A, self.c)
        self.min_loss = float(self.loss(self.minimum))

    def updates_per_epoch(self, batch_size):
        r""":math:`\lceil n / B\rceil`."""
        return training.updates_per_epoch(self.n, batch_size)

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

    def run(self, batch_size, lr, start=(0.0, 0.0), divergence_factor=1e6):
        r"""SGD with ``batch_size`` and rate ``lr`` for ``epochs`` epochs, from ``start``.

        Returns ``(path, batch_loss, full_loss, diverged_at)``: ``path`` of shape
        ``(T + 1, 2)`` (row 0 the start), ``batch_loss[t]`` the loss of the minibatch
        of update ``t`` before it, ``full_loss[t]`` the loss on all the data at
        ``path[t]``, and ``diverged_at`` the update at which the run diverged by the
        rule of :func:`~lrcourse.training.fit` with ``divergence_factor`` (−1 if
        never); the path ends there. An array of rates trains them all at once: the
        arrays then carry the rates' axes after the time axis (a diverged run stays
        where it stopped, its ``batch_loss`` NaN).
        """
        start = np.asarray(start, dtype=np.float64)
        params = {"w": start[:1].copy(), "b": np.array(start[1])}
        _, h = training.fit(
            self.model,
            (self.x[:, None], self.y),
            sgd,
            self.epochs,
            batch_size,
            lr=lr,
            seed=self.seed,
            params=params,
            record="end",
            divergence_factor=divergence_factor,
            watch=_theta,
        )
        shape = np.shape(h.diverged)
        first = np.broadcast_to(start, (1, *shape, 2))
        path = first if h.watched is None else np.concatenate([first, h.watched])
        return path, h.update_loss, self.loss(path), h.diverged_at

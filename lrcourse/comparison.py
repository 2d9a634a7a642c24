r"""Measuring optimizers against each other: speed, stability and cost, on landscapes and models.

The comparison tables in books rate optimizers with words ("fast", "stable",
"cheap"). This module turns each word into a number that can be measured:

- **speed**: the number of steps until the loss first falls below a threshold,
  at the optimizer's *best* rate from a sweep (:func:`steps_to_threshold`,
  :class:`RateSweep`);
- **stability**: how wide the range of rates is that reaches the threshold, in
  decades of the rate (:attr:`RateSweep.stable_decades`);
- **cost**: the time of one update and the number of state arrays the optimizer
  keeps per parameter (:func:`step_cost`).

A sweep trains every rate at once through the sweep axes of
:mod:`lrcourse.optimizers` and :mod:`lrcourse.models`: :func:`sweep_landscape`
on a 2-D landscape, :func:`sweep_model` on a model and a data set with the
minibatches of :func:`lrcourse.training.minibatches`; :func:`sweep_starts` runs
a landscape sweep from several starts at once, for example the nearly equal
starts of :func:`nudged_starts`, to see which measurements hang on rounding.

It also holds the small synthetic problems the chapter on momentum and adaptive
methods measures with: :func:`make_sparse_classification` (rare features, for
AdaGrad) and :func:`decay_under_noise` (weight decay in Adam vs AdamW).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse._perturb import perturbed
from lrcourse.data import unpack
from lrcourse.objectives import Objective
from lrcourse.optimizers import Optimizer, apply_updates, descend
from lrcourse.training import minibatches
from lrcourse.tree import tree_leaves

__all__ = [
    "RateSweep",
    "steps_to_threshold",
    "sweep_landscape",
    "nudged_starts",
    "sweep_starts",
    "sweep_model",
    "step_cost",
    "count_state_arrays",
    "rotated_quadratic",
    "rotate",
    "make_sparse_classification",
    "decay_under_noise",
]


# ----------------------------------------------------------------- speed and stability


def steps_to_threshold(losses, threshold):
    """The first step at which ``losses`` (shape ``(steps + 1, *batch)``) falls below ``threshold``.

    Returns a float array of shape ``batch``: the step index, or ``inf`` for a run
    that never gets there (NaN losses, i.e. diverged runs, never count).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim == 0:
        raise ValueError("losses must have a step axis first, got a scalar")
    threshold = float(check.as_float_array("threshold", threshold))
    with np.errstate(invalid="ignore"):
        below = losses < threshold
    first = below.argmax(axis=0).astype(np.float64)
    return np.where(below.any(axis=0), first, np.inf)


def _longest_run(mask):
    """``(start, stop)`` of the longest run of True in a 1-D mask (``stop`` exclusive), or ``None``."""
    best, start = None, None
    for i, ok in enumerate(np.append(mask, False)):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


@dataclass(frozen=True)
class RateSweep:
    r"""One optimizer run at many learning rates: when (and whether) each reached the threshold.

    ``lrs`` (increasing, shape ``(S,)``), ``steps_to`` (the first step below the
    threshold, ``inf`` if never), ``final_loss`` (NaN for diverged runs) and
    ``diverged`` per rate; ``losses`` the loss curves, shape ``(T + 1, S)`` (``T``
    steps, or evaluations for a model); ``steps_per_eval`` converts an
    evaluation index into steps (1 on a landscape, the updates between two
    evaluations on a model).

    *Speed* is the fewest steps of any rate (:attr:`best_steps`, at
    :attr:`best_lr`); *stability* is the width of the longest run of
    consecutive rates that reach the threshold, in decades:

    .. math:: \text{stable\_decades} = \log_{10} \eta_\text{high} - \log_{10} \eta_\text{low}

    with :math:`\eta_\text{low}, \eta_\text{high}` the first and last rate of
    that run (0 if only one rate converges, ``nan`` if none).
    """

    name: str
    lrs: np.ndarray
    steps_to: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray
    losses: np.ndarray
    threshold: float
    steps_per_eval: int = 1
    recorded: np.ndarray | None = None

    @property
    def converged(self):
        """Which rates reached the threshold (bool, shape ``(S,)``)."""
        return np.isfinite(self.steps_to)

    @property
    def best_index(self):
        """The index of the fastest rate (ties: the smallest rate); ``None`` if none converged."""
        if not self.converged.any():
            return None
        return int(np.argmin(self.steps_to))

    @property
    def best_lr(self):
        """The rate that reached the threshold in the fewest steps (``nan`` if none did)."""
        i = self.best_index
        return np.nan if i is None else float(self.lrs[i])

    @property
    def best_steps(self):
        """The fewest steps to the threshold over all rates (``inf`` if none converged)."""
        i = self.best_index
        return np.inf if i is None else float(self.steps_to[i] * self.steps_per_eval)

    @property
    def stable_range(self):
        """``(low, high)``: the first and last rate of the longest run of converging rates, or ``None``."""
        run = _longest_run(self.converged)
        return None if run is None else (float(self.lrs[run[0]]), float(self.lrs[run[1] - 1]))

    @property
    def stable_decades(self):
        """The width of :attr:`stable_range` in decades of the rate (``nan`` if no rate converged)."""
        r = self.stable_range
        return np.nan if r is None else float(np.log10(r[1] / r[0]))

    @property
    def diverging_from(self):
        """The smallest rate that diverged (``nan`` if none did)."""
        return float(self.lrs[self.diverged].min()) if self.diverged.any() else np.nan

    def summary(self):
        """One line: best rate and steps, stable range and its width."""
        r = self.stable_range
        rng = "none" if r is None else f"{r[0]:.2g} to {r[1]:.2g} ({self.stable_decades:.1f} decades)"
        best = "never" if not np.isfinite(self.best_steps) else f"{self.best_steps:.0f} steps"
        return f"{self.name}: best lr {self.best_lr:.2g} ({best}); converging rates {rng}"


def _sorted_rates(lrs):
    lrs = check.check_positive("lrs", lrs)
    if lrs.ndim != 1 or len(lrs) < 1 or np.any(np.diff(lrs) <= 0):
        raise ValueError(f"lrs must be a 1-D increasing array of rates, got shape {lrs.shape}")
    return lrs


def _constructor(constructor):
    if isinstance(constructor, Optimizer) or not callable(constructor):
        raise ValueError(
            "constructor must be a function of the rate, such as sgd or "
            f"lambda lr: sgd(lr=lr, momentum=0.9), got {constructor!r}"
        )
    return constructor


def sweep_landscape(objective, x0, constructor, lrs, steps, threshold, name=None, explode=1e6):
    """Run ``constructor(lr=lrs)`` on ``objective`` from ``x0`` for every rate at once.

    One call of :func:`~lrcourse.optimizers.descend` with the whole array of
    rates. A run *converges* when its loss falls below ``threshold`` within
    ``steps`` steps, and *diverges* as :func:`~lrcourse.optimizers.descend`
    says (loss above ``explode`` times the start). Returns a :class:`RateSweep`.
    """
    x0 = check.as_float_array("x0", x0)
    if x0.ndim != 1:
        raise ValueError(f"x0 must be one starting point, shape (d,), got shape {x0.shape}")
    return sweep_starts(objective, x0[None], constructor, lrs, steps, threshold, name, explode)[0]


def nudged_starts(x0, n, size=1e-9, seed=0):
    r"""``x0`` followed by ``n`` copies of it, each moved by a relative ``size``: shape ``(n + 1, d)``.

    Copy :math:`k` is :math:`x_0 (1 + \text{size}\; u_k)`, elementwise, with
    :math:`u_k` uniform in :math:`[-1, 1]` from ``np.random.default_rng(seed)``.
    A result that differs between these starts hangs on the last digits of the
    start, and so on rounding: another CPU may well print another value. Pass
    the starts to :func:`sweep_starts`.
    """
    x0 = check.as_float_array("x0", x0)
    if x0.ndim != 1:
        raise ValueError(f"x0 must be one starting point, shape (d,), got shape {x0.shape}")
    n = check.check_int("n", n, 1)
    size = float(check.check_range("size", size, 0.0, 1e-3, low_open=True))
    u = np.random.default_rng(seed).uniform(-1.0, 1.0, (n,) + x0.shape)
    return np.concatenate([x0[None], x0 * (1.0 + size * u)])


def sweep_starts(objective, starts, constructor, lrs, steps, threshold, name=None, explode=1e6):
    """:func:`sweep_landscape` from each of several ``starts`` (shape ``(K, d)``), all in one call.

    Every start runs at every rate (one :func:`~lrcourse.optimizers.descend`
    with a ``(K, S)`` grid of rates); returns a list of ``K`` :class:`RateSweep`,
    the one of ``starts[k]`` at index ``k``. With the starts of
    :func:`nudged_starts` this shows which measurements are reproducible.
    """
    lrs = _sorted_rates(lrs)
    constructor = _constructor(constructor)
    steps = check.check_int("steps", steps, 1)
    starts = check.as_float_array("starts", starts)
    if starts.ndim != 2:
        raise ValueError(f"starts must have shape (K, d), one starting point a row, got shape {starts.shape}")
    K, S = len(starts), len(lrs)
    grid = np.broadcast_to(lrs, (K, S))
    res = descend(objective, starts[:, None, :], constructor(lr=grid), steps, explode=explode)
    steps_to = steps_to_threshold(res.losses, threshold)
    label = name or getattr(constructor, "__name__", "optimizer")
    return [
        RateSweep(
            name=label,
            lrs=lrs,
            steps_to=steps_to[k],
            final_loss=res.final_loss[k],
            diverged=res.diverged[k],
            losses=res.losses[:, k],
            threshold=float(threshold),
        )
        for k in range(K)
    ]


def sweep_model(
    model,
    data,
    constructor,
    lrs,
    epochs,
    threshold,
    batch_size=32,
    name=None,
    evals_per_epoch=1,
    divergence_factor=1e3,
    seed=0,
    record=None,
):
    r"""Train ``model`` with ``constructor(lr=lrs)`` at every rate at once; measure the training loss.

    Every rate starts from ``model.init(seed)`` and sees the same shuffled
    minibatches (:func:`lrcourse.training.minibatches`, one shared
    ``np.random.default_rng(seed)``), as in :func:`lrcourse.training.fit` with an array of rates.
    The loss on the whole training set is evaluated before training and
    ``evals_per_epoch`` times per epoch (after equal numbers of updates), so
    ``steps_to`` counts updates in multiples of ``steps_per_eval``. A rate has
    diverged when a minibatch loss is not finite or exceeds
    ``divergence_factor`` × max(initial loss, 1), as in :func:`lrcourse.training.fit`;
    its later losses are NaN.

    ``record(state, params)``, if given, is called after every update and its
    results are stacked into ``recorded`` of the returned :class:`RateSweep`
    (shape ``(updates, ...)``), for example to follow an optimizer's effective rates.
    """
    lrs = _sorted_rates(lrs)
    constructor = _constructor(constructor)
    epochs = check.check_int("epochs", epochs, 1)
    evals_per_epoch = check.check_int("evals_per_epoch", evals_per_epoch, 1)
    X, y, _, _ = unpack(data)
    X, y = model.validate(X, y, name="X_train")
    batch_size = check.check_int("batch_size", batch_size, 1, len(y))
    n_batches = len(minibatches(len(y), batch_size, np.random.default_rng(0)))
    if evals_per_epoch > n_batches or n_batches % evals_per_epoch:
        raise ValueError(
            f"evals_per_epoch must divide the {n_batches} updates of an epoch, got {evals_per_epoch}"
        )
    every = n_batches // evals_per_epoch

    S = len(lrs)
    params = model.init(seed, sweep=(S,))
    opt = constructor(lr=lrs)
    state = opt.init(params)
    rng = np.random.default_rng(seed)
    losses = [_full_loss(model, params, X, y)]
    limit = divergence_factor * np.maximum(losses[0], 1.0)
    diverged = np.zeros(S, dtype=bool)
    recorded = []
    with np.errstate(all="ignore"):  # too-large rates are expected to blow up
        for _ in range(epochs):
            for i, rows in enumerate(minibatches(len(y), batch_size, rng)):
                loss, grads = model.loss_and_grad(params, X[rows], y[rows])
                diverged |= ~np.isfinite(loss) | (loss > limit)
                updates, state = opt.update(grads, state, params)
                params = apply_updates(params, updates)
                if record is not None:
                    recorded.append(np.asarray(record(state, params)))
                if (i + 1) % every == 0:
                    full = _full_loss(model, params, X, y)
                    diverged |= ~np.isfinite(full)
                    losses.append(np.where(diverged, np.nan, full))
    losses = np.array(losses)
    return RateSweep(
        name=name or getattr(constructor, "__name__", "optimizer"),
        lrs=lrs,
        steps_to=steps_to_threshold(losses, threshold),
        final_loss=losses[-1],
        diverged=diverged,
        losses=losses,
        threshold=float(threshold),
        steps_per_eval=every,
        recorded=np.array(recorded) if record is not None else None,
    )


def _full_loss(model, params, X, y, chunk=64):
    """``model.loss`` on all rows, computed over chunks of ``chunk`` rows and averaged.

    The same number as ``model.loss(params, X, y)`` (the loss is a mean over rows;
    a weight penalty is added to every chunk's mean and the weights sum to one),
    but much faster under a sweep: numpy multiplies a shared ``X`` of many rows
    with a stack of weight matrices slowly, a few rows at a time quickly.
    """
    n = len(y)
    total = 0.0
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        total = total + model.loss(params, X[rows], y[rows]) * (len(y[rows]) / n)
    return total


# ----------------------------------------------------------------- cost


def count_state_arrays(optimizer, params):
    """How many arrays of the parameters' size ``optimizer`` keeps per parameter array.

    Counts the leaves of ``optimizer.init(params)`` that have the shape of a
    parameter leaf, divided by the number of parameter leaves: 0 for plain SGD,
    1 for momentum, AdaGrad and RMSProp, 2 for Adam and AdamW (3 with AMSGrad).
    """
    leaves = tree_leaves(params)
    state = optimizer.init(params)
    shapes = {np.shape(p) for p in leaves}
    arrays = [s for k, v in state.items() if k != "step" for s in tree_leaves(v) if np.shape(s) in shapes]
    return len(arrays) // len(leaves)


def step_cost(constructor, n_params=100_000, repeats=30, seed=0):
    """Time one update of ``constructor(lr=1e-3)`` on a vector of ``n_params`` parameters.

    Returns a dict: ``ms`` (median milliseconds per update over ``repeats``,
    after a warm-up), ``state_arrays`` (:func:`count_state_arrays`) and
    ``state_bytes`` (the memory of those arrays in float64). Wall-clock times
    depend on the machine and its load: compare them with each other, measured
    in the same session, rather than read them as absolute numbers.
    """
    constructor = _constructor(constructor)
    n_params = check.check_int("n_params", n_params, 1)
    repeats = check.check_int("repeats", repeats, 1)
    rng = np.random.default_rng(seed)
    params = rng.normal(size=n_params)
    grads = rng.normal(size=n_params)
    opt = constructor(lr=1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)  # warm-up (and past any first-step branch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        updates, state = opt.update(grads, state, params)
        params = params + updates
        times.append(time.perf_counter() - start)
    arrays = count_state_arrays(opt, params)
    return {"ms": 1e3 * float(np.median(times)), "state_arrays": arrays, "state_bytes": arrays * n_params * 8}


# ----------------------------------------------------------------- synthetic problems


def rotated_quadratic(a=1.0, b=100.0, angle=45.0):
    r"""The quadratic ravine of :func:`lrcourse.objectives.quadratic`, turned by ``angle`` degrees.

    .. math::

        f(x, y) = \tfrac12 \big(a\, u^2 + b\, w^2\big), \qquad
        u = x\cos\alpha + y \sin\alpha, \quad w = -x \sin\alpha + y\cos\alpha

    Same curvatures :math:`a, b` and condition number :math:`b/a` as the
    axis-aligned bowl, but for :math:`\alpha \ne 0, 90°` the steep and the flat
    direction mix both coordinates, so no per-coordinate rescaling can undo the
    ill-conditioning. Gradient :math:`(a u \cos\alpha - b w \sin\alpha,\; a u \sin\alpha + b w \cos\alpha)`.
    """
    a = float(check.check_positive("a", a))
    b = float(check.check_positive("b", b))
    alpha = np.deg2rad(float(check.as_float_array("angle", angle)))
    c, s = np.cos(alpha), np.sin(alpha)

    def coords(x):
        return x[..., 0] * c + x[..., 1] * s, -x[..., 0] * s + x[..., 1] * c

    def value(x):
        u, w = coords(x)
        return 0.5 * (a * u * u + b * w * w)

    def grad(x):
        u, w = coords(x)
        return np.stack([a * u * c - b * w * s, a * u * s + b * w * c], axis=-1)

    return Objective(
        name=f"rotated quadratic (a={a:g}, b={b:g}, {float(angle):g}°)",
        dim=2,
        _value=value,
        _grad=grad,
        minima=np.array([[0.0, 0.0]]),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
        formula=r"\tfrac12 (a u^2 + b w^2),\ (u, w) \text{ rotated by } \alpha",
        hessian_max_eigenvalue=max(a, b),
    )


def rotate(point, angle):
    r"""Turn ``point`` (shape ``(..., 2)``) by ``angle`` degrees about the origin.

    :math:`(x, y) \mapsto (x\cos\alpha - y\sin\alpha,\; x\sin\alpha + y\cos\alpha)`.
    A start ``p`` on :func:`lrcourse.objectives.quadratic` and the start
    ``rotate(p, angle)`` on :func:`rotated_quadratic` with the same ``angle`` sit
    at the same place relative to the bowl, so a method that does not depend on
    the coordinate axes (gradient descent, momentum) follows the same path, turned
    (up to the round-off of the rotation).
    """
    p = np.asarray(check.as_float_array("point", point), dtype=np.float64)
    if p.shape[-1:] != (2,):
        raise ValueError(f"point must have shape (..., 2), got shape {p.shape}")
    alpha = np.deg2rad(float(check.as_float_array("angle", angle)))
    c, s = np.cos(alpha), np.sin(alpha)
    return np.stack([p[..., 0] * c - p[..., 1] * s, p[..., 0] * s + p[..., 1] * c], axis=-1)


def make_sparse_classification(
    n_samples=2000, n_features=20, max_rate=0.5, min_rate=0.005, weight=2.0, jitter=0.0, seed=0
):
    r"""Binary classification with sparse features of very different frequencies.

    Feature :math:`j` is present in a fraction :math:`p_j` of the rows, with
    :math:`p_j` spaced geometrically from ``max_rate`` down to ``min_rate``
    (frequent to rare), independently, and 0 elsewhere. Labels are drawn from
    :math:`P(y = 1) = \sigma(m^\top w^* - \bar z)`, with :math:`m` the 0/1 pattern of
    present features, every true weight :math:`w^*_j = \pm\,\text{weight}`
    (alternating signs) and the offset :math:`\bar z` that centres the logits.

    A present feature has the value 1 (``jitter=0``, binary features) or a value
    drawn uniformly from :math:`[1 - \text{jitter}, 1 + \text{jitter}]`, after the
    labels, so the labels and the pattern do not depend on ``jitter``. Some
    jitter keeps gradients from cancelling exactly: with binary features and
    zero initial weights every row starts at :math:`p = 1/2`, a mini-batch
    with as many 0s as 1s among the rows of a feature gives that weight a
    gradient of exactly zero, and an adaptive optimizer takes no step where a
    rounding error of :math:`10^{-13}` would give a sizeable one (AdaGrad, with
    :math:`\epsilon = 10^{-10}`, a thousandth of its rate). Returns ``(X, y, rates)``, where ``rates`` are the :math:`p_j`; the
    realised frequencies are ``(X > 0).mean(axis=0)``.
    """
    n_samples = check.check_int("n_samples", n_samples, 2)
    n_features = check.check_int("n_features", n_features, 1)
    max_rate = float(check.check_range("max_rate", max_rate, 0.0, 1.0, low_open=True))
    min_rate = float(check.check_range("min_rate", min_rate, 0.0, max_rate, low_open=True))
    weight = float(check.check_nonnegative("weight", weight))
    jitter = float(check.check_range("jitter", jitter, 0.0, 1.0, high_open=True))
    rng = np.random.default_rng(seed)
    rates = np.geomspace(max_rate, min_rate, n_features)
    present = rng.random((n_samples, n_features)) < rates
    w = weight * np.where(np.arange(n_features) % 2 == 0, 1.0, -1.0)
    z = present @ w
    p = 1.0 / (1.0 + np.exp(-(z - z.mean())))
    y = (rng.random(n_samples) < p).astype(np.int64)
    values = rng.uniform(1.0 - jitter, 1.0 + jitter, present.shape) if jitter else 1.0
    X = perturbed(np.where(present, values, 0.0))
    return X, y, rates


def decay_under_noise(optimizer, grad_scales, steps=2000, n_runs=200, seed=0):
    r"""Follow parameters that start at 1 and see only zero-mean gradient noise, plus the optimizer's decay.

    Parameter :math:`j` receives the gradient :math:`s_j\,\xi_t`,
    :math:`\xi_t \sim \mathcal N(0, 1)` (seeded), with scale ``grad_scales[j]``:
    there is nothing to learn, so any systematic shrinking comes from the
    weight decay of ``optimizer`` (an L2 term in the gradient for
    ``adam(weight_decay=...)``, a decoupled shrink for ``adamw``). ``n_runs``
    independent noise sequences run at once. Returns the mean over runs of
    :math:`\theta_t`, shape ``(steps + 1, len(grad_scales))``.
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an Optimizer such as adamw(lr=1e-3), got {optimizer!r}")
    scales = check.check_nonnegative("grad_scales", grad_scales)
    if scales.ndim != 1:
        raise ValueError(f"grad_scales must be 1-D, got shape {scales.shape}")
    steps = check.check_int("steps", steps, 0)
    n_runs = check.check_int("n_runs", n_runs, 1)
    rng = np.random.default_rng(seed)
    theta = np.ones((n_runs, len(scales)))
    state = optimizer.init(theta)
    means = [theta.mean(axis=0)]
    for _ in range(steps):
        grads = scales * rng.standard_normal(theta.shape)
        updates, state = optimizer.update(grads, state, theta)
        theta = theta + updates
        means.append(theta.mean(axis=0))
    return np.array(means)

r"""Chapter 6: measuring optimizers against each other (speed, stability, cost) and its test problems.

The comparison tables in books rate optimizers with words ("fast", "stable",
"cheap"). This module turns each word into a number that can be measured:

- **speed**: the number of steps until the loss falls below a threshold *and
  stays there* to the end of the step budget, at the optimizer's *best* rate
  from a sweep (:func:`steps_to_threshold`, :class:`RateSweep`). A run that only
  passes through the threshold (a method that hovers around the minimum at a
  constant rate) has not converged; :func:`first_crossing` tells the two apart;
- **stability**: how wide the range of rates is that converges in this sense,
  in decades of the rate (:attr:`RateSweep.stable_decades`);
- **cost**: the time of one update and the number of state arrays the optimizer
  keeps per parameter (:func:`step_cost`).

A sweep runs every rate at once along a sweep axis. On a model and a data set it is
one call of :func:`lrcourse.training.fit` with an array of rates, measured by
:func:`rate_sweep`; on a 2-D landscape, :func:`sweep_landscape` (one call of
:func:`lrcourse.descent.descend`); :func:`sweep_starts` runs a landscape sweep
from several starts at once, for example the nearly equal starts of
:func:`nudged_starts`, to see which measurements hang on rounding.

It also holds the small synthetic problems the chapter measures with:
:func:`rotated_quadratic` (the ravine turned away from the axes),
:func:`make_sparse_classification` (rare features, for AdaGrad) and
:func:`decay_under_noise` (weight decay in Adam vs AdamW).

::

    import numpy as np
    from lrcourse import data, labs, models, training
    from lrcourse.optimizers import adam
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    rates = np.geomspace(1e-4, 10, 21)
    _, history = training.fit(models.SoftmaxRegression(64, 10), (split.X_train, split.y_train),
                              adam, epochs=4, batch_size=36, lr=rates, record=6)
    labs.optimizers.rate_sweep(history, rates, threshold=0.1, name="Adam").summary()
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse._perturb import perturbed
from lrcourse.data import check_xy
from lrcourse.descent import descend
from lrcourse.objectives import Objective
from lrcourse.optimizers import Optimizer, check_constructor
from lrcourse.training import fit
from lrcourse.tree import tree_leaves

__all__ = [
    "RateSweep",
    "steps_to_threshold",
    "first_crossing",
    "rate_sweep",
    "sweep_landscape",
    "nudged_starts",
    "sweep_starts",
    "step_cost",
    "count_state_arrays",
    "rotated_quadratic",
    "rotate",
    "make_sparse_classification",
    "decay_under_noise",
]


# ----------------------------------------------------------------- speed and stability


def _below(losses, threshold):
    """``losses < threshold`` as a bool array (NaN: False), with the arguments checked."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim == 0:
        raise ValueError("losses must have a step axis first, got a scalar")
    threshold = float(check.as_float_array("threshold", threshold))
    with np.errstate(invalid="ignore"):
        return losses < threshold


def steps_to_threshold(losses, threshold):
    """The index from which ``losses`` (shape ``(T + 1, *batch)``) stay below ``threshold`` to the end.

    The first index ``t`` such that every loss from ``t`` to the last row is
    below ``threshold``: the run has *converged* and stays converged within the
    budget. Returns a float array of shape ``batch``: that index along the first
    axis, or ``inf`` for a run whose last loss is not below the threshold. A run
    that dips below the threshold and comes back above it does not count from
    the dip (NaN losses, i.e. diverged runs, are never below).
    """
    below = _below(losses, threshold)
    # stays[t]: below at t and at every later row
    stays = np.flip(np.logical_and.accumulate(np.flip(below, axis=0), axis=0), axis=0)
    first = stays.argmax(axis=0).astype(np.float64)
    return np.where(stays[-1], first, np.inf)


def first_crossing(losses, threshold):
    """The first index at which ``losses`` (shape ``(T + 1, *batch)``) is below ``threshold``.

    Returns a float array of shape ``batch`` (``inf`` if no loss is below). Unlike
    :func:`steps_to_threshold` this counts a run that only passes through the
    threshold: the difference between the two shows which runs hover.
    """
    below = _below(losses, threshold)
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
    r"""One optimizer run at many learning rates: when (and whether) each converged.

    ``lrs`` (increasing, shape ``(S,)``), ``losses`` the loss curves, shape
    ``(T + 1, S)`` (NaN after a run diverged), ``steps`` the number of steps (or
    updates) made before each row of ``losses`` (``0, 1, ..., T`` on a landscape,
    ``history.eval_updates`` for a model), and ``diverged`` per rate.
    A rate *converges* when its loss falls below ``threshold`` and stays below
    it to the end of the budget; :attr:`steps_to` counts the steps until then
    (:func:`steps_to_threshold`). A rate whose loss only passes through the
    threshold has not converged; its last loss (:attr:`final_loss`) shows
    where it ended.

    *Speed* is the fewest steps of any rate (:attr:`best_steps`, at
    :attr:`best_lr`); *stability* is the width of the longest run of
    consecutive rates that converge, in decades:

    .. math:: \text{stable\_decades} = \log_{10} \eta_\text{high} - \log_{10} \eta_\text{low}

    with :math:`\eta_\text{low}, \eta_\text{high}` the first and last rate of
    that run (0 if only one rate converges, ``nan`` if none).
    """

    name: str
    lrs: np.ndarray
    losses: np.ndarray
    steps: np.ndarray
    diverged: np.ndarray
    threshold: float

    @property
    def steps_to(self):
        """The steps each rate made until its loss fell below the threshold for good (``inf`` if never).

        From that row on every loss up to the last is below the threshold.
        """
        first = steps_to_threshold(self.losses, self.threshold)
        reached = np.isfinite(first)
        return np.where(reached, self.steps[np.where(reached, first, 0).astype(int)], np.inf)

    @property
    def final_loss(self):
        """The last loss of every rate (NaN for diverged runs)."""
        return self.losses[-1]

    @property
    def converged(self):
        """Which rates converged: below the threshold and staying there to the end (bool, shape ``(S,)``)."""
        return np.isfinite(self.steps_to)

    @property
    def best_index(self):
        """The index of the fastest rate (ties: the smallest rate); ``None`` if none converged."""
        if not self.converged.any():
            return None
        return int(np.argmin(self.steps_to))

    @property
    def best_lr(self):
        """The rate that converged in the fewest steps (``nan`` if none did)."""
        i = self.best_index
        return np.nan if i is None else float(self.lrs[i])

    @property
    def best_steps(self):
        """The fewest steps to converge over all rates (``inf`` if none converged)."""
        i = self.best_index
        return np.inf if i is None else float(self.steps_to[i])

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


def _sorted_rates(name, lrs):
    lrs = check.check_positive(name, lrs)
    if lrs.ndim != 1 or len(lrs) < 1 or np.any(np.diff(lrs) <= 0):
        raise ValueError(f"{name} must be a 1-D increasing array of rates, got shape {lrs.shape}")
    return lrs


def rate_sweep(history, lrs, threshold, name="optimizer"):
    """The :class:`RateSweep` of ``history``, from ``fit(model, data, optimizer, ..., lr=lrs)``.

    A rate *converges* when its loss on the whole training set, evaluated when
    ``fit``'s ``record`` says (``record=k``: every ``k`` updates), falls below
    ``threshold`` and stays below at every later evaluation to the end of the
    run; :attr:`RateSweep.steps_to` counts updates, so it is a multiple of
    ``k``. A rate *diverges* by fit's rule (``history.diverged``).
    """
    lrs = _sorted_rates("lrs", lrs)
    if history.sweep_shape != lrs.shape:
        raise ValueError(
            f"history must hold one run per rate, sweep shape {lrs.shape}, got sweep shape "
            f"{history.sweep_shape}"
        )
    return RateSweep(
        name=name,
        lrs=lrs,
        losses=history.train_loss,
        steps=history.eval_updates[:, 0],
        diverged=np.asarray(history.diverged),
        threshold=float(check.as_float_array("threshold", threshold)),
    )


def sweep_landscape(objective, x0, optimizer, steps, *, lr, threshold, name=None, divergence_factor=1e6):
    """Run ``optimizer(lr=lr)`` on ``objective`` from ``x0`` for every rate of ``lr`` at once.

    ``optimizer`` is a constructor (``sgd``, ``lambda lr: sgd(lr=lr, momentum=0.9)``)
    and ``lr`` an increasing 1-D array of rates: one call of
    :func:`~lrcourse.descent.descend` with the whole array, the arguments in its
    order. A run *converges* when its loss falls below ``threshold`` and stays
    below it to step ``steps`` (a run that passes through the threshold and
    rises again does not), and *diverges* as :func:`~lrcourse.descent.descend`
    says (loss above ``divergence_factor`` times the start). Returns a :class:`RateSweep`.
    """
    x0 = check.as_float_array("x0", x0)
    if x0.ndim != 1:
        raise ValueError(f"x0 must be one starting point, shape (d,), got shape {x0.shape}")
    return sweep_starts(
        objective,
        x0[None],
        optimizer,
        steps,
        lr=lr,
        threshold=threshold,
        name=name,
        divergence_factor=divergence_factor,
    )[0]


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


def sweep_starts(objective, starts, optimizer, steps, *, lr, threshold, name=None, divergence_factor=1e6):
    """:func:`sweep_landscape` from each of several ``starts`` (shape ``(K, d)``), all in one call.

    Every start runs at every rate (one :func:`~lrcourse.descent.descend`
    with a ``(K, S)`` grid of rates); returns a list of ``K`` :class:`RateSweep`,
    the one of ``starts[k]`` at index ``k``. With the starts of
    :func:`nudged_starts` this shows which measurements are reproducible.
    """
    lrs = _sorted_rates("lr", lr)
    check_constructor(optimizer)
    steps = check.check_int("steps", steps, 1)
    starts = check.as_float_array("starts", starts)
    if starts.ndim != 2:
        raise ValueError(f"starts must have shape (K, d), one starting point a row, got shape {starts.shape}")
    K, S = len(starts), len(lrs)
    grid = np.broadcast_to(lrs, (K, S))
    res = descend(objective, starts[:, None, :], optimizer(lr=grid), steps, divergence_factor)
    label = name or getattr(optimizer, "__name__", "optimizer")
    return [
        RateSweep(
            name=label,
            lrs=lrs,
            losses=res.losses[:, k],
            steps=np.arange(steps + 1),
            diverged=res.diverged[k],
            threshold=float(threshold),
        )
        for k in range(K)
    ]


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


def step_cost(optimizer, n_params=100_000, repeats=30, seed=0):
    """Time one update of ``optimizer(lr=1e-3)`` (a constructor) on a vector of ``n_params`` parameters.

    The update (the optimizer's step and adding it to the parameters) is timed
    ``repeats`` times from the same parameters, gradient and state: the state
    after a first update, which also warms up and takes any first-step branch.
    Returns a dict: ``ms`` (median milliseconds per update), ``state_arrays``
    (:func:`count_state_arrays`) and ``state_bytes`` (the memory of those arrays
    in float64). Wall-clock times depend on the machine and its load: compare
    them with each other, measured in the same session, rather than read them as
    absolute numbers.
    """
    check_constructor(optimizer)
    n_params = check.check_int("n_params", n_params, 1)
    repeats = check.check_int("repeats", repeats, 1)
    rng = np.random.default_rng(seed)
    params = rng.normal(size=n_params)
    grads = rng.normal(size=n_params)
    opt = optimizer(lr=1e-3)
    _, state = opt.update(grads, opt.init(params), params)

    def one_update():
        start = time.perf_counter()
        updates, _ = opt.update(grads, state, params)
        _moved = params + updates  # applied, as in training
        return time.perf_counter() - start

    ms = 1e3 * float(np.median([one_update() for _ in range(repeats)]))
    arrays = count_state_arrays(opt, params)
    return {"ms": ms, "state_arrays": arrays, "state_bytes": arrays * n_params * 8}


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


class _LinearLoss:
    r"""A model whose loss is linear in its parameters: :math:`\ell(\theta; x) = \sum_j \theta_j x_j`.

    Each row ``x`` of the data holds one number per parameter (``theta`` has
    ``shape``, a row ``prod(shape)`` numbers) and the targets are not used. The
    gradient on a minibatch is the mean of its rows, whatever :math:`\theta` is,
    so rows of pure noise give :func:`~lrcourse.training.fit` updates that see
    nothing but that noise. ``theta`` starts at 1.
    """

    task = "regression"

    def __init__(self, shape):
        self.shape = tuple(shape)

    def init(self, seed=0):
        return {"theta": np.ones(self.shape)}

    def validate(self, X, y, name="X"):
        X, y = check_xy(X, y, name=name)
        if X.shape[1] != math.prod(self.shape):
            raise ValueError(f"{name} must have {math.prod(self.shape)} columns, got {X.shape[1]}")
        return X, y.astype(np.float64)

    def loss_and_grad(self, params, X, y):
        grad = X.mean(axis=0).reshape(self.shape)
        return float(np.sum(params["theta"] * grad)), {"theta": grad}

    def evaluate(self, params, X, y):
        return self.loss_and_grad(params, X, y)[0], None


def decay_under_noise(optimizer, grad_scales, steps=2000, n_runs=200, seed=0):
    r"""Follow parameters that start at 1 and see only zero-mean gradient noise, plus the optimizer's decay.

    Parameter :math:`j` receives the gradient :math:`s_j\,\xi_t`,
    :math:`\xi_t \sim \mathcal N(0, 1)` (seeded), with scale ``grad_scales[j]``:
    there is nothing to learn, so any systematic shrinking comes from the
    weight decay of ``optimizer`` (an L2 term in the gradient for
    ``adam(weight_decay=...)``, a decoupled shrink for ``adamw``). ``n_runs``
    independent noise sequences run at once. Returns the mean over runs of
    :math:`\theta_t`, shape ``(steps + 1, len(grad_scales))``.

    The training is one call of :func:`~lrcourse.training.fit`: a model whose loss
    is linear in the parameters (its gradient is the data row), one row of noise
    per step, in order, with minibatches of one row.
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an Optimizer such as adamw(lr=1e-3), got {optimizer!r}")
    scales = check.check_nonnegative("grad_scales", grad_scales)
    if scales.ndim != 1:
        raise ValueError(f"grad_scales must be 1-D, got shape {scales.shape}")
    steps = check.check_int("steps", steps, 1)
    n_runs = check.check_int("n_runs", n_runs, 1)
    model = _LinearLoss((n_runs, len(scales)))
    noise = scales * np.random.default_rng(seed).standard_normal((steps, n_runs, len(scales)))
    _, history = fit(
        model,
        (noise.reshape(steps, -1), np.zeros(steps)),
        optimizer,
        epochs=1,
        batch_size=1,
        shuffle=False,
        divergence_factor=np.finfo(np.float64).max,  # a linear loss has no floor: nothing diverges
        record="end",
        watch=lambda state, params: params["theta"].mean(axis=0),
    )
    return np.concatenate([model.init()["theta"].mean(axis=0)[None], history.watched])

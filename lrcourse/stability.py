r"""The stability limit of gradient descent: exact on a quadratic, measured on a model.

On a quadratic loss with Hessian :math:`H` (eigenvalues :math:`\lambda_i`), one step of
plain gradient descent multiplies the distance to the minimum along eigen-direction
:math:`i` by the *step factor* :math:`1 - \eta\lambda_i` (:func:`step_factors`). The
run converges only if every factor has absolute value below 1, that is

.. math:: 0 < \eta < \frac{2}{\lambda_{\max}} = \frac{2}{L},

the bound this course calls the *stability limit* (:func:`stability_limit`). Between
:math:`1/L` and :math:`2/L` the steepest direction overshoots and flips sign every
step (it oscillates) but still shrinks; above :math:`2/L` it grows (:func:`regime`).

For linear regression with the mean squared error the loss *is* a quadratic, with
Hessian :math:`\frac2n \tilde X^\top \tilde X` (:func:`linear_regression_hessian`),
so the limit can be computed in closed form and compared with a measurement:
:func:`gd_sweep` runs full-batch gradient descent for many rates in one vectorised
call, and :func:`divergence_threshold` narrows down the rate where runs start to
diverge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lrcourse import _validate as check
from lrcourse.optimizers import apply_updates, sgd

__all__ = [
    "REGIMES",
    "step_factors",
    "regime",
    "largest_eigenvalue",
    "stability_limit",
    "linear_regression_hessian",
    "GDSweep",
    "gd_sweep",
    "Threshold",
    "divergence_threshold",
]

REGIMES = ("monotone", "oscillating", "on the limit", "diverging")
"""The names :func:`regime` gives, from small to large rates."""


# ----------------------------------------------------------------- the quadratic, exactly


def step_factors(lr, curvatures):
    r"""The factor :math:`1 - \eta\lambda` that one gradient step applies along each curvature.

    On :math:`f(x) = \tfrac12 \sum_i \lambda_i x_i^2` the update
    :math:`x_i \leftarrow x_i - \eta\lambda_i x_i` is a multiplication by
    :math:`1 - \eta\lambda_i`, so after :math:`t` steps :math:`x_i = (1-\eta\lambda_i)^t x_{i,0}`.
    ``lr`` and ``curvatures`` broadcast (e.g. ``lr[:, None]`` against a vector of
    eigenvalues gives one row per rate).
    """
    lr = check.check_nonnegative("lr", lr)
    curvatures = check.check_nonnegative("curvatures", curvatures)
    return 1.0 - lr * curvatures


def regime(lr, L):
    r"""Name what gradient descent does along a direction of curvature ``L`` at rate ``lr``.

    - ``"monotone"``: :math:`0 \le \eta L \le 1`, the factor :math:`1-\eta L` is in
      :math:`[0, 1)`: a steady approach from one side (for :math:`\eta L = 1`, one step lands on the minimum).
    - ``"oscillating"``: :math:`1 < \eta L < 2`, the factor is in :math:`(-1, 0)`: the
      iterate jumps across the minimum every step but the jumps shrink.
    - ``"on the limit"``: :math:`\eta L = 2` (to within :math:`10^{-12}`), factor :math:`-1`:
      it bounces between two points forever.
    - ``"diverging"``: :math:`\eta L > 2`, :math:`|1-\eta L| > 1`: the jumps grow
      and the loss grows without bound.

    Scalars only (one rate, one curvature); returns one of :data:`REGIMES`.
    """
    lr = float(check.check_nonnegative("lr", lr))
    L = float(check.check_positive("L", L))
    product = lr * L
    if product <= 1.0:
        return "monotone"
    if abs(product - 2.0) <= 1e-12:
        return "on the limit"
    return "oscillating" if product < 2.0 else "diverging"


def _symmetric(name, H):
    H = check.as_float_array(name, H)
    if H.ndim == 0:
        H = H.reshape(1, 1)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"{name} must be a square matrix (d, d), got shape {H.shape}")
    if not np.isfinite(H).all():
        raise ValueError(f"{name} must be finite, got inf")
    scale = max(np.max(np.abs(H)), 1e-300)
    if np.max(np.abs(H - H.T)) > 1e-10 * scale:
        raise ValueError(
            f"{name} must be symmetric (a Hessian is), got H - H.T up to {np.max(np.abs(H - H.T)):.3g}"
        )
    return H


def largest_eigenvalue(H):
    r"""The largest eigenvalue :math:`\lambda_{\max}` of a symmetric matrix (``numpy.linalg.eigvalsh``).

    A scalar counts as a 1 × 1 matrix. ``ValueError`` if ``H`` is not square and symmetric.
    """
    H = _symmetric("H", H)
    return float(np.linalg.eigvalsh(H)[-1])


def stability_limit(H):
    r"""The largest rate at which gradient descent on a quadratic with Hessian ``H`` still converges.

    .. math:: \eta_{\max} = \frac{2}{\lambda_{\max}(H)}

    ``H`` is a symmetric matrix or a single curvature :math:`L`. Gradient descent
    converges for :math:`0 < \eta < \eta_{\max}` and diverges above it (from almost
    every start). ``ValueError`` if :math:`\lambda_{\max} \le 0`: then the quadratic
    has no minimum to converge to.
    """
    lam = largest_eigenvalue(H)
    if lam <= 0:
        raise ValueError(f"the largest eigenvalue must be > 0 for a minimum to exist, got {lam:.3g}")
    return 2.0 / lam


def linear_regression_hessian(X, fit_intercept=True, l2=0.0):
    r"""The Hessian of the mean squared error of linear regression, a constant matrix.

    For :math:`L(w, b) = \frac1n \lVert Xw + b - y\rVert^2 + \frac\lambda2\lVert w\rVert^2`
    (:class:`lrcourse.models.LinearRegression`) and :math:`\tilde X = [X \;\; \mathbf 1]`:

    .. math:: H = \frac2n \tilde X^\top \tilde X + \lambda \begin{pmatrix} I & 0 \\ 0 & 0\end{pmatrix}

    shape ``(d + 1, d + 1)``, the bias last; without the intercept
    (``fit_intercept=False``) :math:`H = \frac2n X^\top X + \lambda I`, shape ``(d, d)``.
    It does not depend on :math:`y` or on the weights: the loss is exactly quadratic.
    """
    X = check.as_float_array("X", X)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be 2-D (n_samples, n_features) with at least one row, got shape {X.shape}")
    l2 = float(check.check_nonnegative("l2", l2))
    n, d = X.shape
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    H = (2.0 / n) * (Xt.T @ Xt)
    H[np.arange(d), np.arange(d)] += l2
    return H


# ----------------------------------------------------------------- measured on a model


@dataclass(frozen=True)
class GDSweep:
    """The result of :func:`gd_sweep`.

    ``losses`` has shape ``(steps + 1, S)``: the full training loss of every rate
    before each step (row 0: at the start); NaN after a run exploded.
    ``exploded`` marks runs stopped because the loss was not finite or exceeded
    ``explode × max(L_0, 1)``; ``growing`` marks runs whose loss was higher at the
    end than half-way. ``diverged`` is either.
    """

    lrs: np.ndarray
    losses: np.ndarray
    exploded: np.ndarray
    growing: np.ndarray

    @property
    def diverged(self):
        """Runs that exploded or whose loss was still growing at the end."""
        return self.exploded | self.growing

    @property
    def final_loss(self):
        """The last loss of every run (NaN for exploded runs)."""
        return self.losses[-1]


def gd_sweep(model, X, y, lrs, steps=300, explode=1e6, params=None, seed=0):
    r"""Full-batch gradient descent on ``model`` for every rate in ``lrs`` at once.

    Every rate starts from the same parameters (``params``, default
    ``model.init(seed)``) and applies :math:`\theta \leftarrow \theta - \eta\nabla L(\theta)`
    with the gradient on all of ``(X, y)`` (:func:`lrcourse.optimizers.sgd` on the
    sweep axis of the model), ``steps`` times. A run that explodes (loss not finite
    or above ``explode × max(L_0, 1)``) is frozen from then on.

    A run also counts as diverging when its loss is *growing*: higher at the end
    than after ``steps // 2`` steps (by more than a relative :math:`10^{-9}`). On a
    quadratic loss such as linear regression's, a stable rate never raises the loss
    (each eigen-component shrinks by :math:`|1-\eta\lambda_i| \le 1` per step), so a
    growing loss means a direction with :math:`|1-\eta\lambda_i| > 1`, even when it
    grows too slowly to explode within ``steps``.
    """
    lrs = check.check_positive("lrs", lrs)
    if lrs.ndim != 1:
        raise ValueError(f"lrs must be 1-D, got shape {lrs.shape}")
    steps = check.check_int("steps", steps, 2)
    explode = float(check.check_range("explode", explode, 1.0, low_open=True))
    X, y = model.validate(X, y)
    S = len(lrs)
    start = model.init(seed) if params is None else params
    p = {k: np.broadcast_to(v, (S,) + np.shape(v)).copy() for k, v in start.items()}
    opt = sgd(lr=lrs)
    state = opt.init(p)
    losses = np.empty((steps + 1, S))
    alive = np.ones(S, dtype=bool)
    # many medium-sized matrix products: one BLAS thread is faster, above all on a busy machine
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        loss, grads = model.loss_and_grad(p, X, y)
        limit = explode * np.maximum(loss, 1.0)
        for t in range(steps + 1):
            bad = ~np.isfinite(loss) | (loss > limit)
            alive &= ~bad
            losses[t] = np.where(alive, loss, np.nan)
            if t == steps or not alive.any():
                losses[t + 1 :] = np.nan
                break
            updates, state = opt.update(grads, state, p)
            new = apply_updates(p, updates)
            p = {k: np.where(alive.reshape((S,) + (1,) * (v.ndim - 1)), new[k], v) for k, v in p.items()}
            loss, grads = model.loss_and_grad(p, X, y)
    exploded = ~alive
    half = losses[steps // 2]
    growing = alive & (losses[-1] > half * (1 + 1e-9))
    return GDSweep(lrs, losses, exploded, growing)


@dataclass(frozen=True)
class Threshold:
    """The result of :func:`divergence_threshold`.

    ``stable`` is the largest rate tried that did not diverge, ``unstable`` the
    smallest that did (``stable < unstable``); ``estimate`` is their geometric mean.
    ``sweeps`` holds the :class:`GDSweep` of every round.
    """

    stable: float
    unstable: float
    sweeps: tuple

    @property
    def estimate(self):
        """The geometric mean of the bracket ``[stable, unstable]``."""
        return float(np.sqrt(self.stable * self.unstable))

    @property
    def relative_width(self):
        """``unstable / stable - 1``: how tightly the bracket pins the threshold."""
        return self.unstable / self.stable - 1.0


def divergence_threshold(model, X, y, low=1e-4, high=10.0, n=40, rounds=2, steps=300, seed=0):
    r"""Measure the smallest rate at which full-batch gradient descent diverges.

    Round 1 runs :func:`gd_sweep` on ``n`` rates spaced evenly in log between
    ``low`` and ``high``; the largest rate that did not diverge and the next one,
    which did, bracket the threshold. Each further round sweeps ``n`` rates inside
    the bracket, so after ``r`` rounds the bracket is about
    :math:`(\text{high}/\text{low})^{1/(n-1)^r}` wide (two rounds of 40 rates over five decades: about 0.6 %).

    ``ValueError`` if ``low`` already diverges or ``high`` does not. The rates
    below the threshold must all be stable: a non-diverging rate above a
    diverging one is reported as an error too (it would make the bracket meaningless).
    """
    low = float(check.check_positive("low", low))
    high = float(check.check_range("high", high, low, low_open=True))
    n = check.check_int("n", n, 3)
    rounds = check.check_int("rounds", rounds, 1)
    sweeps = []
    for r in range(rounds):
        lrs = np.geomspace(low, high, n)
        result = gd_sweep(model, X, y, lrs, steps=steps, seed=seed)
        sweeps.append(result)
        div = result.diverged
        if r == 0 and div[0]:
            raise ValueError(f"the smallest rate low={low:g} already diverges: lower it")
        if r == 0 and not div[-1]:
            raise ValueError(f"the largest rate high={high:g} does not diverge in {steps} steps: raise it")
        first = int(np.argmax(div))
        if first == 0 or not div[first:].all():
            raise ValueError(
                f"the rates do not split cleanly in round {r + 1}: rate {lrs[first]:.4g} diverges but "
                "a smaller one was expected to be stable and a larger one to diverge; use more steps"
            )
        low, high = float(lrs[first - 1]), float(lrs[first])
    return Threshold(low, high, tuple(sweeps))

r"""Chapter 2: the stability limit of gradient descent, and searching for a good rate.

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
:func:`divergence_threshold` trains full-batch gradient descent with many rates in one
:func:`~lrcourse.training.fit` call and narrows down the rate where runs start to
diverge; :func:`diverging` says which runs of a history diverged or still grow.

On a real model a sweep of rates is one call,
``training.fit(model, data, sgd, epochs, batch_size, lr=lrs)``. :func:`good_range`
reads off the run of rates whose score is close to the best, :func:`nearest` finds the
rate of the sweep closest to a given one, and :func:`trial_and_error` replays the
hand-tuning recipe "try a rate, look, move it by a factor, stop when it gets worse" on a
score function, counting the trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers import check_constructor, sgd
from lrcourse.training import DIVERGENCE_FACTOR, fit

__all__ = [
    "REGIMES",
    "step_factors",
    "regime",
    "largest_eigenvalue",
    "stability_limit",
    "linear_regression_hessian",
    "diverging",
    "Threshold",
    "divergence_threshold",
    "good_range",
    "nearest",
    "Search",
    "trial_and_error",
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


def diverging(history):
    r"""Where the runs of a :class:`~lrcourse.training.History` diverged or end with a growing loss.

    A run counts as *diverging* when :func:`~lrcourse.training.fit` stopped it as
    diverged, or when its last training loss on the whole set is higher than the one
    evaluated before it (by more than a relative :math:`10^{-9}`); train with
    ``record=[epochs // 2]`` to compare the end with half way. On a quadratic loss such
    as linear regression's, a stable rate never raises the loss of full-batch gradient
    descent (each eigen-component shrinks by :math:`|1-\eta\lambda_i| \le 1` per step),
    so a growing loss means a direction with :math:`|1-\eta\lambda_i| > 1`, even when it
    grows too slowly to reach the divergence rule. Returns a bool, or a bool array of
    the sweep shape.
    """
    losses = history.train_loss  # a run that diverged at its first update has one evaluation
    with np.errstate(invalid="ignore"):
        growing = losses[-1] > losses[-2] * (1 + 1e-9) if len(losses) > 1 else False
    out = np.asarray(history.diverged) | growing
    return bool(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Threshold:
    """The result of :func:`divergence_threshold`.

    ``stable`` is the largest rate tried that did not diverge, ``unstable`` the
    smallest that did (``stable < unstable``); ``estimate`` is their geometric mean.
    ``histories`` holds the :class:`~lrcourse.training.History` of every round.
    """

    stable: float
    unstable: float
    histories: tuple

    @property
    def estimate(self):
        """The geometric mean of the bracket ``[stable, unstable]``."""
        return float(np.sqrt(self.stable * self.unstable))

    @property
    def relative_width(self):
        """``unstable / stable - 1``: how tightly the bracket pins the threshold."""
        return self.unstable / self.stable - 1.0


def divergence_threshold(
    model,
    data,
    optimizer=sgd,
    epochs=300,
    *,
    low=1e-4,
    high=10.0,
    n=40,
    rounds=2,
    divergence_factor=DIVERGENCE_FACTOR,
    seed=0,
):
    r"""Measure the smallest rate at which full-batch gradient descent diverges.

    Round 1 trains ``n`` rates spaced evenly in log between ``low`` and ``high``, for
    ``epochs`` steps of full-batch gradient descent: one :func:`~lrcourse.training.fit`
    call, ``fit(model, data, optimizer, epochs, lr=rates, shuffle=False)``, every run
    from ``model.init(seed)``. The largest rate that is not :func:`diverging` and the
    next one, which is, bracket the threshold. Each further round sweeps ``n`` rates
    inside the bracket, so after ``r`` rounds the bracket is about
    :math:`(\text{high}/\text{low})^{1/(n-1)^r}` wide (two rounds of 40 rates over
    five decades: about 0.6 %). ``optimizer`` is a constructor, plain ``sgd`` by
    default: :func:`diverging` reads a loss that still grows at the end as diverging,
    which is right for gradient descent on a quadratic loss, where a stable rate never
    raises the loss.

    ``ValueError`` if ``low`` already diverges or ``high`` does not. The rates
    below the threshold must all be stable: a non-diverging rate above a
    diverging one is reported as an error too (it would make the bracket meaningless).
    """
    low = float(check.check_positive("low", low))
    high = float(check.check_range("high", high, low, low_open=True))
    n = check.check_int("n", n, 3)
    rounds = check.check_int("rounds", rounds, 1)
    epochs = check.check_int("epochs", epochs, 2)
    check_constructor(optimizer)
    histories = []
    for r in range(rounds):
        lrs = np.geomspace(low, high, n)
        _, history = fit(
            model,
            data,
            optimizer,
            epochs,
            lr=lrs,
            seed=seed,
            shuffle=False,
            record=[epochs // 2],
            divergence_factor=divergence_factor,
        )
        histories.append(history)
        div = diverging(history)
        if r == 0 and div[0]:
            raise ValueError(f"the smallest rate low={low:g} already diverges: lower it")
        if r == 0 and not div[-1]:
            raise ValueError(f"the largest rate high={high:g} does not diverge in {epochs} epochs: raise it")
        first = int(np.argmax(div))
        if first == 0 or not div[first:].all():
            raise ValueError(
                f"the rates do not split cleanly in round {r + 1}: rate {lrs[first]:.4g} diverges but "
                "a smaller one was expected to be stable and a larger one to diverge; use more epochs"
            )
        low, high = float(lrs[first - 1]), float(lrs[first])
    return Threshold(low, high, tuple(histories))


# ----------------------------------------------------------------- reading a sweep of rates


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


def nearest(lrs, lr):
    """The index of the rate in ``lrs`` closest to ``lr`` in log distance (the column of a sweep)."""
    lrs = check.check_positive("lrs", lrs)
    lr = float(check.check_positive("lr", lr))
    return int(np.argmin(np.abs(np.log(lrs) - np.log(lr))))


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

r"""Generalisation experiments: model capacity against epochs, selection bias, curves to read.

Three tools for the chapter on epochs, overfitting and underfitting:

- :func:`polynomial_sweep` trains a linear model on the polynomial features of
  every degree at once (full batch, one update per epoch) and records the
  training and validation losses and the parameters after every epoch. Each
  degree gives the numbers of :func:`lrcourse.training.fit` with
  ``LinearRegression(degree)``, ``batch_size=None`` and ``shuffle=False``, to
  round-off (one masked matrix product serves all degrees); the
  :class:`PolynomialSweep` turns any degree into a
  :class:`~lrcourse.training.History` for :func:`~lrcourse.diagnosis.diagnose`.
- :func:`selection_bias` measures how optimistic a score is when it was used to
  *choose* among many models: the best of many candidates on a small set, scored
  again on a fresh set of the same size and on a very large one.
- :func:`curve_quiz` runs a few short trainings whose curves a learner labels
  (good fit, overfitting, ...); :func:`evidence_lines` says in words which numbers
  :func:`~lrcourse.diagnosis.diagnose` decided on.

:func:`noisy_labels` gives a fraction of the labels a wrong class, the setting in
which training longer hurts most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse import data as _data
from lrcourse import models as _models
from lrcourse.diagnosis import diagnose
from lrcourse.optimizers import Optimizer, adam, apply_updates, sgd
from lrcourse.training import DIVERGENCE_FACTOR, History, fit

__all__ = [
    "PolynomialSweep",
    "QuizCurve",
    "SelectionBias",
    "curve_quiz",
    "evidence_lines",
    "noisy_labels",
    "polynomial_sweep",
    "selection_bias",
]


# ----------------------------------------------------------------- polynomial capacity sweep


@dataclass(frozen=True)
class PolynomialSweep:
    r"""Training records of one linear model per polynomial degree (see :func:`polynomial_sweep`).

    ``train_loss[s, e]`` and ``val_loss[s, e]`` are the mean squared errors of
    degree ``degrees[s]`` after ``e`` epochs (``e = 0``: before training);
    ``weights[e, s, :d]`` and ``bias[e, s]`` are its parameters then (the
    weights of powers above ``d`` stay 0). A member that diverged has NaN from
    the epoch after the one that stopped it; ``diverged_at[s]`` is that epoch
    (−1 if none). The data it was trained and validated on are kept for plotting.
    """

    degrees: tuple
    train_loss: np.ndarray
    val_loss: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    diverged_at: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    lr: float | None = None

    @property
    def n_train(self):
        """The number of training points (one full batch)."""
        return len(self.y_train)

    @property
    def epochs(self):
        """The number of epochs trained (the last epoch index)."""
        return self.train_loss.shape[1] - 1

    def index(self, degree):
        """The row of ``degree`` in the records."""
        if degree not in self.degrees:
            raise ValueError(f"degree must be one of {list(self.degrees)}, got {degree!r}")
        return self.degrees.index(degree)

    def params(self, degree, epoch):
        """``{"w": (degree,), "b": ()}`` after ``epoch`` epochs: parameters of ``LinearRegression(degree)``."""
        s = self.index(degree)
        epoch = check.check_int("epoch", epoch, 0, self.epochs)
        return {"w": self.weights[epoch, s, :degree].copy(), "b": np.array(self.bias[epoch, s])}

    def predict(self, degree, epoch, x):
        r"""The fitted polynomial :math:`\hat y = b + \sum_{k=1}^{d} w_k x^k` at the points ``x`` (1-D)."""
        p = self.params(degree, epoch)
        return _data.polynomial_features(np.asarray(x, dtype=np.float64), degree) @ p["w"] + p["b"]

    def best_epoch(self, degree):
        """The epoch with the lowest validation loss (the first one if several tie)."""
        return int(np.nanargmin(self.val_loss[self.index(degree)]))

    def history(self, degree, epochs=None):
        """Degree ``degree`` as a :class:`~lrcourse.training.History` (first ``epochs`` epochs only if given).

        The fields are those :func:`~lrcourse.training.fit` would record for the same
        run: one update per epoch, the minibatch loss before update ``t`` is the
        training loss after epoch ``t``, the monitored loss is the validation loss.
        """
        s = self.index(degree)
        last = self.epochs if epochs is None else check.check_int("epochs", epochs, 1, self.epochs)
        diverged = 0 <= self.diverged_at[s] <= last
        if diverged:
            last = int(self.diverged_at[s])
        T = self.train_loss[s, : last + 1].copy()
        V = self.val_loss[s, : last + 1].copy()
        rate = np.nan if self.lr is None else self.lr
        # as in fit: a finite but exploding loss is also the minibatch loss that stopped the run
        n_losses = last + 1 if diverged and np.isfinite(T[-1]) else last
        best = int(np.argmin(np.where(np.isfinite(V), V, np.inf)))
        h = History(
            batch_size=self.n_train,
            n_train=self.n_train,
            updates_per_epoch=1,
            monitor="val_loss",
            update_loss=T[:n_losses].copy(),
            update_lr=np.full(n_losses, rate),
            train_loss=T,
            val_loss=V,
            epoch_lr=np.full(last, rate),
            n_updates=last,
            epochs_run=last,
            best_epoch=best,
            best_loss=float(V[best]),
        )
        if diverged:
            h.diverged, h.diverged_at, h.stop_reason = True, last, "diverged"
            h.divergence_reason = (
                f"training loss {T[-1]:.4g} after epoch {last} was not finite or exceeded the limit"
            )
        return h


def polynomial_sweep(x_train, y_train, x_val, y_val, degrees, optimizer, epochs, *, divergence_factor=None):
    r"""Fit :math:`\hat y = b + \sum_{k=1}^{d} w_k x^k` for every degree :math:`d` in ``degrees`` at once.

    Full-batch training from zero parameters: epoch :math:`e` makes one update
    with the gradient of the mean squared error on all :math:`n` training points,

    .. math::

        \nabla_w L = \frac2n X_d^\top r, \quad \frac{\partial L}{\partial b} = \frac2n\sum_i r_i,
        \qquad r = X_d w + b - y,

    :math:`X_d` = ``polynomial_features(x, d)``. All degrees share one array of
    parameters whose powers above each degree are masked out, so the whole sweep
    costs about as much as one run of the highest degree. For each degree the
    losses and parameters equal those of ``fit(LinearRegression(d), ...,
    batch_size=None, shuffle=False)`` (to round-off).

    ``optimizer`` is an :class:`~lrcourse.optimizers.Optimizer` with one value per
    hyperparameter (``sgd(lr=0.5, momentum=0.9)``). A member *diverges* at the
    first epoch :math:`e < E` whose training loss is not finite or exceeds
    ``divergence_factor`` (default :data:`~lrcourse.training.DIVERGENCE_FACTOR`)
    :math:`\times \max(L_0, 1)`, as in ``fit``; it is frozen (NaN) from then on.
    Returns a :class:`PolynomialSweep`.
    """
    degrees = tuple(check.check_int("degrees", d, 1) for d in np.atleast_1d(degrees).tolist())
    if not degrees or len(set(degrees)) != len(degrees):
        raise ValueError(f"degrees must list distinct degrees >= 1, got {list(degrees)}")
    epochs = check.check_int("epochs", epochs, 1)
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an Optimizer such as sgd(lr=0.5), got {optimizer!r}")
    if optimizer.sweep_shape != ():
        raise ValueError(
            f"optimizer must have one value per hyperparameter, got sweep shape {optimizer.sweep_shape}"
        )
    factor = DIVERGENCE_FACTOR if divergence_factor is None else divergence_factor
    factor = float(check.check_range("divergence_factor", factor, 1.0, low_open=True))
    x_train, y_train = _points(x_train, y_train, "x_train")
    x_val, y_val = _points(x_val, y_val, "x_val")

    D, S, n = max(degrees), len(degrees), len(y_train)
    # columns: x, x^2, ..., x^D, then 1 for the bias; train and validation points in one matrix
    F = np.column_stack(
        [_data.polynomial_features(np.concatenate([x_train, x_val]), D), np.ones(n + len(y_val))]
    )
    F_train = F[:n]
    targets = np.concatenate([y_train, y_val])
    mask = np.ones((S, D + 1))
    mask[:, :D] = np.arange(1, D + 1)[None, :] <= np.array(degrees)[:, None]

    theta = np.zeros((S, D + 1))
    state = optimizer.init(theta)
    coef = np.full((epochs + 1, S, D + 1), np.nan)
    T = np.full((S, epochs + 1), np.nan)
    V = np.full((S, epochs + 1), np.nan)
    alive = np.ones(S, dtype=bool)
    diverged_at = np.full(S, -1)
    limit = None
    with np.errstate(all="ignore"):
        for e in range(epochs + 1):
            R = theta @ F.T - targets  # residuals of every member on every point
            r = R[:, :n]
            T[alive, e] = np.einsum("ij,ij->i", r, r)[alive] / n
            V[alive, e] = np.einsum("ij,ij->i", R[:, n:], R[:, n:])[alive] / len(y_val)
            coef[e, alive] = theta[alive]
            if limit is None:
                limit = factor * np.maximum(T[:, 0], 1.0)
            bad = alive & (~np.isfinite(T[:, e]) | ((T[:, e] > limit) & (e < epochs)))
            if bad.any():
                diverged_at[bad] = e
                alive &= ~bad
            if e == epochs or not alive.any():
                break
            grad = (2.0 / n) * (r @ F_train) * mask
            updates, state = optimizer.update(grad, state, theta)
            theta = np.where(alive[:, None], apply_updates(theta, updates), theta)
    lr = optimizer.hyperparams.get("lr")
    return PolynomialSweep(
        degrees=degrees,
        train_loss=T,
        val_loss=V,
        weights=coef[:, :, :D],
        bias=coef[:, :, D],
        diverged_at=diverged_at,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        lr=float(lr) if isinstance(lr, (int, float)) else None,
    )


def _points(x, y, name):
    x = check.as_float_array(name, x)
    y = check.as_float_array("y" + name[1:], y)
    if x.ndim != 1 or y.shape != x.shape or len(x) == 0:
        raise ValueError(
            f"{name} and y{name[1:]} must be 1-D arrays of the same length >= 1, got shapes {x.shape} and {y.shape}"
        )
    return x, y


# ----------------------------------------------------------------- selection bias


@dataclass(frozen=True)
class SelectionBias:
    r"""The result of :func:`selection_bias`: one row per repetition.

    ``candidates`` lists the ``(degree, epoch)`` of every model that could be
    chosen. In repetition ``r`` the model ``chosen[r]`` had the lowest mean squared
    error on a small selection set, ``selected_score[r]``; ``fresh_score[r]`` is its
    error on a fresh set of the same size and ``true_error[r]`` its error on a very
    large set (practically its expected error on new data).
    """

    candidates: tuple
    chosen: np.ndarray
    selected_score: np.ndarray
    fresh_score: np.ndarray
    true_error: np.ndarray
    n_select: int

    @property
    def optimism(self):
        """How much lower the selection score is than the true error, on average (a positive number)."""
        return float(np.mean(self.true_error - self.selected_score))

    @property
    def fraction_optimistic(self):
        """The fraction of repetitions whose selection score is below the chosen model's true error."""
        return float(np.mean(self.selected_score < self.true_error))

    def summary(self):
        """Mean selection score, fresh score and true error, and the two numbers above, as a dict."""
        return {
            "selected_score": float(np.mean(self.selected_score)),
            "fresh_score": float(np.mean(self.fresh_score)),
            "true_error": float(np.mean(self.true_error)),
            "optimism": self.optimism,
            "fraction_optimistic": self.fraction_optimistic,
        }


def selection_bias(sweep, epochs, *, n_select=20, repeats=200, noise=0.3, n_reference=20_000, seed=10_000):
    r"""Choose the best of many models on a small set, then score it again on new data.

    The candidates are every degree of ``sweep`` (a :class:`PolynomialSweep`
    trained on :func:`~lrcourse.data.make_polynomial_regression` data with this
    ``noise``) after each number of epochs in ``epochs``. Each of ``repeats``
    repetitions draws a new *selection set* of ``n_select`` points, picks the
    candidate with the lowest mean squared error on it (as one does when choosing
    epochs or a degree by the score on a test set) and records that score, the
    chosen model's error on a *fresh* set of ``n_select`` new points, and its error on
    ``n_reference`` points (the *true error*). The selection score is a minimum
    over many noisy estimates, so on average it is lower than the true error:

    .. math::

        \mathbb E\Big[\min_k \widehat{\mathrm{err}}_k\Big] \le \min_k \mathbb E\big[\widehat{\mathrm{err}}_k\big]
        = \min_k \mathrm{err}_k \le \mathrm{err}_{\hat k},

    while the fresh score, measured on data that played no part in the choice,
    is an unbiased estimate of :math:`\mathrm{err}_{\hat k}`. Every set is drawn with
    its own seed (``seed``, ``seed + 1``, ...): keep them clear of the seeds of the
    training data (the default starts at 10 000). Returns a :class:`SelectionBias`.
    """
    if not isinstance(sweep, PolynomialSweep):
        raise ValueError(
            f"sweep must be a PolynomialSweep from polynomial_sweep(), got {type(sweep).__name__}"
        )
    epochs = [
        check.check_int("epochs", int(e) if float(e).is_integer() else e, 0, sweep.epochs) for e in epochs
    ]
    if not epochs:
        raise ValueError("epochs must list at least one epoch")
    n_select = check.check_int("n_select", n_select, 1)
    repeats = check.check_int("repeats", repeats, 1)
    n_reference = check.check_int("n_reference", n_reference, 1)
    noise = float(check.check_nonnegative("noise", noise))
    D = max(sweep.degrees)

    candidates = tuple((d, e) for d in sweep.degrees for e in epochs)
    # coefficients (K, D + 1) of every candidate: weights of x..x^D, then the bias
    coef = np.stack(
        [np.append(sweep.weights[e, sweep.index(d)], sweep.bias[e, sweep.index(d)]) for d, e in candidates]
    )
    if not np.isfinite(coef).all():
        raise ValueError("every candidate must be finite: leave out the epochs after a member diverged")

    def errors(n, s):
        X, y = _data.make_polynomial_regression(n_samples=n, degree=D, noise=noise, seed=s)
        residual = coef[:, :D] @ X.T + coef[:, D:] - y  # (K, n)
        return np.mean(residual * residual, axis=1)

    true = errors(n_reference, seed)
    chosen = np.empty(repeats, dtype=int)
    selected = np.empty(repeats)
    fresh = np.empty(repeats)
    for r in range(repeats):
        score = errors(n_select, seed + 1 + 2 * r)
        k = int(np.argmin(score))
        chosen[r], selected[r] = k, score[k]
        fresh[r] = errors(n_select, seed + 2 + 2 * r)[k]
    return SelectionBias(candidates, chosen, selected, fresh, true[chosen], n_select)


# ----------------------------------------------------------------- label noise


def noisy_labels(y, fraction, n_classes, seed=0):
    """A copy of the labels ``y`` in which a random ``fraction`` of them has a different, random class.

    Exactly ``round(fraction * len(y))`` labels change (drawn with
    ``numpy.random.default_rng(seed)``); each gets one of the other
    ``n_classes - 1`` classes with equal chance. Real data sets carry such wrong
    labels too; a model that memorises them gets worse on new data.
    """
    y = np.asarray(y)
    n_classes = check.check_int("n_classes", n_classes, 2)
    fraction = float(check.check_range("fraction", fraction, 0.0, 1.0))
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must be 1-D integer labels in [0, {n_classes - 1}]")
    rng = np.random.default_rng(seed)
    n_flip = int(round(fraction * len(y)))
    which = rng.choice(len(y), size=n_flip, replace=False)
    noisy = y.copy()
    noisy[which] = (y[which] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    return noisy


# ----------------------------------------------------------------- reading a diagnosis


def _pct(value):
    value = 100 * value
    return f"{0 if abs(value) < 0.5 else value:.0f}%"  # never "-0%"


def evidence_lines(diagnosis, full=False, compact=False):
    """The numbers behind a :class:`~lrcourse.diagnosis.Diagnosis`, as short sentences.

    By default only the checks that decided the verdict (for a good fit, the
    checks it passed); with ``full=True`` every check that
    :func:`~lrcourse.diagnosis.diagnose` ran, in its order, each with its
    threshold (the default thresholds of ``diagnose``). ``compact=True`` gives
    each as a few words with the comparison that decided it, for figure labels.
    """
    ev = diagnosis.evidence
    verdict = diagnosis.verdict
    if verdict == "diverged":
        at = ev["diverged_at_update"]
        return [
            f"stopped at update {at}" if compact else f"the run stopped at update {at}: the loss exploded"
        ]
    if "train_rise_fraction" not in ev:  # no epoch completed
        return [diagnosis.reason]

    def side(triggered, above, below):
        return above if triggered else below

    rise, ratio = ev["train_rise_fraction"], ev["final_over_min_train"]
    progress, recent = ev["train_progress"], ev["recent_share_of_improvement"]
    which = "validation" if "val_rise" in ev else "training"
    checks = {
        "rises": (
            f"training loss rose (>5%) in {_pct(rise)} of the epochs (unstable if ≥ 20%)",
            f"train loss rose in {_pct(rise)} of epochs {side(rise >= 0.2, '(≥ 20%)', '(< 20%)')}",
        ),
        "ratio": (
            f"final training loss = {ratio:.2f} × its best (unstable if > 2)",
            f"final train loss {ratio:.2f} × its best {side(ratio > 2, '(> 2)', '(≤ 2)')}",
        ),
    }
    if "val_rise" in ev:
        val_rise, best = ev["val_rise"], ev["best_val_epoch"]
        falling = ev["final_train_loss"] < ev["train_loss_at_best_val"]
        checks["val_rise"] = (
            f"validation loss ends {_pct(val_rise)} above its minimum at epoch {best} "
            "(overfitting if > 10% while the training loss still falls)",
            f"val loss {_pct(val_rise)} above its min at epoch {best} "
            f"{side(val_rise > 0.1, '(> 10%)', '(≤ 10%)')}",
        )
        checks["falling"] = (
            f"training loss {ev['train_loss_at_best_val']:.3g} at that epoch, "
            f"{ev['final_train_loss']:.3g} at the end ({'still falling' if falling else 'not falling'})",
            f"train loss {'still falling' if falling else 'not falling'} after it",
        )
    checks["progress"] = (
        f"training removed {_pct(progress)} of the initial loss (underfitting if < 10%)",
        f"train loss down {_pct(progress)} {side(progress < 0.1, '(< 10%)', '(≥ 10%)')}",
    )
    checks["recent"] = (
        f"the last {ev['recent_epochs']} of {ev['epochs']} epochs brought {_pct(recent)} of the "
        f"{which} loss's decrease (underfitting if > 10%: still falling)",
        f"last {ev['recent_epochs']} of {ev['epochs']} epochs: {_pct(recent)} of the "
        f"{'val' if which == 'validation' else 'train'} drop {side(recent > 0.1, '(> 10%)', '(≤ 10%)')}",
    )
    if full:
        keys = list(checks)
    elif verdict == "unstable":
        keys = ["rises"] if rise >= 0.2 else ["ratio"]
    elif verdict == "overfitting":
        keys = ["val_rise", "falling"]
    elif verdict == "underfitting":
        keys = ["progress"] if progress < 0.1 else ["recent"]
    else:  # good fit: the checks it passed
        keys = ["rises", *(["val_rise"] if "val_rise" in ev else []), "recent"]
    return [checks[k][1 if compact else 0] for k in keys]


# ----------------------------------------------------------------- curves to read


@dataclass(frozen=True)
class QuizCurve:
    """One run of :func:`curve_quiz`: its ``letter``, its :class:`~lrcourse.training.History`
    and the ``setting`` that produced it (revealed by the checker, not needed to answer)."""

    letter: str
    history: History
    setting: str

    @property
    def diagnosis(self):
        """What :func:`~lrcourse.diagnosis.diagnose` says about this run."""
        return diagnose(self.history)


def curve_quiz(seed=0):
    """Six short, real training runs whose curves a learner labels; in a shuffled order, letters A–F.

    Two polynomial fits (15 noisy points, full-batch gradient descent) and four
    small networks or linear classifiers on the handwritten digits (minibatches of
    32), chosen so that together they show every verdict of
    :func:`~lrcourse.diagnosis.diagnose`. ``seed`` only changes the order. Runs in
    about a second. Returns a list of :class:`QuizCurve`.
    """
    x_train, y_train = _data.make_polynomial_regression(15, 1, 0.3, seed=2)
    x_val, y_val = _data.make_polynomial_regression(200, 1, 0.3, seed=3)
    poly = polynomial_sweep(x_train[:, 0], y_train, x_val[:, 0], y_val, (3, 12), sgd(lr=0.35), 2000)
    digits, _ = _data.standardize(_data.train_val_test_split(*_data.load_digits(), seed=0))
    mlp = _models.MLP(64, hidden=(32,), n_classes=10)

    def on_digits(model, optimizer, epochs):
        return fit(model, digits, optimizer, epochs=epochs, batch_size=32, seed=0)[1]

    runs = [
        ("polynomial of degree 3 on 15 points, gradient descent lr=0.35, 1000 epochs", poly.history(3, 1000)),
        ("polynomial of degree 12 on 15 points, gradient descent lr=0.35, 2000 epochs", poly.history(12)),
        ("MLP (32 hidden units) on the digits, SGD lr=0.005, 8 epochs", on_digits(mlp, sgd(lr=0.005), 8)),
        ("MLP (32 hidden units) on the digits, Adam lr=0.05, 20 epochs", on_digits(mlp, adam(lr=0.05), 20)),
        (
            "softmax regression on the digits, SGD lr=0.1, 20 epochs",
            on_digits(_models.SoftmaxRegression(64, 10), sgd(lr=0.1), 20),
        ),
        ("MLP (32 hidden units) on the digits, SGD lr=3, 20 epochs", on_digits(mlp, sgd(lr=3.0), 20)),
    ]
    order = np.random.default_rng(seed).permutation(len(runs))
    return [QuizCurve("ABCDEF"[i], runs[k][1], runs[k][0]) for i, k in enumerate(order)]

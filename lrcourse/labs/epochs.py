r"""Chapter 4: model capacity against epochs, selection bias, curves to read.

Three tools for the chapter on epochs, overfitting and underfitting:

- :func:`polynomial_sweep` trains a polynomial of every degree at once with
  :func:`lrcourse.training.fit` (full batch, one update per epoch): the model
  :class:`PolynomialStack` holds one polynomial per degree along fit's sweep axis,
  and fit's :class:`~lrcourse.training.History` records the losses of every degree
  and, through ``watch``, its parameters after every epoch.
- :func:`selection_bias` measures how optimistic a score is when it was used to
  *choose* among many models: the best of many candidates on a small set, scored
  again on a fresh set of the same size and on a very large one.
- :func:`curve_quiz` runs a few short trainings whose curves a learner labels
  (good fit, overfitting, ...); :func:`evidence_lines` says in words which numbers
  :func:`~lrcourse.diagnosis.diagnose` decided on.

:func:`lrcourse.data.noisy_labels` gives a fraction of the labels a wrong class, the
setting in which training longer hurts most.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lrcourse import _validate as check
from lrcourse import data as _data
from lrcourse import models as _models
from lrcourse.diagnosis import diagnose
from lrcourse.history import History, trimmed
from lrcourse.optimizers import Optimizer, adam, sgd
from lrcourse.training import DIVERGENCE_FACTOR, fit

__all__ = [
    "PolynomialStack",
    "PolynomialSweep",
    "QuizCurve",
    "SelectionBias",
    "curve_quiz",
    "evidence_lines",
    "polynomial_sweep",
    "selection_bias",
]


# ----------------------------------------------------------------- polynomial capacity sweep


class PolynomialStack(_models.LinearRegression):
    r"""One polynomial per degree of ``degrees``, on the powers :math:`x, x^2, \dots, x^D` (:math:`D` the largest).

    A :class:`~lrcourse.models.LinearRegression` on ``X = polynomial_features(x, D)``
    whose parameters carry one row per degree: ``model.init(sweep=S)``, ``S =
    len(degrees)``, gives ``{"w": (S, D), "b": (S,)}`` (zeros), which
    :func:`~lrcourse.training.fit` trains as a sweep of ``S`` runs. Row :math:`s` is
    the polynomial of degree :math:`d_s` = ``degrees[s]``,

    .. math::

        \hat y = b + \sum_{k=1}^{d_s} w_k x^k, \qquad
        \nabla_w L = m_s \odot \frac2n X^\top r, \quad \frac{\partial L}{\partial b} = \frac2n\sum_i r_i ,

    with the mask :math:`m_{s,k} = [k \le d_s]`: the weights of the higher powers are
    multiplied by 0, so their gradients are 0 and they keep their starting value.
    Each row's loss and gradient are those of ``LinearRegression(d_s)`` on the
    first :math:`d_s` powers.
    """

    def __init__(self, degrees):
        degrees = tuple(check.check_int("degrees", d, 1) for d in np.atleast_1d(degrees).tolist())
        if not degrees or len(set(degrees)) != len(degrees):
            raise ValueError(f"degrees must list distinct degrees >= 1, got {list(degrees)}")
        super().__init__(max(degrees))
        self.degrees = degrees
        self.mask = (np.arange(1, self.n_features + 1) <= np.array(degrees)[:, None]).astype(np.float64)

    def __repr__(self):
        return f"PolynomialStack(degrees={list(self.degrees)})"

    def _masked(self, params):
        if np.shape(params["w"])[-2:] != self.mask.shape:
            raise ValueError(
                f"params['w'] must have shape (..., {len(self.degrees)}, {self.n_features}), one row per "
                f"degree (model.init(sweep={len(self.degrees)})), got shape {np.shape(params['w'])}"
            )
        return {"w": params["w"] * self.mask, "b": params["b"]}

    def _linear(self, params, X):
        r""":math:`\hat y` of every degree, shape ``(..., S, n)`` (``predict`` and the losses use it)."""
        return super()._linear(self._masked(params), X)

    def loss_and_grad(self, params, X, y):
        """The loss of every degree and the gradients, the weights of powers above each degree masked out."""
        loss, grads = super().loss_and_grad(self._masked(params), X, y)
        return loss, {"w": grads["w"] * self.mask, "b": grads["b"]}


@dataclass(frozen=True)
class PolynomialSweep:
    """What :func:`polynomial_sweep` returns: fit's history of every degree, and the points.

    ``runs`` is the :class:`~lrcourse.training.History` of the one call of
    :func:`~lrcourse.training.fit`; its sweep axis is the degree (``runs.train_loss[e, s]``
    is the training loss of degree ``degrees[s]`` after ``e`` epochs) and
    ``runs.watched[t, s]`` holds that degree's parameters after epoch ``t + 1``: the
    weights of :math:`x, \\dots, x^D`, then the bias. :meth:`history` gives one degree
    as a history of its own. The points it was trained and validated on are kept for
    plotting.
    """

    degrees: tuple
    runs: History
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @property
    def epochs(self):
        """The number of epochs of the budget."""
        return len(self.runs.train_loss) - 1

    def index(self, degree):
        """The position of ``degree`` on the sweep axis."""
        if degree not in self.degrees:
            raise ValueError(f"degree must be one of {list(self.degrees)}, got {degree!r}")
        return self.degrees.index(degree)

    def history(self, degree, epochs=None):
        """Degree ``degree`` as a :class:`~lrcourse.training.History` (``runs[s]``).

        With ``epochs``, the run as it stood after that many epochs: its first
        ``epochs`` epochs, with the best epoch among them (a run that stopped by then
        is returned whole).
        """
        run = self.runs[self.index(degree)]
        if epochs is None:
            return run
        return _first_epochs(run, check.check_int("epochs", epochs, 1, self.epochs))

    def coefficients(self, degree, epoch):
        """The weights of :math:`x, \\dots, x^D` (0 above ``degree``), then the bias, after ``epoch`` epochs.

        Zeros at epoch 0 (the start), NaN after the epoch at which the run stopped.
        """
        s = self.index(degree)
        epoch = check.check_int("epoch", epoch, 0, self.epochs)
        if epoch == 0:
            return np.zeros(self.runs.watched.shape[-1])
        if epoch > self.runs.epochs_run[s]:
            return np.full(self.runs.watched.shape[-1], np.nan)
        return self.runs.watched[epoch - 1, s].copy()

    def params(self, degree, epoch):
        """``{"w": (degree,), "b": ()}`` after ``epoch`` epochs: parameters of ``LinearRegression(degree)``."""
        theta = self.coefficients(degree, epoch)
        return {"w": theta[:degree], "b": np.array(theta[-1])}

    def predict(self, degree, epoch, x):
        r"""The fitted polynomial :math:`\hat y = b + \sum_{k=1}^{d} w_k x^k` at the points ``x`` (1-D)."""
        p = self.params(degree, epoch)
        return _data.polynomial_features(np.asarray(x, dtype=np.float64), degree) @ p["w"] + p["b"]


def _first_epochs(run, epochs):
    """A one-run history evaluated every epoch, as it stood after ``epochs`` epochs."""
    if epochs >= run.epochs_run:
        return run
    monitored = getattr(run, run.monitor)[: epochs + 1]
    best = int(np.argmin(monitored))
    return trimmed(
        replace(
            run,
            n_updates=epochs * run.updates_per_epoch,
            n_evals=epochs + 1,
            epochs_run=epochs,
            best_epoch=best,
            best_loss=float(monitored[best]),
            stop_reason="epochs done",
            diverged=False,
            diverged_at=-1,
            diverged_at_evaluation=False,
            wall_time=run.wall_time * epochs / run.epochs_run,
        )
    )


def polynomial_sweep(degrees, data, optimizer, epochs, *, lr=None, divergence_factor=DIVERGENCE_FACTOR):
    r"""Fit :math:`\hat y = b + \sum_{k=1}^{d} w_k x^k` for every degree :math:`d` in ``degrees`` at once.

    ``data`` is ``(x_train, y_train, x_val, y_val)``, 1-D arrays of points. One call of
    :func:`~lrcourse.training.fit` trains :class:`PolynomialStack` ``(degrees)`` on
    ``polynomial_features(x, max(degrees))`` from zero parameters, with the full
    batch in a fixed order (``batch_size=None, shuffle=False``): epoch :math:`e` makes
    one update with the gradient of the mean squared error on all :math:`n`
    training points. For each degree the losses and parameters are those of
    ``fit(LinearRegression(d), ..., batch_size=None, shuffle=False)`` (to round-off);
    the whole sweep costs about as much as one run of the highest degree.

    ``optimizer`` and ``lr`` go to ``fit`` (``sgd(lr=0.5, momentum=0.9)``, or ``sgd``
    with ``lr=0.5``), one value per hyperparameter; so does ``divergence_factor``
    (fit's divergence rule: a diverged degree is frozen, NaN from then on).
    Returns a :class:`PolynomialSweep`.
    """
    model = PolynomialStack(degrees)
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be a tuple (x_train, y_train, x_val, y_val) of 1-D arrays")
    x_train, y_train = _points(data[0], data[1], "x_train")
    x_val, y_val = _points(data[2], data[3], "x_val")
    if isinstance(optimizer, Optimizer):
        shape = optimizer.sweep_shape
    else:
        shape = () if callable(lr) else np.shape(lr)
    if shape:
        raise ValueError(
            f"optimizer and lr must have one value per hyperparameter (the sweep is over the degrees), "
            f"got sweep shape {shape}"
        )
    D, S = model.n_features, len(model.degrees)
    features = (_data.polynomial_features(x_train, D), y_train, _data.polynomial_features(x_val, D), y_val)
    _, runs = fit(
        model,
        features,
        optimizer,
        epochs,
        None,
        lr=lr,
        params=model.init(sweep=S),
        shuffle=False,
        divergence_factor=divergence_factor,
        watch=lambda state, params: np.concatenate([params["w"], params["b"][..., None]], axis=-1),
    )
    return PolynomialSweep(model.degrees, runs, x_train, y_train, x_val, y_val)


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
    coef = np.stack([sweep.coefficients(d, e) for d, e in candidates])
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
    poly = polynomial_sweep((3, 12), (x_train[:, 0], y_train, x_val[:, 0], y_val), sgd(lr=0.35), 2000)
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

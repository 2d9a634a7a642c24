r"""Experiments with learning-rate schedules: many schedules trained at once, and two test problems.

- :func:`train_schedules` trains one model per schedule in one call of
  :func:`lrcourse.training.fit`: the schedules are stacked into one that gives a rate
  per member, so every member starts from the same weights and sees the same
  minibatches; only the rates differ. :func:`summarize` averages the final numbers
  over seeds.
- :func:`with_label_noise` flips a fraction of the training labels, for data whose
  loss cannot reach zero.
- :class:`NoisyRegression` is a linear regression trained by minibatch SGD with
  :func:`lrcourse.training.fit`: every run of a problem sees the same minibatches,
  so two schedules differ by their rates alone. It shows the trade-off a schedule
  resolves: a large rate is fast but stalls at a noise floor, a small one is
  precise but slow.
- :func:`inverse_sqrt` (the Transformer's warmup + :math:`1/\sqrt t` decay) and
  :func:`inverse_time` (Keras' ``InverseTimeDecay``): two schedules that
  :mod:`lrcourse.schedules` leaves out because PyTorch has no class for them.
- :func:`sharp_and_wide` is a 1-D landscape with a sharp, poor minimum beside a
  wide, good one: a small rate stays in the sharp one, a rate above
  :math:`2/\text{curvature}` cannot.

::

    import numpy as np
    from lrcourse import data, labs, models, schedules
    from lrcourse.optimizers import sgd
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    plan = {"constant": schedules.constant(0.1), "cosine": schedules.cosine(0.3, T_max=510)}
    _, history = labs.schedules.train_schedules(
        models.MLP(64, hidden=(32,), n_classes=10), split, sgd, epochs=15, batch_size=32,
        schedules=plan, seed=np.arange(3))
    labs.schedules.summarize(history, plan, "val_loss")   # {'constant': (mean, sd), ...}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import Split, make_linear_regression, noisy_labels, unpack
from lrcourse.models import LinearRegression
from lrcourse.objectives import Objective
from lrcourse.optimizers import sgd
from lrcourse.schedules import Schedule
from lrcourse.training import fit, updates_per_epoch

__all__ = [
    "NoisyRegression",
    "inverse_sqrt",
    "inverse_time",
    "sharp_and_wide",
    "summarize",
    "train_schedules",
    "with_label_noise",
]


# ----------------------------------------------------------------- many schedules at once


def _rates(schedule, steps):
    """The rates of ``schedule`` (a number or a function of the step) at ``steps``, checked."""
    if isinstance(schedule, (int, float, np.integer, np.floating)):
        return np.full(steps.shape, float(check.check_nonnegative("lr", schedule)))
    if hasattr(schedule, "step") and hasattr(schedule, "lr"):
        raise ValueError(
            "ReduceLROnPlateau depends on the run, so it cannot be stacked with other schedules; "
            "train it with lrcourse.training.fit(..., lr=ReduceLROnPlateau(...))"
        )
    if not callable(schedule):
        raise ValueError(f"a schedule must be a number or a function of the step, got {schedule!r}")
    try:
        values = np.asarray(schedule(steps), dtype=np.float64)
    except (TypeError, ValueError):
        values = np.array([float(schedule(int(t))) for t in steps])
    if values.shape != steps.shape:
        raise ValueError(
            f"a schedule must give one rate per step (no sweep), got shape {values.shape} "
            f"for {len(steps)} steps from {schedule!r}"
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"rates must be finite and >= 0; {schedule!r} gives {values.min():.3g}")
    return values


def train_schedules(
    model, data, optimizer, epochs, batch_size=None, *, schedules, lr_step="update", **fit_options
):
    """Train ``model`` once per schedule in one call of :func:`~lrcourse.training.fit`; return fit's ``(params, history)``.

    Parameters
    ----------
    model, data, epochs, batch_size : as in :func:`~lrcourse.training.fit` (one batch size).
    optimizer : an optimizer constructor such as ``sgd`` or
        ``functools.partial(sgd, momentum=0.9)``, called with the stacked rates as ``lr``.
    schedules : dict ``{name: schedule}``; a schedule is a number or a function of the
        step such as ``lrcourse.schedules.cosine(lr=0.3, T_max=510)`` (one rate per step).
        Member ``i`` (the last sweep axis of the history) follows the ``i``-th schedule.
    lr_step : ``"update"`` evaluates the schedules at the update count, ``"epoch"``
        at the epoch index, as ``fit``'s ``lr_step``.
    fit_options : passed on to ``fit``: ``seed`` (an array of seeds puts a seed axis in
        front of the schedules), ``record="end"`` (only the final numbers, much faster),
        ``divergence_factor``, ``drop_last``, ...

    Member ``i`` gives what ``fit(model, data, optimizer, epochs, batch_size,
    lr=schedules[name_i], lr_step=lr_step, seed=seed)`` gives (to round-off).
    """
    if not isinstance(schedules, dict) or not schedules:
        raise ValueError(f"schedules must be a non-empty dict {{name: schedule}}, got {schedules!r}")
    n = len(unpack(data)[1])
    batch_size = n if batch_size is None else check.check_int("batch_size", batch_size, 1, n)
    lr_step = check.check_choice("lr_step", lr_step, ("update", "epoch"))
    epochs = check.check_int("epochs", epochs, 1)
    per_epoch = updates_per_epoch(n, batch_size, fit_options.get("drop_last", False))
    steps = np.arange(epochs * per_epoch)
    if lr_step == "epoch":
        steps = steps // per_epoch
    table = np.stack([_rates(s, steps) for s in schedules.values()], axis=1)  # (updates, schedules)
    return fit(model, data, optimizer, epochs, batch_size, lr=lambda t: table[t], **fit_options)


def summarize(history, names, metric="val_loss"):
    """Mean and standard deviation over seeds of the final ``metric``: ``{name: (mean, std)}``.

    ``history`` comes from :func:`train_schedules` (with an array of seeds: the
    axes in front of the schedules' axis are seeds); ``names`` are the schedules in
    member order (the dict given to it, or its keys). A schedule that diverged for
    any seed gets ``(nan, nan)``.
    """
    names = list(names)
    finals = np.asarray(history.final(metric), dtype=np.float64)
    if finals.shape[-1:] != (len(names),):
        raise ValueError(
            f"names must name every schedule of the history: {len(names)} names for a sweep of "
            f"shape {finals.shape}"
        )
    finals = finals.reshape(-1, len(names))  # (seeds, schedules)
    std = finals.std(axis=0, ddof=1) if len(finals) > 1 else np.zeros(len(names))
    return {name: (float(finals[:, i].mean()), float(std[i])) for i, name in enumerate(names)}


def with_label_noise(split, fraction, seed=0):
    """A copy of ``split`` in which a ``fraction`` of the *training* labels is wrong.

    The chosen rows get a different class, drawn uniformly from the others (so the
    fraction of wrong labels is exactly ``round(fraction * n_train) / n_train``):
    :func:`lrcourse.data.noisy_labels` of ``y_train``, the classes counted over all
    parts of the split. Validation and test labels stay clean, so they still
    measure the real task.
    """
    if not isinstance(split, Split):
        raise ValueError(f"split must be a lrcourse.data.Split, got {type(split).__name__}")
    y = np.asarray(split.y_train)
    if y.dtype.kind not in "iu":
        raise ValueError("label noise needs integer class labels in y_train")
    classes = int(max(y.max(), *(0 if p is None else p.max() for p in (split.y_val, split.y_test)))) + 1
    if classes < 2:
        raise ValueError("label noise needs at least two classes")
    return replace(split, y_train=noisy_labels(y, fraction, classes, seed))


# ----------------------------------------------------------------- two more schedules


def inverse_sqrt(lr, warmup_steps):
    r"""The Transformer schedule: a linear warmup to ``lr``, then decay as :math:`1/\sqrt{t}`.

    With the 1-based step :math:`k = t + 1` and :math:`T_w` = ``warmup_steps``,

    .. math::

        \eta_t = \eta \,\min\Bigl(\frac{k}{T_w},\ \sqrt{\frac{T_w}{k}}\Bigr)

    so the peak :math:`\eta` is reached at :math:`k = T_w`. Vaswani et al. (2017)
    wrote it as :math:`d_{\text{model}}^{-1/2} \min(k^{-1/2}, k\,T_w^{-3/2})`, that is
    :math:`\eta = (d_{\text{model}} T_w)^{-1/2}`. PyTorch: ``LambdaLR`` with that
    function; Keras: a ``LearningRateSchedule`` subclass.
    """
    lr = float(check.check_nonnegative("lr", lr))
    warmup_steps = check.check_int("warmup_steps", warmup_steps, 1)

    def fn(t):
        k = t + 1.0
        return lr * np.minimum(k / warmup_steps, np.sqrt(warmup_steps / k))

    return Schedule("inverse_sqrt", fn, {"lr": lr, "warmup_steps": warmup_steps})


def inverse_time(lr, decay_rate, decay_steps=1, staircase=False):
    r"""Inverse-time decay, as Keras' ``InverseTimeDecay``: :math:`\eta_t = \eta / (1 + r\, t / s)`.

    With :math:`r` = ``decay_rate`` and :math:`s` = ``decay_steps``; ``staircase``
    uses :math:`\lfloor t/s \rfloor`. The rate halves at :math:`t = s/r`, and falls
    like :math:`1/t` afterwards (the decay of the classic Robbins–Monro conditions).
    PyTorch: ``LambdaLR(lambda t: 1 / (1 + r * t / s))``.
    """
    lr = float(check.check_nonnegative("lr", lr))
    decay_rate = float(check.check_nonnegative("decay_rate", decay_rate))
    decay_steps = check.check_int("decay_steps", decay_steps, 1)

    def fn(t):
        p = t // decay_steps if staircase else t / decay_steps
        return lr / (1.0 + decay_rate * p)

    params = {"lr": lr, "decay_rate": decay_rate, "decay_steps": decay_steps, "staircase": bool(staircase)}
    return Schedule("inverse_time", fn, params)


# ----------------------------------------------------------------- a noisy regression


@dataclass
class _ThroughOrigin(LinearRegression):
    r"""Linear regression without an intercept, :math:`\hat y = x^\top w`: parameters ``{"w": (n_features,)}``."""

    def init(self, seed=0, sweep=()):
        """Zero weights (``seed`` is accepted for a uniform interface)."""
        sweep = (sweep,) if isinstance(sweep, (int, np.integer)) else tuple(sweep)
        return {"w": np.zeros(sweep + (self.n_features,))}

    def _linear(self, params, X):
        return params["w"] @ X.T

    def loss_and_grad(self, params, X, y):
        r"""The loss :math:`\frac1n\lVert Xw - y\rVert^2` and :math:`\nabla_w = \frac2n X^\top r`."""
        X, y = self._check_Xy(X, y)
        r = params["w"] @ X.T - y
        loss = np.add.reduce(r * r, axis=-1) / len(y)  # np.mean's numbers, without its overhead
        return loss, {"w": (2.0 / len(y)) * (r @ X)}


class NoisyRegression:
    r"""Linear regression :math:`L(w) = \frac1n\lVert Xw - y\rVert^2` trained by minibatch SGD.

    The data come from :func:`lrcourse.data.make_linear_regression` (correlated
    features, so the problem is moderately ill-conditioned). :meth:`run` trains
    from :math:`w = 0` with :func:`lrcourse.training.fit`, its minibatches shuffled
    with ``seed + 1``, so every run sees the same noise. It reports the *excess*
    loss :math:`L(w_t) - L(w^\ast)` over the least-squares solution
    :math:`w^\ast`: it falls towards 0 only as fast as the rate allows, and with a
    constant rate it stalls at a floor set by the gradient noise, roughly
    proportional to the rate.

    Attributes: ``X``, ``y``, ``model`` (the linear model without an intercept),
    ``w_star``, ``min_loss``, ``curvature`` (the largest eigenvalue of the Hessian
    :math:`\frac2n X^\top X`), ``stability_limit`` (:math:`2/\text{curvature}`:
    full-batch GD diverges above it), ``batch_size``, ``steps`` (the length of a run).
    """

    def __init__(
        self, n_samples=200, n_features=10, noise=0.5, correlation=0.5, batch_size=10, steps=300, seed=0
    ):
        self.X, self.y, _ = make_linear_regression(n_samples, n_features, noise, correlation, seed)
        n = len(self.y)
        self.model = _ThroughOrigin(n_features)
        self.batch_size = check.check_int("batch_size", batch_size, 1, n)
        self.steps = check.check_int("steps", steps, 1)
        self.seed = seed
        self.w_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.min_loss = float(np.mean((self.X @ self.w_star - self.y) ** 2))
        self.curvature = float(np.linalg.eigvalsh(2 * self.X.T @ self.X / n).max())
        self.stability_limit = 2.0 / self.curvature

    def __repr__(self):
        n, d = self.X.shape
        return (
            f"NoisyRegression(n={n}, d={d}, batch_size={self.batch_size}, steps={self.steps}, "
            f"stability_limit={self.stability_limit:.3g})"
        )

    def excess_loss(self, w):
        """:math:`L(w) - L(w^\\ast)` for ``w`` of shape ``(..., d)``."""
        r = np.asarray(w) @ self.X.T - self.y
        return np.mean(r * r, axis=-1) - self.min_loss

    def run(self, lr, steps=None, optimizer=sgd):
        """Excess loss after each of ``steps`` updates from ``w = 0``, shape ``(steps + 1, *sweep)``.

        ``lr`` is anything :func:`~lrcourse.training.fit` accepts with an optimizer
        constructor (default ``sgd``): a number, an array (a sweep), a schedule, or a
        function of the update count returning an array. The run is whole epochs of
        ``fit``, cut after ``steps`` updates (default ``self.steps``). A run that
        diverges (fit's rule) gives NaN from the update that stopped it on.
        """
        steps = self.steps if steps is None else check.check_int("steps", steps, 1)
        epochs = math.ceil(steps / updates_per_epoch(len(self.y), self.batch_size))
        start = self.model.init(sweep=np.shape(lr(0) if callable(lr) else lr))
        _, history = fit(
            self.model,
            (self.X, self.y),
            optimizer,
            epochs,
            self.batch_size,
            lr=lr,
            seed=self.seed + 1,
            params=start,
            record="end",
            watch=lambda state, params: params["w"],
        )
        # history.watched: w after every update until the last run stopped (a stopped
        # run stays frozen); pad to steps + 1 points, NaN after a run's last update.
        path = np.full((steps + 1,) + start["w"].shape, np.nan)
        path[0] = start["w"]
        if history.watched is not None:
            done = min(len(history.watched), steps)
            path[1 : done + 1] = history.watched[:done]
        t = np.arange(steps + 1).reshape((-1,) + (1,) * (path.ndim - 2))
        with np.errstate(all="ignore"):
            return np.where(t <= history.n_updates, self.excess_loss(path), np.nan)


# ----------------------------------------------------------------- a sharp and a wide minimum


def sharp_and_wide(curvature=0.2, depth=0.6, width=0.15, sharp_at=-1.0, wide_at=2.0):
    r"""A 1-D landscape: a wide bowl with its minimum at ``wide_at``, plus a narrow dip at ``sharp_at``.

    .. math::

        f(x) = \tfrac{a}{2}\,(x - m)^2 - d\,\exp\!\Bigl(-\frac{(x - c)^2}{2 s^2}\Bigr)

    with :math:`a` = ``curvature``, :math:`m` = ``wide_at``, :math:`d` = ``depth``,
    :math:`s` = ``width``, :math:`c` = ``sharp_at``. With the defaults the dip is a
    poor local minimum (:math:`f \approx 0.29`, curvature about 26, near
    :math:`x = -0.98`) and the bowl's minimum the good one (:math:`f \approx 0`,
    curvature 0.2). Gradient descent can rest in a minimum of curvature
    :math:`h` only if :math:`\eta < 2/h`: below about 0.077 the rate may stay in
    the dip; above it, it cannot, while the wide minimum tolerates rates up to 10.
    ``minima`` lists the sharp minimum, then the wide one.
    """
    a = float(check.check_positive("curvature", curvature))
    d = float(check.check_positive("depth", depth))
    s = float(check.check_positive("width", width))
    c, m = float(sharp_at), float(wide_at)

    def value(x):
        x = x[..., 0]
        return 0.5 * a * (x - m) ** 2 - d * np.exp(-((x - c) ** 2) / (2 * s * s))

    def grad(x):
        return a * (x - m) + d * (x - c) / (s * s) * np.exp(-((x - c) ** 2) / (2 * s * s))

    def second(x):
        e = np.exp(-((x - c) ** 2) / (2 * s * s))
        return a + d / (s * s) * e * (1 - (x - c) ** 2 / (s * s))

    # Newton's method from the dip's centre and the bowl's centre finds the two minima.
    minima = []
    for x in (c, m):
        for _ in range(60):
            x = x - float(grad(np.array([x]))[0]) / second(x)
        minima.append([x])
    minima = np.array(minima)
    if not (second(minima[0, 0]) > 0 and abs(minima[0, 0] - c) < 3 * s):
        raise ValueError(
            "with these parameters the dip is not a local minimum (the bowl's slope is too steep "
            "there); use a larger depth, a smaller width or a smaller curvature"
        )
    low, high = min(c, m) - 1.5, max(c, m) + 1.5
    return Objective(
        name="sharp_and_wide",
        dim=1,
        _value=value,
        _grad=grad,
        minima=minima,
        bounds=((low, high),),
        formula=r"\tfrac{a}{2}(x-m)^2 - d\,e^{-(x-c)^2/(2s^2)}",
    )

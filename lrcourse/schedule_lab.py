r"""Experiments with learning-rate schedules: many schedules trained at once, and two test problems.

- :func:`train_schedules` trains one model per schedule in a single vectorised run
  (the sweep axis of :mod:`lrcourse.models` and :mod:`lrcourse.optimizers`): same
  starting weights, same minibatches, only the rates differ. Each member gives the
  numbers :func:`lrcourse.training.fit` gives for that schedule alone.
- :func:`with_label_noise` flips a fraction of the training labels, for data whose
  loss cannot reach zero.
- :class:`NoisyRegression` is a linear regression trained by minibatch SGD through
  :func:`lrcourse.optimizers.run`: a few milliseconds per run of a few hundred
  steps, with the minibatches fixed in advance so that every schedule sees the
  same noise. It shows the trade-off a schedule resolves: a large rate is fast but
  stalls at a noise floor, a small one is precise but slow.
- :func:`inverse_sqrt` (the Transformer's warmup + :math:`1/\sqrt t` decay) and
  :func:`inverse_time` (Keras' ``InverseTimeDecay``): two schedules that
  :mod:`lrcourse.schedules` leaves out because PyTorch has no class for them.
- :func:`sharp_and_wide` is a 1-D landscape with a sharp, poor minimum beside a
  wide, good one: a small rate stays in the sharp one, a rate above
  :math:`2/\text{curvature}` cannot.

::

    from lrcourse import data, models, schedule_lab, schedules
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    runs = schedule_lab.train_schedules(
        models.MLP(64, hidden=(32,), n_classes=10), split,
        {"constant": schedules.constant(0.1), "cosine": schedules.cosine(0.3, T_max=510)},
        epochs=15, batch_size=32)
    runs.final("val_loss")        # {'constant': ..., 'cosine': ...}
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import Split, make_linear_regression
from lrcourse.objectives import Objective
from lrcourse.optimizers import apply_updates, run, sgd
from lrcourse.schedules import Schedule
from lrcourse.training import DIVERGENCE_FACTOR, checked_data, minibatches, updates_per_epoch

__all__ = [
    "NoisyRegression",
    "ScheduleRuns",
    "inverse_sqrt",
    "inverse_time",
    "sharp_and_wide",
    "summarize",
    "train_schedules",
    "with_label_noise",
]

METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


# ----------------------------------------------------------------- many schedules at once


@dataclass(frozen=True)
class ScheduleRuns:
    """The result of :func:`train_schedules`; member ``i`` was trained with schedule ``names[i]``.

    ``lr`` and ``update_loss`` have shape ``(T, S)``: the rate of every update and
    the minibatch loss before it. The per-epoch arrays have shape ``(epochs + 1, S)``,
    row 0 before training (as in :class:`lrcourse.training.History`; two rows, before
    and after, with ``record="end"``). A diverged
    member (``diverged[i]``) keeps the weights it had before the update that blew
    up, and its per-epoch numbers from then on are NaN. Accuracies and validation
    numbers are ``None`` when the model is a regression / there is no validation set.
    """

    names: tuple
    lr: np.ndarray
    update_loss: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray | None
    train_accuracy: np.ndarray | None
    val_accuracy: np.ndarray | None
    diverged: np.ndarray
    diverged_at: np.ndarray
    epochs: int
    updates_per_epoch: int
    seed: int

    def index(self, name):
        """The member index of the schedule called ``name``."""
        if name not in self.names:
            raise ValueError(f"no schedule called {name!r}; the names are {list(self.names)}")
        return self.names.index(name)

    def final(self, metric="val_loss"):
        """``{name: value after the last epoch}`` for ``metric`` (NaN for a diverged member)."""
        values = self._metric(metric)
        return {name: float(v) for name, v in zip(self.names, values[-1], strict=True)}

    def _metric(self, metric):
        check.check_choice("metric", metric, METRICS)
        values = getattr(self, metric)
        if values is None:
            raise ValueError(f"these runs have no {metric} (no validation set, or not a classifier)")
        return values


def _rates(schedule, steps):
    """The rates of ``schedule`` (a number or a function of the step) at ``steps``, checked."""
    if isinstance(schedule, (int, float, np.integer, np.floating)):
        return np.full(steps.shape, float(check.check_nonnegative("lr", schedule)))
    if hasattr(schedule, "step") and hasattr(schedule, "lr"):
        raise ValueError(
            "ReduceLROnPlateau depends on the run, so it cannot share a vectorised run; "
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
    model,
    data,
    schedules,
    epochs,
    batch_size=None,
    optimizer=sgd,
    *,
    lr_step="update",
    drop_last=False,
    seed=0,
    divergence_factor=DIVERGENCE_FACTOR,
    record="epoch",
    **hyper,
):
    """Train ``model`` once per schedule, all members in one vectorised run; return :class:`ScheduleRuns`.

    Parameters
    ----------
    model : a model from :mod:`lrcourse.models`.
    data : a :class:`~lrcourse.data.Split` or ``(X, y)`` / ``(X, y, X_val, y_val)``.
    schedules : dict ``{name: schedule}``; a schedule is a number or a function of the
        step such as ``lrcourse.schedules.cosine(lr=0.3, T_max=510)`` (one rate per step).
    epochs, batch_size, drop_last, seed : as in :func:`lrcourse.training.fit`; every
        member starts from ``model.init(seed)`` and sees the same minibatches.
    optimizer : an optimizer constructor (default ``sgd``), called as
        ``optimizer(lr=..., **hyper)``; e.g. ``momentum=0.9`` goes to SGD.
    lr_step : ``"update"`` evaluates the schedules at the update count, ``"epoch"``
        at the epoch index, as ``fit``'s ``lr_step``.
    record : ``"epoch"`` evaluates the losses (and accuracies) on the whole training and
        validation sets after every epoch, as ``fit`` does; ``"end"`` only before and
        after training (the per-epoch arrays then have two rows), which is much faster
        when only the final numbers matter.
    divergence_factor : a member diverges at the first minibatch loss that is not
        finite or exceeds ``divergence_factor * max(L_0, 1)`` (as in ``fit``).

    Member ``i`` reproduces ``fit(model, data, optimizer, epochs, batch_size,
    lr=schedules[name_i], lr_step=lr_step, seed=seed)`` (to round-off).
    """
    if not isinstance(schedules, dict) or not schedules:
        raise ValueError(f"schedules must be a non-empty dict {{name: schedule}}, got {schedules!r}")
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    epochs = check.check_int("epochs", epochs, 1)
    batch_size = n if batch_size is None else check.check_int("batch_size", batch_size, 1, n)
    lr_step = check.check_choice("lr_step", lr_step, ("update", "epoch"))
    seed = check.check_int("seed", seed, 0)
    record_every_epoch = check.check_choice("record", record, ("epoch", "end")) == "epoch"
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    per_epoch = updates_per_epoch(n, batch_size, drop_last)
    total = epochs * per_epoch
    steps = np.arange(total) if lr_step == "update" else np.repeat(np.arange(epochs), per_epoch)
    names = tuple(schedules)
    lr = np.stack([_rates(s, steps) for s in schedules.values()], axis=1)  # (T, S)
    size = len(names)

    opt = optimizer(lr=lambda t: lr[t], **hyper)
    params = {k: np.broadcast_to(v, (size,) + v.shape).copy() for k, v in model.init(seed).items()}
    state = opt.init(params)
    rng = np.random.default_rng(seed)
    alive = np.ones(size, dtype=bool)
    diverged_at = np.full(size, -1)
    update_loss = np.full((total, size), np.nan)
    classifier = model.task == "classification"
    recorded = {key: [] for key in METRICS}

    def evaluate():
        # Member by member: on a whole data set one model at a time is much faster than
        # numpy's broadcast matmul of the stacked weights (and it is the call fit makes).
        for part, Xp, yp in (("train", X, y), ("val", X_val, y_val)):
            if Xp is None:
                continue
            scores = [model.evaluate({k: v[i] for k, v in params.items()}, Xp, yp) for i in range(size)]
            recorded[f"{part}_loss"].append(np.where(alive, [float(s[0]) for s in scores], np.nan))
            if classifier:
                recorded[f"{part}_accuracy"].append(np.where(alive, [float(s[1]) for s in scores], np.nan))

    with np.errstate(all="ignore"):  # diverging members are expected; they are reported, not warned about
        evaluate()
        limit = divergence_factor * max(float(np.max(recorded["train_loss"][0])), 1.0)
        t = 0
        for epoch in range(epochs):
            for rows in minibatches(n, batch_size, rng, True, drop_last):
                loss, grads = model.loss_and_grad(params, X[rows], y[rows])
                update_loss[t] = np.where(alive, loss, np.nan)
                bad = alive & (~np.isfinite(loss) | (loss > limit))
                if bad.any():
                    diverged_at[bad] = t
                    alive &= ~bad
                updates, state = opt.update(grads, state, params)
                new = apply_updates(params, updates)
                params = {
                    k: np.where(alive.reshape((-1,) + (1,) * (v.ndim - 1)), v, params[k])
                    for k, v in new.items()
                }
                t += 1
            if record_every_epoch or epoch == epochs - 1:
                evaluate()

    def stacked(key):
        return np.array(recorded[key]) if recorded[key] else None

    return ScheduleRuns(
        names=names,
        lr=lr,
        update_loss=update_loss,
        train_loss=stacked("train_loss"),
        val_loss=stacked("val_loss"),
        train_accuracy=stacked("train_accuracy"),
        val_accuracy=stacked("val_accuracy"),
        diverged=~alive,
        diverged_at=diverged_at,
        epochs=epochs,
        updates_per_epoch=per_epoch,
        seed=seed,
    )


def summarize(runs, metric="val_loss"):
    """Mean and standard deviation over seeds of the final ``metric``: ``{name: (mean, std)}``.

    ``runs`` is a list of :class:`ScheduleRuns` with the same names (one per seed).
    A schedule that diverged in any seed gets ``(nan, nan)``.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs must hold at least one ScheduleRuns")
    names = runs[0].names
    if any(r.names != names for r in runs):
        raise ValueError("every ScheduleRuns in runs must have the same schedule names, in the same order")
    finals = np.array([r._metric(metric)[-1] for r in runs])  # (seeds, S)
    std = finals.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(len(names))
    return {name: (float(finals[:, i].mean()), float(std[i])) for i, name in enumerate(names)}


def with_label_noise(split, fraction, seed=0):
    """A copy of ``split`` in which a ``fraction`` of the *training* labels is wrong.

    The chosen rows get a different class, drawn uniformly from the others (so the
    fraction of wrong labels is exactly ``round(fraction * n_train) / n_train``).
    Validation and test labels stay clean, so they still measure the real task.
    """
    if not isinstance(split, Split):
        raise ValueError(f"split must be a lrcourse.data.Split, got {type(split).__name__}")
    fraction = float(check.check_range("fraction", fraction, 0.0, 1.0))
    y = np.asarray(split.y_train)
    if y.dtype.kind not in "iu":
        raise ValueError("label noise needs integer class labels in y_train")
    classes = int(max(y.max(), *(0 if p is None else p.max() for p in (split.y_val, split.y_test)))) + 1
    if classes < 2:
        raise ValueError("label noise needs at least two classes")
    rng = np.random.default_rng(seed)
    n_flip = int(round(fraction * len(y)))
    which = rng.choice(len(y), size=n_flip, replace=False)
    noisy = y.copy()
    noisy[which] = (y[which] + rng.integers(1, classes, size=n_flip)) % classes
    return replace(split, y_train=noisy)


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


class NoisyRegression:
    r"""Linear regression :math:`L(w) = \frac1n\lVert Xw - y\rVert^2` trained by minibatch SGD.

    The data come from :func:`lrcourse.data.make_linear_regression` (correlated
    features, so the problem is moderately ill-conditioned). The minibatches of
    every step are drawn once, from ``seed``, so every run sees the same noise.
    :meth:`run` reports the *excess* loss :math:`L(w_t) - L(w^\ast)` over the
    least-squares solution :math:`w^\ast`: it falls towards 0 only as fast as the
    rate allows, and with a constant rate it stalls at a floor set by the
    gradient noise, roughly proportional to the rate.

    Attributes: ``X``, ``y``, ``w_star``, ``min_loss``, ``curvature`` (the largest
    eigenvalue of the Hessian :math:`\frac2n X^\top X`), ``stability_limit``
    (:math:`2/\text{curvature}`: full-batch GD diverges above it), ``batch_size``,
    ``steps`` (the most steps a run can take), ``x0`` (the start, zeros).
    """

    def __init__(
        self, n_samples=200, n_features=10, noise=0.5, correlation=0.5, batch_size=10, steps=300, seed=0
    ):
        self.X, self.y, _ = make_linear_regression(n_samples, n_features, noise, correlation, seed)
        n = len(self.y)
        self.batch_size = check.check_int("batch_size", batch_size, 1, n)
        self.steps = check.check_int("steps", steps, 1)
        self.w_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.min_loss = float(np.mean((self.X @ self.w_star - self.y) ** 2))
        self.curvature = float(np.linalg.eigvalsh(2 * self.X.T @ self.X / n).max())
        self.stability_limit = 2.0 / self.curvature
        rng = np.random.default_rng(seed + 1)
        epochs = -(-self.steps * self.batch_size // n)
        order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
        self.batches = order[: self.steps * self.batch_size].reshape(self.steps, self.batch_size)
        self.x0 = np.zeros(n_features)

    def __repr__(self):
        n, d = self.X.shape
        return (
            f"NoisyRegression(n={n}, d={d}, batch_size={self.batch_size}, steps={self.steps}, "
            f"stability_limit={self.stability_limit:.3g})"
        )

    def gradient(self):
        """A fresh minibatch gradient ``g(w)``: its ``k``-th call uses the ``k``-th minibatch.

        ``w`` may have leading sweep axes, ``(..., d)``.
        """
        X, y, batches, size = self.X, self.y, self.batches, self.batch_size
        count = [0]

        def grad(w):
            rows = batches[count[0]]
            count[0] += 1
            Xb = X[rows]
            return (2.0 / size) * (w @ Xb.T - y[rows]) @ Xb

        return grad

    def excess_loss(self, w):
        """:math:`L(w) - L(w^\\ast)` for ``w`` of shape ``(..., d)``."""
        r = np.asarray(w) @ self.X.T - self.y
        return np.mean(r * r, axis=-1) - self.min_loss

    def run(self, lr, steps=None, momentum=0.0):
        """Excess loss after each of ``steps`` SGD updates from ``x0``, shape ``(steps + 1, *sweep)``.

        ``lr`` is anything :func:`lrcourse.optimizers.sgd` accepts: a number, an array
        (a sweep), a schedule, or a function of the step returning an array; the
        run is :func:`lrcourse.optimizers.run` with ``sgd(lr=lr, momentum=momentum)``.
        Plain SGD (``momentum=0``) takes a shortcut, the same update written as
        :math:`w \\leftarrow w - \\eta_t (A_k w - b_k)` with the minibatch's
        :math:`A_k = \\frac2B X_k^\\top X_k` and :math:`b_k = \\frac2B X_k^\\top y_k`
        computed once (equal to the general path to round-off), so a run of 300
        steps takes about a millisecond. A run that
        blows up gives ``inf`` or NaN from then on.
        """
        steps = self.steps if steps is None else check.check_int("steps", steps, 0, self.steps)
        if momentum != 0 or not (callable(lr) or np.ndim(lr) <= 1):
            path = run(sgd(lr=lr, momentum=momentum), self.gradient(), self.x0, steps)
        else:
            path = self._plain_sgd(lr, steps)
        with np.errstate(all="ignore"):
            return self.excess_loss(path)

    def _plain_sgd(self, lr, steps):
        if not hasattr(self, "_A"):
            Xb = self.X[self.batches]  # (steps, B, d)
            self._A = (2.0 / self.batch_size) * np.einsum("kbi,kbj->kij", Xb, Xb)
            self._b = (2.0 / self.batch_size) * np.einsum("kbi,kb->ki", Xb, self.y[self.batches])
        rate = (lambda t: lr(t)) if callable(lr) else (lambda t: lr)
        sgd(lr=rate(0))  # the same argument checks as the optimizer
        w = np.broadcast_to(self.x0, np.shape(rate(0)) + self.x0.shape).copy()
        path = np.empty((steps + 1,) + w.shape)
        path[0] = w
        A, b = self._A, self._b
        with np.errstate(all="ignore"):
            for k in range(steps):
                eta = np.asarray(rate(k), dtype=np.float64)[..., None]
                w = w - eta * (w @ A[k].T - b[k])
                path[k + 1] = w
        return path


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

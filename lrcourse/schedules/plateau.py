"""Reduce the rate when a monitored metric stops improving: the one schedule with a state."""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import number, rate, short, sweep_of


class ReduceLROnPlateau:
    r"""Divide the rate by ``1 / factor`` when a metric has not improved for ``patience`` steps.

    Unlike the other schedules this one depends on the run, so it is an object
    with a state: after each evaluation call ``sched.step(metric)``; it returns
    the rate to use next (also ``sched.lr``). Per call, exactly as PyTorch:

    1. The metric improves if it beats the best so far by the threshold
       (``mode='min'``: :math:`m < m^\ast(1 - \theta)` with ``threshold_mode='rel'``,
       :math:`m < m^\ast - \theta` with ``'abs'``; ``mode='max'`` mirrors this). Then it
       becomes the best and the count of bad steps returns to 0; otherwise the count
       goes up by one.
    2. During a cooldown (``cooldown`` steps after a reduction) bad steps are not counted.
    3. When the count exceeds ``patience``, the rate is reduced,

       .. math::

           \eta \leftarrow \max(\eta \cdot \text{factor},\ \eta_{\min})

       unless this changes it by no more than ``eps``; the count returns to 0 and the
       cooldown starts.

    So with ``patience=p`` the rate drops at the :math:`(p+1)`-th bad step in a row.
    Array rates, bounds and metrics run one plateau logic per sweep member.

    The object is also callable, ``sched(t) == sched.lr`` for any ``t``, so it can
    be the ``lr`` of an optimizer in :mod:`lrcourse.optimizers`: the rate changes
    when ``step`` is called, as it does in PyTorch. ``history`` lists the rate
    before the first step and after each one; ``reset()`` starts again.

    PyTorch: ``ReduceLROnPlateau`` (same arguments; here ``lr`` is the starting rate).
    Keras: ``keras.callbacks.ReduceLROnPlateau`` (``min_delta`` is an absolute
    threshold, and it reduces at the ``patience``-th bad epoch rather than after it).
    """

    name = "reduce_on_plateau"

    def __init__(
        self,
        lr,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0.0,
        eps=1e-8,
    ):
        self.initial_lr = rate("lr", lr)
        self.mode = check.check_choice("mode", mode, ("min", "max"))
        self.factor = number("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check.check_int("patience", patience, 0)
        self.threshold = number("threshold", threshold, 0.0)
        self.threshold_mode = check.check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check.check_int("cooldown", cooldown, 0)
        self.min_lr = rate("min_lr", min_lr)
        self.eps = number("eps", eps, 0.0)
        self.sweep_shape = sweep_of(
            {"lr": self.initial_lr, "factor": self.factor, "threshold": self.threshold, "min_lr": self.min_lr}
        )
        self.reset()

    def reset(self):
        """Forget the run: the starting rate, no best metric yet, no bad steps, no cooldown."""
        self._lr = np.broadcast_to(self.initial_lr, self.sweep_shape).astype(np.float64)
        self.best = np.full(self.sweep_shape, np.inf if self.mode == "min" else -np.inf)
        self.num_bad_epochs = np.zeros(self.sweep_shape, dtype=np.int64)
        self.cooldown_counter = np.zeros(self.sweep_shape, dtype=np.int64)
        self.history = [self.lr]

    @property
    def lr(self):
        """The rate in force: a float, or an array of the sweep shape."""
        return float(self._lr) if self._lr.ndim == 0 else self._lr.copy()

    def __call__(self, t=None):
        return self.lr

    def _is_better(self, metric):
        if self.mode == "min":
            bar = (
                self.best * (1.0 - self.threshold)
                if self.threshold_mode == "rel"
                else self.best - self.threshold
            )
            return metric < bar
        bar = (
            self.best * (self.threshold + 1.0) if self.threshold_mode == "rel" else self.best + self.threshold
        )
        return metric > bar

    def step(self, metric):
        """Record one value of the monitored metric; return the rate to use next."""
        metric = np.asarray(metric, dtype=np.float64)
        if metric.shape != self.sweep_shape:
            self._grow_sweep(metric.shape)
        better = self._is_better(metric)  # a NaN metric is never better, as in PyTorch
        self.best = np.where(better, metric, self.best)
        self.num_bad_epochs = np.where(better, 0, self.num_bad_epochs + 1)

        cooling = self.cooldown_counter > 0
        self.cooldown_counter = np.where(cooling, self.cooldown_counter - 1, self.cooldown_counter)
        self.num_bad_epochs = np.where(cooling, 0, self.num_bad_epochs)

        reduce = self.num_bad_epochs > self.patience
        new_lr = np.maximum(self._lr * self.factor, self.min_lr)
        self._lr = np.where(reduce & (self._lr - new_lr > self.eps), new_lr, self._lr)
        self.cooldown_counter = np.where(reduce, self.cooldown, self.cooldown_counter)
        self.num_bad_epochs = np.where(reduce, 0, self.num_bad_epochs)
        self.history.append(self.lr)
        return self.lr

    def _grow_sweep(self, shape):
        """An array metric (one per run of a sweep) widens the state to its shape."""
        try:
            sweep = np.broadcast_shapes(shape, self.sweep_shape)
        except ValueError:
            raise ValueError(
                f"metric of shape {shape} must broadcast with the sweep shape {self.sweep_shape}"
            ) from None
        if sweep == self.sweep_shape:
            return
        self.sweep_shape = sweep
        for name in ("_lr", "best", "num_bad_epochs", "cooldown_counter"):
            setattr(self, name, np.broadcast_to(getattr(self, name), self.sweep_shape).copy())

    def __repr__(self):
        args = ", ".join(
            f"{k}={short(getattr(self, a))}"
            for k, a in [
                ("lr", "initial_lr"),
                ("mode", "mode"),
                ("factor", "factor"),
                ("patience", "patience"),
                ("threshold", "threshold"),
                ("threshold_mode", "threshold_mode"),
                ("cooldown", "cooldown"),
                ("min_lr", "min_lr"),
                ("eps", "eps"),
            ]
        )
        return f"ReduceLROnPlateau({args})"

"""Reduce the rate when a monitored metric stops improving: the one schedule that depends on the run."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import number, rate, short, sweep_of


class PlateauState(NamedTuple):
    """The run-dependent part of :class:`ReduceLROnPlateau`: arrays of its sweep shape."""

    lr: np.ndarray
    """The rate in force."""
    best: np.ndarray
    """The best metric so far (``inf`` for ``mode='min'``, ``-inf`` for ``'max'``, before the first)."""
    num_bad_epochs: np.ndarray
    """Steps in a row without improvement (not counted during a cooldown)."""
    cooldown_counter: np.ndarray
    """Steps of cooldown left."""


def _from_state(field, doc):
    """A read-only property: ``state.<field>`` as a number, or a copy of the array."""
    return property(lambda self: _value(getattr(self.state, field)), doc=doc)


class ReduceLROnPlateau:
    r"""Divide the rate by ``1 / factor`` when a metric has not improved for ``patience`` steps.

    Unlike the other schedules this one depends on the run: the rate after a step
    depends on the metrics seen so far. That part lives in a :class:`PlateauState`,
    and the object offers it two ways:

    - pure, in the style of :mod:`lrcourse.optimizers`::

          state = plateau.init()
          lr, state = plateau.update(metric, state)   # after each evaluation

      ``init`` and ``update`` change nothing in ``plateau``;
    - as PyTorch's scheduler: ``plateau.step(metric)`` runs ``update`` on the
      state kept in ``plateau.state`` and returns the rate to use next (also
      ``plateau.lr``); ``history`` lists the rate before the first step and after
      each one, and ``reset()`` starts again.

    Per step, exactly as PyTorch:

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

    **Sweeps.** Array rates, factors, thresholds and bounds run one plateau logic per
    sweep member; ``sweep_shape`` is their broadcast shape, fixed at construction.
    A metric is one number (shared by every member) or an array of that shape, one
    per run. For several runs with the same settings give an array ``lr``, e.g.
    ``lr=np.full(3, 0.1)``.

    The object is also callable, ``sched(t) == sched.lr`` for any ``t``, so it can
    be the ``lr`` of an optimizer in :mod:`lrcourse.optimizers`: the rate changes
    when ``step`` is called, as it does in PyTorch.

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

    # ------------------------------------------------------------- the pure pair

    def init(self):
        """The state before the first step: the starting rate, no best metric, no bad steps."""
        shape = self.sweep_shape
        return PlateauState(
            lr=np.broadcast_to(self.initial_lr, shape).astype(np.float64),
            best=np.full(shape, np.inf if self.mode == "min" else -np.inf),
            num_bad_epochs=np.zeros(shape, dtype=np.int64),
            cooldown_counter=np.zeros(shape, dtype=np.int64),
        )

    def update(self, metric, state):
        """One value of the monitored metric: return ``(lr, state)``, the rate to use next and the new state.

        ``lr`` is a float, or an array of the sweep shape. ``state`` is not changed.
        """
        metric = self._metric(metric)
        if not isinstance(state, PlateauState) or np.shape(state.lr) != self.sweep_shape:
            got = f"sweep shape {np.shape(state.lr)}" if isinstance(state, PlateauState) else repr(state)
            raise ValueError(
                f"state must be a PlateauState of sweep shape {self.sweep_shape}, from this plateau's "
                f"init() or update(), got {got}"
            )
        better = self._is_better(metric, state.best)  # a NaN metric is never better, as in PyTorch
        best = np.where(better, metric, state.best)
        bad = np.where(better, 0, state.num_bad_epochs + 1)

        cooling = state.cooldown_counter > 0
        cooldown_counter = np.where(cooling, state.cooldown_counter - 1, state.cooldown_counter)
        bad = np.where(cooling, 0, bad)

        reduce = bad > self.patience
        new_lr = np.maximum(state.lr * self.factor, self.min_lr)
        lr = np.where(reduce & (state.lr - new_lr > self.eps), new_lr, state.lr)
        state = PlateauState(
            lr=lr,
            best=best,
            num_bad_epochs=np.where(reduce, 0, bad),
            cooldown_counter=np.where(reduce, self.cooldown, cooldown_counter),
        )
        return _value(lr), state

    def _metric(self, metric):
        metric = np.asarray(metric, dtype=np.float64)
        try:
            fits = np.broadcast_shapes(metric.shape, self.sweep_shape) == self.sweep_shape
        except ValueError:
            fits = False
        if not fits:
            hint = (
                ""
                if self.sweep_shape
                else f"; for one plateau per run give an array lr, e.g. np.full({metric.shape}, lr)"
            )
            raise ValueError(
                f"metric must be one number or an array of the sweep shape {self.sweep_shape} (one per run), "
                f"got shape {metric.shape}{hint}"
            )
        return metric

    def _is_better(self, metric, best):
        if self.mode == "min":
            bar = best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return metric < bar
        bar = best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold
        return metric > bar

    # ------------------------------------------------------------- PyTorch's stepping

    def reset(self):
        """Forget the run: ``state`` back to :meth:`init`, ``history`` to the starting rate."""
        self.state = self.init()
        self.history = [self.lr]

    def step(self, metric):
        """Record one value of the monitored metric in ``state``; return the rate to use next."""
        lr, self.state = self.update(metric, self.state)
        self.history.append(lr)
        return lr

    lr = _from_state("lr", "The rate in force: a float, or an array of the sweep shape.")
    best = _from_state("best", "The best metric so far (``state.best``).")
    num_bad_epochs = _from_state(
        "num_bad_epochs", "Steps in a row without improvement (``state.num_bad_epochs``)."
    )
    cooldown_counter = _from_state("cooldown_counter", "Steps of cooldown left (``state.cooldown_counter``).")

    def __call__(self, t=None):
        return self.lr

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


def _value(arr):
    """A 0-d array as a Python number; any other array as a fresh copy."""
    return arr.item() if arr.ndim == 0 else arr.copy()

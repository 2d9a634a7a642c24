"""Schedules built from schedules: one after another, a warmup in front, bounds around."""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import (
    Schedule,
    lift,
    milestone_list,
    number,
    ordered,
    pad,
    piecewise,
    rate,
    schedule_arg,
    short,
    sweep_of,
)


def _sweep(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"the sweeps of the parts must broadcast together, got shapes {list(shapes)}"
        ) from None


def sequential(schedules, milestones):
    r"""Run ``schedules`` one after the other, switching at the ``milestones``.

    With milestones :math:`m_1 < m_2 < \dots` (and :math:`m_0 = 0`), schedule
    :math:`k` runs on :math:`m_k \le t < m_{k+1}` and starts afresh at its own step 0:

    .. math::

        \eta_t = \eta^{(k)}_{\,t - m_k}

    PyTorch: ``SequentialLR(schedulers, milestones)`` (where every part shares the
    optimizer's base rate; here each part has its own). Keras: none built in.
    """
    if isinstance(schedules, Schedule) or not isinstance(schedules, (list, tuple)) or not schedules:
        raise ValueError(f"schedules must be a non-empty list of schedules, got {schedules!r}")
    schedules = [schedule_arg(f"schedules[{i}]", s) for i, s in enumerate(schedules)]
    milestones = milestone_list("milestones", milestones, count=len(schedules) - 1)
    starts = (0,) + milestones
    for i, (s, length) in enumerate(zip(schedules, np.diff(starts), strict=False)):
        if s.max_t is not None and length - 1 > s.max_t:
            raise ValueError(
                f"milestones: schedules[{i}] ends at its step {s.max_t} but would run for {length} steps "
                f"(from step {starts[i]} to {starts[i + 1]}); move the milestone or lengthen the schedule"
            )
    pieces = [lambda t, s=s, m=m: s(t - m) for s, m in zip(schedules, starts, strict=True)]
    sweep = _sweep(*(s.sweep_shape for s in schedules))
    last = schedules[-1].max_t
    return Schedule(
        "sequential",
        lambda t: piecewise(t, starts, pieces, sweep),
        {"schedules": schedules, "milestones": list(milestones)},
        sweep_shape=sweep,
        max_t=None if last is None else starts[-1] + last,
        pad_t=False,
    )


def warmup(schedule, warmup_steps, start_factor=0.0, power=1.0, *, start_lr=None):
    r"""Put a warmup of ``warmup_steps`` steps in front of ``schedule``.

    The rate climbs from :math:`\eta_{\mathrm{start}}` to the schedule's first rate
    :math:`\eta_{\mathrm{target}}` = ``schedule(0)``, then the schedule runs from its step 0:

    .. math::

        \eta_t = \begin{cases}
            \eta_{\mathrm{start}} + (\eta_{\mathrm{target}} - \eta_{\mathrm{start}})
                \,(t / T_w)^{p} & t < T_w \\
            \eta^{\mathrm{schedule}}_{\,t - T_w} & t \ge T_w
        \end{cases}

    with :math:`T_w` = ``warmup_steps``. ``power=1`` is the linear warmup
    :math:`\eta = \eta_{\min} + (\eta_{\max} - \eta_{\min})\,t/T_w`; a larger power
    starts more gently. The start is :math:`\eta_{\mathrm{start}}` =
    ``start_factor * schedule(0)`` (default 0), or ``start_lr`` if given.

    PyTorch (for ``power=1`` and ``0 < start_factor``): ``SequentialLR([LinearLR(start_factor,
    1.0, total_iters=warmup_steps), scheduler], milestones=[warmup_steps])``; from 0 or with
    a power, ``LambdaLR`` with ``lambda t: (t / warmup_steps) ** power`` for the first part.
    Keras: ``CosineDecay(..., warmup_target=, warmup_steps=)`` warms up linearly into a cosine.
    """
    schedule = schedule_arg("schedule", schedule)
    warmup_steps = check.check_int("warmup_steps", warmup_steps, 0)
    power = number("power", power, 0.0, low_open=True)
    target = schedule(0)
    if start_lr is None:
        start_factor = number("start_factor", start_factor, 0.0, 1.0)
        start = start_factor * target
        params = {
            "schedule": schedule,
            "warmup_steps": warmup_steps,
            "start_factor": start_factor,
            "power": power,
        }
    else:
        if np.any(np.asarray(start_factor) != 0):
            raise ValueError(f"give start_factor or start_lr, not both; got start_factor={start_factor!r}")
        start = rate("start_lr", start_lr)
        if np.any(start > np.asarray(target)):
            raise ValueError(
                f"start_lr must be <= the schedule's first rate schedule(0) = {short(target)}, "
                f"which the warmup climbs to; got start_lr={short(start)}"
            )
        params = {"schedule": schedule, "warmup_steps": warmup_steps, "start_lr": start, "power": power}
    sweep = _sweep(schedule.sweep_shape, sweep_of({"start": start, "power": power}))
    k = len(sweep)

    def ramp(t):
        return start + (target - start) * np.power(pad(t, k) / warmup_steps, power)

    pieces = [ramp, lambda t: schedule(t - warmup_steps)]
    return Schedule(
        "warmup",
        lambda t: piecewise(t, (0, warmup_steps), pieces, sweep),
        params,
        sweep_shape=sweep,
        max_t=None if schedule.max_t is None else warmup_steps + schedule.max_t,
        pad_t=False,
    )


def clamp(schedule, min_lr=None, max_lr=None):
    r"""Keep the rates of ``schedule`` within ``[min_lr, max_lr]``.

    .. math::

        \eta_t = \min\bigl(\max(\eta^{\mathrm{schedule}}_t,\ \eta_{\min}),\ \eta_{\max}\bigr)

    Either bound may be left out. A momentum schedule (``schedule.momentum``) is
    kept as it is. PyTorch and Keras: none built in (``eta_min`` of the cosine
    schedules and ``min_lr`` of ``ReduceLROnPlateau`` are floors of this kind).
    """
    schedule = schedule_arg("schedule", schedule)
    params = {"schedule": schedule}
    if min_lr is not None:
        params["min_lr"] = min_lr = rate("min_lr", min_lr)
    if max_lr is not None:
        params["max_lr"] = max_lr = rate("max_lr", max_lr)
    if min_lr is not None and max_lr is not None:
        ordered("min_lr", min_lr, "max_lr", max_lr)
    sweep = _sweep(schedule.sweep_shape, sweep_of(params))

    def fn(t):
        values = lift(schedule(t), np.ndim(t), len(sweep))
        if min_lr is not None:
            values = np.maximum(values, min_lr)
        if max_lr is not None:
            values = np.minimum(values, max_lr)
        return values

    return Schedule(
        "clamp", fn, params, sweep_shape=sweep, momentum=schedule.momentum, max_t=schedule.max_t, pad_t=False
    )

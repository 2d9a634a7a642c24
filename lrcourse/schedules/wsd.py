r"""The warmup-stable-decay schedule (WSD): warm up, hold the rate, and decay only at the end.

Hu et al. (2024, *MiniCPM*) train at a constant rate after a short warmup and decay it
over the last part of the run only; Hägele et al. (2024, *Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations*) show that a cooldown of about
20 % of the steps (linear, or better ``1-sqrt``) matches a cosine schedule. Since the
stable phase does not depend on where the run ends, a decay can be branched off the
constant run at any step: that is the point of WSD.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import Schedule, number, rate, short

DECAYS = ("linear", "cosine", "1-sqrt")


def wsd(
    lr,
    total_steps=None,
    warmup_steps=0,
    decay_steps=None,
    decay="linear",
    start_factor=0.0,
    end_factor=0.0,
    *,
    decay_start=None,
):
    r"""Warmup-stable-decay: a linear warmup, a constant rate, then a decay over the last steps.

    With :math:`T_w` = ``warmup_steps``, the decay starting at step :math:`s` and lasting
    :math:`D` = ``decay_steps`` steps (:math:`s + D` = ``total_steps``), and
    :math:`u = \min(t - s, D)/D`:

    .. math::

        \eta_t = \begin{cases}
            \eta\,\bigl(f_0 + (1 - f_0)\, t/T_w\bigr) & t < T_w \quad\text{(warmup)} \\
            \eta & T_w \le t < s \quad\text{(stable)} \\
            \eta\,\bigl(f_1 + (1 - f_1)\, d(u)\bigr) & t \ge s \quad\text{(decay)}
        \end{cases}

    with :math:`f_0` = ``start_factor``, :math:`f_1` = ``end_factor`` and the shape of the decay
    :math:`d(u) = 1 - u` (``'linear'``), :math:`\tfrac12(1 + \cos\pi u)` (``'cosine'``) or
    :math:`1 - \sqrt{u}` (``'1-sqrt'``, Hägele et al.). The rate reaches
    :math:`f_1\eta` at step ``total_steps`` and stays there.

    Give the end of the run, ``total_steps`` (the decay then takes the last
    ``decay_steps``, by default a fifth of ``total_steps`` rounded down, at least 1), or
    **where the decay branches off the constant run**, ``decay_start=s`` with
    ``decay_steps``: the curve equals the stable run up to step :math:`s`, whatever comes
    after. ``decay_start=np.array([200, 400, 800])`` (or an array of ``total_steps``) is a
    sweep of such branches, one curve per member: one call of ``fit`` trains them all.
    ``lr``, the factors and every step count may be arrays (a sweep); ``decay`` is one name.

    PyTorch: ``SequentialLR([LinearLR(start_factor, 1.0, total_iters=warmup_steps),
    ConstantLR(factor=1.0), LinearLR(1.0, end_factor, total_iters=decay_steps)],
    milestones=[warmup_steps, s])``; for ``'cosine'`` the last one is
    ``CosineAnnealingLR(T_max=decay_steps, eta_min=end_factor * lr)`` (which climbs back
    after ``total_steps``; this one stays), for ``'1-sqrt'`` a ``LambdaLR``; a warmup from
    ``start_factor=0``, which ``LinearLR`` refuses, is a ``LambdaLR`` too, and without a
    warmup the first part and its milestone go. Keras: none built in.
    """
    lr = rate("lr", lr)
    decay = check.check_choice("decay", decay, DECAYS)
    start_factor = number("start_factor", start_factor, 0.0, 1.0)
    end_factor = number("end_factor", end_factor, 0.0, 1.0)
    warmup_steps = _steps("warmup_steps", warmup_steps, 0)
    if (total_steps is None) == (decay_start is None):
        raise ValueError(
            "give total_steps (the decay takes the last decay_steps) or decay_start (where the decay "
            f"branches off the constant rate), not both or neither; got total_steps={short(total_steps)}, "
            f"decay_start={short(decay_start)}"
        )
    if decay_start is None:
        total_steps = _steps("total_steps", total_steps, 1)
        if decay_steps is None:
            decay_steps = np.maximum(total_steps // 5, 1)
        decay_steps = _steps("decay_steps", decay_steps, 1)
        start = total_steps - decay_steps
        _ordered("decay_steps", decay_steps, "total_steps - warmup_steps", total_steps - warmup_steps)
        where = {"total_steps": total_steps}
    else:
        decay_start = _steps("decay_start", decay_start, 0)
        if decay_steps is None:
            raise ValueError("decay_steps is needed with decay_start: how many steps the decay lasts")
        decay_steps = _steps("decay_steps", decay_steps, 1)
        _ordered("warmup_steps", warmup_steps, "decay_start", decay_start)
        start = decay_start
        where = {"decay_start": decay_start}
    params = {"lr": lr, **where, "warmup_steps": warmup_steps, "decay_steps": decay_steps, "decay": decay}
    params.update(start_factor=start_factor, end_factor=end_factor)
    shape = _DECAY_SHAPES[decay]

    def fn(t):
        warm = lr * (start_factor + (1.0 - start_factor) * t / np.maximum(warmup_steps, 1))
        u = np.minimum(np.maximum(t - start, 0), decay_steps) / decay_steps
        if decay == "cosine":  # as CosineAnnealingLR, with eta_min = end_factor * lr
            eta_min = end_factor * lr
            decayed = eta_min + (lr - eta_min) * shape(u)
        else:
            decayed = lr * (end_factor + (1.0 - end_factor) * shape(u))
        return np.where(t < warmup_steps, warm, np.where(t < start, lr, decayed))

    return Schedule("wsd", fn, params)


def _linear(u):
    return 1.0 - u


def _cosine(u):
    return (1 + np.cos(np.pi * u)) / 2


def _one_minus_sqrt(u):
    return 1.0 - np.sqrt(u)


_DECAY_SHAPES = {"linear": _linear, "cosine": _cosine, "1-sqrt": _one_minus_sqrt}


def _steps(name, value, low):
    """A number of steps: an integer ``>= low``, or an array of them (a sweep)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return check.check_int(name, value, low)
    arr = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in "iu" or arr.ndim == 0:
        raise ValueError(f"{name} must be an integer >= {low} or an array of them (a sweep), got {value!r}")
    if arr.size and arr.min() < low:
        raise ValueError(f"{name} must be >= {low}, got {check.describe(arr)} (smallest {arr.min()})")
    return arr.astype(np.int64)


def _ordered(low_name, low, high_name, high):
    if np.any(np.asarray(low) > np.asarray(high)):
        raise ValueError(
            f"{low_name} must be <= {high_name} (the decay cannot start before the warmup ends), "
            f"got {low_name}={short(low)}, {high_name}={short(high)}"
        )

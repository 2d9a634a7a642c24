r"""The warmup-stable-decay schedule (WSD): warm up, hold the rate, and decay only at the end.

Hu et al. (2024, *MiniCPM*) train at a constant rate after a short warmup and decay it
over the last part of the run only; Hägele et al. (2024, *Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations*) show that a cooldown of about
20 % of the steps (linear, or better ``1-sqrt``) matches a cosine schedule. Since the
stable phase does not depend on where the run ends, a decay can be branched off the
constant run at any step: that is the point of WSD.

**PyTorch** has no WSD class; :func:`wsd` equals ``SequentialLR([LinearLR(start_factor, 1.0,
total_iters=warmup_steps), ConstantLR(factor=1.0), LinearLR(1.0, end_factor,
total_iters=decay_steps)], milestones=[warmup_steps, s])``, with :math:`s` where the decay
starts. For ``'cosine'`` the last one is ``CosineAnnealingLR(T_max=decay_steps,
eta_min=end_factor * lr)`` (which climbs back after ``total_steps``; this one stays), for
``'1-sqrt'`` a ``LambdaLR``; a warmup from ``start_factor=0``, which ``LinearLR`` refuses, is
a ``LambdaLR`` too, and without a warmup the first part and its milestone go. Keras: none
built in.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import step_count as _steps
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
    The PyTorch schedulers it equals: see the module docstring.
    """
    lr = rate("lr", lr)
    decay = check.check_choice("decay", decay, DECAYS)
    start_factor = number("start_factor", start_factor, 0.0, 1.0)
    end_factor = number("end_factor", end_factor, 0.0, 1.0)
    warmup_steps = _steps("warmup_steps", warmup_steps, 0)
    start, decay_steps, where = _decay_window(total_steps, warmup_steps, decay_steps, decay_start)
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


def _decay_window(total_steps, warmup_steps, decay_steps, decay_start):
    """The checked step where the decay starts, ``decay_steps``, and the end the user gave, as a dict."""
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
            _default_fits(decay_steps, total_steps, warmup_steps)
        decay_steps = _steps("decay_steps", decay_steps, 1)
        _ordered("decay_steps", decay_steps, "total_steps - warmup_steps", total_steps - warmup_steps)
        return total_steps - decay_steps, decay_steps, {"total_steps": total_steps}
    decay_start = _steps("decay_start", decay_start, 0)
    if decay_steps is None:
        raise ValueError("decay_steps is needed with decay_start: how many steps the decay lasts")
    decay_steps = _steps("decay_steps", decay_steps, 1)
    _ordered("warmup_steps", warmup_steps, "decay_start", decay_start)
    return decay_start, decay_steps, {"decay_start": decay_start}


def _default_fits(decay_steps, total_steps, warmup_steps):
    """``ValueError`` if the default decay (a fifth of ``total_steps``) does not fit after the warmup."""
    left = np.maximum(np.asarray(total_steps) - np.asarray(warmup_steps), 0)
    if np.any(decay_steps > left):
        shown = [short(np.asarray(a).tolist() if np.ndim(a) == 0 else a) for a in (left, decay_steps)]
        raise ValueError(
            f"warmup_steps={short(warmup_steps)} leaves {shown[0]} of total_steps={short(total_steps)} "
            f"steps for the decay, fewer than the default decay_steps (a fifth of total_steps, at least 1: "
            f"{shown[1]}); give fewer warmup_steps, more total_steps, or decay_steps that fit"
        )


def _ordered(low_name, low, high_name, high):
    if np.any(np.asarray(low) > np.asarray(high)):
        raise ValueError(
            f"{low_name} must be <= {high_name} (the decay cannot start before the warmup ends), "
            f"got {low_name}={short(low)}, {high_name}={short(high)}"
        )

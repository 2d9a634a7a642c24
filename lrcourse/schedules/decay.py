"""Schedules that start at the base rate ``lr`` and decay (or stay): closed forms of PyTorch's."""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import Schedule, factor, milestone_list, number, rate


def constant(lr):
    r"""The same rate at every step.

    .. math::

        \eta_t = \eta

    PyTorch: no scheduler (or ``ConstantLR(factor=1.0)``). Keras: a plain float
    ``learning_rate``.
    """
    lr = rate("lr", lr)
    return Schedule("constant", lambda t: lr + 0 * t, {"lr": lr})


def step_decay(lr, step_size, gamma=0.1):
    r"""Multiply the rate by ``gamma`` every ``step_size`` steps (a staircase).

    .. math::

        \eta_t = \eta\,\gamma^{\lfloor t / s \rfloor}

    with step size :math:`s`. PyTorch: ``StepLR(step_size, gamma)``. Keras:
    ``ExponentialDecay(lr, decay_steps=step_size, decay_rate=gamma, staircase=True)``.
    """
    lr, gamma = rate("lr", lr), factor("gamma", gamma)
    step_size = check.check_int("step_size", step_size, 1)
    return Schedule(
        "step_decay",
        lambda t: lr * np.power(gamma, t // step_size),
        {"lr": lr, "step_size": step_size, "gamma": gamma},
    )


def multistep(lr, milestones, gamma=0.1):
    r"""Multiply the rate by ``gamma`` at each of the given steps.

    .. math::

        \eta_t = \eta\,\gamma^{\#\{i \,:\, m_i \le t\}}

    with milestones :math:`m_1 < m_2 < \dots`. PyTorch: ``MultiStepLR(milestones, gamma)``.
    Keras: ``PiecewiseConstantDecay(boundaries=[m - 1 for m in milestones],
    values=[lr * gamma**i for i in range(len(milestones) + 1)])``.
    """
    lr, gamma = rate("lr", lr), factor("gamma", gamma)
    milestones = milestone_list("milestones", milestones)
    if not milestones:
        raise ValueError("milestones must hold at least one step, got []")
    bounds = np.array(milestones)
    return Schedule(
        "multistep",
        lambda t: lr * np.power(gamma, np.searchsorted(bounds, t, side="right")),
        {"lr": lr, "milestones": list(milestones), "gamma": gamma},
    )


def exponential(lr, gamma):
    r"""Multiply the rate by ``gamma`` at every step.

    .. math::

        \eta_t = \eta\,\gamma^{t}

    ``gamma > 1`` makes the rate grow, as in a learning-rate range test.
    PyTorch: ``ExponentialLR(gamma)``. Keras: ``ExponentialDecay(lr, decay_steps=1,
    decay_rate=gamma)``.
    """
    lr, gamma = rate("lr", lr), factor("gamma", gamma)
    return Schedule("exponential", lambda t: lr * np.power(gamma, t), {"lr": lr, "gamma": gamma})


def polynomial(lr, total_iters=5, power=1.0):
    r"""Decay to zero along a polynomial in ``total_iters`` steps, then stay at zero.

    .. math::

        \eta_t = \eta\,\Bigl(1 - \frac{\min(t, T)}{T}\Bigr)^{p}

    with :math:`T` = ``total_iters`` and :math:`p` = ``power`` (``power=1`` is a
    straight line). PyTorch: ``PolynomialLR(total_iters, power)``. Keras:
    ``PolynomialDecay(lr, decay_steps=total_iters, end_learning_rate=0.0, power=power)``.
    """
    lr, power = rate("lr", lr), number("power", power, 0.0)
    total_iters = check.check_int("total_iters", total_iters, 1)
    return Schedule(
        "polynomial",
        lambda t: lr * np.power(1.0 - np.minimum(t, total_iters) / total_iters, power),
        {"lr": lr, "total_iters": total_iters, "power": power},
    )


def linear(lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    r"""Move the rate in a straight line from ``start_factor * lr`` to ``end_factor * lr``.

    .. math::

        \eta_t = \eta\,\Bigl(f_0 + (f_1 - f_0)\,\frac{\min(t, T)}{T}\Bigr)

    with :math:`T` = ``total_iters``; the rate stays at :math:`f_1\eta` afterwards.
    With the defaults it is a short linear warmup from a third of ``lr``.
    PyTorch: ``LinearLR(start_factor, end_factor, total_iters)`` (which needs
    ``start_factor > 0``; here 0 is allowed). Keras: ``PolynomialDecay(start_factor * lr,
    decay_steps=total_iters, end_learning_rate=end_factor * lr, power=1.0)``.
    """
    lr = rate("lr", lr)
    start_factor = number("start_factor", start_factor, 0.0, 1.0)
    end_factor = number("end_factor", end_factor, 0.0, 1.0)
    total_iters = check.check_int("total_iters", total_iters, 1)

    def fn(t):
        return lr * (start_factor + (end_factor - start_factor) * np.minimum(t, total_iters) / total_iters)

    params = {"lr": lr, "start_factor": start_factor, "end_factor": end_factor, "total_iters": total_iters}
    return Schedule("linear", fn, params)


def cosine(lr, T_max, eta_min=0.0):
    r"""Cosine annealing from ``lr`` down to ``eta_min`` in ``T_max`` steps.

    .. math::

        \eta_t = \eta_{\min} + \tfrac{1}{2}\,(\eta - \eta_{\min})
                 \Bigl(1 + \cos\frac{\pi t}{T_{\max}}\Bigr)

    Past ``T_max`` the formula keeps going, as PyTorch's does: the rate climbs
    back to ``lr`` at ``2 * T_max`` and repeats with period :math:`2T_{\max}`.
    (For restarts that jump straight back to ``lr``, use :func:`cosine_restarts`.)
    PyTorch: ``CosineAnnealingLR(T_max, eta_min)``. Keras: ``CosineDecay(lr,
    decay_steps=T_max, alpha=eta_min / lr)``, which stays at ``eta_min`` after ``T_max``.
    """
    lr, eta_min = rate("lr", lr), rate("eta_min", eta_min)
    T_max = check.check_int("T_max", T_max, 1)

    def fn(t):
        return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * t / T_max)) / 2

    return Schedule("cosine", fn, {"lr": lr, "T_max": T_max, "eta_min": eta_min})


def cosine_restarts(lr, T_0, T_mult=1, eta_min=0.0):
    r"""Cosine annealing with warm restarts (SGDR): the rate jumps back to ``lr`` at each restart.

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_i = T_0\,T_{\mathrm{mult}}^{\,i}` steps;
    with :math:`t_{\mathrm{cur}}` the steps since the last restart,

    .. math::

        \eta_t = \eta_{\min} + \tfrac{1}{2}\,(\eta - \eta_{\min})
                 \Bigl(1 + \cos\frac{\pi\, t_{\mathrm{cur}}}{T_i}\Bigr)

    PyTorch: ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)``. Keras:
    ``CosineDecayRestarts(lr, first_decay_steps=T_0, t_mul=T_mult, m_mul=1.0,
    alpha=eta_min / lr)``.
    """
    lr, eta_min = rate("lr", lr), rate("eta_min", eta_min)
    T_0 = check.check_int("T_0", T_0, 1)
    T_mult = check.check_int("T_mult", T_mult, 1)

    def cycle_start(n):
        return T_0 * (T_mult**n - 1) // (T_mult - 1)

    def fn(t):
        if T_mult == 1:
            T_cur, T_i = t % T_0, T_0
        else:
            # Cycle n starts at step T_0 (T_mult**n - 1) / (T_mult - 1): the logarithm
            # finds n, the integer comparisons correct its rounding.
            n = np.floor(np.log(t / T_0 * (T_mult - 1) + 1) / np.log(T_mult)).astype(np.int64)
            n = n - (cycle_start(n) > t)
            n = n + (cycle_start(n + 1) <= t)
            T_cur, T_i = t - cycle_start(n), T_0 * T_mult**n
        return eta_min + (lr - eta_min) * (1 + np.cos(np.pi * T_cur / T_i)) / 2

    return Schedule("cosine_restarts", fn, {"lr": lr, "T_0": T_0, "T_mult": T_mult, "eta_min": eta_min})

"""Checkers for the chapter on warmup and schedules for runs of unknown length.

- :func:`check_radam_rectification`: ``radam_rectification(k, beta2)``, RAdam's
  :math:`r_k` for the 1-based steps ``k`` (0 while :math:`\\rho_k \\le 5`), compared with
  :func:`lrcourse.labs.warmup_wsd.rectification`.
- :func:`check_wsd_rate`: ``wsd_rate(t, lr, total_steps, decay_steps, warmup_steps=0)``,
  warmup-stable-decay with linear ramps written by hand, compared with
  :func:`lrcourse.schedules.wsd`.

Each prints a specific message and returns a
:class:`~lrcourse.checks.core.CheckResult` (true when solved); none raises on a stub.
"""

from __future__ import annotations

import numpy as np

from lrcourse import schedules
from lrcourse.checks.core import Case, check_function

__all__ = ["check_radam_rectification", "check_wsd_rate"]


# ----------------------------------------------------------------- RAdam's rectification


def _rho(k, beta2):
    k = np.asarray(k, dtype=np.float64)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):  # the mistake k - 1 = 0 gives 0 / 0
        return rho_inf, rho_inf - 2.0 * k * beta2**k / (1.0 - beta2**k)


def _r(rho, rho_inf, threshold=5.0):
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return np.where(rho > threshold, r, 0.0)


def _ref_rectification(k, beta2):
    rho_inf, rho = _rho(k, beta2)
    return _r(rho, rho_inf)


def _zero_based(k, beta2):
    rho_inf, rho = _rho(np.asarray(k) - 1, beta2)
    return _r(rho, rho_inf)


def _threshold_4(k, beta2):
    rho_inf, rho = _rho(k, beta2)
    return _r(rho, rho_inf, threshold=4.0)


def _no_minus_one(k, beta2):
    k = np.asarray(k, dtype=np.float64)
    rho_inf = 2.0 / (1.0 - beta2)
    rho = rho_inf - 2.0 * k * beta2**k / (1.0 - beta2**k)
    return _r(rho, rho_inf)


def _no_sqrt(k, beta2):
    return _ref_rectification(k, beta2) ** 2


def _no_bias_term(k, beta2):
    k = np.asarray(k, dtype=np.float64)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    return _r(rho_inf - 2.0 * k * beta2**k, rho_inf)


def _nan_in_momentum_phase(k, beta2):
    rho_inf, rho = _rho(k, beta2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return np.where(rho > 5.0, r, np.nan)


def check_radam_rectification(radam_rectification, quiet=False, record=None):
    r"""``radam_rectification(k, beta2)``: RAdam's :math:`r_k` for the 1-based steps ``k``.

    .. math::

        \rho_\infty = \frac{2}{1-\beta_2} - 1, \quad
        \rho_k = \rho_\infty - \frac{2k\,\beta_2^k}{1-\beta_2^k}, \quad
        r_k = \sqrt{\frac{(\rho_k-4)(\rho_k-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_k}}

    and :math:`r_k = 0` where :math:`\rho_k \le 5` (the momentum steps). ``k`` is an
    array of integers :math:`\ge 1`.
    """
    cases = [
        Case((np.arange(1, 13), 0.999), label="the first 12 steps, beta2 = 0.999"),
        Case((np.array([6, 100, 1000, 2000, 10000]), 0.999), label="later steps, beta2 = 0.999"),
        Case((np.arange(1, 9), 0.99), label="beta2 = 0.99"),
        Case((np.array([1, 3, 5, 50, 500]), 0.9), label="beta2 = 0.9"),
    ]

    def random_case(rng):
        beta2 = float(rng.choice([0.95, 0.98, 0.99, 0.995, 0.999]))
        return Case((np.sort(rng.integers(1, 3000, size=8)), beta2))

    mistakes = [
        (
            _zero_based,
            "your steps are one behind: k counts from 1 (the first update is k = 1), so "
            "use beta2 ** k and 2 k in rho_k, not k - 1.",
        ),
        (
            _threshold_4,
            "RAdam's paper switches at rho_k > 4, but PyTorch (and the authors' code) "
            "at rho_k > 5: with beta2 = 0.999, step 5 (rho = 4.996) is still a momentum "
            "step, r = 0.",
        ),
        (
            _no_minus_one,
            "rho_infinity is 2 / (1 - beta2) - 1, not 2 / (1 - beta2): the largest "
            "number of gradients the average can hold, minus one.",
        ),
        (_no_sqrt, "r_k is the square root of that ratio of products."),
        (
            _no_bias_term,
            "rho_k subtracts 2 k beta2^k / (1 - beta2^k): keep the denominator 1 - beta2^k.",
        ),
        (
            _nan_in_momentum_phase,
            "while rho_k <= 5 the square root is not defined (or not wanted): return 0 "
            "there, e.g. np.where(rho > 5, r, 0.0).",
        ),
    ]
    return check_function(
        radam_rectification,
        _ref_rectification,
        cases,
        name="radam_rectification",
        random_case=random_case,
        rtol=1e-8,
        atol=1e-12,
        arg_names=["k", "beta2"],
        mistakes=mistakes,
        hint="compute rho_infinity, then rho_k for every k, then r_k where rho_k > 5.",
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- warmup-stable-decay


def _ref_wsd(t, lr, total_steps, decay_steps, warmup_steps=0):
    sched = schedules.wsd(lr, total_steps=total_steps, warmup_steps=warmup_steps, decay_steps=decay_steps)
    return sched(np.asarray(t))


def _t(t):
    return np.asarray(t, dtype=np.float64)


def _late_decay(t, lr, total, decay, warmup=0):
    return _ref_wsd(np.maximum(_t(t) - 1, 0).astype(int), lr, total, decay, warmup)


def _no_clamp(t, lr, total, decay, warmup=0):
    t = _t(t)
    start = total - decay
    warm = lr * t / max(warmup, 1)
    return np.where(t < warmup, warm, np.where(t < start, lr, lr * (1 - (t - start) / decay)))


def _decay_from_warmup(t, lr, total, decay, warmup=0):
    t = _t(t)
    u = np.clip((t - warmup) / (total - warmup), 0, 1)
    return np.where(t < warmup, lr * t / max(warmup, 1), lr * (1 - u))


def _warmup_one_ahead(t, lr, total, decay, warmup=0):
    t = _t(t)
    start = total - decay
    u = np.clip((t - start) / decay, 0, 1)
    return np.where(t < warmup, lr * (t + 1) / max(warmup, 1), np.where(t < start, lr, lr * (1 - u)))


def _decay_ends_early(t, lr, total, decay, warmup=0):
    t = _t(t)
    start = total - decay
    u = np.clip((t - start) / max(decay - 1, 1), 0, 1)
    return np.where(t < warmup, lr * t / max(warmup, 1), np.where(t < start, lr, lr * (1 - u)))


def check_wsd_rate(wsd_rate, quiet=False, record=None):
    r"""``wsd_rate(t, lr, total_steps, decay_steps, warmup_steps=0)``: warmup-stable-decay.

    For the 0-based step ``t`` (an int or an array of ints), with :math:`s` =
    ``total_steps - decay_steps`` and :math:`D` = ``decay_steps``: :math:`\eta\,t/T_w` while
    :math:`t < T_w`, :math:`\eta` until :math:`s`, then
    :math:`\eta\,(1 - \min(t - s, D)/D)`, which is 0 from ``total_steps`` on. Compared
    with :func:`lrcourse.schedules.wsd`.
    """
    cases = [
        Case((np.arange(0, 101, 5), 0.1, 100, 20), label="no warmup, a 20% decay"),
        Case((np.arange(0, 121), 1.0, 100, 10, 10), label="warmup 10, decay 10, past the end"),
        Case((np.array([0, 1, 9, 10, 79, 80, 81, 99, 100]), 0.5, 100, 20, 10), label="the corners"),
        Case((85, 0.2, 100, 20), label="one step (an int t)"),
    ]

    def random_case(rng):
        total = int(rng.integers(20, 500))
        decay = int(rng.integers(1, total // 2))
        warmup = int(rng.integers(0, total - decay))
        lr = float(rng.uniform(1e-3, 1.0))
        return Case((np.sort(rng.integers(0, total + 20, size=15)), lr, total, decay, warmup))

    mistakes = [
        (
            _no_clamp,
            "after total_steps the rate must stay at 0, not go negative: limit the decay "
            "fraction to 1, min(t - s, D) / D.",
        ),
        (
            _decay_from_warmup,
            "your rate decays from the end of the warmup: that is a linear schedule, not "
            "WSD. The rate stays at lr until total_steps - decay_steps.",
        ),
        (
            _warmup_one_ahead,
            "your warmup is one step ahead: the first update (t = 0) has rate 0, and "
            "the rate reaches lr at t = warmup_steps.",
        ),
        (
            _decay_ends_early,
            "your decay reaches 0 one step early: divide by decay_steps, not decay_steps - 1.",
        ),
        (
            _late_decay,
            "your curve is one step late: at t = total_steps - decay_steps the decay "
            "starts, and that step still has the full rate lr.",
        ),
    ]
    return check_function(
        wsd_rate,
        _ref_wsd,
        cases,
        name="wsd_rate",
        random_case=random_case,
        arg_names=["t", "lr", "total_steps", "decay_steps", "warmup_steps"],
        mistakes=mistakes,
        hint="three pieces: t < warmup_steps, t < total_steps - decay_steps, and the rest.",
        quiet=quiet,
        record=record,
    )

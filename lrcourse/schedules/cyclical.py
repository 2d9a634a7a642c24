"""Schedules that go up and down: cyclical rates and the 1cycle policy, with their momentum."""

from __future__ import annotations

import bisect

import numpy as np

from lrcourse import _validate as check
from lrcourse.schedules._core import Schedule, factor, number, ordered, rate, short, sweep_of


def _momentum_pair(base_momentum, max_momentum):
    base_momentum = number("base_momentum", base_momentum, 0.0, 1.0)
    max_momentum = number("max_momentum", max_momentum, 0.0, 1.0)
    ordered("base_momentum", base_momentum, "max_momentum", max_momentum)
    return base_momentum, max_momentum


def _with_momentum(name, lr_fn, momentum_fn, params, **kwargs):
    """A schedule whose ``.momentum`` is a schedule of the same sweep shape (or ``None``)."""
    sched = Schedule(name, lr_fn, params, **kwargs)
    if momentum_fn is not None:
        kwargs["sweep_shape"] = sched.sweep_shape
        sched.momentum = Schedule(
            f"{name}.momentum", momentum_fn, params, label=f"{sched!r}.momentum", **kwargs
        )
    return sched


def cyclic(
    base_lr,
    max_lr,
    step_size_up=2000,
    step_size_down=None,
    mode="triangular",
    gamma=1.0,
    cycle_momentum=True,
    base_momentum=0.8,
    max_momentum=0.9,
    *,
    scale_fn=None,
    scale_mode="cycle",
):
    r"""Cyclical learning rate (CLR): up from ``base_lr`` to ``max_lr`` and back, again and again.

    A cycle lasts :math:`S = S_{\uparrow} + S_{\downarrow}` steps
    (``step_size_up + step_size_down``); with :math:`r = S_{\uparrow}/S`, the cycle number
    :math:`c = \lfloor 1 + t/S \rfloor` and the position in the cycle
    :math:`x = 1 + t/S - c \in [0, 1)`,

    .. math::

        h_t = \begin{cases} x / r & x \le r \\ (1 - x)/(1 - r) & x > r \end{cases}
        \qquad
        \eta_t = \eta_{\mathrm{base}} + (\eta_{\max} - \eta_{\mathrm{base}})\, h_t\, s

    where the amplitude scale :math:`s` is 1 (``'triangular'``), :math:`2^{-(c-1)}`
    (``'triangular2'``, halved each cycle) or :math:`\gamma^{t}` (``'exp_range'``).
    A custom vectorised ``scale_fn`` of the cycle number (``scale_mode='cycle'``)
    or of ``t`` (``scale_mode='iterations'``) replaces ``mode``; it gets an array,
    or a number for one step ``sched(t)``.

    With ``cycle_momentum`` the momentum moves the other way,
    :math:`\mu_t = \mu_{\max} - (\mu_{\max} - \mu_{\mathrm{base}})\, h_t\, s`; it is
    ``sched.momentum`` (else ``None``). PyTorch: ``CyclicLR`` (same arguments).
    Keras: none built in (TensorFlow Addons had ``CyclicalLearningRate``).
    """
    base_lr, max_lr = rate("base_lr", base_lr), rate("max_lr", max_lr)
    ordered("base_lr", base_lr, "max_lr", max_lr)
    step_size_up = check.check_int("step_size_up", step_size_up, 1)
    step_size_down = (
        step_size_up if step_size_down is None else check.check_int("step_size_down", step_size_down, 1)
    )
    mode = check.check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    gamma = factor("gamma", gamma)
    base_momentum, max_momentum = _momentum_pair(base_momentum, max_momentum)
    params = {
        "base_lr": base_lr,
        "max_lr": max_lr,
        "step_size_up": step_size_up,
        "step_size_down": step_size_down,
        "mode": mode,
        "gamma": gamma,
        "cycle_momentum": bool(cycle_momentum),
        "base_momentum": base_momentum,
        "max_momentum": max_momentum,
    }
    if scale_fn is not None:
        if not callable(scale_fn):
            raise ValueError(f"scale_fn must be a function of an array, got {scale_fn!r}")
        scale_mode = check.check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        params.update(scale_fn=getattr(scale_fn, "__name__", "scale_fn"), scale_mode=scale_mode)
    elif mode == "triangular":
        scale_fn, scale_mode = (lambda c: 1.0), "cycle"
    elif mode == "triangular2":
        scale_fn, scale_mode = (lambda c: 1 / np.power(2.0, c - 1)), "cycle"
    else:
        scale_fn, scale_mode = (lambda t: np.power(gamma, t)), "iterations"

    total = float(step_size_up + step_size_down)
    ratio = step_size_up / total

    def height(t):
        """Where ``t`` is in its cycle: 0 at ``base_lr``, 1 at the peak; and the amplitude scale."""
        cycle = np.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        h = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        return h, scale_fn(cycle if scale_mode == "cycle" else t)

    def lr_fn(t):
        h, s = height(t)
        return base_lr + (max_lr - base_lr) * h * s

    def momentum_fn(t):
        h, s = height(t)
        return max_momentum - (max_momentum - base_momentum) * h * s

    return _with_momentum("cyclic", lr_fn, momentum_fn if cycle_momentum else None, params)


def one_cycle(
    max_lr,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    cycle_momentum=True,
    base_momentum=0.85,
    max_momentum=0.95,
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
):
    r"""The 1cycle policy: warm up to ``max_lr``, then anneal far below the starting rate.

    The rate starts at :math:`\eta_0 = \eta_{\max}/d` (``div_factor``) and ends at
    :math:`\eta_0/d_f` (``final_div_factor``). Phase :math:`k` runs from step
    :math:`a_k` to step :math:`b_k` and moves the rate from :math:`u_k` to :math:`v_k`:

    - phase 1, warm-up, steps :math:`0 \to pT - 1`: from :math:`\eta_0` to :math:`\eta_{\max}`;
    - phase 2, annealing, steps :math:`pT - 1 \to T - 1`: from :math:`\eta_{\max}` to :math:`\eta_0/d_f`,

    with :math:`p` = ``pct_start`` and :math:`T` = ``total_steps``. With
    ``three_phase=True`` phase 2 goes back to :math:`\eta_0` at step :math:`2pT - 2`
    and a third phase anneals to :math:`\eta_0/d_f` at :math:`T - 1`. Within a phase,
    with :math:`\rho = (t - a_k)/(b_k - a_k)`,

    .. math::

        \eta_t = v_k + \tfrac{1}{2}(u_k - v_k)\,(1 + \cos \pi\rho)
        \quad (\texttt{'cos'}), \qquad
        \eta_t = u_k + (v_k - u_k)\,\rho \quad (\texttt{'linear'})

    The momentum follows the same phases the other way, from ``max_momentum`` down
    to ``base_momentum`` and back (staying at ``max_momentum`` in a third phase); it
    is ``sched.momentum`` when ``cycle_momentum`` (else ``None``). Steps beyond
    ``total_steps`` raise ``ValueError``, as PyTorch does.
    PyTorch: ``OneCycleLR(max_lr, total_steps, ...)``. Keras: none built in.
    """
    max_lr = rate("max_lr", max_lr)
    total_steps = check.check_int("total_steps", total_steps, 1)
    if np.ndim(pct_start):
        raise ValueError(
            f"pct_start must be one number (it places the phases), got {short(np.asarray(pct_start))}"
        )
    pct_start = number("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
    anneal_strategy = check.check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
    base_momentum, max_momentum = _momentum_pair(base_momentum, max_momentum)
    div_factor = factor("div_factor", div_factor)
    final_div_factor = factor("final_div_factor", final_div_factor)
    params = {
        "max_lr": max_lr,
        "total_steps": total_steps,
        "pct_start": pct_start,
        "anneal_strategy": anneal_strategy,
        "cycle_momentum": bool(cycle_momentum),
        "base_momentum": base_momentum,
        "max_momentum": max_momentum,
        "div_factor": div_factor,
        "final_div_factor": final_div_factor,
        "three_phase": bool(three_phase),
    }

    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    peak = float(pct_start * total_steps) - 1
    if three_phase:
        ends = [peak, float(2 * pct_start * total_steps) - 2, total_steps - 1]
        lr_points = [initial_lr, max_lr, initial_lr, min_lr]
        momentum_points = [max_momentum, base_momentum, max_momentum, max_momentum]
    else:
        ends = [peak, total_steps - 1]
        lr_points = [initial_lr, max_lr, min_lr]
        momentum_points = [max_momentum, base_momentum, max_momentum]
    starts = [0.0] + ends[:-1]
    if any(e <= s for s, e in zip(starts, ends, strict=True)):
        raise ValueError(
            f"pct_start={pct_start} with total_steps={total_steps} leaves a phase without steps "
            f"(phases end at steps {[round(e, 6) for e in ends]}); use more total_steps or a pct_start nearer 0.5"
        )
    inner_ends = ends[:-1]  # a list, for bisect
    starts, ends = np.array(starts), np.array(ends)
    sweep = sweep_of(params)

    def interpolate(points):
        # Values at the phase boundaries, stacked so np.choose can pick a phase per step
        # (and indexing the phase of one step).
        points = np.stack(np.broadcast_arrays(*points))
        first, last = points[:-1], points[1:]

        def fn(t):
            # The phase of t: the first with t <= its end, as torch.
            if isinstance(t, int):
                k = bisect.bisect_left(inner_ends, t)
                u, v = first[k], last[k]
            else:
                k = np.searchsorted(ends[:-1], t)
                u, v = np.choose(k, first), np.choose(k, last)
            rho = (t - starts[k]) / (ends[k] - starts[k])
            if anneal_strategy == "cos":
                return v + (u - v) / 2.0 * (np.cos(np.pi * rho) + 1)
            return (v - u) * rho + u

        return fn

    momentum_fn = interpolate(momentum_points) if cycle_momentum else None
    return _with_momentum(
        "one_cycle", interpolate(lr_points), momentum_fn, params, sweep_shape=sweep, max_t=total_steps
    )

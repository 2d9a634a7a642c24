r"""Textbook forms of the update rules, for comparison with PyTorch's. **Not what PyTorch computes.**

:mod:`lrcourse.optimizers` follows ``torch.optim``'s update rules. Books, papers and
other libraries often write the same methods differently; this module implements
those other forms so that a notebook can put both side by side and *measure* the
difference:

- :func:`heavy_ball`: momentum with the rate *inside* the velocity,
  :math:`u \leftarrow \mu u - \eta_t g`, :math:`\theta \leftarrow \theta + u`
  (PyTorch keeps the rate outside: :math:`b \leftarrow \mu b + g`,
  :math:`\theta \leftarrow \theta - \eta_t b`). Equal for a constant rate,
  different once the rate is scheduled.
- :func:`ema_momentum`: momentum as an exponential moving average started at
  zero, :math:`b \leftarrow \mu b + (1-\mu) g`; PyTorch's ``dampening=mu`` is the
  same except that its first buffer is the raw gradient.
- :func:`nesterov_lookahead`: Nesterov's method with the gradient taken at the
  look-ahead point :math:`\theta + \mu u` (Sutskever et al., 2013); PyTorch's
  ``nesterov=True`` is an algebraic rewrite of it in the variable
  :math:`\phi = \theta + \mu u`.
- :func:`rmsprop_eps_inside`: RMSProp with :math:`\epsilon` under the square
  root, :math:`g/\sqrt{v + \epsilon}` (PyTorch: :math:`g/(\sqrt v + \epsilon)`).
- :func:`adam_no_bias_correction`: Adam without the division by
  :math:`1-\beta^k`, to show what the correction does in the first steps.

All but :func:`nesterov_lookahead` return :class:`~lrcourse.optimizers.Optimizer`
objects, so they run through :func:`~lrcourse.descent.run`, :func:`~lrcourse.descent.descend`
and :func:`~lrcourse.training.fit` with sweeps (array hyperparameters) and schedules
(callable ``lr``) just like the PyTorch ones. :func:`nesterov_lookahead` needs the
gradient at another point than the parameters, so it takes the gradient function
itself, and runs through :func:`~lrcourse.descent.run` too.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.descent import run
from lrcourse.optimizers import (
    Optimizer,
    adam_hyperparameters,
    align,
    hyperparameter,
    value_at,
    with_sweep_axes,
)
from lrcourse.tree import tree_map, tree_zeros_like

__all__ = [
    "heavy_ball",
    "ema_momentum",
    "nesterov_lookahead",
    "rmsprop_eps_inside",
    "adam_no_bias_correction",
]


def _rate(name, value):
    return check.check_nonnegative(name, value)


def _unit(name, value):
    return check.check_range(name, value, 0.0, 1.0, high_open=True)


def heavy_ball(lr=1e-3, momentum=0.9):
    r"""Polyak's heavy ball in the textbook form, rate inside the velocity (not PyTorch).

    .. math::

        u_{t+1} = \mu\, u_t - \eta_t\, g_t, \quad u_0 = 0, \qquad
        \theta_{t+1} = \theta_t + u_{t+1}

    With a constant rate :math:`u_{t+1} = -\eta\, b_t` for PyTorch's buffer
    :math:`b_t = \mu b_{t-1} + g_t`, so the paths coincide. With a scheduled rate
    they do not: here a change of :math:`\eta_t` only affects new gradients,
    while PyTorch rescales the whole buffer at once.
    """
    return _momentum_method(
        "heavy_ball",
        "velocity",
        _lr_and_momentum(lr, momentum),
        buffer=lambda g, u, lr, mu: mu * u - lr * g,
        step=lambda u, lr: u,
    )


def ema_momentum(lr=1e-3, momentum=0.9):
    r"""Momentum as an exponential moving average of the gradients started at zero (not PyTorch).

    .. math::

        b_t = \mu\, b_{t-1} + (1 - \mu)\, g_t, \quad b_{-1} = 0, \qquad
        \theta_{t+1} = \theta_t - \eta_t\, b_t

    PyTorch's ``sgd(momentum=mu, dampening=mu)`` applies the same recursion from
    the second step on, but its first buffer is :math:`b_0 = g_0` (no dampening
    on the first step), so its first step is :math:`1/(1-\mu)` times longer.
    """
    return _momentum_method(
        "ema_momentum",
        "average",
        _lr_and_momentum(lr, momentum),
        buffer=lambda g, b, lr, mu: mu * b + (1 - mu) * g,
        step=lambda b, lr: -lr * b,
    )


def _lr_and_momentum(lr, momentum):
    """The checked ``lr`` and ``momentum`` of the momentum methods here, with their sweep axes."""
    return with_sweep_axes(
        {"lr": hyperparameter("lr", lr, _rate), "momentum": hyperparameter("momentum", momentum, _unit)}
    )


def _momentum_method(name, key, hp, buffer, step):
    """An optimizer with one buffer per parameter, ``state[key]``, zero at first.

    At every step each leaf's buffer becomes ``buffer(g, b, lr, mu)`` (the gradient, the
    old buffer, and the rate and momentum of the step lined up with the leaf), and
    the leaf moves by ``step(new_buffer, lr)``.
    """

    def init(params):
        return {"step": 0, key: tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, mu_t = value_at(hp["lr"], t), value_at(hp["momentum"], t)
        new = tree_map(
            lambda g, p, b: buffer(g, b, align(lr_t, p), align(mu_t, p)), grads, params, state[key]
        )
        updates = tree_map(lambda b, p: step(b, align(lr_t, p)), new, params)
        return updates, {"step": t + 1, key: new}

    return Optimizer(name, init, update, hp)


def nesterov_lookahead(grad_fn, x0, lr, momentum, steps):
    r"""Nesterov's momentum in the look-ahead form of Sutskever et al. (2013) (not PyTorch's form).

    .. math::

        u_{t+1} = \mu\, u_t - \eta\, \nabla f(\theta_t + \mu\, u_t), \quad u_0 = 0, \qquad
        \theta_{t+1} = \theta_t + u_{t+1}

    The gradient is taken at the point the velocity is about to carry us to.
    Returns ``(theta, u)``, each of shape ``(steps + 1, *batch, d)`` (row 0 is the
    start and :math:`u_0 = 0`); the velocities are read off the path,
    :math:`u_t = \theta_t - \theta_{t-1}`, so they carry the rounding of
    :math:`\theta`. ``lr`` and ``momentum`` may be arrays (a sweep, broadcast
    against the batch axes of ``x0`` as in :func:`~lrcourse.descent.run`), and
    ``lr`` a schedule. PyTorch's ``sgd(nesterov=True)`` produces
    :math:`\phi_t = \theta_t + \mu u_t`.
    """
    steps = check.check_int("steps", steps, 0)
    hp = _lr_and_momentum(lr, momentum)

    def init(theta):
        return {"step": 0, "velocity": np.zeros_like(theta)}

    def update(_, state, theta):  # the gradient run() passes, at theta, is not the one needed
        t, u = state["step"], state["velocity"]
        lr_t, mu_t = align(value_at(hp["lr"], t), theta), align(value_at(hp["momentum"], t), theta)
        u = mu_t * u - lr_t * np.asarray(grad_fn(theta + mu_t * u))
        return u, {"step": t + 1, "velocity": u}

    lookahead = Optimizer("nesterov_lookahead", init, update, hp)
    theta = run(optimizer=lookahead, grad_fn=np.zeros_like, x0=x0, steps=steps)
    return theta, np.concatenate([np.zeros_like(theta[:1]), np.diff(theta, axis=0)])


def rmsprop_eps_inside(lr=1e-2, alpha=0.99, eps=1e-8):
    r"""RMSProp with :math:`\epsilon` inside the square root (not PyTorch).

    .. math::

        v_t = \alpha\, v_{t-1} + (1-\alpha)\, g_t^2, \quad v_{-1} = 0, \qquad
        \theta_{t+1} = \theta_t - \eta\, \frac{g_t}{\sqrt{v_t + \epsilon}}

    PyTorch divides by :math:`\sqrt{v_t} + \epsilon`. The two agree while
    :math:`|g| \gg \sqrt\epsilon`; for gradients near or below
    :math:`\sqrt\epsilon` (``1e-4`` for ``eps=1e-8``) this form takes much
    smaller steps, because :math:`\sqrt\epsilon \gg \epsilon`.
    """
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, _rate),
            "alpha": hyperparameter("alpha", alpha, _unit),
            "eps": hyperparameter("eps", eps, check.check_nonnegative),
        }
    )

    def init(params):
        return {"step": 0, "square_avg": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, a_t, eps_t = (value_at(hp[k], t) for k in ("lr", "alpha", "eps"))

        def sq(g, p, v):
            a = align(a_t, p)
            return a * v + (1 - a) * g * g

        square_avg = tree_map(sq, grads, params, state["square_avg"])
        updates = tree_map(
            lambda g, p, v: -align(lr_t, p) * g / np.sqrt(v + align(eps_t, p)), grads, params, square_avg
        )
        return updates, {"step": t + 1, "square_avg": square_avg}

    return Optimizer("rmsprop_eps_inside", init, update, hp)


def adam_no_bias_correction(lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    r"""Adam *without* bias correction (not PyTorch, not the paper): for comparison only.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \theta_{t+1} = \theta_t - \eta\, \frac{m_t}{\sqrt{v_t} + \epsilon}

    Both averages start at zero. For a constant gradient :math:`g` the step is
    :math:`\eta\,\frac{1-\beta_1^k}{\sqrt{1-\beta_2^k}}` instead of :math:`\eta`
    (:math:`k` the 1-based step): about :math:`3.2\,\eta` at the first step and up
    to :math:`6.5\,\eta` around step 10 for the default betas.
    """
    hp = with_sweep_axes(adam_hyperparameters(lr, betas, eps))

    def init(params):
        return {"step": 0, "exp_avg": tree_zeros_like(params), "exp_avg_sq": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, eps_t = (value_at(hp[k], t) for k in ("lr", "beta1", "beta2", "eps"))
        m = tree_map(
            lambda g, p, m: align(b1_t, p) * m + (1 - align(b1_t, p)) * g, grads, params, state["exp_avg"]
        )
        v = tree_map(
            lambda g, p, v: align(b2_t, p) * v + (1 - align(b2_t, p)) * g * g,
            grads,
            params,
            state["exp_avg_sq"],
        )
        updates = tree_map(lambda m, v, p: -align(lr_t, p) * m / (np.sqrt(v) + align(eps_t, p)), m, v, params)
        return updates, {"step": t + 1, "exp_avg": m, "exp_avg_sq": v}

    return Optimizer("adam_no_bias_correction", init, update, hp)

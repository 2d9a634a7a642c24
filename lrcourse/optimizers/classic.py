"""The optimizers of chapter 6: SGD (with momentum), AdaGrad, RMSProp, Adam and AdamW."""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import (
    Optimizer,
    adam_hyperparameters,
    align,
    hyperparameter,
    map_leaves,
    rate,
    short,
    unit_interval,
    value_at,
    with_sweep_axes,
)
from lrcourse.tree import tree_map, tree_zeros_like


def sgd(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    r"""Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    With gradient :math:`g_t`, rate :math:`\eta`, momentum :math:`\mu`,
    dampening :math:`\tau` and weight decay :math:`\lambda`:

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_{t} \\
        b_t &= \begin{cases} g_t & t = 0 \\ \mu\, b_{t-1} + (1-\tau)\, g_t & t > 0 \end{cases} \\
        d_t &= \begin{cases} g_t + \mu\, b_t & \text{nesterov} \\ b_t & \text{otherwise} \end{cases} \\
        \theta_{t+1} &= \theta_t - \eta\, d_t

    Note the buffer starts as the raw gradient (no dampening on the first step) and
    the rate multiplies outside the buffer, as in PyTorch (not the textbook
    :math:`u \leftarrow \mu u - \eta g`). With ``momentum=0`` this is plain
    gradient descent :math:`\theta_{t+1} = \theta_t - \eta g_t`.
    """
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "momentum": hyperparameter("momentum", momentum, check.check_nonnegative),
            "dampening": hyperparameter("dampening", dampening, unit_interval),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "nesterov": bool(nesterov),
        }
    )
    if nesterov:
        mu0 = np.asarray(value_at(hp["momentum"], 0))
        if np.any(mu0 <= 0) or np.any(np.asarray(value_at(hp["dampening"], 0)) != 0):
            raise ValueError(
                "nesterov=True needs momentum in (0, inf) and dampening == 0, "
                f"got momentum={short(momentum)}, dampening={short(dampening)}"
            )
    uses_momentum = callable(hp["momentum"]) or np.any(np.asarray(hp["momentum"]) != 0)
    decays = callable(hp["weight_decay"]) or np.any(np.asarray(hp["weight_decay"]) != 0)

    def init(params):
        state = {"step": 0}
        if uses_momentum:
            state["momentum_buffer"] = tree_zeros_like(params)
        return state

    def update(grads, state, params):
        t = state["step"]
        lr_t = value_at(hp["lr"], t)
        if not (uses_momentum or decays):  # plain gradient descent: theta - lr * g
            return tree_map(lambda g, p: -align(lr_t, p) * g, grads, params), {"step": t + 1}
        wd_t = value_at(hp["weight_decay"], t) if decays else 0.0  # (decided once, not per step)
        if uses_momentum:
            mu_t, damp_t = value_at(hp["momentum"], t), value_at(hp["dampening"], t)

        def leaf(g, p, buf=None):
            if decays and np.any(wd_t):
                g = g + align(wd_t, p) * p
            if buf is None:
                return -align(lr_t, p) * g, None
            mu = align(mu_t, p)
            if t == 0:
                buf = np.array(g, dtype=np.float64)
            else:
                buf = mu * buf + (1 - align(damp_t, p)) * g
                if np.ndim(mu) and not np.all(mu):  # torch skips the buffer when momentum == 0
                    buf = np.where(mu == 0, g, buf)
            d = g + mu * buf if hp["nesterov"] else buf
            return -align(lr_t, p) * d, buf

        if uses_momentum:
            updates, bufs = map_leaves(leaf, 2, grads, params, state["momentum_buffer"])
            return updates, {"step": t + 1, "momentum_buffer": bufs}
        updates = tree_map(lambda g, p: leaf(g, p)[0], grads, params)
        return updates, {"step": t + 1}

    return Optimizer("sgd", init, update, hp)


def adagrad(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    r"""AdaGrad, as ``torch.optim.Adagrad``: per-parameter rates from the sum of squared gradients.

    With the 1-based step :math:`k = t + 1`:

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_t \\
        \tilde\eta_t &= \frac{\eta}{1 + (k - 1)\,\delta} \\
        G_t &= G_{t-1} + g_t^2, \qquad G_{-1} = \text{initial\_accumulator\_value} \\
        \theta_{t+1} &= \theta_t - \tilde\eta_t\, \frac{g_t}{\sqrt{G_t} + \epsilon}

    where :math:`\delta` is ``lr_decay``. Because :math:`G_t` only grows, the
    effective rate :math:`\eta/\sqrt{G_t}` shrinks towards zero.
    """
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "lr_decay": hyperparameter("lr_decay", lr_decay, check.check_nonnegative),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "initial_accumulator_value": hyperparameter(
                "initial_accumulator_value", initial_accumulator_value, check.check_nonnegative
            ),
            "eps": hyperparameter("eps", eps, check.check_nonnegative),
        }
    )

    decays = callable(hp["weight_decay"]) or np.any(np.asarray(hp["weight_decay"]) != 0)

    def init(params):
        g0 = value_at(hp["initial_accumulator_value"], 0)
        return {
            "step": 0,
            "sum": tree_map(lambda p: np.zeros(np.shape(p)) + align(g0, np.asarray(p)), params),
        }

    def update(grads, state, params):
        t = state["step"]
        lr_t, decay_t, wd_t, eps_t = (value_at(hp[k], t) for k in ("lr", "lr_decay", "weight_decay", "eps"))

        def leaf(g, p, acc):
            if decays and np.any(wd_t):  # (decays: checked once, not per step)
                g = g + align(wd_t, p) * p
            clr = align(lr_t, p) / (1 + t * align(decay_t, p))
            acc = acc + g * g
            return -clr * (g / (np.sqrt(acc) + align(eps_t, p))), acc

        updates, sums = map_leaves(leaf, 2, grads, params, state["sum"])
        return updates, {"step": t + 1, "sum": sums}

    return Optimizer("adagrad", init, update, hp)


def rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    r"""RMSProp, as ``torch.optim.RMSprop``: divide by a moving RMS of the gradient.

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_t \\
        v_t &= \alpha\, v_{t-1} + (1-\alpha)\, g_t^2, \qquad v_{-1} = 0 \\
        \bar g_t &= \alpha\, \bar g_{t-1} + (1-\alpha)\, g_t \quad\text{(centered only)} \\
        s_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \quad\text{(centered) or}\quad \sqrt{v_t} + \epsilon \\
        b_t &= \mu\, b_{t-1} + g_t / s_t, \qquad b_{-1} = 0 \\
        \theta_{t+1} &= \theta_t - \eta\, b_t \quad(\mu > 0)
        \quad\text{or}\quad \theta_t - \eta\, g_t / s_t \quad(\mu = 0)

    As in PyTorch there is no bias correction and :math:`\epsilon` is added
    *outside* the square root.
    """
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "alpha": hyperparameter("alpha", alpha, unit_interval),
            "eps": hyperparameter("eps", eps, check.check_nonnegative),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "momentum": hyperparameter("momentum", momentum, check.check_nonnegative),
            "centered": bool(centered),
        }
    )
    uses_momentum = callable(hp["momentum"]) or np.any(np.asarray(hp["momentum"]) != 0)
    decays = callable(hp["weight_decay"]) or np.any(np.asarray(hp["weight_decay"]) != 0)

    def init(params):
        state = {"step": 0, "square_avg": tree_zeros_like(params)}
        if uses_momentum:
            state["momentum_buffer"] = tree_zeros_like(params)
        if centered:
            state["grad_avg"] = tree_zeros_like(params)
        return state

    def update(grads, state, params):
        t = state["step"]
        lr_t, alpha_t, eps_t, wd_t, mu_t = (
            value_at(hp[k], t) for k in ("lr", "alpha", "eps", "weight_decay", "momentum")
        )
        missing = tree_map(lambda g: None, grads)

        def leaf(g, p, sq, gavg, buf):
            if decays and np.any(wd_t):  # (decays: checked once, not per step)
                g = g + align(wd_t, p) * p
            a = align(alpha_t, p)
            sq = a * sq + (1 - a) * (g * g)
            if centered:
                gavg = gavg + (1 - a) * (g - gavg)  # torch's lerp
                avg = np.sqrt(sq - gavg * gavg)
            else:
                avg = np.sqrt(sq)
            avg = avg + align(eps_t, p)
            lr_p = align(lr_t, p)
            if uses_momentum:
                buf = align(mu_t, p) * buf + g / avg
                return -lr_p * buf, sq, gavg, buf
            return -lr_p * (g / avg), sq, gavg, buf

        updates, sq, gavg, buf = map_leaves(
            leaf,
            4,
            grads,
            params,
            state["square_avg"],
            state.get("grad_avg", missing),
            state.get("momentum_buffer", missing),
        )
        new = {"step": t + 1, "square_avg": sq}
        if centered:
            new["grad_avg"] = gavg
        if uses_momentum:
            new["momentum_buffer"] = buf
        return updates, new

    return Optimizer("rmsprop", init, update, hp)


def adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    r"""Adam, as ``torch.optim.Adam``: momentum on the gradient and on its square, bias-corrected.

    With the 1-based step :math:`k = t + 1`:

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_t \quad\text{(L2 penalty in the gradient)} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)} \quad\text{else}\quad v_t \\
        \theta_{t+1} &= \theta_t - \frac{\eta}{1-\beta_1^k}\,
        \frac{m_t}{\sqrt{\hat v_t}\,/\sqrt{1-\beta_2^k} + \epsilon}

    Note :math:`\epsilon` is added after the bias correction of the square root,
    and AMSGrad keeps the maximum of the *raw* :math:`v_t`, as PyTorch does.
    """
    return _adam_family("adam", lr, betas, eps, weight_decay, amsgrad, decoupled=False)


def adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    r"""AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    Before the moments are updated the parameters shrink,
    :math:`\theta_t \leftarrow \theta_t\,(1 - \eta\lambda)`; the gradient itself
    is *not* changed. The rest is :func:`adam` with :math:`\lambda = 0`:

    .. math::

        \theta_{t+1} = \theta_t(1-\eta\lambda) - \frac{\eta}{1-\beta_1^k}\,
        \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^k} + \epsilon}

    Compare :func:`adam` with ``weight_decay``, where :math:`\lambda\theta` is added
    to the gradient and so gets divided by :math:`\sqrt{\hat v}` like the rest.
    """
    return _adam_family("adamw", lr, betas, eps, weight_decay, amsgrad, decoupled=True)


def _adam_family(name, lr, betas, eps, weight_decay, amsgrad, decoupled):
    hp = with_sweep_axes(
        {
            **adam_hyperparameters(lr, betas, eps),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "amsgrad": bool(amsgrad),
        }
    )

    def init(params):
        state = {"step": 0, "exp_avg": tree_zeros_like(params), "exp_avg_sq": tree_zeros_like(params)}
        if amsgrad:
            state["max_exp_avg_sq"] = tree_zeros_like(params)
        return state

    has_decay = callable(hp["weight_decay"]) or bool(np.any(hp["weight_decay"]))

    def update(grads, state, params):
        t = state["step"]
        k = t + 1
        lr_t, b1_t, b2_t, eps_t = (value_at(hp[n], t) for n in ("lr", "beta1", "beta2", "eps"))
        wd_t = value_at(hp["weight_decay"], t)
        # Python's float power, as torch computes its bias corrections.
        bias1 = 1 - b1_t**k if isinstance(b1_t, float) else 1 - np.power(b1_t, k)
        bias2_sqrt = (1 - b2_t**k) ** 0.5 if isinstance(b2_t, float) else np.sqrt(1 - np.power(b2_t, k))
        maxes = state.get("max_exp_avg_sq", tree_map(lambda g: None, grads))

        def leaf(g, p, m, v, vmax):
            lr_p = align(lr_t, p)
            if has_decay and not decoupled:
                g = g + align(wd_t, p) * p
            b1, b2 = align(b1_t, p), align(b2_t, p)
            m_new = g - m  # m + (1 - b1)(g - m): torch's lerp_(grad, 1 - beta1)
            m_new *= 1 - b1
            m_new += m
            v_new = g * g
            v_new *= 1 - b2
            v_new += b2 * v
            if amsgrad:
                vmax = np.maximum(vmax, v_new)
            denom = np.sqrt(vmax if amsgrad else v_new)
            denom /= align(bias2_sqrt, p)
            denom += align(eps_t, p)
            step = m_new / denom
            step *= -(lr_p / align(bias1, p))
            if has_decay and decoupled:
                step -= (lr_p * align(wd_t, p)) * p
            return step, m_new, v_new, vmax

        updates, m, v, vmax = map_leaves(leaf, 4, grads, params, state["exp_avg"], state["exp_avg_sq"], maxes)
        new = {"step": k, "exp_avg": m, "exp_avg_sq": v}
        if amsgrad:
            new["max_exp_avg_sq"] = vmax
        return updates, new

    return Optimizer(name, init, update, hp)

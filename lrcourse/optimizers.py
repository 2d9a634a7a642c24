"""Gradient-descent optimizers that follow ``torch.optim``'s update rules, in numpy.

Every optimizer is a pair of pure functions, in the style of optax::

    opt = adam(lr=1e-2)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)          # params + updates

``params`` is one array or a dict/list of arrays (see :mod:`lrcourse.tree`).

**Sweeps.** Any hyperparameter may be an array. Its axes line up with the
*leading* axes of the parameters, so ``adam(lr=np.logspace(-4, 0, 1000))`` on
parameters of shape ``(1000, 2)`` runs 1000 independent descents in one call.
:func:`lrcourse.descent.run` adds the sweep axes to a shared starting point for you.

**Schedules.** A hyperparameter may also be a function of the 0-based step
``t`` (for example a schedule from :mod:`lrcourse.schedules`, or
``sched.momentum`` of a cyclic schedule). It is evaluated at the step count the
optimizer has reached, as PyTorch's ``param_groups[0]['lr']`` is read at each
``optimizer.step()``.

The arithmetic follows PyTorch's single-tensor CPU code in float64, including
the details that textbook formulas leave out; each docstring gives the rule.
The paths agree with PyTorch's to float64 round-off (the tests check ``1e-10``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check
from lrcourse.tree import tree_map, tree_zeros_like


@dataclass(frozen=True)
class Optimizer:
    """A named pair of pure functions ``init(params)`` and ``update(grads, state, params)``."""

    name: str
    init: Callable
    update: Callable
    hyperparams: dict = field(default_factory=dict)

    @property
    def sweep_shape(self):
        """Shape of the sweep axes: the broadcast shape of all array hyperparameters."""
        shapes = [np.shape(value_at(h, 0)) for h in self.hyperparams.values() if not isinstance(h, bool)]
        return np.broadcast_shapes(*shapes) if shapes else ()

    def __repr__(self):
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})"


def check_constructor(optimizer):
    """Raise ``ValueError`` unless ``optimizer`` builds an optimizer from a rate (``sgd``, ...).

    The sweeps and the range test call it with their own rates, so they need the
    constructor (``sgd`` or ``functools.partial(adam, betas=(0.9, 0.99))``), not an
    optimizer already built with one rate (``sgd(lr=0.1)``).
    """
    if isinstance(optimizer, Optimizer) or not callable(optimizer):
        raise ValueError(
            "optimizer must be a constructor called with the rate(s), such as sgd or "
            f"functools.partial(adam, betas=(0.9, 0.99)), got {optimizer!r}"
        )
    return optimizer


def _short(value):
    if callable(value):
        return getattr(value, "__name__", "schedule")
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return repr(value)


# ----------------------------------------------------------------- hyperparameters
#
# The tools every optimizer here is built with (and those of lrcourse.labs.textbook_optimizers):
# check each hyperparameter with hyperparameter() (those Adam's kind shares with
# adam_hyperparameters()), give them common sweep axes with with_sweep_axes(); in update(),
# read each at the step with value_at() and line it up with a parameter with align().


def hyperparameter(name, value, validate):
    """Check one hyperparameter of an optimizer and return it in the form ``update`` reads.

    ``validate(name, value)`` raises ``ValueError`` for a bad value and returns it as a
    float64 array (as the checks of :mod:`lrcourse._validate` do). A number comes back as a
    ``float``, an array as an array (a sweep), and a schedule (a function of the step)
    as itself, after checking its value at step 0.
    """
    if callable(value):
        validate(name, value(0))
        return value
    arr = validate(name, value)
    return float(arr) if arr.ndim == 0 else arr


def with_sweep_axes(hp):
    """Give every array hyperparameter of the dict ``hp`` the full number of sweep axes.

    The sweep shape is the broadcast shape of all of them (numpy broadcasting):
    ``lr`` of shape ``(3, 1)`` and ``momentum`` of shape ``(4,)`` form a ``(3, 4)``
    sweep; ``momentum`` becomes ``(1, 4)`` so both line up with the parameters' leading
    axes. Schedules get the missing axes on their values; booleans stay as they are.
    ``ValueError`` if the shapes do not broadcast.
    """
    shapes = [np.shape(value_at(h, 0)) for h in hp.values() if not isinstance(h, bool)]
    k = len(np.broadcast_shapes(*shapes)) if shapes else 0

    def pad(h):
        if isinstance(h, bool):
            return h
        if callable(h):
            n = np.ndim(h(0))
            if n == k:
                return h
            return lambda t, f=h: np.expand_dims(f(t), tuple(range(k - n)))  # f(t) once a step
        if isinstance(h, np.ndarray) and h.ndim < k:
            return h.reshape((1,) * (k - h.ndim) + h.shape)
        return h

    try:
        return {name: pad(h) for name, h in hp.items()}
    except ValueError:
        raise ValueError(f"array hyperparameters must broadcast together, got shapes {shapes}") from None


def value_at(h, t):
    """The value of hyperparameter ``h`` at the 0-based step ``t``: ``h(t)`` for a schedule, else ``h``."""
    return h(t) if callable(h) else h


def align(h, leaf):
    """Reshape the hyperparameter value ``h`` so that it multiplies the parameter array ``leaf``.

    A number stays a ``float``. An array of sweep shape ``S`` gets trailing axes of
    length 1, so its axes meet the leading axes of ``leaf`` (shape ``S + (d, ...)``):
    member ``i`` of the sweep then acts on ``leaf[i]`` only. ``ValueError`` if they do not
    line up.
    """
    if isinstance(h, float):
        return h
    h = np.asarray(h, dtype=np.float64)
    if h.ndim == 0:
        return float(h)
    extra = leaf.ndim - h.ndim
    if leaf.shape[: h.ndim] == h.shape:  # the usual case, checked first: this runs every step
        return h.reshape(h.shape + (1,) * extra)
    if extra < 0 or leaf.shape[: h.ndim] != np.broadcast_shapes(leaf.shape[: h.ndim], h.shape):
        raise ValueError(
            f"a hyperparameter of shape {h.shape} must line up with the leading axes of the "
            f"parameters, which have shape {leaf.shape}; give the parameters the sweep axes "
            "first (run() and descend() do this for you)"
        )
    return h.reshape(h.shape + (1,) * extra)


def _rate(name, value):
    return check.check_nonnegative(name, value)


def _unit_interval(name, value):
    return check.check_range(name, value, 0.0, 1.0)


def _beta(name, value):
    return check.check_range(name, value, 0.0, 1.0, high_open=True)


def adam_hyperparameters(lr, betas, eps):
    """The checked ``lr``, ``beta1``, ``beta2`` and ``eps`` of an Adam-like optimizer, as a dict.

    ``betas`` is the pair ``(beta1, beta2)``, each in ``[0, 1)``; every value passes
    through :func:`hyperparameter`. Add the optimizer's other hyperparameters to the
    dict and give it to :func:`with_sweep_axes`.
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), got {betas!r}")
    return {
        "lr": hyperparameter("lr", lr, _rate),
        "beta1": hyperparameter("betas[0]", betas[0], _beta),
        "beta2": hyperparameter("betas[1]", betas[1], _beta),
        "eps": hyperparameter("eps", eps, check.check_nonnegative),
    }


# ----------------------------------------------------------------- optimizers


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
            "lr": hyperparameter("lr", lr, _rate),
            "momentum": hyperparameter("momentum", momentum, check.check_nonnegative),
            "dampening": hyperparameter("dampening", dampening, _unit_interval),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "nesterov": bool(nesterov),
        }
    )
    if nesterov:
        mu0 = np.asarray(value_at(hp["momentum"], 0))
        if np.any(mu0 <= 0) or np.any(np.asarray(value_at(hp["dampening"], 0)) != 0):
            raise ValueError(
                "nesterov=True needs momentum in (0, inf) and dampening == 0, "
                f"got momentum={_short(momentum)}, dampening={_short(dampening)}"
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
            updates, bufs = _map_leaves(leaf, 2, grads, params, state["momentum_buffer"])
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
            "lr": hyperparameter("lr", lr, _rate),
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

        updates, sums = _map_leaves(leaf, 2, grads, params, state["sum"])
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
            "lr": hyperparameter("lr", lr, _rate),
            "alpha": hyperparameter("alpha", alpha, _unit_interval),
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

        updates, sq, gavg, buf = _map_leaves(
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

        updates, m, v, vmax = _map_leaves(
            leaf, 4, grads, params, state["exp_avg"], state["exp_avg_sq"], maxes
        )
        new = {"step": k, "exp_avg": m, "exp_avg_sq": v}
        if amsgrad:
            new["max_exp_avg_sq"] = vmax
        return updates, new

    return Optimizer(name, init, update, hp)


# ----------------------------------------------------------------- helpers


def apply_updates(params, updates):
    """Return ``params + updates`` leaf by leaf (a new tree; the inputs are untouched)."""
    return tree_map(lambda p, u: p + u, params, updates)


def _map_leaves(fn, n_out, grads, params, *states):
    """Apply ``fn(g, p, *state_leaves) -> n_out arrays`` leaf by leaf; return ``n_out`` trees."""
    if isinstance(grads, dict):
        outs = {k: _map_leaves(fn, n_out, grads[k], params[k], *(s[k] for s in states)) for k in grads}
        return tuple({k: outs[k][i] for k in grads} for i in range(n_out))
    if isinstance(grads, (list, tuple)):
        outs = [_map_leaves(fn, n_out, *items) for items in zip(grads, params, *states, strict=True)]
        return tuple(type(grads)(o[i] for o in outs) for i in range(n_out))
    return fn(grads, params, *states)


__all__ = [
    "Optimizer",
    "sgd",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "apply_updates",
    "check_constructor",
    "hyperparameter",
    "adam_hyperparameters",
    "with_sweep_axes",
    "value_at",
    "align",
]

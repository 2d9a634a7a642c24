r"""Schedule-free SGD and AdamW (Defazio et al., 2024), as the ``schedulefree`` package.

*The Road Less Scheduled* (Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, NeurIPS 2024)
replaces the learning-rate schedule by an average. Three sequences run side by side:

- :math:`z_t`, a plain (SGD or Adam-like) descent with a *constant* rate;
- :math:`x_t`, a weighted running average of the :math:`z`'s: the point to evaluate and keep;
- :math:`y_t = (1-\beta)\,z_t + \beta\,x_t`, between the two: where the gradient is taken.

With the 0-based step :math:`t` (as everywhere in :mod:`lrcourse.optimizers`), gradient
:math:`g_t = \nabla f(y_t)` and rate :math:`\gamma_t`, starting from
:math:`x_0 = y_0 = z_0`,

.. math::

    z_{t+1} &= z_t - \gamma_t\, g_t \\
    x_{t+1} &= (1 - c_t)\, x_t + c_t\, z_{t+1}, \qquad
    c_t = \frac{w_t}{\sum_{i \le t} w_i}, \quad
    w_t = (t+1)^{r}\, \bigl(\max_{i \le t} \gamma_i\bigr)^{p} \\
    y_{t+1} &= (1-\beta)\, z_{t+1} + \beta\, x_{t+1}

with :math:`r` = ``r``, :math:`p` = ``weight_lr_power`` and a linear warmup
:math:`\gamma_t = \gamma \min(1, (t+1) / T_w)` over ``warmup_steps`` :math:`T_w`. With
:math:`r = 0` and no warmup the weights are equal and :math:`x` is the plain average of
the :math:`z`'s: the average takes the place of the decay, so there is no schedule, and
no need to know the length of the run in advance; that is what *schedule-free* means.

**Pure form.** As in the library, only :math:`y` and :math:`z` are stored: the
parameters the trainer holds and differentiates are :math:`y` (the library's *train
mode*), and :math:`x` is recovered from them by :func:`eval_params` (its
``optimizer.eval()``). The state holds what the library keeps: ``z``, the step count,
``weight_sum``, ``lr_max``, ``scheduled_lr`` (the rate after warmup, for logging), the
interpolation :math:`\beta` (``momentum`` or ``beta1``) and, for AdamW, ``exp_avg_sq``.
The update of :math:`y` is done without forming :math:`x`, operation by operation as the
library does, so float64 paths agree with it to round-off.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import (
    Optimizer,
    adam_hyperparameters,
    align,
    hyperparameter,
    lerp,
    map_leaves,
    rate,
    short,
    step_count,
    value_at,
    with_sweep_axes,
)
from lrcourse.tree import tree_copy, tree_map, tree_zeros_like

__all__ = ["adamw_schedule_free", "eval_params", "sgd_schedule_free"]


def sgd_schedule_free(lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0):
    r"""Schedule-free SGD, as ``schedulefree.SGDScheduleFree`` (same names and defaults).

    The step :math:`t = 0, 1, \dots` (0-based, the state's ``step``) with gradient
    :math:`g` taken at the parameters :math:`y`:

    .. math::

        g &\leftarrow g + \lambda\, y \qquad\text{(weight decay, at } y) \\
        \gamma &= \eta \cdot \begin{cases} (t+1)/T_w & t < T_w \\ 1 & \text{otherwise} \end{cases},
        \qquad \gamma_{\max} \leftarrow \max(\gamma_{\max}, \gamma) \\
        w &= (t+1)^{r}\, \gamma_{\max}^{\,p}, \qquad S \leftarrow S + w, \qquad c = w / S
        \quad (c = 0 \text{ while } S = 0) \\
        y &\leftarrow (1 - c)\, y + c\, z + \gamma\,\bigl(\beta(1 - c) - 1\bigr)\, g \\
        z &\leftarrow z - \gamma\, g

    with :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``, :math:`\lambda` =
    ``weight_decay``, :math:`T_w` = ``warmup_steps``, :math:`r` = ``r`` and :math:`p` =
    ``weight_lr_power``. The point to evaluate is
    :math:`x = y + (1 - 1/\beta)(z - y)`: :func:`eval_params`. ``momentum`` is the
    interpolation :math:`\beta` of :math:`y` between :math:`z` and :math:`x`, in
    :math:`(0, 1)`; it is not a momentum buffer (there is none).

    ``lr``, ``weight_decay``, ``r`` and ``weight_lr_power`` may be numbers, arrays (a
    sweep) or schedules of the step; ``momentum`` a number or an array (a schedule would
    break the relation between :math:`y`, :math:`z` and :math:`x`); ``warmup_steps`` an
    integer or an array of integers. A schedule for ``lr`` multiplies the warmup, as a
    PyTorch scheduler that sets ``param_groups[0]['lr']`` does.
    """
    hp = _with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "momentum": _interpolation("momentum", momentum),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "warmup_steps": step_count("warmup_steps", warmup_steps),
            "r": hyperparameter("r", r, check.check_nonnegative),
            "weight_lr_power": hyperparameter("weight_lr_power", weight_lr_power, check.check_nonnegative),
        }
    )
    return _schedule_free("sgd_schedule_free", hp, "momentum", adaptive=False)


def adamw_schedule_free(
    lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0
):
    r"""Schedule-free AdamW, as ``schedulefree.AdamWScheduleFree`` (same names and defaults).

    As :func:`sgd_schedule_free`, with the gradient divided by Adam's second moment
    before it enters :math:`y` and :math:`z`, and the weight decay added after that
    division (decoupled, at :math:`y`). For the 0-based step :math:`t`:

    .. math::

        v &\leftarrow \beta_2\, v + (1 - \beta_2)\, g^2 \\
        \hat g &= \frac{g}{\sqrt{v / (1 - \beta_2^{\,t+1})} + \epsilon} + \lambda\, y \\
        y &\leftarrow (1 - c)\, y + c\, z + \gamma\,\bigl(\beta_1(1 - c) - 1\bigr)\, \hat g \\
        z &\leftarrow z - \gamma\, \hat g

    with :math:`\gamma` and :math:`c` as in :func:`sgd_schedule_free`. There is no first
    moment: :math:`\beta_1` is the interpolation between :math:`z` and :math:`x`, and only
    the second moment is bias-corrected (inside the square root, :math:`\epsilon` outside).
    ``betas[0]`` must be in :math:`(0, 1)` and not a schedule; ``betas[1]``, ``eps`` and
    the others may be numbers, arrays (sweeps) or schedules, as in
    :func:`sgd_schedule_free`. The point to evaluate is :func:`eval_params`.
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(
            f"betas must be a pair (beta1, beta2), beta1 in (0, 1), beta2 in [0, 1), got {betas!r}"
        )
    beta1 = _interpolation("betas[0]", betas[0])
    hp = _with_sweep_axes(
        {
            **adam_hyperparameters(lr, betas, eps),
            "beta1": beta1,
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "warmup_steps": step_count("warmup_steps", warmup_steps),
            "r": hyperparameter("r", r, check.check_nonnegative),
            "weight_lr_power": hyperparameter("weight_lr_power", weight_lr_power, check.check_nonnegative),
        }
    )
    return _schedule_free("adamw_schedule_free", hp, "beta1", adaptive=True)


def eval_params(state, params):
    r"""The point to evaluate and keep, :math:`x`, from the state and the parameters :math:`y`.

    A schedule-free optimizer trains the parameters :math:`y` (gradients are taken
    there; they are what ``update`` receives and :func:`lrcourse.training.fit` returns);
    the average :math:`x` is what to evaluate, report and keep. As the library's
    ``optimizer.eval()`` (float64, operation for operation):

    .. math:: x = y + \Bigl(1 - \frac{1}{\beta}\Bigr)\,(z - y)

    with :math:`\beta` the ``momentum`` (``betas[0]`` for AdamW) and :math:`z` from the
    state. Pure: returns a new tree, ``state`` and ``params`` are untouched, and
    training goes on from :math:`y` as before (no ``train()`` to call back). Before the
    first update :math:`z = y`, so :math:`x = y`. The state of :func:`clipped
    <lrcourse.optimizers.clipping.clipped>` around a schedule-free optimizer works too.

    :func:`~lrcourse.training.fit` evaluates and returns :math:`y` unless it is told
    otherwise: ``fit(..., evaluate_at=eval_params)`` evaluates, keeps and returns
    :math:`x` (training is the same). Its ``watch(state, params)`` sees both after every
    update too.
    """
    while isinstance(state, dict) and "inner" in state:  # clipped(...) keeps its optimizer's state there
        state = state["inner"]
    if not isinstance(state, dict) or "z" not in state or not ({"momentum", "beta1"} & set(state)):
        raise ValueError(
            "eval_params needs the state of sgd_schedule_free or adamw_schedule_free "
            f"(with 'z' and 'momentum' or 'beta1'), got {_describe_state(state)}"
        )
    beta = state["momentum"] if "momentum" in state else state["beta1"]
    weight = 1 - 1 / beta  # the library's weight of p.lerp_(z, weight)
    return tree_map(lambda y, z: lerp(y, z, align(weight, y)), params, state["z"])


# ----------------------------------------------------------------- the shared update


def _schedule_free(name, hp, beta_key, adaptive):
    shape = np.broadcast_shapes(*(np.shape(value_at(h, 0)) for h in hp.values()))
    decays = callable(hp["weight_decay"]) or bool(np.any(hp["weight_decay"]))

    def filled(value):
        return np.full(shape, value) if shape else value

    def init(params):
        state = {
            "step": 0,
            "z": tree_copy(params),
            "weight_sum": filled(0.0),
            "lr_max": filled(-1.0),
            "scheduled_lr": filled(0.0),
            beta_key: hp[beta_key],
        }
        if adaptive:
            state["exp_avg_sq"] = tree_zeros_like(params)
        return state

    def update(grads, state, params):
        t = state["step"]
        lr, c, book = _averaging(hp, t, state)
        beta = hp[beta_key]
        alpha = lr * (beta * (1 - c) - 1)  # the library's alpha of y.add_(grad, alpha=...)
        wd = value_at(hp["weight_decay"], t) if decays else 0.0
        if adaptive:
            b2 = value_at(hp["beta2"], t)
            eps = value_at(hp["eps"], t)
            bias2 = 1 - b2 ** (t + 1) if isinstance(b2, float) else 1 - np.power(b2, t + 1)

        def leaf(g, y, z, v=None):
            if adaptive:
                b2_p = align(b2, y)
                v = v * b2_p + (1 - b2_p) * g * g  # exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2)
                g = g / (np.sqrt(v / align(bias2, y)) + align(eps, y))
            if decays and np.any(wd):
                g = g + align(wd, y) * y
            y_new = lerp(y, z, align(c, y)) + align(alpha, y) * g
            return y_new - y, z - align(lr, y) * g, v

        if adaptive:
            updates, z, v = map_leaves(leaf, 3, grads, params, state["z"], state["exp_avg_sq"])
        else:
            updates, z, _ = map_leaves(leaf, 3, grads, params, state["z"])
        new = {"step": t + 1, "z": z, **book, beta_key: beta}
        if adaptive:
            new["exp_avg_sq"] = v
        return updates, new

    return Optimizer(name, init, update, hp)


def _averaging(hp, t, state):
    """The rate after warmup, the weight ``c`` of ``z`` in the average, and the new bookkeeping.

    In Python floats, as the library computes them, unless a hyperparameter is an array.
    """
    lr0, warmup = value_at(hp["lr"], t), hp["warmup_steps"]
    r, p = value_at(hp["r"], t), value_at(hp["weight_lr_power"], t)
    lr_max, weight_sum = state["lr_max"], state["weight_sum"]
    if not any(isinstance(v, np.ndarray) for v in (lr0, warmup, r, p, lr_max, weight_sum)):
        lr = lr0 * ((t + 1) / warmup if t < warmup else 1.0)
        lr_max = max(lr, lr_max)
        weight = ((t + 1) ** r) * (lr_max**p)
        weight_sum = weight_sum + weight
        c = weight / weight_sum if weight_sum != 0 else 0.0  # the library catches ZeroDivisionError
    else:
        lr = lr0 * np.where(t < warmup, (t + 1) / np.maximum(warmup, 1), 1.0)
        lr_max = np.maximum(lr, lr_max)
        weight = np.power(float(t + 1), r) * np.power(lr_max, p)
        weight_sum = weight_sum + weight
        c = np.where(weight_sum != 0, weight / np.where(weight_sum != 0, weight_sum, 1.0), 0.0)
        lr, c = _number_or_array(lr), _number_or_array(c)
    return lr, c, {"weight_sum": weight_sum, "lr_max": lr_max, "scheduled_lr": lr}


def _describe_state(state):
    if isinstance(state, dict):
        return f"a dict with keys {sorted(state)}"
    return repr(state) if np.ndim(state) == 0 else f"a {type(state).__name__}"


def _number_or_array(a):
    a = np.asarray(a, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


# ----------------------------------------------------------------- checks


def _with_sweep_axes(hp):
    """:func:`with_sweep_axes`, with the names and shapes in the message when the arrays do not broadcast."""
    try:
        return with_sweep_axes(hp)
    except ValueError:
        shapes = {k: np.shape(value_at(h, 0)) for k, h in hp.items()}
        raise ValueError(f"array hyperparameters must broadcast together, got shapes {shapes}") from None


def _interpolation(name, value):
    """``momentum`` / ``betas[0]``: a number or an array in (0, 1), not a schedule."""
    if callable(value):
        raise ValueError(
            f"{name} must be a number in (0, 1) or an array of them (a sweep), not a schedule: it fixes "
            f"where y sits between z and x, which eval_params needs; got {short(value)}"
        )
    arr = check.check_range(name, value, 0.0, 1.0, low_open=True, high_open=True)
    return float(arr) if arr.ndim == 0 else arr

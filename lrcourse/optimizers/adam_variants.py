"""Three variations on Adam: NAdam, RAdam and Adamax, as ``torch.optim`` has them.

- :func:`nadam` puts Nesterov's momentum into Adam (Dozat 2016): each step already
  applies the momentum of the step after it.
- :func:`radam` rectifies the variance of the early steps (Liu et al. 2020): while
  too few squared gradients have been averaged to trust ``v``, it takes momentum steps
  without dividing by ``sqrt(v)``; after that, Adam steps scaled by a factor that grows
  towards 1, a warm-up built into the optimizer.
- :func:`adamax` divides by an exponentially weighted infinity norm of the past
  gradients instead of their root mean square (Kingma & Ba 2015, section 7.1).

They are built and used like :func:`~lrcourse.optimizers.adam`: any hyperparameter may
be a number, an array (a sweep) or a schedule (see :mod:`lrcourse.optimizers`).
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import (
    Optimizer,
    adam_hyperparameters,
    align,
    flag,
    hyperparameter,
    map_leaves,
    value_at,
    with_sweep_axes,
)
from lrcourse.tree import tree_zeros_like

_ADAM_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay")
"""The hyperparameters the three share, in the order ``update`` reads them."""


def nadam(
    lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False
):
    r"""NAdam, as ``torch.optim.NAdam``: Adam with Nesterov's momentum (Dozat 2016).

    With the 1-based step :math:`k = t + 1` and the momentum decay :math:`\psi`:

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_t \quad\text{(L2 penalty in the gradient)} \\
        \mu_k &= \beta_1\bigl(1 - \tfrac12\, 0.96^{k\psi}\bigr), \qquad
        \Pi_k = \mu_1 \mu_2 \cdots \mu_k \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        d_t &= \sqrt{v_t / (1-\beta_2^k)} + \epsilon \\
        \theta_{t+1} &= \theta_t - \eta\,\frac{1-\mu_k}{1-\Pi_k}\,\frac{g_t}{d_t}
        - \eta\,\frac{\mu_{k+1}}{1-\Pi_{k+1}}\,\frac{m_t}{d_t}

    The second term is the look-ahead: the momentum of the *next* step,
    :math:`\mu_{k+1}`, is already applied to :math:`m_t`.

    The momentum :math:`\mu_k` of the step warms up, and the bias corrections are the
    products :math:`1-\Pi_k` (kept in the state as ``mu_product``), not
    :math:`1-\beta_1^k`; the average :math:`m_t` itself is taken with the constant
    :math:`\beta_1`.
    With the default :math:`\psi = 0.004` the momentum starts near :math:`\beta_1/2`
    and reaches :math:`0.75\,\beta_1` only at step 4245; ``momentum_decay=0`` gives
    the constant :math:`\beta_1/2`, not :math:`\beta_1`. With
    ``decoupled_weight_decay=True`` the gradient is left alone and the parameters
    shrink first, :math:`\theta_t \leftarrow \theta_t(1-\eta\lambda)`, as in
    :func:`~lrcourse.optimizers.adamw` (this is "NAdamW").
    """
    hp = _hyperparameters(
        lr,
        betas,
        eps,
        weight_decay,
        momentum_decay=hyperparameter("momentum_decay", momentum_decay, check.check_nonnegative),
        decoupled_weight_decay=flag("decoupled_weight_decay", decoupled_weight_decay),
    )
    has_decay, decoupled = _has_decay(hp), hp["decoupled_weight_decay"]

    def init(params):
        return {
            "step": 0,
            "mu_product": 1.0,
            "exp_avg": tree_zeros_like(params),
            "exp_avg_sq": tree_zeros_like(params),
        }

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, eps_t, wd_t = (value_at(hp[n], t) for n in _ADAM_NAMES)
        psi_t = value_at(hp["momentum_decay"], t)
        bias_correction2, mu, mu_next = _python_floats(_nadam_scalars, 3, b1_t, b2_t, psi_t, float(t + 1))
        mu_product = state["mu_product"] * mu
        mu_product_next = mu_product * mu_next
        grad_coef = -lr_t * (1.0 - mu) / (1.0 - mu_product)
        avg_coef = (-lr_t * mu_next) / (1.0 - mu_product_next)

        def leaf(g, p, m, v):
            if has_decay and not decoupled:
                g = g + align(wd_t, p) * p
            m = _average(m, g, align(b1_t, p))
            v = _average_square(v, g, align(b2_t, p))
            denom = np.sqrt(v / align(bias_correction2, p)) + align(eps_t, p)
            step = align(grad_coef, p) * g / denom + align(avg_coef, p) * m / denom
            if has_decay and decoupled:
                step -= (align(lr_t, p) * align(wd_t, p)) * p
            return step, m, v

        updates, m, v = map_leaves(leaf, 3, grads, params, state["exp_avg"], state["exp_avg_sq"])
        return updates, {"step": t + 1, "mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}

    return Optimizer("nadam", init, update, hp)


def _nadam_scalars(beta1, beta2, momentum_decay, step):
    """``1 - beta2**step``, ``mu_step`` and ``mu_(step+1)``, in torch's Python-float arithmetic."""
    bias_correction2 = 1 - beta2**step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    return bias_correction2, mu, mu_next


def radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False):
    r"""RAdam, as ``torch.optim.RAdam``: Adam with a rectified variance (Liu et al. 2020).

    With the 1-based step :math:`k = t + 1`, :math:`m_t` and :math:`v_t` as in
    :func:`~lrcourse.optimizers.adam` and :math:`\hat m_t = m_t / (1-\beta_1^k)`:

    .. math::

        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_k = \rho_\infty - \frac{2k\,\beta_2^k}{1-\beta_2^k} \\
        r_k &= \sqrt{\frac{(\rho_k-4)(\rho_k-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_k}} \\
        \theta_{t+1} &= \begin{cases}
        \theta_t - \eta\,\hat m_t\,\dfrac{\sqrt{1-\beta_2^k}}{\sqrt{v_t}+\epsilon}\,r_k
        & \rho_k > 5 \\[1ex]
        \theta_t - \eta\,\hat m_t & \text{otherwise}
        \end{cases}

    :math:`\rho_k` is about :math:`k` early on: the number of squared gradients
    :math:`v_t` effectively averages. While it is small the variance of
    :math:`1/\sqrt{v_t}` is too large to trust and the step is SGD with bias-corrected
    momentum, :math:`\eta\,\hat m_t`: its length grows with the gradient, where Adam's
    is about :math:`\eta` whatever the gradient's scale, so a rate tuned for Adam can be
    far too large for these first steps. With
    :math:`\beta_2 = 0.999` that is steps 1 to 5; from step 6 on the step is Adam's times
    :math:`r_k`, which grows slowly (0.026 at step 6, 0.22 at step 100, 0.65 at step
    1000) towards 1. With :math:`\beta_2 \le 2/3`, :math:`\rho_\infty \le 5` and RAdam never
    leaves the momentum phase.

    The paper's Algorithm 2 switches at :math:`\rho_k > 4`; PyTorch, like the authors'
    code, at :math:`\rho_k > 5`. :math:`\epsilon` is added to :math:`\sqrt{v_t}` before
    the bias correction :math:`\sqrt{1-\beta_2^k}` multiplies (Adam adds it after).
    ``weight_decay`` adds :math:`\lambda\theta_t` to the gradient, or with
    ``decoupled_weight_decay=True`` shrinks the parameters first,
    :math:`\theta_t \leftarrow \theta_t(1-\eta\lambda)`, as :func:`~lrcourse.optimizers.adamw`.
    """
    hp = _hyperparameters(
        lr,
        betas,
        eps,
        weight_decay,
        decoupled_weight_decay=flag("decoupled_weight_decay", decoupled_weight_decay),
    )
    has_decay, decoupled = _has_decay(hp), hp["decoupled_weight_decay"]

    def init(params):
        return {"step": 0, "exp_avg": tree_zeros_like(params), "exp_avg_sq": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, eps_t, wd_t = (value_at(hp[n], t) for n in _ADAM_NAMES)
        bias_correction1, bias_correction2_sqrt, rect = _python_floats(
            _radam_scalars, 3, b1_t, b2_t, float(t + 1)
        )
        rectified = rect > 0  # (r_t = 0 marks a momentum step)

        def rectified_step(step, v, p):
            adaptive = align(bias_correction2_sqrt, p) / (np.sqrt(v) + align(eps_t, p))
            return step * adaptive * align(rect, p)

        def leaf(g, p, m, v):
            if has_decay and not decoupled:
                g = g + align(wd_t, p) * p
            m = _average(m, g, align(b1_t, p))
            v = _average_square(v, g, align(b2_t, p))
            step = m / align(bias_correction1, p) * align(lr_t, p)  # the momentum step
            if np.all(rectified):
                step = rectified_step(step, v, p)
            elif np.any(rectified):  # a sweep with members on both sides of rho_t = 5
                with np.errstate(divide="ignore", invalid="ignore"):
                    step = np.where(align(rectified, p) != 0, rectified_step(step, v, p), step)
            step = -step
            if has_decay and decoupled:
                step -= (align(lr_t, p) * align(wd_t, p)) * p
            return step, m, v

        updates, m, v = map_leaves(leaf, 3, grads, params, state["exp_avg"], state["exp_avg_sq"])
        return updates, {"step": t + 1, "exp_avg": m, "exp_avg_sq": v}

    return Optimizer("radam", init, update, hp)


def _radam_scalars(beta1, beta2, step):
    """``1 - beta1**step``, ``sqrt(1 - beta2**step)`` and ``r_step``, as torch computes them.

    The last two are 0 while ``rho_step <= 5``: no rectified step, only the momentum step.
    """
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if not rho_t > 5.0:
        return bias_correction1, 0.0, 0.0
    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    return bias_correction1, bias_correction2**0.5, rect


def adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    r"""Adamax, as ``torch.optim.Adamax``: Adam with the infinity norm (Kingma & Ba 2015).

    With the 1-based step :math:`k = t + 1`:

    .. math::

        g_t &\leftarrow g_t + \lambda\,\theta_t \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        u_t &= \max\bigl(\beta_2\, u_{t-1},\ |g_t| + \epsilon\bigr), \qquad u_{-1} = 0 \\
        \theta_{t+1} &= \theta_t - \frac{\eta}{1-\beta_1^k}\,\frac{m_t}{u_t}

    :math:`u_t` is the limit :math:`p \to \infty` of Adam's moving average taken in the
    :math:`p`-norm instead of the 2-norm: the largest recent gradient, each discounted by
    :math:`\beta_2` per step of age. It needs no bias correction. The first step has
    length :math:`\eta` in every coordinate (up to :math:`\epsilon`), and so has every
    step while the gradient stays the same.

    Kingma & Ba's :math:`u_t = \max(\beta_2 u_{t-1}, |g_t|)` has no :math:`\epsilon`;
    PyTorch adds it *inside* the maximum, so :math:`\epsilon` is a floor under
    :math:`u_t`, and a coordinate whose gradients stay well below :math:`\epsilon`
    takes steps shorter than :math:`\eta`. ``weight_decay`` is an L2 penalty in the
    gradient (torch's Adamax has no decoupled form).
    """
    hp = _hyperparameters(lr, betas, eps, weight_decay)
    has_decay = _has_decay(hp)

    def init(params):
        return {"step": 0, "exp_avg": tree_zeros_like(params), "exp_inf": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, eps_t, wd_t = (value_at(hp[n], t) for n in _ADAM_NAMES)
        clr = lr_t / _python_floats(_bias_correction, 1, b1_t, float(t + 1))

        def leaf(g, p, m, u):
            if has_decay:
                g = g + align(wd_t, p) * p
            m = _average(m, g, align(b1_t, p))
            u = np.maximum(align(b2_t, p) * u, np.abs(g) + align(eps_t, p))
            return -align(clr, p) * m / u, m, u

        updates, m, u = map_leaves(leaf, 3, grads, params, state["exp_avg"], state["exp_inf"])
        return updates, {"step": t + 1, "exp_avg": m, "exp_inf": u}

    return Optimizer("adamax", init, update, hp)


def _bias_correction(beta, step):
    return 1 - beta**step


# ----------------------------------------------------------------- shared by the three


def _hyperparameters(lr, betas, eps, weight_decay, **others):
    """The checked hyperparameters of an Adam variant with common sweep axes (``others`` already checked)."""
    return with_sweep_axes(
        {
            **adam_hyperparameters(lr, betas, eps),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            **others,
        }
    )


def _has_decay(hp):
    return callable(hp["weight_decay"]) or bool(np.any(hp["weight_decay"]))


def _average(m, g, beta1):
    """The first moment ``beta1 m + (1 - beta1) g``, as torch's ``m.lerp_(g, 1 - beta1)``.

    (torch fuses the multiply and the add into one rounding, which numpy cannot: the
    last bit may differ.)
    """
    return m + (1 - beta1) * (g - m)


def _average_square(v, g, beta2):
    """The second moment ``beta2 v + (1 - beta2) g**2``, as torch's ``v.mul_(beta2).addcmul_(g, g, 1 - beta2)``."""
    return v * beta2 + (1 - beta2) * g * g


def _python_floats(fn, n_out, *args):
    """``fn(*args)`` in Python floats, member by member when an argument is a sweep.

    torch computes its per-step scalars (``beta ** step`` and the like) with Python's
    float power; numpy's vectorised power can differ from it in the last bit, and
    member ``i`` of a sweep must equal the run with value ``i`` alone exactly.
    """
    if all(np.ndim(a) == 0 for a in args):
        return fn(*(float(a) for a in args))
    return np.vectorize(fn, otypes=[np.float64] * n_out)(*args)

r"""Three optimizers after Adam: Adafactor, Lion and Muon.

Adam (:func:`~lrcourse.optimizers.classic.adam`) keeps two numbers per parameter, the
averaged gradient :math:`m` and the averaged squared gradient :math:`v`, and steps by
:math:`m/\sqrt v`. Each optimizer here changes one thing about that:

- **Adafactor** (Shazeer & Stern 2018, "Adaptive Learning Rates with Sublinear Memory
  Cost") keeps *no* :math:`m` and, for an :math:`m\times n` matrix, only a row and a column
  average of :math:`g^2` (:math:`m + n` numbers instead of :math:`mn`); their outer product
  estimates :math:`v`. Its step is a fraction :math:`\min(\eta, 1/\sqrt k)` of the
  parameter's RMS. T5 and PaLM were trained with it, to save memory. PyTorch's version
  differs from the paper and from Hugging Face's ``transformers.Adafactor``: ``lr`` caps
  the fraction (the paper: a fixed 0.01) and multiplies a decoupled weight decay, there is
  no optional first moment (:math:`\beta_1`), and :math:`\epsilon_1` floors the *estimate*
  :math:`\hat v` and the row mean it is divided by (the paper adds it to :math:`g^2`).
- **Lion** (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") keeps only
  :math:`m`, and steps by the *sign* of an interpolation of :math:`m` and :math:`g`: every
  entry moves by exactly the rate. Found by a program search; used for vision and language
  models, with a rate 3-10x smaller and a weight decay 3-10x larger than AdamW's.
- **Muon** (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks")
  keeps only :math:`m` and replaces it by the nearest *orthogonal* matrix (all singular
  values near 1), computed by a few steps of a Newton-Schulz iteration: every direction of
  the weight matrix moves by about the same amount. It is for the 2-D weight matrices of
  the hidden layers only; biases, gains, embeddings and the output layer go to AdamW
  (:func:`lrcourse.labs.layerwise.partition` gives each its optimizer).

As in :mod:`lrcourse.optimizers`, every real hyperparameter may be a number, an array (a
sweep) or a schedule, and the arithmetic follows the references' code in float64 (the
tests check it against trajectories recorded from them).

**Sweep axes and the matrix.** Adafactor factors, and Muon orthogonalises, by the
parameter's *own* shape, so they must know which leading axes of a leaf are sweep axes.
The rule: the first ``sweep_axes`` axes of every leaf are sweep axes and the rest is the
parameter. By default ``sweep_axes`` is the number of axes of the array hyperparameters
(``lr`` of shape ``(5,)``: 1), which is what :func:`lrcourse.descent.run` and
:func:`lrcourse.training.fit` give the parameters. Parameters that carry sweep axes of their
own (``model.init(seed, sweep=(S,))``, or a batch of starting points) need it said:
``adafactor(lr=0.05, sweep_axes=1)``. Run ``i`` of a sweep is then the run with value ``i``
alone. Lion works entry by entry and needs no such rule.
"""

from __future__ import annotations

import math

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import (
    Optimizer,
    align,
    hyperparameter,
    map_leaves,
    rate,
    unit_interval,
    value_at,
    with_sweep_axes,
)
from lrcourse.tree import tree_map, tree_zeros_like

FLOAT64_EPS = float(np.finfo(np.float64).eps)  # torch.finfo(torch.float64).eps


def adafactor(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, sweep_axes=None):
    r"""Adafactor, as ``torch.optim.Adafactor``: factored second moments, steps relative to the parameter.

    With the 1-based step :math:`k = t + 1` and :math:`\operatorname{RMS}(x) = \lVert x\rVert_2/\sqrt{\text{size}}`:

    .. math::

        \hat\beta_{2,k} &= 1 - k^{\tau}, \qquad
        \rho_k = \min\bigl(\eta, 1/\sqrt k\bigr), \qquad
        \alpha_k = \max\bigl(\epsilon_2, \operatorname{RMS}(\theta_t)\bigr)\,\rho_k \\
        R_k &= \hat\beta_{2,k} R_{k-1} + (1-\hat\beta_{2,k})\,\operatorname{mean}_{\text{cols}}(g^2), \qquad
        C_k = \hat\beta_{2,k} C_{k-1} + (1-\hat\beta_{2,k})\,\operatorname{mean}_{\text{rows}}(g^2) \\
        \hat V_k &= R_k C_k \,/\, \max\bigl(\operatorname{mean}(R_k), \epsilon_1\bigr)
        \quad\text{(a matrix; a vector keeps } \hat V_k = \hat\beta_{2,k}\hat V_{k-1}
        + (1-\hat\beta_{2,k})\,g^2) \\
        U_k &= g / \sqrt{\max(\hat V_k, \epsilon_1^2)}, \qquad
        \theta_{t+1} = \theta_t(1 - \eta\lambda)
        - \frac{\alpha_k}{\max\bigl(1, \operatorname{RMS}(U_k)/d\bigr)}\, U_k

    where :math:`\tau` is ``beta2_decay`` (so :math:`\hat\beta_2` rises towards 1: the average
    remembers more as training goes on), ``eps`` is :math:`(\epsilon_1, \epsilon_2)` with
    :math:`\epsilon_1` = ``None`` meaning float64's machine epsilon, and :math:`d` clips the
    update's RMS. A parameter with two or more axes of its own is factored on its *last two*
    axes (:math:`R` and :math:`C` keep the others, as torch does); the RMS is over all of them.
    The state of an :math:`m\times n` matrix is :math:`m + n` numbers.

    Differences from the paper (Shazeer & Stern 2018) are PyTorch's: ``lr`` caps
    :math:`\rho_k` (the paper: 0.01) and scales the decoupled weight decay, there is no first
    moment, and :math:`\epsilon_1` floors :math:`\hat V` and :math:`\operatorname{mean}(R)`
    instead of being added to :math:`g^2`. ``sweep_axes``: see the module docstring.
    """
    if not (isinstance(eps, (tuple, list)) and len(eps) == 2):
        raise ValueError(f"eps must be a pair (eps1 or None, eps2), each in [0, inf), got {eps!r}")
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "beta2_decay": hyperparameter("beta2_decay", beta2_decay, _nonpositive),
            "eps1": hyperparameter(
                "eps[0]", FLOAT64_EPS if eps[0] is None else eps[0], check.check_nonnegative
            ),
            "eps2": hyperparameter("eps[1]", eps[1], check.check_nonnegative),
            "d": hyperparameter("d", d, lambda name, v: check.check_range(name, v, 1.0)),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
        }
    )
    k = _sweep_rank(hp, sweep_axes)

    def init(params):
        def factors(p, axis):  # zeros of p's shape with its axis `axis` collapsed; None for a vector
            if np.ndim(p) - k < 2:
                return None
            shape = list(np.shape(p))
            shape[axis] = 1
            return np.zeros(shape)

        return {
            "step": 0,
            "row_var": tree_map(lambda p: factors(p, -1), params),
            "col_var": tree_map(lambda p: factors(p, -2), params),
            "variance": tree_map(lambda p: np.zeros(np.shape(p)) if np.ndim(p) - k < 2 else None, params),
        }

    def update(grads, state, params):
        t = state["step"]
        lr_t, tau_t, eps1_t, eps2_t, d_t, wd_t = (
            value_at(hp[n], t) for n in ("lr", "beta2_decay", "eps1", "eps2", "d", "weight_decay")
        )
        step = float(t + 1)  # as torch: Python's float power of the step count
        w_t = step**tau_t if isinstance(tau_t, float) else np.power(step, tau_t)  # 1 - beta2
        rho_t = min(lr_t, 1 / step**0.5) if isinstance(lr_t, float) else np.minimum(lr_t, 1 / step**0.5)

        def leaf(g, p, row, col, var):
            lr_p, wd_p, w, eps1 = (align(h, p) for h in (lr_t, wd_t, w_t, eps1_t))
            alpha = np.maximum(align(eps2_t, p), _rms(p, k)) * align(rho_t, p)
            if row is not None:
                # torch: norm(g, dim).square() / size, the mean of g^2 without forming it
                row = _lerp(row, np.sqrt(np.sum(g * g, axis=-1, keepdims=True)) ** 2 / g.shape[-1], w)
                col = _lerp(col, np.sqrt(np.sum(g * g, axis=-2, keepdims=True)) ** 2 / g.shape[-2], w)
                v_hat = (row @ col) / np.maximum(np.mean(row, axis=-2, keepdims=True), eps1)
            else:
                var = _lerp(var, g * g, w)
                v_hat = var
            u = 1 / np.sqrt(np.maximum(v_hat, eps1 * eps1)) * g
            scale = alpha / np.maximum(1.0, _rms(u, k) / align(d_t, p))
            return -(lr_p * wd_p) * p - scale * u, row, col, var

        updates, rows, cols, variances = map_leaves(
            leaf, 4, grads, params, state["row_var"], state["col_var"], state["variance"]
        )
        return updates, {"step": t + 1, "row_var": rows, "col_var": cols, "variance": variances}

    return Optimizer("adafactor", init, update, hp)


def lion(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, decoupled_weight_decay=False):
    r"""Lion, as ``lion_pytorch.Lion``: the sign of an interpolated momentum.

    .. math::

        \theta_t &\leftarrow \theta_t\,(1 - \eta\lambda) \\
        c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        \theta_{t+1} &= \theta_t - \eta\, \operatorname{sign}(c_t) \\
        m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t, \qquad m_{-1} = 0

    Every entry moves by exactly :math:`\eta` (0 where :math:`c_t = 0`), plus the decay.
    The step uses :math:`\beta_1`, the memory :math:`\beta_2 > \beta_1`: the sign reacts to
    the new gradient faster than the momentum forgets. With
    ``decoupled_weight_decay=True`` the decay is :math:`\lambda/\eta_0` instead of
    :math:`\lambda`, so :math:`\theta` shrinks by :math:`\lambda\,\eta_t/\eta_0` a step,
    independent of the rate's size; :math:`\eta_0` is the rate at step 0 (lion-pytorch
    divides by the rate given to its constructor, the same unless a scheduler changes the
    first rate). lion-pytorch's ``use_triton`` (a GPU kernel of the same rule) is left out,
    and a rate of 0 is allowed (lion-pytorch asserts ``lr > 0``) except with
    ``decoupled_weight_decay``.
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1], got {betas!r}")
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "beta1": hyperparameter("betas[0]", betas[0], unit_interval),
            "beta2": hyperparameter("betas[1]", betas[1], unit_interval),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "decoupled_weight_decay": bool(decoupled_weight_decay),
        }
    )
    lr0 = value_at(hp["lr"], 0)
    if decoupled_weight_decay and np.any(np.asarray(lr0) <= 0):
        raise ValueError(
            "decoupled_weight_decay=True divides weight_decay by the rate at step 0, which must be in "
            f"(0, inf), got lr={check.describe(lr0)}"
        )

    def init(params):
        return {"step": 0, "exp_avg": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, wd_t = (value_at(hp[n], t) for n in ("lr", "beta1", "beta2", "weight_decay"))
        if decoupled_weight_decay:
            wd_t = wd_t / lr0

        def leaf(g, p, m):
            lr_p, b1, b2 = align(lr_t, p), align(b1_t, p), align(b2_t, p)
            c = m * b1 + (1 - b1) * g
            m_new = m * b2 + (1 - b2) * g
            return -(lr_p * align(wd_t, p)) * p - lr_p * np.sign(c), m_new

        updates, m = map_leaves(leaf, 2, grads, params, state["exp_avg"])
        return updates, {"step": t + 1, "exp_avg": m}

    return Optimizer("lion", init, update, hp)


def muon(
    lr=1e-3,
    weight_decay=0.1,
    momentum=0.95,
    nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315),
    eps=1e-7,
    ns_steps=5,
    adjust_lr_fn=None,
    *,
    sweep_axes=None,
):
    r"""Muon, as ``torch.optim.Muon``: momentum orthogonalised by a Newton-Schulz iteration.

    For each :math:`A\times B` weight matrix, with momentum :math:`\mu`:

    .. math::

        B_t &= \mu B_{t-1} + (1-\mu)\, G_t, \qquad B_{-1} = 0 \\
        M_t &= (1-\mu)\, G_t + \mu B_t \ \text{(nesterov)} \quad\text{or}\quad B_t \\
        X_0 &= M_t / \max(\lVert M_t\rVert_F, \epsilon), \qquad
        X_{j+1} = a X_j + (b\, X_j X_j^\top + c\, (X_j X_j^\top)^2)\, X_j
        \quad (j < \text{ns\_steps}) \\
        \theta_{t+1} &= \theta_t (1 - \eta\lambda) - \eta\, s\, X_{\text{ns\_steps}}

    (computed on :math:`M_t^\top` when :math:`A > B`, so that :math:`X X^\top` is the
    smaller Gram matrix). If :math:`M = U\Sigma V^\top`, each step maps every singular value
    :math:`\sigma` to :math:`a\sigma + b\sigma^3 + c\sigma^5` and keeps :math:`U, V`. Those of
    :math:`X_0` lie in :math:`(0, 1]`; the default :math:`(a, b, c)` move every one above 0.003
    into about :math:`[0.68, 1.2]` in 5 steps (the classic cubic ``(1.5, -0.5, 0)`` converges
    to exactly 1, but slowly), so :math:`X \approx UV^\top`. The scale :math:`s` of ``adjust_lr_fn`` is
    :math:`\sqrt{\max(1, A/B)}` for ``None`` and ``"original"`` (Jordan's) or
    :math:`0.2\sqrt{\max(A, B)}` for ``"match_rms_adamw"`` (Liu et al. 2025: the RMS of
    AdamW's updates, so AdamW's rate and weight decay carry over).

    Muon is for the 2-D weight matrices of hidden layers: a parameter whose own shape (after
    ``sweep_axes``, see the module docstring) is not 2-D is refused with ``ValueError``, as
    PyTorch refuses it. Give the others (biases, the output layer) to
    :func:`~lrcourse.optimizers.classic.adamw` with
    :func:`lrcourse.labs.layerwise.partition`.

    Differences: PyTorch (and Jordan's code) averages the momentum, :math:`(1-\mu)G`, where its
    docstring and the post write :math:`B_t = \mu B_{t-1} + G_t` (the scale cancels in
    :math:`X_0`, except against :math:`\epsilon`); and PyTorch runs the iteration in bfloat16
    (8 significant bits), where this one runs in float64: an update here differs from
    PyTorch's by up to about 2% of its largest entry. ``momentum`` must be in [0, 1] (PyTorch
    takes any value from 0).
    """
    if not (isinstance(ns_coefficients, (tuple, list)) and len(ns_coefficients) == 3):
        raise ValueError(f"ns_coefficients must be three numbers (a, b, c), got {ns_coefficients!r}")
    hp = with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "momentum": hyperparameter("momentum", momentum, unit_interval),
            "nesterov": bool(nesterov),
            **{
                f"ns_{x}": hyperparameter(f"ns_coefficients[{i}]", ns_coefficients[i], _finite)
                for i, x in enumerate("abc")
            },
            "eps": hyperparameter("eps", eps, check.check_nonnegative),
            "ns_steps": check.check_int("ns_steps", ns_steps, 0, 99),
            "adjust_lr_fn": check.check_choice(
                "adjust_lr_fn", adjust_lr_fn, (None, "original", "match_rms_adamw")
            ),
        }
    )
    k = _sweep_rank(hp, sweep_axes)

    def init(params):
        _check_matrices(params, k, "params")
        return {"step": 0, "momentum_buffer": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, wd_t, mu_t, a_t, b_t, c_t, eps_t = (
            value_at(hp[n], t) for n in ("lr", "weight_decay", "momentum", "ns_a", "ns_b", "ns_c", "eps")
        )

        def leaf(g, p, buf):
            mu = align(mu_t, p)
            buf = _lerp(buf, g, 1 - mu)
            m = _lerp(g, buf, mu) if nesterov else buf
            coefficients = (align(a_t, p), align(b_t, p), align(c_t, p))
            x = newton_schulz(m, coefficients, ns_steps, align(eps_t, p))
            rows, cols = p.shape[-2:]
            lr_p = align(lr_t, p)
            return -(lr_p * align(wd_t, p)) * p - (lr_p * _lr_scale(adjust_lr_fn, rows, cols)) * x, buf

        updates, bufs = map_leaves(leaf, 2, grads, params, state["momentum_buffer"])
        return updates, {"step": t + 1, "momentum_buffer": bufs}

    return Optimizer("muon", init, update, hp)


def newton_schulz(m, coefficients=(3.4445, -4.775, 2.0315), steps=5, eps=1e-7):
    r"""The Newton-Schulz iteration of :func:`muon`: a matrix near the orthogonal factor of ``m``.

    ``m`` has shape ``(..., A, B)``, a stack of matrices (sweep axes in front); every matrix
    is treated apart. ``coefficients`` :math:`(a, b, c)` and ``eps`` may be arrays shaped to
    multiply ``m`` (see :func:`~lrcourse.optimizers.align`). Follows PyTorch's
    ``_zeropower_via_newtonschulz`` step by step, in float64.
    """
    a, b, c = coefficients
    tall = m.shape[-2] > m.shape[-1]
    x = np.swapaxes(m, -1, -2) if tall else m
    x = x / np.maximum(_norm(x, x.ndim - 2), eps)  # the Frobenius norm of each matrix
    for _ in range(steps):
        gram = x @ np.swapaxes(x, -1, -2)
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return np.swapaxes(x, -1, -2) if tall else x


# ----------------------------------------------------------------- helpers


def _finite(name, value):
    return check.check_range(name, value, -np.inf, low_open=True)


def _nonpositive(name, value):
    return check.check_range(name, value, -np.inf, 0.0, low_open=True)


def _sweep_rank(hp, sweep_axes):
    """The number of leading sweep axes of every leaf: ``sweep_axes``, or that of the array hyperparameters."""
    shapes = [
        np.shape(value_at(h, 0)) for h in hp.values() if isinstance(h, (float, np.ndarray)) or callable(h)
    ]
    rank = len(np.broadcast_shapes(*shapes)) if shapes else 0
    if sweep_axes is None:
        return rank
    if isinstance(sweep_axes, bool) or not isinstance(sweep_axes, (int, np.integer)) or sweep_axes < rank:
        raise ValueError(
            f"sweep_axes must be None or an integer in [{rank}, inf] (at least the {rank} axes of the "
            f"array hyperparameters), got {sweep_axes!r}"
        )
    return int(sweep_axes)


def _norm(x, k):
    r"""The 2-norm :math:`\lVert x\rVert_2` of each member of a sweep (the axes after the first ``k``).

    Shaped to multiply ``x``. Computed on the flattened member, as torch's ``x.norm(2)``, so a
    member of a sweep gets the same numbers as a run alone.
    """
    flat = x.reshape(x.shape[:k] + (-1,))
    return np.sqrt(np.sum(flat * flat, axis=-1)).reshape(x.shape[:k] + (1,) * (x.ndim - k))


def _rms(x, k):
    """The RMS of each member, ``norm / sqrt(size)``, as torch's ``x.norm(2) / x.numel() ** 0.5``."""
    return _norm(x, k) / math.prod(x.shape[k:]) ** 0.5


def _lerp(start, end, weight):
    """``torch.lerp``: ``start + w (end - start)`` if ``|w| < 0.5``, else ``end - (end - start)(1 - w)``."""
    if isinstance(weight, float):
        if abs(weight) < 0.5:
            return start + weight * (end - start)
        return end - (end - start) * (1 - weight)
    return np.where(np.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


def _lr_scale(adjust_lr_fn, rows, cols):
    """PyTorch's ``_adjust_lr`` factor for an ``rows x cols`` matrix."""
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


def _check_matrices(params, k, where):
    """``ValueError`` unless every leaf is a matrix after its ``k`` sweep axes (Muon's parameters)."""
    if isinstance(params, dict):
        for key, value in params.items():
            _check_matrices(value, k, f"{where}[{key!r}]")
    elif isinstance(params, (list, tuple)):
        for i, value in enumerate(params):
            _check_matrices(value, k, f"{where}[{i}]")
    elif np.ndim(params) - k != 2:
        shape = np.shape(params)
        raise ValueError(
            f"muon updates 2-D weight matrices only, but {where} has shape {shape}, which is "
            f"{shape[k:]} after its {k} sweep axes; give biases and other parameters to adamw "
            "(lrcourse.labs.layerwise.partition), or pass sweep_axes= if the parameters carry "
            "sweep axes of their own"
        )

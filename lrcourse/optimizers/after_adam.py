r"""Three optimizers after Adam: Adafactor, Lion and Muon.

Adam (:func:`~lrcourse.optimizers.classic.adam`) keeps two numbers per parameter, the
averaged gradient :math:`m` and the averaged squared gradient :math:`v`, and steps by
:math:`m/\sqrt v`. Each optimizer here changes one thing about that:

- **Adafactor** (Shazeer & Stern 2018, "Adaptive Learning Rates with Sublinear Memory
  Cost") keeps *no* :math:`m` and, for an :math:`m\times n` matrix, only a row and a column
  average of :math:`g^2` (:math:`m + n` numbers instead of :math:`mn`); their outer product
  estimates :math:`v`. Its step is a fraction :math:`\min(\eta, 1/\sqrt k)` of the
  parameter's RMS. T5 was trained with it, to save memory (PaLM used it without the
  factorization: the whole :math:`v`, as Adam, with the steps relative to the parameters' RMS).
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

**Adafactor: PyTorch's against the paper.** :func:`adafactor` is ``torch.optim.Adafactor``,
which differs from the paper's algorithm: ``lr`` caps :math:`\rho_k` (the paper's is a fixed
:math:`10^{-2}`, which the default ``lr`` reproduces) and multiplies a decoupled weight
decay (the paper has none); there is no optional first moment :math:`\beta_1`; and
:math:`\epsilon_1` floors the estimate :math:`\hat V` (at :math:`\epsilon_1^2`) and the
mean of :math:`R` it is divided by, where the paper adds :math:`\epsilon_1 = 10^{-30}` to
:math:`g^2` (PyTorch's default is the machine epsilon of the parameters' dtype, here
float64's). Other implementations, such as Hugging Face's ``transformers.Adafactor``, are not
compared here.

**Muon: against PyTorch and Jordan's post.** :func:`muon` follows ``torch.optim.Muon``, which
(as Jordan's code) averages the momentum, :math:`(1-\mu)G`, where its docstring and the post
write :math:`B_t = \mu B_{t-1} + G_t` (the scale cancels in :math:`X_0`, except against
:math:`\epsilon`). PyTorch runs the iteration in bfloat16 (8 significant bits), this one
in float64: an update here differs from PyTorch's by up to about 2% of its largest entry.
``momentum`` must be in [0, 1] (PyTorch takes any value from 0). The scale of
``adjust_lr_fn=None`` or ``"original"`` reads the *stored* shape :math:`A\times B`, and
:mod:`lrcourse.models` store a weight as ``(fan_in, fan_out)`` where ``torch.nn.Linear``
stores ``(fan_out, fan_in)``: for the same layer it is :math:`\sqrt{\max(1,
\text{fan\_in}/\text{fan\_out})}` here and :math:`\sqrt{\max(1, \text{fan\_out}/\text{fan\_in})}`
in PyTorch (the orthogonalised matrix itself is the same, transposed).
``"match_rms_adamw"`` depends on :math:`\max(A, B)` only and agrees.

**Lion: against lion-pytorch.** ``use_triton`` (a GPU kernel of the same rule) is left out,
and a rate of 0 is allowed (lion-pytorch asserts ``lr > 0``) except with
``decoupled_weight_decay``.

**Sweep axes and the matrix.** Adafactor factors, and Muon orthogonalises, by the
parameter's *own* shape, so they must know which leading axes of a leaf are sweep axes.
The rule: the first ``sweep_axes`` axes of every leaf are sweep axes and the rest is the
parameter. By default ``sweep_axes`` is the number of axes of the array hyperparameters
(``lr`` of shape ``(5,)``: 1), which is what :func:`lrcourse.descent.run` and
:func:`lrcourse.training.fit` give the parameters; inside
:func:`~lrcourse.optimizers.clipped` or :func:`lrcourse.labs.layerwise.partition`, whose
other arrays may add sweep axes, the wrapper passes its number down (the optimizer's
``sweep_axes`` attribute records the number it takes). Parameters that carry sweep axes of
their own (``model.init(seed, sweep=(S,))``, or a batch of starting points) need it said:
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
    flag,
    hyperparameter,
    lerp,
    map_leaves,
    rate,
    sweep_rank,
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
    The state of an :math:`m\times n` matrix is :math:`m + n` numbers. How PyTorch's rule
    differs from the paper's, and ``sweep_axes``: see the module docstring.
    """
    hp = _adafactor_hyperparameters(lr, beta2_decay, eps, d, weight_decay)
    n_sweep = sweep_rank(hp, sweep_axes)

    def init(params):
        return {"step": 0, **_factored_zeros(params, n_sweep)}

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
            alpha = np.maximum(align(eps2_t, p), _rms(p, n_sweep)) * align(rho_t, p)
            if row is not None:
                # torch: norm(g, dim).square() / size, the mean of g^2 without forming it
                row = lerp(row, np.sqrt(np.sum(g * g, axis=-1, keepdims=True)) ** 2 / g.shape[-1], w)
                col = lerp(col, np.sqrt(np.sum(g * g, axis=-2, keepdims=True)) ** 2 / g.shape[-2], w)
                v_hat = (row @ col) / np.maximum(np.mean(row, axis=-2, keepdims=True), eps1)
            else:
                var = lerp(var, g * g, w)
                v_hat = var
            u = 1 / np.sqrt(np.maximum(v_hat, eps1 * eps1)) * g
            scale = alpha / np.maximum(1.0, _rms(u, n_sweep) / align(d_t, p))
            return -(lr_p * wd_p) * p - scale * u, row, col, var

        updates, rows, cols, variances = map_leaves(
            leaf, 4, grads, params, state["row_var"], state["col_var"], state["variance"]
        )
        return updates, {"step": t + 1, "row_var": rows, "col_var": cols, "variance": variances}

    def resweep(n):
        return adafactor(lr, beta2_decay, eps, d, weight_decay, sweep_axes=n)

    return Optimizer(
        "adafactor", init, update, hp, sweep_axes=n_sweep, resweep=resweep if sweep_axes is None else None
    )


def lion(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, decoupled_weight_decay=False, *, initial_lr=None):
    r"""Lion, as ``lion_pytorch.Lion``: the sign of an interpolated momentum.

    .. math::

        \theta_t &\leftarrow \theta_t\,(1 - \eta_t\lambda) \\
        c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        \theta_{t+1} &= \theta_t - \eta_t\, \operatorname{sign}(c_t) \\
        m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t, \qquad m_{-1} = 0

    Every entry moves by exactly :math:`\eta_t` (0 where :math:`c_t = 0`), plus the decay.
    The step uses :math:`\beta_1`, the memory :math:`\beta_2 > \beta_1`: the sign reacts to
    the new gradient faster than the momentum forgets.

    With ``decoupled_weight_decay=True`` the decay is :math:`\lambda/\eta_0` instead of
    :math:`\lambda`, so :math:`\theta` shrinks by :math:`\lambda\,\eta_t/\eta_0` a step,
    independent of the rate's size. :math:`\eta_0` is the rate given to lion-pytorch's
    constructor (torch's ``initial_lr``), which a scheduler scales: ``lr`` itself, or for a
    schedule its base rate, the ``lr`` of :func:`~lrcourse.schedules.cosine`,
    :func:`~lrcourse.schedules.linear`, :func:`~lrcourse.schedules.wsd`, ... (that of the
    schedule inside :func:`~lrcourse.schedules.warmup` and
    :func:`~lrcourse.schedules.clamp`), not its value at step 0, which a warmup makes small
    or 0. A schedule without such a rate (:func:`~lrcourse.schedules.one_cycle`, a function)
    needs ``initial_lr`` given: the constructor's rate of the PyTorch run it stands for.
    ``initial_lr`` is read only with ``decoupled_weight_decay=True``. How this differs from
    lion-pytorch: see the module docstring.
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1], got {betas!r}")
    decoupled = flag("decoupled_weight_decay", decoupled_weight_decay)
    hp = {
        "lr": hyperparameter("lr", lr, rate),
        "beta1": hyperparameter("betas[0]", betas[0], unit_interval),
        "beta2": hyperparameter("betas[1]", betas[1], unit_interval),
        "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
        "decoupled_weight_decay": decoupled,
    }
    if decoupled:
        hp["initial_lr"] = _initial_lr(lr, initial_lr)
    hp = with_sweep_axes(hp)

    def init(params):
        return {"step": 0, "exp_avg": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, b1_t, b2_t, wd_t = (value_at(hp[n], t) for n in ("lr", "beta1", "beta2", "weight_decay"))
        if decoupled:
            wd_t = wd_t / hp["initial_lr"]

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
    AdamW's updates, so AdamW's rate and weight decay carry over). :math:`A\times B` is the
    shape as stored, ``(fan_in, fan_out)`` in :mod:`lrcourse.models` but ``(fan_out, fan_in)``
    in ``torch.nn.Linear``: see the module docstring.

    Muon is for the 2-D weight matrices of hidden layers: a parameter whose own shape (after
    ``sweep_axes``) is not 2-D is refused with ``ValueError``, as PyTorch refuses it; give the
    others to :func:`~lrcourse.optimizers.classic.adamw` with
    :func:`lrcourse.labs.layerwise.partition`. ``sweep_axes``, and how this differs from
    PyTorch's Muon (which computes in bfloat16): see the module docstring.
    """
    hp = _muon_hyperparameters(
        lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn
    )
    n_sweep = sweep_rank(hp, sweep_axes)

    def init(params):
        _check_matrices(params, n_sweep, "params")
        return {"step": 0, "momentum_buffer": tree_zeros_like(params)}

    def update(grads, state, params):
        t = state["step"]
        lr_t, wd_t, mu_t, a_t, b_t, c_t, eps_t = (
            value_at(hp[n], t) for n in ("lr", "weight_decay", "momentum", "ns_a", "ns_b", "ns_c", "eps")
        )

        def leaf(g, p, buf):
            mu = align(mu_t, p)
            buf = lerp(buf, g, 1 - mu)
            m = lerp(g, buf, mu) if hp["nesterov"] else buf
            coefficients = (align(a_t, p), align(b_t, p), align(c_t, p))
            x = newton_schulz(m, coefficients, ns_steps, align(eps_t, p))
            rows, cols = p.shape[-2:]
            lr_p = align(lr_t, p)
            return -(lr_p * align(wd_t, p)) * p - (lr_p * _lr_scale(adjust_lr_fn, rows, cols)) * x, buf

        updates, bufs = map_leaves(leaf, 2, grads, params, state["momentum_buffer"])
        return updates, {"step": t + 1, "momentum_buffer": bufs}

    def resweep(n):
        return muon(
            lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn, sweep_axes=n
        )

    return Optimizer(
        "muon", init, update, hp, sweep_axes=n_sweep, resweep=resweep if sweep_axes is None else None
    )


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


def _adafactor_hyperparameters(lr, beta2_decay, eps, d, weight_decay):
    """Adafactor's checked hyperparameters, with common sweep axes."""
    if not (isinstance(eps, (tuple, list)) and len(eps) == 2):
        raise ValueError(f"eps must be a pair (eps1 or None, eps2), each in [0, inf), got {eps!r}")
    return with_sweep_axes(
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


def _factored_zeros(params, n_sweep):
    """Adafactor's zero ``row_var`` and ``col_var`` (matrices and beyond) or ``variance`` (vectors)."""

    def factor(p, axis):  # zeros of p's shape with its axis `axis` collapsed; None for a vector
        if np.ndim(p) - n_sweep < 2:
            return None
        shape = list(np.shape(p))
        shape[axis] = 1
        return np.zeros(shape)

    return {
        "row_var": tree_map(lambda p: factor(p, -1), params),
        "col_var": tree_map(lambda p: factor(p, -2), params),
        "variance": tree_map(lambda p: np.zeros(np.shape(p)) if np.ndim(p) - n_sweep < 2 else None, params),
    }


def _muon_hyperparameters(lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn):
    """Muon's checked hyperparameters, with common sweep axes."""
    if not (isinstance(ns_coefficients, (tuple, list)) and len(ns_coefficients) == 3):
        raise ValueError(f"ns_coefficients must be three numbers (a, b, c), got {ns_coefficients!r}")
    return with_sweep_axes(
        {
            "lr": hyperparameter("lr", lr, rate),
            "weight_decay": hyperparameter("weight_decay", weight_decay, check.check_nonnegative),
            "momentum": hyperparameter("momentum", momentum, unit_interval),
            "nesterov": flag("nesterov", nesterov),
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


def _finite(name, value):
    return check.check_range(name, value, -np.inf, low_open=True)


def _nonpositive(name, value):
    return check.check_range(name, value, -np.inf, 0.0, low_open=True)


def _initial_lr(lr, initial_lr):
    """The rate Lion's decoupled weight decay is divided by: ``initial_lr``, or ``lr``'s base rate."""
    where = "initial_lr"
    if initial_lr is None:
        initial_lr, where = _base_rate(lr), "the rate weight_decay is divided by (lr's base rate)"
        if initial_lr is None:
            raise ValueError(
                "decoupled_weight_decay=True divides weight_decay by the rate given to lion-pytorch's "
                f"constructor, and the schedule lr={getattr(lr, '__name__', 'schedule')} has no base rate "
                "(an lr parameter): give it as initial_lr="
            )
    if callable(initial_lr):
        raise ValueError(f"initial_lr must be a number or an array, not a schedule, got {initial_lr!r}")
    value = check.check_positive(where, initial_lr)
    return float(value) if value.ndim == 0 else value


def _base_rate(lr):
    """``lr`` itself, the ``lr`` parameter of a schedule (or of the schedule it wraps), or ``None``."""
    if not callable(lr):
        return lr
    params = getattr(lr, "params", {})
    if "lr" in params:
        return params["lr"]
    if "schedule" in params:
        return _base_rate(params["schedule"])
    return None


def _norm(x, n_sweep):
    r"""The 2-norm :math:`\lVert x\rVert_2` of each member of a sweep (the axes after the first ``n_sweep``).

    Shaped to multiply ``x``. Computed on the flattened member, as torch's ``x.norm(2)``, so a
    member of a sweep gets the same numbers as a run alone.
    """
    lead = x.shape[:n_sweep]
    flat = x.reshape(lead + (-1,))
    return np.sqrt(np.sum(flat * flat, axis=-1)).reshape(lead + (1,) * (x.ndim - n_sweep))


def _rms(x, n_sweep):
    """The RMS of each member, ``norm / sqrt(size)``, as torch's ``x.norm(2) / x.numel() ** 0.5``."""
    return _norm(x, n_sweep) / math.prod(x.shape[n_sweep:]) ** 0.5


def _lr_scale(adjust_lr_fn, rows, cols):
    """PyTorch's ``_adjust_lr`` factor for an ``rows x cols`` matrix."""
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


def _check_matrices(params, n_sweep, where):
    """``ValueError`` unless every leaf is a matrix after its ``n_sweep`` sweep axes (Muon's parameters)."""
    if isinstance(params, dict):
        for key, value in params.items():
            _check_matrices(value, n_sweep, f"{where}[{key!r}]")
    elif isinstance(params, (list, tuple)):
        for i, value in enumerate(params):
            _check_matrices(value, n_sweep, f"{where}[{i}]")
    elif np.ndim(params) - n_sweep != 2:
        shape = np.shape(params)
        raise ValueError(
            f"muon updates 2-D weight matrices only, but {where} has shape {shape}, which is "
            f"{shape[n_sweep:]} after its {n_sweep} sweep axes; give biases and other parameters to adamw "
            "(lrcourse.labs.layerwise.partition), or pass sweep_axes= if the parameters carry "
            "sweep axes of their own"
        )

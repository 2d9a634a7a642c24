"""Checkers for the chapter on gradient clipping and the optimizers after Adam.

- :func:`check_clip_by_global_norm`: ``clip_by_global_norm(grads, max_norm)``, a list of
  gradient arrays scaled together so that their global norm is at most ``max_norm``,
  compared with :func:`lrcourse.optimizers.clip_grad_norm`.
- :func:`check_lion_step`: ``lion_step(theta, grad, m, lr, beta1, beta2, weight_decay)``,
  one step of Lion returning the new parameters and momentum, compared with the rule of
  :func:`lrcourse.optimizers.lion`.

Each prints a specific message and returns a
:class:`~lrcourse.checks.core.CheckResult` (true when solved); none raises on a stub.
"""

from __future__ import annotations

import functools

import numpy as np

from lrcourse.checks.core import Case, check_function, is_stub
from lrcourse.optimizers import clip_grad_norm

__all__ = ["check_clip_by_global_norm", "check_lion_step"]


# ----------------------------------------------------------------- clipping by global norm


def _flat(out):
    """A list of arrays as one flat array (what the comparison reads); anything else as it is."""
    if is_stub(out) or not isinstance(out, (list, tuple)):
        return out
    try:
        return np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in out])
    except (TypeError, ValueError):
        return out


def _flattened(fn):
    @functools.wraps(fn)
    def flat(grads, max_norm):
        return _flat(fn(grads, max_norm))

    return flat


def _untouched(fn):
    """``fn`` flattened, failing when it changed the arrays it was given in place."""

    @functools.wraps(fn)
    def run(grads, max_norm):
        before = [np.array(g, copy=True) for g in grads]
        out = fn(grads, max_norm)
        if not all(np.array_equal(a, g) for a, g in zip(before, grads, strict=True)):
            raise ValueError(
                "the input arrays were changed in place (g *= ...); "
                "return new arrays, g * factor, and leave grads as it was"
            )
        return _flat(out)

    return run


def _ref_clip(grads, max_norm):
    clipped, _ = clip_grad_norm(list(grads), max_norm)
    return list(clipped)


def _global(grads):
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))


def _per_array(grads, max_norm):
    return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]


def _by_value(grads, max_norm):
    return [np.clip(g, -max_norm, max_norm) for g in grads]


def _always_rescale(grads, max_norm):
    return [g * max_norm / (_global(grads) + 1e-6) for g in grads]


def _sum_of_norms(grads, max_norm):
    total = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]


def _squared_norm(grads, max_norm):
    total = _global(grads) ** 2
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]


def check_clip_by_global_norm(clip_by_global_norm, quiet=False, record=None):
    r"""``clip_by_global_norm(grads, max_norm)``: the list ``grads`` scaled by one common factor.

    .. math::

        \lVert g\rVert = \sqrt{\textstyle\sum_i \lVert g_i\rVert^2}, \qquad
        g_i \leftarrow g_i \cdot \min\Bigl(1, \frac{c}{\lVert g\rVert + 10^{-6}}\Bigr)

    (the :math:`10^{-6}` of PyTorch may be left out: the tolerance allows it). Returns a
    list of arrays of the shapes of ``grads``.
    """
    rng0 = np.random.default_rng(11)
    big = [rng0.normal(size=(3, 2)), rng0.normal(size=2), rng0.normal(size=(2, 2))]
    cases = [
        Case(([np.array([3.0, 1.0]), np.array([[0.0], [4.0]])], 2.0), label="two arrays, clipped to 2"),
        Case(([np.array([0.3, -0.4])], 1.0), label="a gradient shorter than max_norm"),
        Case(([10 * g for g in big], 2.0), label="three arrays, clipped"),
        Case(([np.array([100.0, 0.1]), np.array([0.1])], 1.0), label="one large entry"),
    ]

    def random_case(rng):
        shapes = [(int(rng.integers(1, 4)), int(rng.integers(1, 4))), (int(rng.integers(1, 5)),)]
        scale = float(rng.choice([0.1, 1.0, 10.0]))
        return Case(([scale * rng.normal(size=s) for s in shapes], float(rng.choice([0.5, 1.0, 5.0]))))

    mistakes = [
        (
            _flattened(_per_array),
            "each array is clipped by its own norm (Keras's clipnorm); clipping by global "
            "norm uses one norm of all the arrays together, and one factor for all.",
        ),
        (
            _flattened(_by_value),
            "that clips every entry to [-max_norm, max_norm] (clip by value), which changes "
            "the direction; scale the whole gradient instead.",
        ),
        (
            _flattened(_always_rescale),
            "a gradient shorter than max_norm must pass unchanged: the factor is "
            "min(1, max_norm / norm), never above 1.",
        ),
        (
            _flattened(_sum_of_norms),
            "the global norm is the square root of the sum of the squared norms, not the "
            "sum of the arrays' norms.",
        ),
        (
            _flattened(_squared_norm),
            "divide by the norm, not by its square: take the square root of the sum of squares.",
        ),
    ]
    learner = _untouched(clip_by_global_norm) if callable(clip_by_global_norm) else clip_by_global_norm
    return check_function(
        learner,
        _flattened(_ref_clip),
        cases,
        name="clip_by_global_norm",
        random_case=random_case,
        rtol=1e-5,
        atol=1e-9,
        arg_names=["grads", "max_norm"],
        mistakes=mistakes,
        hint="compute one norm over all arrays, then multiply every array by min(1, max_norm / norm).",
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- one step of Lion


def _ref_lion(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    theta, grad, m = (np.asarray(a, dtype=np.float64) for a in (theta, grad, m))
    direction = np.sign(beta1 * m + (1 - beta1) * grad)
    new_theta = theta * (1 - lr * weight_decay) - lr * direction
    new_m = beta2 * m + (1 - beta2) * grad
    return new_theta, new_m


def _sign_of_new_m(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    new_m = beta2 * m + (1 - beta2) * grad
    return theta * (1 - lr * weight_decay) - lr * np.sign(new_m), new_m


def _no_sign(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    c = beta1 * m + (1 - beta1) * grad
    return theta * (1 - lr * weight_decay) - lr * c, beta2 * m + (1 - beta2) * grad


def _decay_without_lr(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    new_theta, new_m = _ref_lion(theta, grad, m, lr, beta1, beta2, 0.0)
    return new_theta - weight_decay * theta, new_m


def _momentum_beta1(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    new_theta, _ = _ref_lion(theta, grad, m, lr, beta1, beta2, weight_decay)
    return new_theta, beta1 * m + (1 - beta1) * grad


def _plus_sign(theta, grad, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    new_theta, new_m = _ref_lion(theta, grad, m, lr, beta1, beta2, weight_decay)
    return 2 * theta * (1 - lr * weight_decay) - new_theta, new_m


def check_lion_step(lion_step, quiet=False, record=None):
    r"""``lion_step(theta, grad, m, lr, beta1, beta2, weight_decay)``: one Lion step.

    .. math::

        c = \beta_1 m + (1-\beta_1) g, \quad
        \theta \leftarrow \theta(1 - \eta\lambda) - \eta\,\operatorname{sign}(c), \quad
        m \leftarrow \beta_2 m + (1-\beta_2) g

    returning ``(theta, m)``, as :func:`lrcourse.optimizers.lion` (``lion_pytorch.Lion``).
    """
    cases = [
        Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.zeros(2), 0.1, 0.9, 0.99, 0.0),
             label="the first step, m = 0"),
        Case((np.array([1.0, 1.0, 1.0]), np.array([1.0, -1.0, 0.2]), np.array([-1.0, -1.0, -1.0]),
              0.01, 0.9, 0.99, 0.0), label="the momentum outvotes the gradient"),
        Case((np.array([2.0, -1.0]), np.array([-0.3, 0.1]), np.array([0.2, 0.2]), 0.05, 0.9, 0.99, 0.5),
             label="with weight decay"),
        Case((np.array([0.5, 0.5]), np.array([1.0, -1.0]), np.array([-0.2, 0.5]), 0.1, 0.5, 0.9, 0.0),
             label="other betas"),
    ]  # fmt: skip

    def random_case(rng):
        n = int(rng.integers(2, 6))
        return Case(
            (
                rng.normal(size=n),
                rng.normal(size=n),
                rng.normal(size=n) * 0.5,
                float(rng.choice([1e-3, 0.01, 0.1])),
                float(rng.choice([0.9, 0.95])),
                float(rng.choice([0.98, 0.99])),
                float(rng.choice([0.0, 0.1, 1.0])),
            )
        )

    mistakes = [
        (
            _sign_of_new_m,
            "the direction is the sign of beta1 m + (1 - beta1) g, with beta1 and the old "
            "m; the momentum is updated with beta2 only after the step.",
        ),
        (_no_sign, "Lion steps by the sign of the interpolation: every entry moves by exactly lr."),
        (
            _decay_without_lr,
            "the weight decay is decoupled and scaled by the rate: theta (1 - lr weight_decay).",
        ),
        (_momentum_beta1, "the momentum m is updated with beta2: beta2 m + (1 - beta2) g."),
        (_plus_sign, "step against the sign: theta - lr sign(c)."),
    ]
    return check_function(
        lion_step,
        _ref_lion,
        cases,
        name="lion_step",
        random_case=random_case,
        rtol=1e-9,
        atol=1e-12,
        arg_names=["theta", "grad", "m", "lr", "beta1", "beta2", "weight_decay"],
        mistakes=mistakes,
        hint="interpolate with beta1, take the sign, step by lr, then update m with beta2.",
        quiet=quiet,
        record=record,
    )

"""Checkers for the chapter on momentum and adaptive methods.

- :func:`check_momentum_step`: one step of SGD with momentum in PyTorch's form,
  compared with :func:`lrcourse.optimizers.sgd`; recognises the textbook form
  (rate inside the velocity), a missing first-step rule and misplaced dampening.
- :func:`check_adam_step`: one bias-corrected Adam step, compared with
  :func:`lrcourse.optimizers.adam`; recognises a missing or off-by-one bias
  correction and the other places people put :math:`\\epsilon`.
"""

from __future__ import annotations

import numpy as np

from lrcourse import optimizers
from lrcourse.checks.core import Case, check_function, compare_values

__all__ = ["check_momentum_step", "check_adam_step", "MOMENTUM_MISTAKES", "ADAM_MISTAKES"]


def _arr(x):
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------- momentum


def _ref_momentum_step(x, grad, buf, lr, momentum, dampening=0.0):
    """One ``torch.optim.SGD`` step with momentum, through :func:`lrcourse.optimizers.sgd`."""
    x, grad = _arr(x), _arr(grad)
    if momentum == 0 and dampening == 0:  # PyTorch keeps no buffer then; the rule gives buf = grad
        return x + optimizers.sgd(lr=lr).update(grad, {"step": 0}, x)[0], grad
    opt = optimizers.sgd(lr=lr, momentum=momentum, dampening=dampening)
    state = opt.init(x) if buf is None else {"step": 1, "momentum_buffer": _arr(buf)}
    updates, state = opt.update(grad, state, x)
    return x + updates, state["momentum_buffer"]


def _textbook_momentum(x, grad, buf, lr, momentum, dampening=0.0):
    v = np.zeros_like(_arr(x)) if buf is None else _arr(buf)
    v = momentum * v - lr * _arr(grad)
    return _arr(x) + v, v


def _no_first_step_rule(x, grad, buf, lr, momentum, dampening=0.0):
    b = np.zeros_like(_arr(x)) if buf is None else _arr(buf)
    b = momentum * b + (1 - dampening) * _arr(grad)
    return _arr(x) - lr * b, b


def _dampening_ignored(x, grad, buf, lr, momentum, dampening=0.0):
    return _ref_momentum_step(x, grad, buf, lr, momentum, 0.0)


def _dampening_swapped(x, grad, buf, lr, momentum, dampening=0.0):
    b = _arr(grad) if buf is None else momentum * _arr(buf) + dampening * _arr(grad)
    return _arr(x) - lr * b, b


def _uphill(x, grad, buf, lr, momentum, dampening=0.0):
    new_x, b = _ref_momentum_step(x, grad, buf, lr, momentum, dampening)
    return 2 * _arr(x) - new_x, b


def _buffer_not_updated(x, grad, buf, lr, momentum, dampening=0.0):
    new_x, _ = _ref_momentum_step(x, grad, buf, lr, momentum, dampening)
    return new_x, (_arr(grad) if buf is None else _arr(buf))


def _gradient_not_buffer(x, grad, buf, lr, momentum, dampening=0.0):
    _, b = _ref_momentum_step(x, grad, buf, lr, momentum, dampening)
    return _arr(x) - lr * _arr(grad), b


MOMENTUM_MISTAKES = [
    (
        _textbook_momentum,
        "this is the textbook form u = momentum * u - lr * grad, x + u, with the rate inside "
        "the buffer. PyTorch keeps the rate outside: buf = momentum * buf + grad, then "
        "x - lr * buf. The points agree while lr is constant, but the buffers differ.",
    ),
    (
        _no_first_step_rule,
        "on the first step (buf is None) PyTorch does not start from a zero buffer: it sets "
        "buf = grad, without dampening. Only later steps use momentum * buf + (1 - dampening) * grad.",
    ),
    (_dampening_ignored, "the dampening is ignored: later steps add (1 - dampening) * grad."),
    (
        _dampening_swapped,
        "the gradient is multiplied by dampening; it should be (1 - dampening) * grad.",
    ),
    (_uphill, "the step goes uphill: subtract lr * buf from x."),
    (
        _buffer_not_updated,
        "x is right but the returned buffer is the old one: return the new buffer.",
    ),
    (
        _gradient_not_buffer,
        "x moved by lr * grad, as in plain gradient descent: move it by lr * buf, the new buffer.",
    ),
]
"""Typical wrong answers to :func:`check_momentum_step`, each with the hint it earns."""


def _pair_compare(names):
    """Compare a tuple result entry by entry, naming the entry that is wrong."""

    def compare(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return (
                f"expected a tuple of {len(expected)} arrays ({', '.join(names)}), "
                f"got {type(got).__name__}"
                + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
            )
        for name, g, e in zip(names, got, expected, strict=True):
            problem = compare_values(g, e, 1e-6, 1e-12)
            if problem:
                return f"{name} is wrong: {problem}"
        return None

    return compare


def check_momentum_step(momentum_step, quiet=False, record=None):
    r"""``momentum_step(x, grad, buf, lr, momentum, dampening=0.0)`` returns ``(new_x, new_buf)``.

    PyTorch's rule (``buf`` is ``None`` on the first step):

    .. math::

        b = \begin{cases} g & \text{first step} \\ \mu\, b + (1 - \tau)\, g & \text{later} \end{cases},
        \qquad x \leftarrow x - \eta\, b
    """
    x = np.array([1.0, -2.0])
    g = np.array([0.5, 1.0])
    b = np.array([0.2, -0.4])
    cases = [
        Case((x, g, None, 0.1, 0.9), label="first step, buf is None"),
        Case((x, g, b, 0.1, 0.9), label="a later step"),
        Case((x, g, None, 0.1, 0.9), {"dampening": 0.5}, label="first step with dampening"),
        Case((x, g, b, 0.05, 0.99), {"dampening": 0.5}, label="a later step with dampening"),
        Case((np.array([3.0]), np.array([-2.0]), np.array([1.0]), 0.5, 0.0), label="momentum = 0"),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 5))
        buf = None if rng.random() < 0.3 else rng.normal(size=d)
        return Case(
            (
                rng.normal(size=d),
                rng.normal(size=d),
                buf,
                float(rng.uniform(0.001, 0.5)),
                float(rng.uniform(0.0, 0.99)),
            ),
            {"dampening": float(rng.choice([0.0, 0.1, 0.9]))},
        )

    return check_function(
        momentum_step,
        _ref_momentum_step,
        cases,
        name="momentum_step",
        random_case=random_case,
        arg_names=["x", "grad", "buf", "lr", "momentum"],
        compare=_pair_compare(["new_x", "new_buf"]),
        mistakes=MOMENTUM_MISTAKES,
        hint=(
            "two cases: what does PyTorch put in the buffer on the first step (buf is None), and "
            "how do momentum and dampening mix the old buffer with the new gradient later? The "
            "point then moves by the rate times the new buffer."
        ),
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- Adam


def _ref_adam_step(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One ``torch.optim.Adam`` step (``t`` is 1-based), through :func:`lrcourse.optimizers.adam`."""
    x, grad = _arr(x), _arr(grad)
    opt = optimizers.adam(lr=lr, betas=(beta1, beta2), eps=eps)
    state = {"step": int(t) - 1, "exp_avg": _arr(m), "exp_avg_sq": _arr(v)}
    updates, state = opt.update(grad, state, x)
    return x + updates, state["exp_avg"], state["exp_avg_sq"]


def _adam_variant(correct1=True, correct2=True, shift=0, eps_where="outside"):
    def step(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        x, g = _arr(x), _arr(grad)
        m = beta1 * _arr(m) + (1 - beta1) * g
        v = beta2 * _arr(v) + (1 - beta2) * g * g
        k = t + shift
        with np.errstate(all="ignore"):
            m_hat = m / (1 - beta1**k) if correct1 else m
            v_hat = v / (1 - beta2**k) if correct2 else v
            if eps_where == "outside":
                denom = np.sqrt(v_hat) + eps
            elif eps_where == "inside":
                denom = np.sqrt(v_hat + eps)
            else:  # the paper's "efficient" form: eps before the correction
                return x - lr * np.sqrt(1 - beta2**k) / (1 - beta1**k) * m / (np.sqrt(v) + eps), m, v
            return x - lr * m_hat / denom, m, v

    return step


ADAM_MISTAKES = [
    (
        _adam_variant(False, False),
        "no bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t) before the step. "
        "Without it the first steps are about 3 times too long.",
    ),
    (_adam_variant(True, False), "only m is bias-corrected: v needs v / (1 - beta2**t) too."),
    (_adam_variant(False, True), "only v is bias-corrected: m needs m / (1 - beta1**t) too."),
    (
        _adam_variant(shift=-1),
        "the correction uses t - 1: t is already the number of this step (1 on the first step).",
    ),
    (_adam_variant(shift=1), "the correction uses t + 1: t is already the number of this step."),
    (
        _adam_variant(eps_where="inside"),
        "eps is inside the square root: PyTorch divides by sqrt(v_hat) + eps.",
    ),
    (
        _adam_variant(eps_where="before"),
        "this is the paper's shortcut with eps added before the bias correction, sqrt(v) + eps; "
        "PyTorch adds eps after it, sqrt(v_hat) + eps (different when gradients are tiny).",
    ),
    (
        lambda x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8: (
            2 * _arr(x) - _ref_adam_step(x, grad, m, v, t, lr, beta1, beta2, eps)[0],
            *_ref_adam_step(x, grad, m, v, t, lr, beta1, beta2, eps)[1:],
        ),
        "the step goes uphill: subtract it from x.",
    ),
]
"""Typical wrong answers to :func:`check_adam_step`, each with the hint it earns."""


def check_adam_step(adam_step, quiet=False, record=None):
    r"""``adam_step(x, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)`` returns ``(new_x, m, v)``.

    ``t`` is the number of this step, starting at 1. The rule of ``torch.optim.Adam``:

    .. math::

        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \qquad
        x \leftarrow x - \eta\, \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
    """
    z = np.zeros(2)
    cases = [
        Case((np.array([1.0, -1.0]), np.array([0.5, -2.0]), z, z, 1), label="the first step, t = 1"),
        Case(
            (np.array([0.3, 0.7]), np.array([1.0, 0.1]), np.array([0.2, 0.05]), np.array([0.04, 0.003]), 2),
            label="t = 2",
        ),
        Case(
            (np.array([0.5]), np.array([-0.2]), np.array([-0.1]), np.array([0.02]), 10),
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
            label="t = 10, other betas",
        ),
        Case(
            (np.zeros(2), np.array([3e-5, -1e-4]), np.array([1e-5, 0.0]), np.array([1e-10, 2e-9]), 3),
            label="tiny gradients, where eps matters",
        ),
        Case(
            (np.array([1.0]), np.array([0.4]), np.array([0.3]), np.array([0.2]), 1000),
            label="t = 1000",
        ),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 4))
        return Case(
            (
                rng.normal(size=d),
                rng.normal(size=d),
                0.1 * rng.normal(size=d),
                0.1 * rng.random(d),
                int(rng.integers(1, 50)),
            ),
            {"lr": float(rng.uniform(1e-4, 0.1))},
        )

    return check_function(
        adam_step,
        _ref_adam_step,
        cases,
        name="adam_step",
        random_case=random_case,
        arg_names=["x", "grad", "m", "v", "t"],
        compare=_pair_compare(["new_x", "m", "v"]),
        mistakes=ADAM_MISTAKES,
        hint=(
            "update both moving averages first (m of the gradient, v of its square), then correct "
            "each for its start at zero with the step number t; where does eps go, inside or "
            "outside the square root?"
        ),
        quiet=quiet,
        record=record,
    )

r"""Checkers for the chapter on stability and scaling (chapter 10): rates across width and batch size.

- :func:`check_mup_rates`: ``mup_rates(base_lr, base_width, width)`` returns the Adam rates
  of ``W1, b1, W2, b2`` of a one-hidden-layer MLP of hidden ``width`` under muP, for a
  base rate tuned at ``base_width`` (the reference is
  :func:`lrcourse.labs.scaling.mup_multipliers`).
- :func:`check_batch_rate`: ``batch_rate(lr_ref, batch_ref, batch_size, optimizer)``
  scales a rate to a new batch size, linearly for ``"sgd"`` and by the square root for
  ``"adam"`` (:func:`lrcourse.labs.batch_size.linear_scaling_rule`,
  :func:`lrcourse.labs.scaling.square_root_rule`).
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function
from lrcourse.labs.batch_size import linear_scaling_rule
from lrcourse.labs.scaling import mup_multipliers, square_root_rule
from lrcourse.models import MLP

__all__ = ["check_batch_rate", "check_mup_rates"]


def _mup_reference(base_lr, base_width, width):
    factors = mup_multipliers(MLP(8, hidden=(width,), n_classes=3, base_width=base_width), "adam")
    return np.array([base_lr * factors[k] for k in ("W1", "b1", "W2", "b2")])


def _mup_random_case(rng):
    base = int(rng.choice([16, 32, 64]))
    return (float(10 ** rng.uniform(-4, -1)), base, int(base * rng.choice([0.5, 2, 4, 8, 16, 32])))


def check_mup_rates(mup_rates, quiet=False, record=None):
    """Chapter 10: ``mup_rates(base_lr, base_width, width)``: muP's Adam rates of W1, b1, W2, b2."""
    cases = [
        Case((0.05, 32, 32), label="the base width itself"),
        Case((0.05, 32, 1024), label="32 times wider"),
        Case((1e-3, 64, 256), label="4 times wider"),
        Case((0.01, 32, 16), label="half as wide"),
    ]

    def ratio(base_width, width):
        return width / base_width

    mistakes = [
        (
            lambda lr, b, w: np.full(4, lr),
            "these are the rates of the standard parametrization, the same rate "
            "everywhere. Under muP the output weights W2 get the base rate divided by "
            "the width multiplier width / base_width.",
        ),
        (
            lambda lr, b, w: np.array([lr, lr, lr * ratio(b, w), lr]),
            "W2 got a rate that grows with the width; it must shrink: divide by width / base_width.",
        ),
        (
            lambda lr, b, w: np.array([lr * ratio(b, w), lr * ratio(b, w), lr / ratio(b, w), lr]),
            "these are muP's rates for SGD. With Adam the input layer and the biases keep the base rate.",
        ),
        (
            lambda lr, b, w: np.full(4, lr / ratio(b, w)),
            "only the weights with a wide fan-in (here W2) are divided; W1 has the "
            "64 inputs as its fan-in, and the biases keep the base rate.",
        ),
        (
            lambda lr, b, w: np.array([lr / ratio(b, w), lr, lr / ratio(b, w), lr]),
            "W1 reads the inputs, whose number does not grow with the width: its "
            "Adam rate stays the base rate.",
        ),
    ]
    return check_function(
        mup_rates,
        _mup_reference,
        cases,
        name="mup_rates",
        random_case=_mup_random_case,
        arg_names=["base_lr", "base_width", "width"],
        mistakes=mistakes,
        hint=(
            "with m = width / base_width, Adam under muP divides the rate of every weight "
            "matrix whose fan-in grows with the width by m; return (W1, b1, W2, b2)."
        ),
        rtol=1e-9,
        atol=1e-15,
        quiet=quiet,
        record=record,
    )


def _batch_reference(lr_ref, batch_ref, batch_size, optimizer):
    if optimizer == "sgd":
        return float(linear_scaling_rule(lr_ref, batch_ref, batch_size))
    return float(square_root_rule(lr_ref, batch_ref, batch_size))


def _batch_random_case(rng):
    ref = int(2 ** rng.integers(2, 9))
    return (
        float(10 ** rng.uniform(-4, 0)),
        ref,
        int(2 ** rng.integers(0, 12)),
        str(rng.choice(["sgd", "adam"])),
    )


def check_batch_rate(batch_rate, quiet=False, record=None):
    """Chapter 10: ``batch_rate(lr_ref, batch_ref, batch_size, optimizer)``: linear for SGD, square root for Adam."""
    cases = [
        Case((0.1, 32, 128, "sgd"), label="SGD, 4 times the batch"),
        Case((1e-3, 32, 128, "adam"), label="Adam, 4 times the batch"),
        Case((0.4, 256, 64, "sgd"), label="SGD, a smaller batch"),
        Case((2e-3, 256, 64, "adam"), label="Adam, a smaller batch"),
        Case((0.05, 16, 16, "adam"), label="the same batch"),
    ]

    def k(ref, b):
        return b / ref

    mistakes = [
        (
            lambda lr, ref, b, opt: lr * k(ref, b),
            "this is the linear rule, right for SGD; Adam's rate grows with the square "
            "root of the batch ratio.",
        ),
        (
            lambda lr, ref, b, opt: lr * np.sqrt(k(ref, b)),
            "this is the square-root rule, right for Adam; plain SGD follows the linear rule.",
        ),
        (
            lambda lr, ref, b, opt: lr * (1 / k(ref, b) if opt == "sgd" else np.sqrt(1 / k(ref, b))),
            "the ratio is upside down: a larger batch takes a larger rate, so multiply "
            "by batch_size / batch_ref.",
        ),
        (
            lambda lr, ref, b, opt: lr * (k(ref, b) if opt == "sgd" else k(ref, b) ** 2),
            "for Adam, take the square root of the ratio, not its square.",
        ),
    ]
    return check_function(
        batch_rate,
        _batch_reference,
        cases,
        name="batch_rate",
        random_case=_batch_random_case,
        arg_names=["lr_ref", "batch_ref", "batch_size", "optimizer"],
        mistakes=mistakes,
        hint=("with k = batch_size / batch_ref: SGD multiplies the rate by k, Adam by the square root of k."),
        rtol=1e-9,
        atol=1e-15,
        quiet=quiet,
        record=record,
    )

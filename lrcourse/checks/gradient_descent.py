"""Checkers for chapter 1: a gradient step, a numerical gradient, a descent loop."""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function, compare_values
from lrcourse.checks.inputs import _banana, _bowl, _grad_bowl, _grad_valleys, _wavy


def _ref_gradient_step(x, grad, lr):
    return np.asarray(x, dtype=np.float64) - lr * np.asarray(grad, dtype=np.float64)


def check_gradient_step(gradient_step, quiet=False, record=None):
    """Chapter 1: ``gradient_step(x, grad, lr)`` returns :math:`x - \\eta\\,\\nabla f(x)`."""
    cases = [
        Case((np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1), label="a 2-D point"),
        Case((np.array([3.0]), np.array([2.0]), 0.25), label="a 1-D point"),
        Case((np.array([0.0, 0.0, 0.0]), np.array([1.0, 2.0, 3.0]), 1.0), label="lr = 1"),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 5))
        return (rng.normal(size=d), rng.normal(size=d), float(rng.uniform(0.001, 1.0)))

    mistakes = [
        (lambda x, g, lr: x + lr * g, "you stepped uphill: go *against* the gradient, x - lr * grad."),
        (lambda x, g, lr: x - g, "the step ignores the learning rate: multiply the gradient by lr."),
        (lambda x, g, lr: -lr * g, "you returned only the step; add it to the current point x."),
        (lambda x, g, lr: x - g / lr, "divide by lr? The step is lr times the gradient."),
    ]
    return check_function(
        gradient_step,
        _ref_gradient_step,
        cases,
        name="gradient_step",
        random_case=random_case,
        arg_names=["x", "grad", "lr"],
        mistakes=mistakes,
        hint="the update is x_new = x - lr * grad, elementwise.",
        quiet=quiet,
        record=record,
    )


def _numerical_gradient(f, x, h=1e-5, forward=False):
    """The numerical gradient, one coordinate at a time; ``forward``: the less accurate
    forward difference, a typical mistake."""
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x)) / h if forward else (f(x + e) - f(x - e)) / (2 * h)
    return g


def check_numerical_gradient(numerical_gradient, quiet=False, record=None):
    """Chapter 1: ``numerical_gradient(f, x, h=1e-5)`` by central differences, shape of ``x``."""
    cases = [
        Case((_bowl, np.array([1.0, -2.0])), {"h": 1e-5}, label="round bowl"),
        Case((_banana, np.array([-1.0, 1.5])), {"h": 1e-5}, label="Rosenbrock"),
        Case((_wavy, np.array([0.3, -0.7, 1.1])), {"h": 1e-5}, label="3 coordinates"),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 5))
        return Case((_wavy, rng.normal(size=d)), {"h": 1e-5})

    mistakes = [
        (
            lambda f, x, h=1e-5: _numerical_gradient(f, x, h, forward=True),
            "this is the forward difference (f(x+h) - f(x)) / h; use the central difference "
            "(f(x + h e_i) - f(x - h e_i)) / (2h), which is far more accurate.",
        ),
        (
            lambda f, x, h=1e-5: 2 * _numerical_gradient(f, x, h),
            "twice too large: the central difference divides by 2h, not h.",
        ),
        (
            lambda f, x, h=1e-5: 0.5 * _numerical_gradient(f, x, h),
            "half the right value: divide by 2h, not 4h.",
        ),
        (
            lambda f, x, h=1e-5: np.full_like(np.asarray(x, float), (f(x + h) - f(x - h)) / (2 * h)),
            "you moved every coordinate at once; perturb one coordinate at a time "
            "(add h to x[i] only) to get the i-th partial derivative.",
        ),
        (
            lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / (2 * h),
            "you returned a single number (a slope along the diagonal). The gradient has one entry "
            "per coordinate: perturb one coordinate at a time (add h to x[i] only).",
        ),
    ]
    return check_function(
        numerical_gradient,
        _numerical_gradient,
        cases,
        name="numerical_gradient",
        random_case=random_case,
        arg_names=["f", "x"],
        rtol=1e-6,
        atol=1e-7,
        mistakes=mistakes,
        hint="for each coordinate i, (f(x + h e_i) - f(x - h e_i)) / (2h), where e_i is 1 at i and 0 elsewhere.",
        quiet=quiet,
        record=record,
    )


def _ref_gradient_descent(grad, x0, lr, steps):
    x = np.array(x0, dtype=np.float64)
    path = [x.copy()]
    for _ in range(steps):
        x = x - lr * np.asarray(grad(x), dtype=np.float64)
        path.append(x.copy())
    return np.array(path)


def check_gradient_descent(gradient_descent, quiet=False, record=None):
    """Chapter 1: ``gradient_descent(grad, x0, lr, steps)`` returns the path, shape ``(steps + 1, d)``."""
    cases = [
        Case((_grad_bowl, np.array([1.5, 1.0]), 0.05, 10), label="a bowl"),
        Case((_grad_valleys, np.array([-1.8]), 0.1, 8), label="two valleys"),
        Case((_grad_bowl, np.array([1.0, -1.0]), 0.1, 0), label="zero steps"),
    ]

    def random_case(rng):
        return (_grad_bowl, rng.normal(size=2), float(rng.uniform(0.01, 0.15)), int(rng.integers(1, 15)))

    def one_short(grad, x0, lr, steps):
        return _ref_gradient_descent(grad, x0, lr, steps)[1:]

    def all_last(grad, x0, lr, steps):
        path = _ref_gradient_descent(grad, x0, lr, steps)
        return np.repeat(path[-1:], len(path), axis=0)

    def uphill(grad, x0, lr, steps):
        return _ref_gradient_descent(lambda x: -np.asarray(grad(x)), x0, lr, steps)

    def compare(got, expected):
        arr = np.asarray(got, dtype=np.float64)
        exp = np.asarray(expected)
        if arr.shape == exp.shape[1:] and exp.shape[0] > 1:
            return (
                f"wrong shape: expected the whole path, shape {exp.shape} (steps + 1 rows), "
                f"got one point of shape {arr.shape}"
            )
        if arr.shape == (exp.shape[0] - 1,) + exp.shape[1:]:
            return (
                f"wrong shape: expected {exp.shape}, got {arr.shape}: one row short. "
                "The path starts with x0 itself, then one row per step"
            )
        return compare_values(got, expected, 1e-9, 1e-12)

    mistakes = [
        (
            all_last,
            "every row equals the last point: you appended the same array each time and then "
            "changed it in place. Append a copy (path.append(x.copy())) or use x = x - lr * g.",
        ),
        (uphill, "the path climbs: each step goes against the gradient, x - lr * grad(x)."),
        (one_short, "the first row must be the starting point x0."),
    ]
    return check_function(
        gradient_descent,
        _ref_gradient_descent,
        cases,
        name="gradient_descent",
        random_case=random_case,
        arg_names=["grad", "x0", "lr", "steps"],
        compare=compare,
        mistakes=mistakes,
        hint="start the path with x0, then repeat steps times: x = x - lr * grad(x); path.append(x).",
        quiet=quiet,
        record=record,
    )

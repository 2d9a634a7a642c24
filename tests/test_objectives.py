"""Landscapes: gradients agree with finite differences, minima are minima, shapes broadcast."""

import numpy as np
import pytest
from ulp import assert_ulp_close

from lrcourse import objectives

ALL = [
    objectives.quadratic(1.0, 10.0),
    objectives.rosenbrock(),
    objectives.himmelblau(),
    objectives.saddle(),
    objectives.beale(),
    objectives.two_valleys(),
    objectives.parabola(3.0),
]


def numerical_grad(f, x, h=1e-6):
    grads = []
    for i in range(x.shape[-1]):
        e = np.zeros(x.shape[-1])
        e[i] = h
        grads.append((f.value(x + e) - f.value(x - e)) / (2 * h))
    return np.stack(grads, axis=-1)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_gradient_matches_finite_differences(f):
    rng = np.random.default_rng(0)
    lows = np.array([b[0] for b in f.bounds])
    highs = np.array([b[1] for b in f.bounds])
    x = rng.uniform(lows, highs, size=(50, f.dim))
    np.testing.assert_allclose(f.grad(x), numerical_grad(f, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_minima_have_zero_gradient(f):
    if len(f.minima):
        np.testing.assert_allclose(f.grad(f.minima), 0.0, atol=1e-9)
    for s in f.saddles:
        np.testing.assert_allclose(f.grad(s), 0.0, atol=1e-12)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_batch_axes_broadcast(f):
    x = np.random.default_rng(0).uniform(-2.0, 2.0, (4, 3, f.dim))
    assert f.value(x).shape == (4, 3)
    assert f.grad(x).shape == (4, 3, f.dim)
    # One point is not computed as a batch is: numpy squares an array (x * x) but
    # raises a scalar to a power with the C library's pow, which may round the
    # other way. Measured worst over random points: 1 ULP.
    assert_ulp_close(f.value(x)[2, 1], f.value(x[2, 1]), 4)
    assert_ulp_close(f.grad(x)[2, 1], f.grad(x[2, 1]), 4)


def test_two_valleys_has_shallow_local_and_deeper_global_minimum():
    f = objectives.two_valleys()
    local, best = f.value(np.array([[-1.0], [2.0]]))
    assert best < local
    np.testing.assert_allclose(f.global_minimum, [2.0])


def test_quadratic_curvature_and_grid():
    f = objectives.quadratic(2.0, 8.0)
    assert f.hessian_max_eigenvalue == 8.0
    X, Y, Z = f.grid(n=11)
    assert X.shape == Y.shape == Z.shape == (11, 11)
    assert Z.min() == 0.0


def test_wrong_dimension_is_a_clear_error():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        objectives.rosenbrock().value(np.zeros(3))
    with pytest.raises(ValueError, match="a must be in"):
        objectives.quadratic(a=-1)
    with pytest.raises(ValueError, match="name must be one of"):
        objectives.get("banana")
    assert objectives.get("quadratic", a=1, b=4).hessian_max_eigenvalue == 4

"""Loss landscapes in one and two dimensions, with exact gradients.

Each objective is an :class:`Objective` with ``value(x)`` and ``grad(x)``. The
point ``x`` has shape ``(..., d)``: the last axis holds the coordinates and any
leading axes are a batch, so one call evaluates a whole contour grid or every
run of a sweep at once. ``value`` returns shape ``(...)``, ``grad`` returns
shape ``(..., d)``.

Every objective carries its known minima (``minima``, an array ``(k, d)``) and a
plotting window (``bounds``), and, where it is constant, its curvature
(``hessian_max_eigenvalue``), which sets the stability limit of gradient descent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check


@dataclass(frozen=True)
class Objective:
    """A differentiable loss landscape ``f: R^d -> R``."""

    name: str
    dim: int
    _value: Callable = field(repr=False)
    _grad: Callable = field(repr=False)
    minima: np.ndarray = field(repr=False)
    bounds: tuple = field(repr=False)
    formula: str = field(default="", repr=False)
    hessian_max_eigenvalue: float | None = field(default=None, repr=False)
    saddles: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)

    def _coords(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}) for {self.name}, got shape {x.shape}")
        return x

    def value(self, x):
        """The loss at ``x`` (shape ``(..., d)``), shape ``(...)``."""
        return self._value(self._coords(x))

    def grad(self, x):
        """The gradient at ``x`` (shape ``(..., d)``), same shape as ``x``."""
        return self._grad(self._coords(x))

    def __call__(self, x):
        return self.value(x)

    @property
    def global_minimum(self):
        """The lowest of the known minima, shape ``(d,)``."""
        return self.minima[np.argmin(self.value(self.minima))]

    def grid(self, n=200, bounds=None):
        """A contour grid: ``(X, Y, Z)`` with ``Z = value`` on ``n × n`` points (2-D only)."""
        if self.dim != 2:
            raise ValueError(f"grid() needs a 2-D objective, {self.name} has dim={self.dim}")
        (x0, x1), (y0, y1) = bounds or self.bounds
        X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        return X, Y, self.value(np.stack([X, Y], axis=-1))


def quadratic(a=1.0, b=10.0):
    r"""The quadratic bowl :math:`f(x, y) = \tfrac12 (a x^2 + b y^2)`.

    Gradient :math:`(a x,\, b y)`; Hessian :math:`\mathrm{diag}(a, b)`, so the
    largest curvature is :math:`L = \max(a, b)` and the condition number is
    :math:`\max(a,b)/\min(a,b)`. Gradient descent converges exactly when
    :math:`0 < \eta < 2/L`.
    """
    a = float(check.check_positive("a", a))
    b = float(check.check_positive("b", b))
    span = 2.0
    return Objective(
        name=f"quadratic(a={a:g}, b={b:g})",
        dim=2,
        _value=lambda x: 0.5 * (a * x[..., 0] ** 2 + b * x[..., 1] ** 2),
        _grad=lambda x: np.stack([a * x[..., 0], b * x[..., 1]], axis=-1),
        minima=np.array([[0.0, 0.0]]),
        bounds=((-span, span), (-span, span)),
        formula=r"\tfrac12 (a x^2 + b y^2)",
        hessian_max_eigenvalue=max(a, b),
    )


def rosenbrock(a=1.0, b=100.0):
    r"""Rosenbrock's banana valley :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`.

    Gradient :math:`(-2(a - x) - 4 b x (y - x^2),\; 2 b (y - x^2))`; minimum
    :math:`f(a, a^2) = 0` at the end of a long, flat, curved valley.
    """
    a = float(check.as_float_array("a", a))
    b = float(check.check_positive("b", b))

    def value(x):
        u, v = x[..., 0], x[..., 1]
        return (a - u) ** 2 + b * (v - u**2) ** 2

    def grad(x):
        u, v = x[..., 0], x[..., 1]
        r = v - u**2
        return np.stack([-2 * (a - u) - 4 * b * u * r, 2 * b * r], axis=-1)

    return Objective(
        name="rosenbrock",
        dim=2,
        _value=value,
        _grad=grad,
        minima=np.array([[a, a * a]]),
        bounds=((-2.0, 2.0), (-1.0, 3.0)),
        formula=r"(a - x)^2 + b\,(y - x^2)^2",
    )


_HIMMELBLAU_MINIMA = np.array(
    [
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.283185991286170],
        [3.584428340330492, -1.848126526964404],
    ]
)


def himmelblau():
    r"""Himmelblau's function :math:`f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Gradient :math:`(4x(x^2 + y - 11) + 2(x + y^2 - 7),\; 2(x^2 + y - 11) + 4y(x + y^2 - 7))`.
    Four minima, all with :math:`f = 0`: which one gradient descent finds depends on
    where it starts.
    """

    def value(x):
        u, v = x[..., 0], x[..., 1]
        return (u**2 + v - 11) ** 2 + (u + v**2 - 7) ** 2

    def grad(x):
        u, v = x[..., 0], x[..., 1]
        p, q = u**2 + v - 11, u + v**2 - 7
        return np.stack([4 * u * p + 2 * q, 2 * p + 4 * v * q], axis=-1)

    return Objective(
        name="himmelblau",
        dim=2,
        _value=value,
        _grad=grad,
        minima=_HIMMELBLAU_MINIMA.copy(),
        bounds=((-5.0, 5.0), (-5.0, 5.0)),
        formula=r"(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    )


def saddle():
    r"""The saddle :math:`f(x, y) = x^2 - y^2`.

    Gradient :math:`(2x, -2y)`. At the origin the gradient is zero, but it is a
    minimum along :math:`x` and a maximum along :math:`y`: a saddle point. There is
    no minimum (``minima`` is empty); ``saddles`` holds the origin.
    """
    return Objective(
        name="saddle",
        dim=2,
        _value=lambda x: x[..., 0] ** 2 - x[..., 1] ** 2,
        _grad=lambda x: np.stack([2 * x[..., 0], -2 * x[..., 1]], axis=-1),
        minima=np.empty((0, 2)),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
        formula=r"x^2 - y^2",
        hessian_max_eigenvalue=2.0,
        saddles=np.array([[0.0, 0.0]]),
    )


def beale():
    r"""Beale's function, with sharp ridges and a flat region:

    .. math::

        f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

    Minimum :math:`f(3, 0.5) = 0`.
    """
    c = (1.5, 2.25, 2.625)

    def terms(x):
        u, v = x[..., 0], x[..., 1]
        return u, v, [(ci - u + u * v ** (i + 1)) for i, ci in enumerate(c)]

    def value(x):
        _, _, r = terms(x)
        return r[0] ** 2 + r[1] ** 2 + r[2] ** 2

    def grad(x):
        u, v, r = terms(x)
        gx = sum(2 * ri * (v ** (i + 1) - 1) for i, ri in enumerate(r))
        gy = sum(2 * ri * (i + 1) * u * v**i for i, ri in enumerate(r))
        return np.stack([gx, gy], axis=-1)

    return Objective(
        name="beale",
        dim=2,
        _value=value,
        _grad=grad,
        minima=np.array([[3.0, 0.5]]),
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        formula=r"\sum_{i=1}^{3} (c_i - x + x y^i)^2,\ c = (1.5, 2.25, 2.625)",
    )


def two_valleys():
    r"""A 1-D loss with a shallow local minimum beside a deeper global one.

    .. math::

        f(x) = \tfrac{1}{4}x^4 - \tfrac{1}{3}x^3 - x^2 + 2, \qquad f'(x) = x^3 - x^2 - 2x = x(x+1)(x-2)

    Minima at :math:`x = -1` (local, :math:`f = 19/12 \approx 1.58`) and
    :math:`x = 2` (global, :math:`f = -2/3`), a hump at :math:`x = 0`. Started on the
    left, a small learning rate settles in the shallow minimum; a larger one can
    jump the hump.
    """
    return Objective(
        name="two_valleys",
        dim=1,
        _value=lambda x: 0.25 * x[..., 0] ** 4 - x[..., 0] ** 3 / 3 - x[..., 0] ** 2 + 2,
        _grad=lambda x: x**3 - x**2 - 2 * x,
        minima=np.array([[-1.0], [2.0]]),
        bounds=((-2.0, 3.0),),
        formula=r"\tfrac14 x^4 - \tfrac13 x^3 - x^2 + 2",
    )


def parabola(a=1.0):
    r"""The 1-D parabola :math:`f(x) = \tfrac{a}{2} x^2`, gradient :math:`a x`, curvature :math:`a`.

    Gradient descent multiplies :math:`x` by :math:`(1 - \eta a)` each step, so it
    converges for :math:`0 < \eta < 2/a`, oscillates for :math:`\eta > 1/a` and
    diverges for :math:`\eta > 2/a`.
    """
    a = float(check.check_positive("a", a))
    return Objective(
        name=f"parabola(a={a:g})",
        dim=1,
        _value=lambda x: 0.5 * a * x[..., 0] ** 2,
        _grad=lambda x: a * x,
        minima=np.array([[0.0]]),
        bounds=((-2.0, 2.0),),
        formula=r"\tfrac{a}{2} x^2",
        hessian_max_eigenvalue=a,
    )


_REGISTRY = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "himmelblau": himmelblau,
    "saddle": saddle,
    "beale": beale,
    "two_valleys": two_valleys,
    "parabola": parabola,
}


def get(name, **kwargs):
    """Build an objective by name, e.g. ``get("quadratic", a=1, b=10)``."""
    check.check_choice("name", name, tuple(_REGISTRY))
    return _REGISTRY[name](**kwargs)

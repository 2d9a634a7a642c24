r"""Two players, two learning rates: gradient descent-ascent on a game of two numbers.

A GAN trains two networks against each other: the generator lowers an objective
that the discriminator raises. The smallest model of that tug of war has one
number per player, the generator's :math:`x` and the discriminator's :math:`y`:

.. math:: \min_x \max_y\; f(x, y) = x\,y - \frac{\gamma}{2}\, y^2 .

The equilibrium is :math:`(0, 0)`. With :math:`\gamma = 0` this is the bilinear
game; it is also what the "Dirac-GAN" of Mescheder et al. (2018), a generator that
places all its mass at :math:`x` against a linear discriminator, looks like near
its equilibrium, and :math:`\gamma > 0` is what a gradient penalty on the
discriminator adds there. Each player takes gradient steps with its own rate, the
generator :math:`a` downhill, the discriminator :math:`b` uphill:

.. math::

    x_{t+1} = x_t - a\, \partial_x f = x_t - a\, y_t, \qquad
    y_{t+1} = y_t + b\, \partial_y f = y_t + b\,(x_t - \gamma\, y_t)

(*simultaneous* updates). With *alternating* updates the generator's step uses the
discriminator's new :math:`y_{t+1}`. Both are linear maps :math:`z_{t+1} = M z_t`
(:func:`update_matrix`), so their fate is decided by the spectral radius
:math:`\rho(M)` (:func:`spectral_radius`): the players spiral into the equilibrium
if :math:`\rho < 1`, circle it forever if :math:`\rho = 1`, and fly off if
:math:`\rho > 1` (:func:`regime`).

:func:`play` runs the game with two SGD optimizers joined by
:func:`lrcourse.labs.layerwise.partition`, any number of rate pairs at once.
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.labs.layerwise import partition
from lrcourse.optimizers import apply_updates, sgd

__all__ = ["REGIMES", "gradients", "play", "regime", "spectral_radius", "update_matrix", "value"]

REGIMES = ("converges", "cycles", "diverges")


def value(x, y, gamma=0.0):
    r""":math:`f(x, y) = x y - \frac\gamma2 y^2`."""
    return x * y - 0.5 * gamma * y * y


def gradients(x, y, gamma=0.0):
    r"""The partial derivatives :math:`(\partial_x f, \partial_y f) = (y,\ x - \gamma y)`."""
    return y, x - gamma * y


def _players(lr_g, lr_d):
    lr_g = check.check_nonnegative("lr_g", lr_g)
    lr_d = check.check_nonnegative("lr_d", lr_d)
    try:
        shape = np.broadcast_shapes(lr_g.shape, lr_d.shape)
    except ValueError:
        raise ValueError(
            f"lr_g and lr_d must broadcast together, got shapes {lr_g.shape} and {lr_d.shape}"
        ) from None
    return np.broadcast_to(lr_g, shape), np.broadcast_to(lr_d, shape), shape


def _rate(a):
    return float(a) if a.ndim == 0 else np.array(a)


def play(lr_g, lr_d, steps, start=(1.0, 1.0), gamma=0.0, alternating=False):
    r"""Gradient descent-ascent from ``start``; returns the path, shape ``(steps + 1, *sweep, 2)``.

    ``lr_g`` (generator, descends on :math:`f`) and ``lr_d`` (discriminator, ascends)
    may be arrays; they broadcast to the sweep shape, one game per pair. The
    discriminator's ascent is SGD on :math:`-f`. Simultaneous updates use one
    optimizer per player joined by :func:`lrcourse.labs.layerwise.partition` (the two
    rates of one optimizer); ``alternating=True`` steps the discriminator first and
    the generator at the new :math:`y`, as GAN training loops usually do.
    Coordinates that overflow become ``inf``/``nan`` (no warning).
    """
    a, b, shape = _players(lr_g, lr_d)
    steps = check.check_int("steps", steps, 0)
    gamma = float(check.check_nonnegative("gamma", gamma))
    x0, y0 = (float(v) for v in check.as_float_array("start", start).reshape(2))
    params = {"generator": np.full(shape, x0), "discriminator": np.full(shape, y0)}
    path = [np.stack([params["generator"], params["discriminator"]], axis=-1)]
    gen, disc = sgd(lr=_rate(a)), sgd(lr=_rate(b))
    both = partition(
        {"generator": gen, "discriminator": disc}, {g: g for g in ("generator", "discriminator")}
    )
    state = both.init(params) if not alternating else (gen.init(params["generator"]), disc.init(0.0))
    with np.errstate(all="ignore"):
        for _ in range(steps):
            x, y = params["generator"], params["discriminator"]
            if not alternating:
                dx, dy = gradients(x, y, gamma)
                updates, state = both.update({"generator": dx, "discriminator": -dy}, state, params)
                params = apply_updates(params, updates)
            else:
                state_g, state_d = state
                dy = gradients(x, y, gamma)[1]
                step_d, state_d = disc.update(-dy, state_d, y)
                y = y + step_d
                dx = gradients(x, y, gamma)[0]
                step_g, state_g = gen.update(dx, state_g, x)
                params = {"generator": x + step_g, "discriminator": y}
                state = (state_g, state_d)
            path.append(np.stack([params["generator"], params["discriminator"]], axis=-1))
    return np.array(path)


def update_matrix(lr_g, lr_d, gamma=0.0, alternating=False):
    r"""The matrix :math:`M` with :math:`(x_{t+1}, y_{t+1}) = M\,(x_t, y_t)`, shape ``(*sweep, 2, 2)``.

    .. math::

        M_{\text{sim}} = \begin{pmatrix} 1 & -a \\ b & 1 - b\gamma \end{pmatrix}, \qquad
        M_{\text{alt}} = \begin{pmatrix} 1 - ab & -a(1 - b\gamma) \\ b & 1 - b\gamma \end{pmatrix}

    :math:`\det M_{\text{sim}} = 1 - b\gamma + ab`, :math:`\det M_{\text{alt}} = 1 - b\gamma`.
    """
    a, b, shape = _players(lr_g, lr_d)
    gamma = float(check.check_nonnegative("gamma", gamma))
    M = np.empty((*shape, 2, 2))
    if alternating:
        M[..., 0, 0], M[..., 0, 1] = 1 - a * b, -a * (1 - b * gamma)
    else:
        M[..., 0, 0], M[..., 0, 1] = 1.0, -a
    M[..., 1, 0], M[..., 1, 1] = b, 1 - b * gamma
    return M


def spectral_radius(lr_g, lr_d, gamma=0.0, alternating=False):
    r"""The largest :math:`|\lambda|` of :func:`update_matrix`: the factor by which the distance to the equilibrium shrinks (< 1) or grows (> 1) per step, in the long run."""
    M = update_matrix(lr_g, lr_d, gamma, alternating)
    return np.max(np.abs(np.linalg.eigvals(M)), axis=-1)


def regime(radius, tol=1e-9):
    """``"converges"`` (radius < 1 - tol), ``"cycles"`` (within ``tol`` of 1) or ``"diverges"``, elementwise."""
    radius = check.check_nonnegative("radius", radius)
    tol = float(check.check_nonnegative("tol", tol))
    out = np.where(radius < 1 - tol, REGIMES[0], np.where(radius <= 1 + tol, REGIMES[1], REGIMES[2]))
    return str(out) if out.ndim == 0 else out

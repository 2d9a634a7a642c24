"""Run an optimizer on a landscape: whole trajectories, sweeps included, in one call.

:func:`run` returns the path; :func:`descend` also returns the losses and says
whether, and at which step, each run diverged. The optimizers come from
:mod:`lrcourse.optimizers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse._perturb import perturbed


def start_points(x0, sweep_shape):
    """Give the starting point ``x0`` (shape ``(..., d)``) the sweep axes of an optimizer.

    The sweep axes line up with the leading batch axes of ``x0``; if ``x0`` has
    fewer batch axes than the sweep, it is shared by every sweep member. For
    example ``x0`` of shape ``(2,)`` and ``lr`` of shape ``(1000,)`` give starts of
    shape ``(1000, 2)``; ``x0`` of shape ``(1000, 2)`` pairs start ``i`` with rate ``i``.
    """
    x0 = check.as_float_array("x0", x0)
    if x0.ndim == 0:
        raise ValueError("x0 must have shape (..., d) with d >= 1 coordinates, got a scalar")
    if not np.isfinite(x0).all():
        raise ValueError("x0 must be finite, got inf")
    k = len(sweep_shape)
    missing = k - (x0.ndim - 1)
    if missing > 0:
        x0 = x0.reshape((1,) * missing + x0.shape)
    try:
        lead = np.broadcast_shapes(x0.shape[:k], tuple(sweep_shape))
    except ValueError:
        raise ValueError(
            f"x0 has batch shape {x0.shape[:-1]}, which does not line up with the sweep shape "
            f"{tuple(sweep_shape)} of the optimizer's hyperparameters"
        ) from None
    return perturbed(np.broadcast_to(x0, lead + x0.shape[k:]).copy())


def run(grad_fn, x0, optimizer, steps):
    """Apply ``optimizer`` for ``steps`` updates from ``x0``; return the trajectory.

    .. math:: x_{t+1} = x_t + \\mathrm{update}(\\nabla f(x_t)),\\quad t = 0, \\dots, T-1

    ``grad_fn(x)`` returns the gradient at ``x`` (shape ``(..., d)``). The result
    has shape ``(steps + 1, *batch, d)``; row 0 is the start. Non-finite values
    propagate silently (no warnings); :func:`descend` reports them as divergence.
    """
    steps = check.check_int("steps", steps, 0)
    x = start_points(x0, optimizer.sweep_shape)
    path = np.empty((steps + 1,) + x.shape)
    path[0] = x
    state = optimizer.init(x)
    with np.errstate(all="ignore"):
        for t in range(steps):
            updates, state = optimizer.update(grad_fn(x), state, x)
            x = x + updates
            path[t + 1] = x
    return path


@dataclass(frozen=True)
class Descent:
    """The result of :func:`descend`.

    ``path`` has shape ``(steps + 1, *batch, d)`` and ``losses`` ``(steps + 1, *batch)``;
    after a run diverges both hold NaN. ``diverged`` (bool) and ``diverged_at``
    (the first bad step, −1 if none) have shape ``batch``.
    """

    path: np.ndarray
    losses: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray

    @property
    def final(self):
        """The last point of every run, shape ``(*batch, d)`` (NaN for diverged runs)."""
        return self.path[-1]

    @property
    def final_loss(self):
        """The last loss of every run, shape ``batch`` (NaN for diverged runs)."""
        return self.losses[-1]


def descend(objective, x0, optimizer, steps, divergence_factor=1e6):
    """Minimise ``objective`` with ``optimizer`` from ``x0``; report losses and divergence.

    :func:`run` on ``objective.grad``, with the same order of arguments. A run
    *diverges* at the first step ``t`` where a coordinate or the loss is not finite,
    or the loss has exploded:

    .. math:: |f(x_t)| > \\text{divergence\\_factor} \\cdot \\max(|f(x_0)|, 1)

    From that step on its path and losses are NaN: training stopped there.
    (:func:`lrcourse.training.fit` has the same knob, with a smaller default.)
    """
    divergence_factor = float(check.check_positive("divergence_factor", divergence_factor))
    path = run(objective.grad, x0, optimizer, steps)
    with np.errstate(all="ignore"):
        losses = objective.value(path)
        limit = divergence_factor * np.maximum(np.abs(losses[0]), 1.0)
        bad = ~np.isfinite(losses) | ~np.isfinite(path).all(axis=-1) | (np.abs(losses) > limit)
    diverged = bad.any(axis=0)
    diverged_at = np.where(diverged, bad.argmax(axis=0), -1)
    after = np.arange(steps + 1).reshape((-1,) + (1,) * diverged.ndim) >= np.where(
        diverged, diverged_at, steps + 1
    )
    losses = np.where(after, np.nan, losses)
    path = np.where(after[..., None], np.nan, path)
    return Descent(path, losses, diverged, diverged_at)

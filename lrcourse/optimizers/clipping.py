r"""Gradient-norm clipping, as ``torch.nn.utils.clip_grad_norm_``, and an optimizer that clips first.

::

    clipped_grads, total_norm = clip_grad_norm(grads, max_norm=1.0)
    opt = clipped(adamw(lr=1e-3), max_norm=1.0)      # an Optimizer like any other

The norm is *global*: one norm over all the leaves of the tree, as if they were
concatenated into one vector, and every leaf is scaled by the same factor.

**Sweeps: each member is clipped by its own norm.** The first ``sweep_axes`` axes of
every leaf index the members of a sweep (they must be the same for all leaves); the norm
runs over the other axes of all leaves, so ``total_norm`` has the sweep shape and member
``i`` is clipped exactly as it would be alone. By default the sweep axes are those of the
hyperparameters: the axes of an array ``max_norm`` (``clip_grad_norm``), of ``max_norm``
and the optimizer's hyperparameters together (``clipped``), none for numbers. Gradients
alone cannot tell a sweep axis from an axis of a parameter, so parameters that carry
sweep axes of their own (several starting points of a landscape,
``model.init(seed, sweep=(S,))``) need ``sweep_axes`` given: ``sweep_axes=1`` for one
such axis. Without it, those members would share one norm.

**The optimizer inside** works on the same sweep: an optimizer that needs to know the sweep
axes (Adafactor and Muon factor or orthogonalise each member's own matrices) is given
``clipped``'s number (its ``sweep_axes`` attribute says which it takes), and ``clipped``
takes at least as many as the optimizer was built with. So ``clipped(adafactor(lr=0.05),
np.array([0.5, 5.0]))`` runs two independent members, as ``clipped(adafactor(lr=0.05), 0.5)``
and ``clipped(adafactor(lr=0.05), 5.0)`` would; ``ValueError`` names ``sweep_axes=`` where an
optimizer was built with fewer. ``clipped`` itself records its number, for a wrapper around
it (:func:`lrcourse.labs.layerwise.partition`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers._core import Optimizer, align, at_sweep_axes, hyperparameter, short, value_at
from lrcourse.tree import tree_leaves, tree_map

__all__ = ["clip_grad_norm", "clipped"]

EPS = 1e-6
"""Added to the norm before dividing, as PyTorch does: a zero gradient stays zero, no NaN."""


def clip_grad_norm(grads, max_norm, norm_type=2.0, *, sweep_axes=None):
    r"""Scale ``grads`` down so that their global norm is at most ``max_norm``; return ``(clipped, norm)``.

    With the :math:`p`-norm of all the leaves together (``norm_type`` :math:`p`),

    .. math::

        \lVert g \rVert_p = \Bigl(\sum_{\text{leaves } i} \lVert g_i \rVert_p^{\,p}\Bigr)^{1/p},
        \qquad \lVert g \rVert_\infty = \max_i \max |g_i|, \qquad
        g \leftarrow g \cdot \min\Bigl(\frac{\text{max\_norm}}{\lVert g \rVert_p + 10^{-6}},\ 1\Bigr)

    so the direction is kept and only the length shrinks; gradients shorter than
    ``max_norm`` pass unchanged (multiplied by 1). As PyTorch's ``clip_grad_norm_`` with
    ``error_if_nonfinite=False``: each leaf's norm first, then the norm of those norms;
    a NaN anywhere makes the norm NaN and every gradient NaN; an infinite gradient makes
    the norm ``inf``, the factor 0, the finite entries 0 and the infinite ones NaN. No
    warning is raised for them.

    Returns the clipped gradients (a new tree; ``grads`` is untouched) and the norm
    *before* clipping: a float, or an array of the sweep shape (see the module docstring
    for ``sweep_axes``). ``max_norm`` is a number or an array in :math:`[0, \infty]`
    (``inf``: no clipping); ``norm_type`` a number in :math:`(0, \infty]`, or ``'inf'``.
    """
    if callable(max_norm):
        raise ValueError(
            f"max_norm must be a number or an array, got {short(max_norm)}; clipped() takes schedules"
        )
    max_norm = hyperparameter("max_norm", max_norm, _max_norm)
    p = _norm_type(norm_type)
    n_sweep = _sweep_axes(sweep_axes, np.ndim(max_norm))
    return _clip(grads, max_norm, p, n_sweep)


def clipped(optimizer, max_norm, norm_type=2.0, *, sweep_axes=None):
    r"""``optimizer`` with the gradients clipped by :func:`clip_grad_norm` before each update.

    ``clipped(adamw(lr=1e-3), max_norm=1.0)`` is an :class:`~lrcourse.optimizers.Optimizer`:
    hand it to :func:`lrcourse.training.fit` or :func:`lrcourse.descent.run` like any other.
    It does what a PyTorch loop does with ``clip_grad_norm_(model.parameters(), max_norm)``
    between ``loss.backward()`` and ``optimizer.step()``: the optimizer's own weight decay
    acts after the clipping. Given a constructor (``clipped(sgd, max_norm=1.0)``) it returns
    a constructor, for ``fit(..., lr=...)`` and the sweeps that call one with their rates.

    ``max_norm`` may be a number, an array (a sweep) or a schedule of the step, in
    :math:`[0, \infty]`. The state is ``{"step", "total_norm", "inner"}``: ``total_norm`` is
    the norm of the last gradients before clipping (``watch=lambda state, params:
    state["total_norm"]`` records it in ``fit``), ``inner`` the optimizer's own state.
    The hyperparameters are the optimizer's, plus ``max_norm`` and ``norm_type``.
    """
    checked = hyperparameter("max_norm", max_norm, _max_norm)
    p = _norm_type(norm_type)
    if not isinstance(optimizer, Optimizer):
        if not callable(optimizer):
            raise ValueError(
                f"optimizer must be an Optimizer such as adamw(lr=1e-3) or a constructor such as sgd, "
                f"got {optimizer!r}"
            )

        @functools.wraps(optimizer)
        def build(*args, **kwargs):
            return clipped(optimizer(*args, **kwargs), checked, p, sweep_axes=sweep_axes)

        return build
    inner_shape = optimizer.sweep_shape
    norm_shape = np.shape(value_at(checked, 0))
    try:
        shape = np.broadcast_shapes(inner_shape, norm_shape)
    except ValueError:
        raise ValueError(
            f"max_norm of shape {norm_shape} must broadcast with the sweep shape {inner_shape} of {optimizer!r}"
        ) from None
    if inner_shape and len(shape) > len(inner_shape):
        raise ValueError(
            f"max_norm of shape {norm_shape} puts sweep axes in front of those of "
            f"{optimizer!r} ({inner_shape}); give the optimizer's arrays all {len(shape)} axes"
        )
    padded = _padded(checked, len(shape))
    n_sweep = _sweep_axes(sweep_axes, len(shape), optimizer)
    inner = at_sweep_axes(optimizer, n_sweep, f"clipped(..., sweep_axes={n_sweep})")

    def init(params):
        return {"step": 0, "total_norm": np.nan, "inner": inner.init(params)}

    def update(grads, state, params):
        t = state["step"]
        grads, total = _clip(grads, value_at(padded, t), p, n_sweep)
        updates, inner_state = inner.update(grads, state["inner"], params)
        return updates, {"step": t + 1, "total_norm": total, "inner": inner_state}

    def resweep(n):
        return clipped(optimizer, checked, p, sweep_axes=n)

    hp = {**inner.hyperparams, "max_norm": padded, "norm_type": p}
    return _Clipped(
        "clipped",
        init,
        update,
        hp,
        sweep_axes=n_sweep,
        resweep=resweep if sweep_axes is None else None,
        inner=inner,
        shape=shape,
    )


@dataclass(frozen=True, repr=False)
class _Clipped(Optimizer):
    """The optimizer :func:`clipped` returns: its repr names the optimizer inside."""

    inner: Optimizer | None = None
    shape: tuple = ()

    @property
    def sweep_shape(self):
        return self.shape

    def __repr__(self):
        hp = self.hyperparams
        return f"clipped({self.inner!r}, max_norm={short(hp['max_norm'])}, norm_type={hp['norm_type']!r})"


# ----------------------------------------------------------------- the norm


def _clip(grads, max_norm, p, n_sweep):
    leaves = [np.asarray(g, dtype=np.float64) for g in tree_leaves(grads)]
    if not leaves:
        return grads, 0.0
    sweep = leaves[0].shape[:n_sweep]
    if any(g.ndim < n_sweep or g.shape[:n_sweep] != sweep for g in leaves):
        raise ValueError(
            f"with sweep_axes={n_sweep} every gradient must start with the same {n_sweep} sweep axes, "
            f"got shapes {[g.shape for g in leaves]}"
        )
    if isinstance(max_norm, np.ndarray):  # its axes meet the leading axes of the gradients, as align()
        max_norm = max_norm.reshape(max_norm.shape + (1,) * (n_sweep - max_norm.ndim))
    if isinstance(max_norm, np.ndarray) and _broadcast(max_norm.shape, sweep) != sweep:
        raise ValueError(
            f"max_norm of shape {max_norm.shape} must line up with the leading axes of the gradients, "
            f"{sweep} (shapes {[g.shape for g in leaves]}); give the parameters the sweep axes first"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        norms = [_norm(g, p, tuple(range(n_sweep, g.ndim))) for g in leaves]
        total = _norm(np.stack(norms), p, (0,))  # the norm of the leaves' norms, as torch
        coef = np.minimum(max_norm / (total + EPS), 1.0)  # NaN stays NaN, as torch.clamp
        clipped_grads = tree_map(lambda g: g * align(coef, np.asarray(g)), grads)
    return clipped_grads, float(total) if np.ndim(total) == 0 else total


def _broadcast(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


def _norm(a, p, axes):
    """The ``p``-norm of ``a`` over ``axes``, computed as ``torch.linalg.vector_norm`` does."""
    if p == np.inf:
        return np.max(np.abs(a), axis=axes, initial=0.0)
    if p == 2.0:
        return np.sqrt(np.sum(a * a, axis=axes))
    if p == 1.0:
        return np.sum(np.abs(a), axis=axes)
    return np.power(np.sum(np.power(np.abs(a), p), axis=axes), 1.0 / p)


# ----------------------------------------------------------------- checks


def _max_norm(name, value):
    return check.check_range(name, value, 0.0, np.inf)


def _norm_type(value):
    """``norm_type`` as a float in (0, inf]; ``'inf'`` is accepted, as by PyTorch's ``float(norm_type)``."""
    message = f"norm_type must be one number in (0, inf] (inf or 'inf' for the largest |g|), got {value!r}"
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(message)
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not p > 0:  # also NaN
        raise ValueError(message)
    return p


def _sweep_axes(value, least, optimizer=None):
    """The number of sweep axes: ``value``, by default ``least`` or that of ``optimizer``, the larger."""
    fixed = None if optimizer is None else optimizer.sweep_axes
    if value is None:
        return max(least, fixed or 0)
    n_sweep = check.check_int("sweep_axes", value, 0)
    if n_sweep < least:
        raise ValueError(
            f"sweep_axes must be at least {least}, the number of sweep axes of the hyperparameters, "
            f"got {n_sweep}"
        )
    if fixed is not None and n_sweep < fixed:
        raise ValueError(
            f"sweep_axes must be at least {fixed}, the sweep_axes {optimizer!r} was built with, got {n_sweep}"
        )
    return n_sweep


def _padded(h, n_sweep):
    """An array (or a schedule's arrays) with ``n_sweep`` axes: missing ones in front, as ``with_sweep_axes``."""
    if callable(h):
        n = np.ndim(h(0))
        return h if n in (0, n_sweep) else (lambda t, f=h: np.expand_dims(f(t), tuple(range(n_sweep - n))))
    if isinstance(h, np.ndarray) and h.ndim < n_sweep:
        return h.reshape((1,) * (n_sweep - h.ndim) + h.shape)
    return h

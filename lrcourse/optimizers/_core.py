"""The machinery every optimizer of :mod:`lrcourse.optimizers` is built with.

Private to the package: chapters import from :mod:`lrcourse.optimizers`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check
from lrcourse.tree import tree_map


@dataclass(frozen=True)
class Optimizer:
    """A named pair of pure functions ``init(params)`` and ``update(grads, state, params)``.

    ``sweep_axes`` is ``None`` for an optimizer that works entry by entry. One whose update
    depends on the shape of a parameter (Adafactor's factors, Muon's matrices, the global
    norm of :func:`~lrcourse.optimizers.clipped`) records how many leading axes of every leaf
    it takes for sweep axes, and ``resweep(n)`` builds the same optimizer taking ``n`` of them
    (``None`` when the user fixed the number with ``sweep_axes=``): a wrapper that gives the
    parameters more sweep axes passes its number down with :func:`at_sweep_axes`.
    """

    name: str
    init: Callable
    update: Callable
    hyperparams: dict = field(default_factory=dict)
    sweep_axes: int | None = None
    resweep: Callable | None = field(default=None, compare=False)

    @property
    def sweep_shape(self):
        """Shape of the sweep axes: the broadcast shape of all array hyperparameters."""
        shapes = [np.shape(value_at(h, 0)) for h in self.hyperparams.values() if not isinstance(h, bool)]
        return np.broadcast_shapes(*shapes) if shapes else ()

    def __repr__(self):
        args = ", ".join(f"{k}={short(v)}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})"


def check_constructor(optimizer):
    """Raise ``ValueError`` unless ``optimizer`` builds an optimizer from a rate (``sgd``, ...).

    The sweeps and the range test call it with their own rates, so they need the
    constructor (``sgd`` or ``functools.partial(adam, betas=(0.9, 0.99))``), not an
    optimizer already built with one rate (``sgd(lr=0.1)``).
    """
    if isinstance(optimizer, Optimizer) or not callable(optimizer):
        raise ValueError(
            "optimizer must be a constructor called with the rate(s), such as sgd or "
            f"functools.partial(adam, betas=(0.9, 0.99)), got {optimizer!r}"
        )
    return optimizer


def short(value):
    if callable(value):
        return getattr(value, "__name__", "schedule")
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return repr(value)


# ----------------------------------------------------------------- hyperparameters
#
# The tools every optimizer here is built with (and those of lrcourse.labs.textbook_optimizers):
# check each hyperparameter with hyperparameter() (those Adam's kind shares with
# adam_hyperparameters()), give them common sweep axes with with_sweep_axes(); in update(),
# read each at the step with value_at() and line it up with a parameter with align().


def hyperparameter(name, value, validate):
    """Check one hyperparameter of an optimizer and return it in the form ``update`` reads.

    ``validate(name, value)`` raises ``ValueError`` for a bad value and returns it as a
    float64 array (as the checks of :mod:`lrcourse._validate` do). A number comes back as a
    ``float``, an array as an array (a sweep), and a schedule (a function of the step)
    as itself, after checking its value at step 0.
    """
    if callable(value):
        validate(name, value(0))
        return value
    arr = validate(name, value)
    return float(arr) if arr.ndim == 0 else arr


def with_sweep_axes(hp):
    """Give every array hyperparameter of the dict ``hp`` the full number of sweep axes.

    The sweep shape is the broadcast shape of all of them (numpy broadcasting):
    ``lr`` of shape ``(3, 1)`` and ``momentum`` of shape ``(4,)`` form a ``(3, 4)``
    sweep; ``momentum`` becomes ``(1, 4)`` so both line up with the parameters' leading
    axes. Schedules get the missing axes on their values; booleans stay as they are.
    ``ValueError`` if the shapes do not broadcast.
    """
    shapes = [np.shape(value_at(h, 0)) for h in hp.values() if not isinstance(h, bool)]
    try:
        n_sweep = len(np.broadcast_shapes(*shapes)) if shapes else 0
    except ValueError:
        raise ValueError(f"array hyperparameters must broadcast together, got shapes {shapes}") from None

    def pad(h):
        if isinstance(h, bool):
            return h
        if callable(h):
            n = np.ndim(h(0))
            if n == n_sweep:
                return h
            return lambda t, f=h: np.expand_dims(f(t), tuple(range(n_sweep - n)))  # f(t) once a step
        if isinstance(h, np.ndarray) and h.ndim < n_sweep:
            return h.reshape((1,) * (n_sweep - h.ndim) + h.shape)
        return h

    try:
        return {name: pad(h) for name, h in hp.items()}
    except ValueError:
        raise ValueError(f"array hyperparameters must broadcast together, got shapes {shapes}") from None


def sweep_rank(hp, sweep_axes):
    """The number of leading sweep axes of every leaf: ``sweep_axes``, or that of the array hyperparameters.

    ``hp`` is a dict of hyperparameters after :func:`with_sweep_axes` (numbers, arrays,
    schedules, and flags and choices, which count for nothing). ``sweep_axes`` is ``None``
    or an integer at least that of the arrays; ``ValueError`` otherwise.
    """
    shapes = [
        np.shape(value_at(h, 0)) for h in hp.values() if isinstance(h, (float, np.ndarray)) or callable(h)
    ]
    rank = len(np.broadcast_shapes(*shapes)) if shapes else 0
    if sweep_axes is None:
        return rank
    if isinstance(sweep_axes, bool) or not isinstance(sweep_axes, (int, np.integer)) or sweep_axes < rank:
        raise ValueError(
            f"sweep_axes must be None or an integer in [{rank}, inf] (at least the {rank} axes of the "
            f"array hyperparameters), got {sweep_axes!r}"
        )
    return int(sweep_axes)


def at_sweep_axes(optimizer, n_sweep, wrapper):
    """``optimizer`` taking the first ``n_sweep`` axes of every leaf for sweep axes.

    For wrappers (``clipped``, ``partition``) whose sweep gives the parameters ``n_sweep``
    leading axes: an optimizer that works entry by entry (``sweep_axes`` ``None``) or
    already takes ``n_sweep`` comes back as it is, one that inferred fewer from its own
    hyperparameters is rebuilt with ``n_sweep`` (its ``resweep``). ``ValueError`` naming
    ``sweep_axes=`` if the user fixed another number: member ``i`` of the sweep would no
    longer be the run with value ``i`` alone. ``wrapper`` names the wrapper in the message.
    """
    have = optimizer.sweep_axes
    if have is None or have == n_sweep:
        return optimizer
    if optimizer.resweep is None or have > n_sweep:
        raise ValueError(
            f"{optimizer!r} was built with sweep_axes={have}, but {wrapper} gives the parameters "
            f"{n_sweep} sweep axes; build it with sweep_axes={n_sweep} (or leave sweep_axes out)"
        )
    return optimizer.resweep(n_sweep)


def value_at(h, t):
    """The value of hyperparameter ``h`` at the 0-based step ``t``: ``h(t)`` for a schedule, else ``h``."""
    return h(t) if callable(h) else h


def align(h, leaf):
    """Reshape the hyperparameter value ``h`` so that it multiplies the parameter array ``leaf``.

    A number stays a ``float``. An array of sweep shape ``S`` gets trailing axes of
    length 1, so its axes meet the leading axes of ``leaf`` (shape ``S + (d, ...)``):
    member ``i`` of the sweep then acts on ``leaf[i]`` only. ``ValueError`` if they do not
    line up.
    """
    if isinstance(h, float):
        return h
    h = np.asarray(h, dtype=np.float64)
    if h.ndim == 0:
        return float(h)
    extra = leaf.ndim - h.ndim
    if leaf.shape[: h.ndim] == h.shape:  # the usual case, checked first: this runs every step
        return h.reshape(h.shape + (1,) * extra)
    if extra < 0 or leaf.shape[: h.ndim] != np.broadcast_shapes(leaf.shape[: h.ndim], h.shape):
        raise ValueError(
            f"a hyperparameter of shape {h.shape} must line up with the leading axes of the "
            f"parameters, which have shape {leaf.shape}; give the parameters the sweep axes "
            "first (run() and descend() do this for you)"
        )
    return h.reshape(h.shape + (1,) * extra)


def flag(name, value):
    """A boolean option: ``True`` or ``False`` (numpy's too); ``ValueError`` for anything else."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def step_count(name, value, low=0):
    """A number of steps: an integer ``>= low`` or an array of them (a sweep), as ``int`` or int64."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return check.check_int(name, value, low)
    arr = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in "iu" or arr.ndim == 0:
        raise ValueError(f"{name} must be an integer >= {low} or an array of them (a sweep), got {value!r}")
    if arr.size and arr.min() < low:
        raise ValueError(f"{name} must be >= {low}, got {check.describe(arr)} (smallest {arr.min()})")
    return arr.astype(np.int64)


def rate(name, value):
    return check.check_nonnegative(name, value)


def unit_interval(name, value):
    return check.check_range(name, value, 0.0, 1.0)


def beta(name, value):
    return check.check_range(name, value, 0.0, 1.0, high_open=True)


def adam_hyperparameters(lr, betas, eps):
    """The checked ``lr``, ``beta1``, ``beta2`` and ``eps`` of an Adam-like optimizer, as a dict.

    ``betas`` is the pair ``(beta1, beta2)``, each in ``[0, 1)``; every value passes
    through :func:`hyperparameter`. Add the optimizer's other hyperparameters to the
    dict and give it to :func:`with_sweep_axes`.
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), got {betas!r}")
    return {
        "lr": hyperparameter("lr", lr, rate),
        "beta1": hyperparameter("betas[0]", betas[0], beta),
        "beta2": hyperparameter("betas[1]", betas[1], beta),
        "eps": hyperparameter("eps", eps, check.check_nonnegative),
    }


# ----------------------------------------------------------------- helpers


def apply_updates(params, updates):
    """Return ``params + updates`` leaf by leaf (a new tree; the inputs are untouched)."""
    return tree_map(lambda p, u: p + u, params, updates)


def lerp(start, end, weight):
    """``torch.lerp``: ``start + w (end - start)`` for ``|w| < 0.5``, else ``end - (end - start)(1 - w)``.

    ``weight`` is a number or an array shaped to multiply ``start`` (the two branches
    are torch's, so that float64 paths agree with it to round-off).
    """
    d = end - start
    if isinstance(weight, float):
        return start + weight * d if abs(weight) < 0.5 else end - d * (1 - weight)
    return np.where(np.abs(weight) < 0.5, start + weight * d, end - d * (1 - weight))


def map_leaves(fn, n_out, grads, params, *states):
    """Apply ``fn(g, p, *state_leaves) -> n_out arrays`` leaf by leaf; return ``n_out`` trees."""
    if isinstance(grads, dict):
        outs = {k: map_leaves(fn, n_out, grads[k], params[k], *(s[k] for s in states)) for k in grads}
        return tuple({k: outs[k][i] for k in grads} for i in range(n_out))
    if isinstance(grads, (list, tuple)):
        outs = [map_leaves(fn, n_out, *items) for items in zip(grads, params, *states, strict=True)]
        return tuple(type(grads)(o[i] for o in outs) for i in range(n_out))
    return fn(grads, params, *states)

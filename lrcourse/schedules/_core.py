"""The :class:`Schedule` object and the small helpers every schedule shares."""

from __future__ import annotations

import bisect

import numpy as np

from lrcourse import _validate as check


class Schedule:
    """A learning-rate schedule: a closed-form, vectorised function of the 0-based step ``t``.

    ``sched(t)`` is the rate used by update ``t`` (counting updates from 0), the
    value PyTorch's ``optimizer.param_groups[0]['lr']`` holds after ``t`` calls of
    ``scheduler.step()``. ``t`` is an int or an array of ints:

    - ``sched(5)`` is a float, or an array of shape ``sweep_shape`` when a
      parameter of the schedule is an array (a sweep);
    - ``sched(np.arange(T))`` is the whole curve, of shape ``(T,) + sweep_shape``.

    A call only computes: the object holds no state that calls change.

    Attributes
    ----------
    name : str
        The constructor's name, e.g. ``"cosine"``.
    params : dict
        The constructor's arguments after the checks.
    sweep_shape : tuple
        The broadcast shape of the array parameters; ``()`` without a sweep.
    momentum : Schedule or None
        For ``cyclic`` and ``one_cycle``: the momentum PyTorch cycles alongside the
        rate (SGD's ``momentum``, Adam's ``betas[0]``); ``None`` otherwise.
    max_t : int or None
        The last valid step (``one_cycle`` ends at ``total_steps``); ``None`` if the
        schedule runs for ever.
    """

    def __init__(
        self, name, fn, params, *, sweep_shape=None, momentum=None, max_t=None, pad_t=True, label=None
    ):
        self.name = name
        self.__name__ = name  # read by the optimizers' repr
        self.params = params
        self.sweep_shape = sweep_of(params) if sweep_shape is None else tuple(sweep_shape)
        self.momentum = momentum
        # fn(t) computes the rates for one step, a Python int t (the optimizers' call:
        # the formula runs on numbers, no array is built), or for an int64 array t.
        # With pad_t, an array t arrives with one trailing axis of length 1 per sweep
        # axis, so the formula broadcasts by itself; without (schedules built from
        # schedules), it arrives flattened. The formulas apply the same numpy functions
        # to both (np.power, never **, which rounds differently for numpy's numbers),
        # so sched(t) equals sched(np.arange(T))[t], bit for bit but for numpy's pow.
        self._fn = fn
        self.max_t = max_t
        self._pad_t = pad_t
        self._label = label

    def __call__(self, t):
        t = steps(t, self.max_t)
        if isinstance(t, int):
            value = self._fn(t)
            return _filled(self.sweep_shape, value) if self.sweep_shape else float(value)
        if self._pad_t:
            return _filled(t.shape + self.sweep_shape, self._fn(pad(t, len(self.sweep_shape))))
        flat = _filled((t.size,) + self.sweep_shape, self._fn(t.ravel()))
        return flat.reshape(t.shape + self.sweep_shape)

    def __repr__(self):
        if self._label is not None:
            return self._label
        args = ", ".join(f"{k}={short(v)}" for k, v in self.params.items())
        return f"{self.name}({args})"


def _filled(shape, values):
    out = np.empty(shape)
    out[...] = values
    return out


def steps(t, max_t=None):
    """``t`` checked: an ``int``, or an int64 array, of steps ``0 <= t`` (``<= max_t``)."""
    if type(t) is int or isinstance(t, np.integer):  # one step: no array needed
        t = int(t)
        if t < 0 or (max_t is not None and t > max_t):
            _out_of_range(t, max_t)
        return t
    arr = np.asarray(t)
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"t must be an integer step or an array of integer steps (0, 1, 2, ...), got {check.describe(t)}"
        )
    if arr.size and (arr.min() < 0 or (max_t is not None and arr.max() > max_t)):
        _out_of_range(t, max_t)
    return int(arr) if arr.ndim == 0 else arr.astype(np.int64, copy=False)


def _out_of_range(t, max_t):
    """Raise the ``ValueError`` for steps ``t`` below 0 or beyond ``max_t``."""
    arr = np.asarray(t)
    if arr.min() < 0:
        where = f" (smallest {arr.min()})" if arr.ndim else ""
        raise ValueError(f"t must be >= 0 (steps count from 0), got {check.describe(t)}{where}")
    where = f" (largest {arr.max()})" if arr.ndim else ""
    raise ValueError(
        f"t must be in [0, {max_t}], the last step of this schedule (one_cycle stops after "
        f"total_steps steps), got {check.describe(t)}{where}"
    )


# ----------------------------------------------------------------- parameters


def number(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """A checked numeric parameter: a ``float``, or a float64 array for a sweep."""
    arr = check.check_range(name, value, low, high, low_open=low_open, high_open=high_open)
    return float(arr) if arr.ndim == 0 else arr


def rate(name, value):
    """A learning rate (or a bound on one): finite and ``>= 0``."""
    return number(name, value, 0.0)


def factor(name, value):
    """A multiplicative factor such as ``gamma``: finite and ``> 0``."""
    return number(name, value, 0.0, low_open=True)


def ordered(low_name, low, high_name, high):
    """Check ``low <= high`` elementwise (e.g. ``base_lr <= max_lr``)."""
    if np.any(np.asarray(low) > np.asarray(high)):
        raise ValueError(
            f"{high_name} must be >= {low_name}, got {low_name}={short(low)}, {high_name}={short(high)}"
        )


def milestone_list(name, milestones, count=None):
    """Strictly increasing positive integers, as a tuple; ``count`` of them if given."""
    try:
        values = list(milestones)
    except TypeError:
        raise ValueError(f"{name} must be a list of integers, got {milestones!r}") from None
    for i, m in enumerate(values):
        check.check_int(f"{name}[{i}]", m, 1)
    values = [int(m) for m in values]
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {values}")
    if count is not None and len(values) != count:
        raise ValueError(f"{name} must hold {count} step(s), one per switch between schedules, got {values}")
    return tuple(values)


def schedule_arg(name, value):
    if not isinstance(value, Schedule):
        raise ValueError(f"{name} must be a Schedule (e.g. cosine(lr=0.1, T_max=100)), got {value!r}")
    return value


def sweep_of(params):
    """The broadcast shape of the array parameters (numpy rules: axes line up on the right)."""
    shapes = {k: v.shape for k, v in params.items() if isinstance(v, np.ndarray)}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError(f"array parameters must broadcast together, got shapes {shapes}") from None


def short(value):
    """A compact repr: small arrays in full, large ones by shape."""
    if isinstance(value, np.ndarray):
        return repr(value.tolist()) if value.size <= 4 else f"array{value.shape}"
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Schedule):
        return "[" + ", ".join(repr(s) for s in value) + "]"
    return repr(value)


# ----------------------------------------------------------------- composition


def pad(t, k):
    """``t`` with ``k`` trailing length-1 axes, so it broadcasts against a ``k``-axis sweep.

    An int ``t`` (one step) broadcasts as it is.
    """
    return t if isinstance(t, int) else t.reshape(t.shape + (1,) * k)


def lift(values, t_ndim, k):
    """Give ``values`` (``t_ndim`` step axes, then its own sweep axes) ``k`` sweep axes."""
    if t_ndim == 0:
        return values  # no step axes: the sweep axes line up on the right by themselves
    values = np.asarray(values)
    missing = k - (values.ndim - t_ndim)
    if missing <= 0:
        return values
    return values.reshape(values.shape[:t_ndim] + (1,) * missing + values.shape[t_ndim:])


def piecewise(t, starts, pieces, sweep_shape):
    """``pieces[i](t)`` where ``starts[i] <= t < starts[i + 1]``; ``starts[0] == 0``.

    ``t`` is an int or a 1-D array; each piece gets only its own steps.
    """
    if isinstance(t, int):
        return pieces[bisect.bisect_right(starts, t) - 1](t)
    out = np.empty(t.shape + sweep_shape)
    which = np.searchsorted(starts, t, side="right") - 1
    for i, piece in enumerate(pieces):
        mask = which == i
        if mask.any():
            out[mask] = lift(piece(t[mask]), 1, len(sweep_shape))
    return out

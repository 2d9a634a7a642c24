"""Argument checks shared by every constructor.

Each check raises ``ValueError`` naming the parameter, the value it got and the
range it accepts, so a learner sees at once what to change. Arrays are accepted
wherever a number is (sweeps), and every element is checked.
"""

from __future__ import annotations

import numpy as np


def describe(value):
    """``value`` as an error message shows it: its repr, or the shape and first values of an array."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value.item() if hasattr(value, "item") else value)
    bad = arr.ravel()
    return f"an array of shape {arr.shape} (first values {bad[:3].tolist()})"


def as_float_array(name, value):
    """``value`` as a float64 array; ``ValueError`` if it is not numeric or holds NaN."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN, got {describe(value)}")
    return arr


def check_range(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """Check ``low <= value <= high`` (either end may be open or absent) elementwise.

    Returns the value as a float64 array (0-d for a scalar).
    """
    arr = as_float_array(name, value)
    ok = np.ones(arr.shape, dtype=bool)
    if low is not None:
        ok &= arr > low if low_open else arr >= low
    if high is not None:
        ok &= arr < high if high_open else arr <= high
    else:
        ok &= np.isfinite(arr)
    if not ok.all():
        left = "(" if low_open else "["
        right = ")" if high_open or high is None else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        first_bad = arr[~ok].ravel()[0].item() if arr.ndim else arr.item()
        where = "" if arr.ndim == 0 else f" (first bad element {first_bad!r})"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {describe(value)}{where}")
    return arr


def check_nonnegative(name, value):
    """Check ``value >= 0`` and finite."""
    return check_range(name, value, 0.0)


def check_positive(name, value):
    """Check ``value > 0`` and finite."""
    return check_range(name, value, 0.0, low_open=True)


def check_int(name, value, low=None, high=None):
    """Check that ``value`` is an integer in ``[low, high]``; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def check_choice(name, value, choices):
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value

"""Compare floats to a stated number of ULPs (units in the last place).

Two float64 computations of the same quantity are bit-identical only when they
run the same operations in the same order. +, -, *, / and sqrt are correctly
rounded everywhere, so a sweep and a single run that only use those agree
exactly on every CPU. Anything else may not: numpy evaluates ``cos``, ``exp``,
``log`` and ``power`` with SIMD code chosen by the CPU (AVX-512, AVX2, NEON or
the C library), for arrays but not always for scalars or broadcast operands;
``x ** 2.0`` is ``x * x`` for an array ``x`` but calls ``pow`` for a numpy scalar
or an array of exponents; sums and matrix products add in an order that depends
on the array's length, its memory layout and the BLAS kernel. Results that differ in the last bit or
two on some machine are then both right.

Tests of such pairs use :func:`assert_ulp_close` with a budget a few times the
worst difference measured with numpy's and OpenBLAS's SIMD paths switched
(``NPY_DISABLE_CPU_FEATURES``, ``OPENBLAS_CORETYPE``); the test says so next to
the call.
"""

from __future__ import annotations

import numpy as np


def _ordered(x):
    """The float64 values of ``x`` as int64 in the same order as the floats (-0.0 and 0.0 both 0)."""
    i = np.array(x, dtype=np.float64).view(np.int64)
    return np.where(i < 0, np.int64(np.iinfo(np.int64).min) - i, i)


def ulp_distance(actual, desired):
    """The number of float64 steps from ``desired`` to ``actual``, elementwise.

    0 for equal numbers (0.0 and -0.0 count as equal), 1 for neighbours; the count
    crosses zero through the subnormals. NaN against NaN and an infinity against
    the same infinity are 0; NaN or an infinity against anything else is ``inf``.
    Returns a float64 array of the broadcast shape.
    """
    a, d = np.broadcast_arrays(np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64))
    shape, a, d = a.shape, a.ravel(), d.ravel()
    oa, od = _ordered(a), _ordered(d)
    hi, lo = np.maximum(oa, od), np.minimum(oa, od)
    # hi - lo is below 2**64, so the wrap-around difference of the uint64 views is exact
    dist = (hi.view(np.uint64) - lo.view(np.uint64)).astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(d)
    dist[both_nan] = 0.0
    odd = ~both_nan & (np.isnan(a) | np.isnan(d) | ((np.isinf(a) | np.isinf(d)) & (a != d)))
    dist[odd] = np.inf
    return dist.reshape(shape)


def assert_ulp_close(actual, desired, max_ulp, err_msg=""):
    """Assert that ``actual`` and ``desired`` differ by at most ``max_ulp`` ULPs everywhere.

    ``max_ulp=0`` asks for bit-identical numbers (0.0 and -0.0 excepted). NaN must
    meet NaN and an infinity the same infinity. The shapes must be equal, or one
    side a scalar. The message names the worst element, both values and their
    distance.
    """
    shapes = np.shape(actual), np.shape(desired)
    if shapes[0] != shapes[1] and () not in shapes:
        raise AssertionError(
            f"shapes differ: {shapes[0]} (actual) vs {shapes[1]} (desired)\n{err_msg}".rstrip()
        )
    dist = ulp_distance(actual, desired)
    if dist.size == 0 or dist.max() <= max_ulp:
        return
    a, d = np.broadcast_arrays(np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64))
    worst = np.unravel_index(np.argmax(dist), dist.shape)
    where = f" at index {tuple(int(i) for i in worst)}" if dist.ndim else ""
    raise AssertionError(
        f"{int((dist > max_ulp).sum())} of {dist.size} element(s) differ by more than {max_ulp} ULP; "
        f"worst{where}: {float(a[worst])!r} (actual) vs {float(d[worst])!r} (desired), {dist[worst]:g} ULP apart"
        + (f"\n{err_msg}" if err_msg else "")
    )

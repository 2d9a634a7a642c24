"""The one timing rule of the benchmarks: a warm-up call, then the median of ``repeats`` calls."""

from __future__ import annotations

import time

import numpy as np


def median_ms(fn, repeats):
    """Milliseconds of ``fn()``: the median of ``repeats`` calls after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))

"""Run a block of numpy code with single-threaded BLAS, if numpy's OpenBLAS can be reached.

The sweeps of :mod:`lrcourse.stability` and :mod:`lrcourse.rate_search` make
thousands of medium-sized matrix products (a few million multiply-adds each).
OpenBLAS splits each of them over threads, which gains little at that size and
costs a great deal when the machine is busy: every product then waits for a
thread the operating system has not scheduled yet, and a sweep that takes one
second can take a minute. :func:`single_threaded` switches OpenBLAS to one
thread for the duration of a ``with`` block and restores the previous setting
afterwards.

It finds the OpenBLAS library numpy has loaded by reading ``/proc/self/maps``
(Linux) and calls its ``*_set_num_threads`` function through :mod:`ctypes`, as
``threadpoolctl`` does. Where that is not possible (another BLAS, another
operating system) the block runs unchanged: the results never depend on it,
only the speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

_PREFIXES = ("scipy_openblas_", "openblas_", "")
_SUFFIXES = ("64_", "_64_", "")
_lock = threading.Lock()
_cache = {}


def _loaded_openblas_paths():
    """Paths of the shared libraries named like OpenBLAS that this process has loaded."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    paths = []
    for line in lines:
        parts = line.split(maxsplit=5)
        path = parts[5] if len(parts) == 6 else ""
        name = path.rsplit("/", 1)[-1].lower()
        if "openblas" in name and ".so" in name and path not in paths:
            paths.append(path)
    return paths


def _functions():
    """``(get, set)`` pairs of the thread-count functions of every OpenBLAS found (cached)."""
    if "pairs" in _cache:
        return _cache["pairs"]
    import numpy  # noqa: F401  (makes sure numpy's BLAS is loaded)

    pairs = []
    for path in _loaded_openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    put.restype, put.argtypes = None, [ctypes.c_int]
                    pairs.append((get, put))
                    break
            else:
                continue
            break
    _cache["pairs"] = pairs
    return pairs


def available():
    """``True`` if an OpenBLAS whose thread count can be set was found."""
    return bool(_functions())


def num_threads():
    """The thread counts of the OpenBLAS libraries found (an empty list if none)."""
    return [get() for get, _ in _functions()]


@contextlib.contextmanager
def single_threaded():
    """Within the block, OpenBLAS uses one thread; the previous counts are restored afterwards.

    Nested and concurrent uses are safe (a lock serialises the switching); without a
    reachable OpenBLAS the block simply runs.
    """
    pairs = _functions()
    if not pairs:
        yield
        return
    with _lock:
        before = [get() for get, _ in pairs]
        for _, put in pairs:
            put(1)
    try:
        yield
    finally:
        with _lock:
            for (_, put), n in zip(pairs, before, strict=True):
                put(n)

"""A robustness probe: nudge every seeded start by a relative 1e-12, on request.

A result the course relies on (this rate converges, that one diverges, this setting
wins) must not hinge on the last bits of a number, because a learner's CPU rounds
differently from ours (other SIMD paths in numpy, other BLAS kernels). The most
direct test is to move the starting numbers by a tiny amount and run again.

With the environment variable ``LRCOURSE_PERTURB`` set to a small number ``r``
(``make robustness`` uses ``1e-12``), the package multiplies, elementwise,

- the weights that ``model.init`` draws (:mod:`lrcourse.models`),
- the features (and regression targets) of every data set in :mod:`lrcourse.data`,
- the starting points of :func:`lrcourse.descent.run` and ``descend`` (and so of
  every landscape race built on them),
- the features of :func:`lrcourse.labs.optimizers.make_sparse_classification`,

by ``1 + r * u``, with ``u`` uniform in ``[-1, 1]`` from a generator seeded by
``LRCOURSE_PERTURB_SEED`` (default 0) and the array's size, so two arrays of the same
size get the same pattern. Unset or ``0``, the default, changes nothing. Zeros stay
zero (the perturbation is relative) and integer arrays (labels) are left alone.
``make unit`` clears both variables: the unit tests check exact numbers.
"""

from __future__ import annotations

import os

import numpy as np


def amount():
    """The relative size of the perturbation from ``LRCOURSE_PERTURB`` (0 when unset)."""
    text = os.environ.get("LRCOURSE_PERTURB", "").strip()
    if not text:
        return 0.0
    try:
        r = float(text)
    except ValueError:
        raise ValueError(f"LRCOURSE_PERTURB must be a number such as 1e-12, got {text!r}") from None
    if not 0.0 <= r < 1e-3:
        raise ValueError(f"LRCOURSE_PERTURB must be in [0, 1e-3) (a tiny relative change), got {r!r}")
    return r


def perturbed(a):
    """``a`` times ``1 + r u`` when ``LRCOURSE_PERTURB = r`` is set; else ``a`` itself."""
    r = amount()
    if r == 0.0:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind != "f" or arr.size == 0:
        return a
    text = os.environ.get("LRCOURSE_PERTURB_SEED", "0").strip() or "0"
    if not text.isdigit():
        raise ValueError(f"LRCOURSE_PERTURB_SEED must be a whole number >= 0, got {text!r}")
    seed = int(text)
    u = np.random.default_rng([seed, arr.size]).uniform(-1.0, 1.0, arr.shape)
    return arr * (1.0 + r * u)

"""The numerical environments the chapters are checked under (``make robustness``).

A learner's CPU rounds differently from the machine that wrote the book: numpy picks
SIMD code paths by CPU (AVX-512, AVX2, NEON, ...) and OpenBLAS picks matrix kernels
by CPU. A result the text relies on must not change with them. Besides the machine's
own numerics (``make notebooks``), every chapter's checked outputs must come out the
same under each of these environments:

- ``perturbed-simd-lower``: every seeded start (initial weights, data, starting
  points) moved by a relative 1e-12 (``LRCOURSE_PERTURB``, see
  ``lrcourse/_perturb.py``), the most direct test of a knife edge; and numpy on the
  lowest of its dispatched SIMD levels that this CPU has (with numpy 2.4 on x86-64:
  X86_V3, i.e. AVX2 and FMA, as on most laptops; the levels above it switched off with
  ``NPY_DISABLE_CPU_FEATURES``), and OpenBLAS on its AVX2 kernel (Haswell) on x86-64;
- ``perturbed-simd-baseline``: the starts moved by another pattern of the same size
  (``LRCOURSE_PERTURB_SEED=1``), numpy on its baseline SIMD level only, and OpenBLAS on
  an AVX kernel without FMA (Sandybridge) on x86-64 or the generic ARMV8 kernel on
  arm64.

Each variant moves the starts and the rounding at once, so the chapters run once per
variant instead of once per kind of change (a fresh ``make test`` has a time budget, and
runs the first variant only). The two changes could in principle offset each other where
either alone would move a result; that takes a coincidence, and the GitHub workflow
runs both variants, on x86-64 and on arm64. Where
numpy has a single SIMD level on the CPU, the first variant is the perturbation alone
(``perturbed``); where it has none and no OpenBLAS kernel can be switched, it is the
only variant.

``OPENBLAS_CORETYPE`` is set only when the environment does not set it already (some
machines need a particular value to run at all) and only to a kernel whose instructions
the CPU has. A variant that would change nothing on this CPU is left out. On macOS numpy
uses Apple's Accelerate instead of OpenBLAS, so there only the numpy levels change.

    python tests/numerics.py names        the variants for this machine, one a line
    python tests/numerics.py env NAME     its variables as NAME=VALUE words (for env)
    python tests/numerics.py describe     what this process runs on (SIMD, OpenBLAS core)
"""

from __future__ import annotations

import os
import platform
import sys

PERTURBATION = "1e-12"


def _cpu():
    """numpy's dispatch targets and the CPU features it detected."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return __cpu_dispatch__, __cpu_features__


def simd_levels():
    """numpy's dispatched SIMD levels that this CPU has, lowest first."""
    dispatch, features = _cpu()
    return [name for name in dispatch if features.get(name)]


# What each OpenBLAS kernel we switch to needs from the CPU (numpy's feature names).
_KERNEL_NEEDS = {"Haswell": ("AVX2", "FMA3"), "Sandybridge": ("AVX",)}


def _cpu_has(*features):
    found = _cpu()[1]
    return all(found.get(name) for name in features)


def _coretype(x86, arm):
    if os.environ.get("OPENBLAS_CORETYPE"):
        return {}
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return {"OPENBLAS_CORETYPE": x86} if _cpu_has(*_KERNEL_NEEDS[x86]) else {}
    if machine in ("aarch64", "arm64") and arm:
        return {"OPENBLAS_CORETYPE": arm}
    return {}


def variants():
    """``{name: {variable: value}}`` for this machine, in the order they run."""
    levels = simd_levels()
    lower = {}
    if len(levels) >= 2:
        lower = {"NPY_DISABLE_CPU_FEATURES": ",".join(levels[1:]), **_coretype("Haswell", None)}
    baseline = {
        **({"NPY_DISABLE_CPU_FEATURES": ",".join(levels)} if levels else {}),
        **_coretype("Sandybridge", "ARMV8"),
    }
    out = {"perturbed-simd-lower" if lower else "perturbed": {"LRCOURSE_PERTURB": PERTURBATION, **lower}}
    if baseline:
        out["perturbed-simd-baseline"] = {
            "LRCOURSE_PERTURB": PERTURBATION,
            "LRCOURSE_PERTURB_SEED": "1",
            **baseline,
        }
    return out


def openblas_core():
    """The kernel (core type) OpenBLAS reports in this process, as threadpoolctl reads it, or None."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)
    from threadpoolctl import threadpool_info

    for lib in threadpool_info():
        if lib.get("internal_api") == "openblas":
            return lib.get("architecture")
    return None


def describe():
    import numpy as np

    active = simd_levels()
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    return (
        f"numpy {np.__version__} on {platform.machine()}: SIMD levels {', '.join(active) or 'baseline'}"
        f"{' (disabled: ' + disabled + ')' if disabled else ''}; OpenBLAS core {openblas_core()}; "
        f"LRCOURSE_PERTURB={os.environ.get('LRCOURSE_PERTURB', '0')}"
    )


def main(argv):
    if argv[:1] == ["names"]:
        print("\n".join(variants()))
    elif argv[:1] == ["env"] and len(argv) == 2:
        table = variants()
        if argv[1] not in table:
            print(f"unknown variant {argv[1]!r}; this machine has {', '.join(table)}", file=sys.stderr)
            return 2
        print(" ".join(f"{k}={v}" for k, v in table[argv[1]].items()))
    elif argv[:1] == ["describe"]:
        print(describe())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

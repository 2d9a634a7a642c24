"""How fast is the numerical core? Prints milliseconds (median of repeats).

    python benchmarks/bench_core.py            # lrcourse only
    python benchmarks/bench_core.py --torch    # also the PyTorch loop (needs torch)

1. one 200-step Adam run on Rosenbrock;
2. a 1000-learning-rate x 200-step Adam sweep in one vectorised call;
3. with --torch, the same sweep as a PyTorch user writes it: a loop over the rates, each a
   torch.optim.Adam run with autograd, and the ratio. The two must give the same numbers.

Budgets: the sweep under 20 ms and at least 100x faster than the PyTorch loop. The script
exits with status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
from timing import median_ms

from lrcourse import objectives
from lrcourse.descent import run
from lrcourse.optimizers import adam

STEPS = 200
START = [-1.5, 2.0]
RATES = np.logspace(-4, 0, 1000)
SWEEP_BUDGET_MS = 20.0
SPEEDUP_BUDGET = 100.0


def torch_loop(rates):
    """The sweep the way a PyTorch user writes it: one optimizer run per learning rate."""
    import torch

    finals = []
    for lr in rates:
        p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([p], lr=float(lr), foreach=False)
        for _ in range(STEPS):
            opt.zero_grad()
            loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
            loss.backward()
            opt.step()
        finals.append(p.detach().numpy().copy())
    return np.array(finals)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--torch", action="store_true", help="also time the PyTorch loop")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()

    f = objectives.rosenbrock()
    single = median_ms(lambda: run(f.grad, START, adam(lr=0.01), STEPS), args.repeats)
    sweep_opt = adam(lr=RATES)
    sweep = median_ms(lambda: run(f.grad, START, sweep_opt, STEPS), args.repeats)

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"adam, 1 run x {STEPS} steps on rosenbrock:        {single:8.2f} ms")
    print(
        f"adam, {len(RATES)} rates x {STEPS} steps (one call):      {sweep:8.2f} ms  (budget {SWEEP_BUDGET_MS:g} ms)"
    )
    ok = sweep < SWEEP_BUDGET_MS

    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch is not installed: pip install torch==2.13.0")
            return 1
        start = time.perf_counter()
        finals_torch = torch_loop(RATES)
        loop_ms = (time.perf_counter() - start) * 1e3
        finals = run(f.grad, START, sweep_opt, STEPS)[-1]
        same = np.allclose(finals, finals_torch, rtol=1e-9, atol=1e-9, equal_nan=True)
        ratio = loop_ms / sweep
        print(f"torch.optim.Adam loop over the {len(RATES)} rates:       {loop_ms:8.0f} ms  (one run)")
        print(
            f"speed-up of the vectorised sweep:                 {ratio:8.0f} x  (budget {SPEEDUP_BUDGET:g} x)"
        )
        print(f"same final points as torch (rtol 1e-9):           {'yes' if same else 'NO'}")
        ok = ok and ratio >= SPEEDUP_BUDGET and same

    print("all budgets met" if ok else "BUDGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

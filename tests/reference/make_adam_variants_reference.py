"""Write PyTorch's NAdam, RAdam and Adamax trajectories to ``tests/data/adam_variants_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch
(``pip install torch==2.13.0``; the course itself never imports torch)::

    python tests/reference/make_adam_variants_reference.py

The objectives, the hand-written gradients, the loop and the format are those of
``make_optimizer_reference.py`` (imported from ``common.py``): a case records the path, and
the learning rate and beta1 in force at each step, so the test can replay scheduled
runs without the schedules module. Every option of the three optimizers appears in at
least one case (each keyword at a value other than its default, both values of each
boolean), and the runs are long enough for RAdam to leave its unrectified phase
(rho_t > 5 from step 6 with beta2 = 0.999; the script checks it).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import torch
from common import TREE_X0, VECTORS, trajectory, tree_grad

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "adam_variants_reference.json"
STEPS = 60

TORCH_NAMES = {"nadam": torch.optim.NAdam, "radam": torch.optim.RAdam, "adamax": torch.optim.Adamax}

CASES = [
    # (optimizer, kwargs for both libraries); beta1 < 0.5 takes the other branch of torch's lerp.
    ("nadam", {"lr": 0.05}),
    ("nadam", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("nadam", {"lr": 0.05, "momentum_decay": 0.1}),
    ("nadam", {"lr": 0.05, "momentum_decay": 0.0}),
    ("nadam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": False}),
    ("nadam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("nadam", {"lr": 0.02, "betas": (0.3, 0.9), "eps": 1e-3, "momentum_decay": 0.02}),
    ("radam", {"lr": 0.05}),
    ("radam", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("radam", {"lr": 0.05, "betas": (0.9, 0.8)}),  # rho_inf = 9: rectified from a later step
    ("radam", {"lr": 0.02, "betas": (0.9, 0.5)}),  # rho_inf = 3: never rectified
    ("radam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": False}),
    ("radam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("radam", {"lr": 0.02, "betas": (0.3, 0.95), "eps": 1e-3}),
    ("adamax", {"lr": 0.05}),
    ("adamax", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("adamax", {"lr": 0.05, "betas": (0.9, 0.5)}),  # the infinity norm forgets fast
    ("adamax", {"lr": 0.05, "weight_decay": 0.1}),
    ("adamax", {"lr": 0.02, "betas": (0.3, 0.99), "eps": 0.05}),  # eps floors the norm near the minimum
]

# Scheduled runs on Rosenbrock: the scheduler is rebuilt from this description on the torch side.
# OneCycleLR and CyclicLR also cycle beta1.
SCHEDULED = [
    ("nadam", {"lr": 0.05}, ("ExponentialLR", {"gamma": 0.95})),
    ("nadam", {"lr": 0.05, "momentum_decay": 0.1}, ("OneCycleLR", {"max_lr": 0.05, "total_steps": STEPS})),
    ("radam", {"lr": 0.05}, ("CosineAnnealingLR", {"T_max": 20, "eta_min": 0.001})),
    (
        "radam",
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.05, "step_size_up": 8, "mode": "triangular2"}),
    ),
    ("adamax", {"lr": 0.05}, ("StepLR", {"step_size": 10, "gamma": 0.5})),
    (
        "adamax",
        {"lr": 0.05},
        ("OneCycleLR", {"max_lr": 0.05, "total_steps": STEPS, "three_phase": True}),
    ),
]


def torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler=None):
    """The trajectory of torch.optim's ``opt_name`` (its single-tensor code, ``foreach=False``)."""
    make_optimizer = partial(TORCH_NAMES[opt_name], **kwargs, foreach=False)
    return trajectory(make_optimizer, grad_fn, x0, STEPS, scheduler)


# Smaller rates on Rosenbrock's steep walls. RAdam's first steps are momentum-SGD steps,
# which diverge at the full rate. NAdam at the full rate reaches the valley floor and
# bounces between its walls, where every step magnifies a difference in the last bit
# about fourfold (such differences are unavoidable: torch's lerp_ is a fused
# multiply-add, which numpy lacks).
GENTLER = {"radam": 10, "nadam": 5}


def gentler(opt_name, kwargs, objective):
    factor = GENTLER.get(opt_name, 1) if objective == "rosenbrock" else 1
    return {k: v / factor if k in ("lr", "max_lr", "base_lr") else v for k, v in kwargs.items()}


def first_rectified_step(beta2, steps=STEPS):
    """The first 1-based step at which torch's RAdam takes the rectified step (0 if none)."""
    rho_inf = 2 / (1 - beta2) - 1
    for step in range(1, steps + 1):
        rho_t = rho_inf - 2 * step * (beta2**step) / (1 - beta2**step)
        if rho_t > 5.0:
            return step
    return 0


def check(cases):
    for case in cases:
        leaves = case["path"][-1].values() if case["objective"] == "tree" else [case["path"][-1]]
        assert all(np.isfinite(leaf).all() for leaf in leaves), case
    assert first_rectified_step(0.999) == 6
    beta2s = {c["kwargs"].get("betas", (0.9, 0.999))[1] for c in cases if c["optimizer"] == "radam"}
    for beta2 in sorted(beta2s):
        step = first_rectified_step(beta2)
        print(f"radam with betas[1]={beta2}: rectified " + (f"from step {step}" if step else "never"))


def main():
    cases = []
    for opt_name, kwargs in CASES:
        for obj, (grad_fn, x0) in VECTORS.items():
            kw = gentler(opt_name, kwargs, obj)
            run = torch_trajectory(opt_name, kw, grad_fn, x0)
            cases.append({"optimizer": opt_name, "kwargs": kw, "objective": obj, "x0": x0, **run})
        run = torch_trajectory(opt_name, kwargs, tree_grad, TREE_X0)
        cases.append({"optimizer": opt_name, "kwargs": kwargs, "objective": "tree", "x0": TREE_X0, **run})
    for opt_name, kwargs, scheduler in SCHEDULED:
        grad_fn, x0 = VECTORS["rosenbrock"]
        kwargs = gentler(opt_name, kwargs, "rosenbrock")
        scheduler = (scheduler[0], gentler(opt_name, scheduler[1], "rosenbrock"))
        run = torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler)
        case = {"optimizer": opt_name, "kwargs": kwargs, "objective": "rosenbrock", "x0": x0}
        cases.append({**case, "scheduler": [scheduler[0], scheduler[1]], **run})
    check(cases)
    meta = {"torch_version": torch.__version__, "steps": STEPS, "dtype": "float64"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "cases": cases}))
    print(f"wrote {len(cases)} cases to {OUT.name}")


if __name__ == "__main__":
    main()

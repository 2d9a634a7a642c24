"""Write PyTorch's optimizer trajectories to ``tests/data/optimizers_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch
(``pip install torch==2.13.0``; the course itself never imports torch)::

    python tests/reference/make_optimizer_reference.py

The objectives, their hand-written gradients and the loop that records a trajectory are
in ``common.py`` beside this script, shared with the other reference scripts. Every case
records the learning rate (and momentum) in force at each step, so the test can replay
scheduled runs without the schedules module.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import torch
from common import TREE_X0, VECTORS, trajectory, tree_grad

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "optimizers_reference.json"
STEPS = 60

CASES = [
    # (optimizer, kwargs for both libraries)
    ("sgd", {"lr": 0.01}),
    ("sgd", {"lr": 0.002, "momentum": 0.9}),
    ("sgd", {"lr": 0.002, "momentum": 0.9, "dampening": 0.5}),
    ("sgd", {"lr": 0.002, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.002, "momentum": 0.5, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.001, "momentum": 0.99, "nesterov": True, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("adagrad", {"lr": 0.1, "weight_decay": 0.2}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9}),
    ("rmsprop", {"lr": 0.005, "momentum": 0.9}),
    ("rmsprop", {"lr": 0.005, "centered": True}),
    ("rmsprop", {"lr": 0.002, "momentum": 0.8, "centered": True, "weight_decay": 0.05, "eps": 1e-4}),
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("adam", {"lr": 0.05, "amsgrad": True}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("adam", {"lr": 0.02, "eps": 1e-3, "weight_decay": 0.05, "amsgrad": True}),
    ("adamw", {"lr": 0.05}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.3}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.0}),
]

# Scheduled runs: the scheduler is rebuilt from this description on the torch side.
SCHEDULED = [
    ("sgd", {"lr": 0.002, "momentum": 0.9}, ("StepLR", {"step_size": 10, "gamma": 0.5})),
    ("adam", {"lr": 0.05}, ("CosineAnnealingLR", {"T_max": 20, "eta_min": 0.001})),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1}, ("ExponentialLR", {"gamma": 0.95})),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5}, ("LinearLR", {"start_factor": 0.1, "total_iters": 15})),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01}, ("MultiStepLR", {"milestones": [10, 30], "gamma": 0.3})),
    ("sgd", {"lr": 0.002, "momentum": 0.9}, ("OneCycleLR", {"max_lr": 0.004, "total_steps": STEPS})),
    ("adam", {"lr": 0.05}, ("OneCycleLR", {"max_lr": 0.05, "total_steps": STEPS, "three_phase": True})),
    (
        "sgd",
        {"lr": 0.001, "momentum": 0.9},
        ("CyclicLR", {"base_lr": 0.001, "max_lr": 0.004, "step_size_up": 8}),
    ),
    (
        "adam",
        {"lr": 0.01},
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.05, "step_size_up": 8, "mode": "triangular2"}),
    ),
]

TORCH_NAMES = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler=None):
    """The trajectory of torch.optim's ``opt_name`` (its single-tensor code, ``foreach=False``)."""
    make_optimizer = partial(TORCH_NAMES[opt_name], **kwargs, foreach=False)
    return trajectory(make_optimizer, grad_fn, x0, STEPS, scheduler)


def gentler(opt_name, kwargs, objective):
    """Plain SGD needs a 10x smaller rate on Rosenbrock's steep walls to stay finite."""
    if opt_name != "sgd" or objective != "rosenbrock":
        return kwargs
    return {k: v / 10 if k in ("lr", "max_lr", "base_lr") else v for k, v in kwargs.items()}


def main():
    cases = []
    for opt_name, kwargs in CASES:
        for obj, (grad_fn, x0) in VECTORS.items():
            kwargs = gentler(opt_name, kwargs, obj) if obj == "rosenbrock" else kwargs
            run = torch_trajectory(opt_name, kwargs, grad_fn, x0)
            cases.append({"optimizer": opt_name, "kwargs": kwargs, "objective": obj, "x0": x0, **run})
        # kwargs here are those of the Rosenbrock run (gentler for sgd), as the data was written
        run = torch_trajectory(opt_name, kwargs, tree_grad, TREE_X0)
        cases.append({"optimizer": opt_name, "kwargs": kwargs, "objective": "tree", "x0": TREE_X0, **run})
    for opt_name, kwargs, scheduler in SCHEDULED:
        grad_fn, x0 = VECTORS["rosenbrock"]
        kwargs = gentler(opt_name, kwargs, "rosenbrock")
        scheduler = (scheduler[0], gentler(opt_name, scheduler[1], "rosenbrock"))
        run = torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler)
        cases.append(
            {
                "optimizer": opt_name,
                "kwargs": kwargs,
                "objective": "rosenbrock",
                "x0": x0,
                "scheduler": [scheduler[0], scheduler[1]],
                **run,
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch_version": torch.__version__, "steps": STEPS, "dtype": "float64"}
    OUT.write_text(json.dumps({"meta": meta, "cases": cases}))
    print(f"wrote {len(cases)} cases to {OUT.name}")


if __name__ == "__main__":
    main()

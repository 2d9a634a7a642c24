"""Write PyTorch's learning-rate schedules to ``tests/data/schedules_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch
(needs ``pip install torch==2.13.0``; the course itself never imports torch)::

    python tests/reference/make_schedule_reference.py

Each case builds a torch optimizer on one dummy float64 parameter (SGD with
momentum, or Adam where the momentum is ``betas[0]``), wraps it in the
scheduler, and records ``param_groups[0]['lr']`` (and the momentum for
``CyclicLR`` and ``OneCycleLR``) before each update, calling
``optimizer.step()`` then ``scheduler.step()`` in between. Entry ``t`` is the
rate after ``t`` scheduler steps, the value ``lrcourse.schedules`` gives at ``t``.

Every case stores the ``lrcourse.schedules`` constructor call (``ours``: a name
for ``schedules.get`` and its keyword arguments, with nested schedules in the
same form) next to the torch scheduler it is compared with (``torch``).
``ReduceLROnPlateau`` cases store the metric sequence fed to ``step``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.optim import lr_scheduler

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "schedules_reference.json"
LR = 0.1


def sched(name, **kwargs):
    return [name, kwargs]


# ----------------------------------------------------------------- schedule cases
# (ours, torch, base lr, steps, optimizer). Specs are [name, kwargs]; "schedule(s)"
# and "schedulers" hold nested specs.

CASES = [
    (sched("constant", lr=LR), sched("ConstantLR", factor=1.0, total_iters=5), LR, 60, "sgd"),
    # step_decay
    (
        sched("step_decay", lr=LR, step_size=10, gamma=0.5),
        sched("StepLR", step_size=10, gamma=0.5),
        LR,
        120,
        "sgd",
    ),
    (sched("step_decay", lr=LR, step_size=7), sched("StepLR", step_size=7), LR, 60, "sgd"),
    (
        sched("step_decay", lr=LR, step_size=1, gamma=0.9),
        sched("StepLR", step_size=1, gamma=0.9),
        LR,
        100,
        "sgd",
    ),
    (
        sched("step_decay", lr=1e-3, step_size=25, gamma=1.5),
        sched("StepLR", step_size=25, gamma=1.5),
        1e-3,
        120,
        "sgd",
    ),
    # multistep
    (
        sched("multistep", lr=LR, milestones=[30, 80]),
        sched("MultiStepLR", milestones=[30, 80]),
        LR,
        120,
        "sgd",
    ),
    (
        sched("multistep", lr=0.5, milestones=[10, 20, 40, 45], gamma=0.5),
        sched("MultiStepLR", milestones=[10, 20, 40, 45], gamma=0.5),
        0.5,
        80,
        "sgd",
    ),
    (
        sched("multistep", lr=LR, milestones=[1], gamma=0.3),
        sched("MultiStepLR", milestones=[1], gamma=0.3),
        LR,
        20,
        "sgd",
    ),
    # exponential
    (sched("exponential", lr=LR, gamma=0.97), sched("ExponentialLR", gamma=0.97), LR, 200, "sgd"),
    (sched("exponential", lr=1.0, gamma=0.9), sched("ExponentialLR", gamma=0.9), 1.0, 150, "sgd"),
    (sched("exponential", lr=1e-5, gamma=1.05), sched("ExponentialLR", gamma=1.05), 1e-5, 200, "sgd"),
    # polynomial
    (sched("polynomial", lr=LR), sched("PolynomialLR"), LR, 30, "sgd"),
    (
        sched("polynomial", lr=LR, total_iters=100, power=2.0),
        sched("PolynomialLR", total_iters=100, power=2.0),
        LR,
        130,
        "sgd",
    ),
    (
        sched("polynomial", lr=0.3, total_iters=50, power=0.5),
        sched("PolynomialLR", total_iters=50, power=0.5),
        0.3,
        80,
        "sgd",
    ),
    (
        sched("polynomial", lr=LR, total_iters=80, power=3.0),
        sched("PolynomialLR", total_iters=80, power=3.0),
        LR,
        100,
        "sgd",
    ),
    # linear
    (sched("linear", lr=LR), sched("LinearLR"), LR, 30, "sgd"),
    (
        sched("linear", lr=LR, start_factor=0.25, total_iters=40),
        sched("LinearLR", start_factor=0.25, total_iters=40),
        LR,
        80,
        "sgd",
    ),
    (
        sched("linear", lr=0.2, start_factor=1.0, end_factor=0.1, total_iters=60),
        sched("LinearLR", start_factor=1.0, end_factor=0.1, total_iters=60),
        0.2,
        90,
        "sgd",
    ),
    (
        sched("linear", lr=LR, start_factor=0.5, end_factor=0.0, total_iters=30),
        sched("LinearLR", start_factor=0.5, end_factor=0.0, total_iters=30),
        LR,
        60,
        "sgd",
    ),
    # cosine, past T_max too
    (sched("cosine", lr=LR, T_max=50), sched("CosineAnnealingLR", T_max=50), LR, 220, "sgd"),
    (
        sched("cosine", lr=LR, T_max=30, eta_min=0.001),
        sched("CosineAnnealingLR", T_max=30, eta_min=0.001),
        LR,
        200,
        "sgd",
    ),
    (sched("cosine", lr=LR, T_max=1), sched("CosineAnnealingLR", T_max=1), LR, 20, "sgd"),
    (
        sched("cosine", lr=0.5, T_max=100, eta_min=0.01),
        sched("CosineAnnealingLR", T_max=100, eta_min=0.01),
        0.5,
        300,
        "sgd",
    ),
    (
        sched("cosine", lr=LR, T_max=7, eta_min=0.02),
        sched("CosineAnnealingLR", T_max=7, eta_min=0.02),
        LR,
        100,
        "sgd",
    ),
    # cosine_restarts
    (sched("cosine_restarts", lr=LR, T_0=10), sched("CosineAnnealingWarmRestarts", T_0=10), LR, 100, "sgd"),
    (
        sched("cosine_restarts", lr=LR, T_0=10, T_mult=2),
        sched("CosineAnnealingWarmRestarts", T_0=10, T_mult=2),
        LR,
        200,
        "sgd",
    ),
    (
        sched("cosine_restarts", lr=LR, T_0=7, T_mult=3, eta_min=0.005),
        sched("CosineAnnealingWarmRestarts", T_0=7, T_mult=3, eta_min=0.005),
        LR,
        300,
        "sgd",
    ),
    (
        sched("cosine_restarts", lr=LR, T_0=1, T_mult=2),
        sched("CosineAnnealingWarmRestarts", T_0=1, T_mult=2),
        LR,
        140,
        "sgd",
    ),
    (sched("cosine_restarts", lr=LR, T_0=1), sched("CosineAnnealingWarmRestarts", T_0=1), LR, 10, "sgd"),
]

# cyclic: every mode, with and without step_size_down, SGD momentum and Adam beta1
CYCLIC = [
    ({"step_size_up": 10}, "sgd"),
    ({"step_size_up": 10, "step_size_down": 5}, "sgd"),
    ({"step_size_up": 8, "mode": "triangular2"}, "sgd"),
    ({"step_size_up": 5, "step_size_down": 15, "mode": "triangular2"}, "adam"),
    ({"step_size_up": 10, "mode": "exp_range", "gamma": 0.99}, "sgd"),
    ({"step_size_up": 6, "step_size_down": 12, "mode": "exp_range", "gamma": 0.995}, "adam"),
    ({"step_size_up": 4, "step_size_down": 9, "base_momentum": 0.7, "max_momentum": 0.95}, "sgd"),
    ({"step_size_up": 1}, "sgd"),
    ({"step_size_up": 12, "cycle_momentum": False}, "sgd"),
]
for kw, optimizer in CYCLIC:
    kw = {"base_lr": 0.01, "max_lr": 0.1, **kw}
    CASES.append((sched("cyclic", **kw), sched("CyclicLR", **kw), None, 150, optimizer))

# one_cycle: cos and linear, two and three phases, other factors; every step up to total_steps
ONE_CYCLE = [
    {"total_steps": 100},
    {"total_steps": 100, "anneal_strategy": "linear"},
    {"total_steps": 120, "three_phase": True},
    {"total_steps": 90, "pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True},
    {"total_steps": 150, "pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 100.0},
    {"total_steps": 80, "base_momentum": 0.8, "max_momentum": 0.9, "div_factor": 5.0},
    {"total_steps": 60, "cycle_momentum": False},
    {"total_steps": 200, "pct_start": 0.1, "three_phase": True, "final_div_factor": 1e3},
]
for i, kw in enumerate(ONE_CYCLE):
    kw = {"max_lr": 0.5, **kw}
    optimizer = "adam" if i in (1, 2) else "sgd"
    CASES.append(
        (sched("one_cycle", **kw), sched("OneCycleLR", **kw), None, kw["total_steps"] + 1, optimizer)
    )

# sequential with 2 and 3 pieces, and warmup (torch: SequentialLR after LinearLR or LambdaLR)
CASES += [
    (
        sched(
            "sequential",
            schedules=[
                sched("linear", lr=LR, start_factor=0.1, total_iters=5),
                sched("cosine", lr=LR, T_max=45),
            ],
            milestones=[5],
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LinearLR", start_factor=0.1, total_iters=5),
                sched("CosineAnnealingLR", T_max=45),
            ],
            milestones=[5],
        ),
        LR,
        120,
        "sgd",
    ),
    (
        sched(
            "sequential",
            schedules=[
                sched("linear", lr=LR, start_factor=0.2, total_iters=10),
                sched("step_decay", lr=LR, step_size=20, gamma=0.5),
                sched("exponential", lr=LR, gamma=0.98),
            ],
            milestones=[10, 50],
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LinearLR", start_factor=0.2, total_iters=10),
                sched("StepLR", step_size=20, gamma=0.5),
                sched("ExponentialLR", gamma=0.98),
            ],
            milestones=[10, 50],
        ),
        LR,
        150,
        "sgd",
    ),
    (
        sched(
            "sequential",
            schedules=[sched("cosine", lr=LR, T_max=20), sched("cosine_restarts", lr=LR, T_0=10, T_mult=2)],
            milestones=[20],
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("CosineAnnealingLR", T_max=20),
                sched("CosineAnnealingWarmRestarts", T_0=10, T_mult=2),
            ],
            milestones=[20],
        ),
        LR,
        120,
        "sgd",
    ),
    (
        sched(
            "sequential",
            schedules=[
                sched("exponential", lr=LR, gamma=0.9),
                sched("multistep", lr=LR, milestones=[10, 20]),
                sched("polynomial", lr=LR, total_iters=30, power=2.0),
            ],
            milestones=[15, 40],
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("ExponentialLR", gamma=0.9),
                sched("MultiStepLR", milestones=[10, 20]),
                sched("PolynomialLR", total_iters=30, power=2.0),
            ],
            milestones=[15, 40],
        ),
        LR,
        90,
        "sgd",
    ),
    (
        sched("warmup", schedule=sched("cosine", lr=LR, T_max=90), warmup_steps=10, start_factor=0.1),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LinearLR", start_factor=0.1, total_iters=10),
                sched("CosineAnnealingLR", T_max=90),
            ],
            milestones=[10],
        ),
        LR,
        120,
        "sgd",
    ),
    (
        sched(
            "warmup",
            schedule=sched("step_decay", lr=LR, step_size=15, gamma=0.5),
            warmup_steps=5,
            start_factor=0.5,
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LinearLR", start_factor=0.5, total_iters=5),
                sched("StepLR", step_size=15, gamma=0.5),
            ],
            milestones=[5],
        ),
        LR,
        80,
        "sgd",
    ),
    (
        sched(
            "warmup", schedule=sched("cosine", lr=LR, T_max=50, eta_min=0.001), warmup_steps=8, start_lr=0.01
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LinearLR", start_factor=0.1, total_iters=8),
                sched("CosineAnnealingLR", T_max=50, eta_min=0.001),
            ],
            milestones=[8],
        ),
        LR,
        100,
        "sgd",
    ),
    (
        sched("warmup", schedule=sched("cosine", lr=LR, T_max=60), warmup_steps=10),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LambdaLR", warmup_steps=10, start_factor=0.0, power=1.0),
                sched("CosineAnnealingLR", T_max=60),
            ],
            milestones=[10],
        ),
        LR,
        100,
        "sgd",
    ),
    (
        sched("warmup", schedule=sched("exponential", lr=LR, gamma=0.97), warmup_steps=12, power=2.0),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LambdaLR", warmup_steps=12, start_factor=0.0, power=2.0),
                sched("ExponentialLR", gamma=0.97),
            ],
            milestones=[12],
        ),
        LR,
        80,
        "sgd",
    ),
    (
        sched(
            "warmup",
            schedule=sched("polynomial", lr=LR, total_iters=40),
            warmup_steps=9,
            start_factor=0.2,
            power=0.5,
        ),
        sched(
            "SequentialLR",
            schedulers=[
                sched("LambdaLR", warmup_steps=9, start_factor=0.2, power=0.5),
                sched("PolynomialLR", total_iters=40),
            ],
            milestones=[9],
        ),
        LR,
        70,
        "sgd",
    ),
]

# ----------------------------------------------------------------- ReduceLROnPlateau cases

rng = np.random.default_rng(0)
DOWN = np.concatenate(
    [
        np.linspace(1.0, 0.5, 12),  # improving
        np.full(15, 0.5),  # flat: a plateau
        0.5 * (1 - 4e-5 * np.arange(1, 11)),  # tiny gains, below the relative threshold
        np.linspace(0.49, 0.3, 8),
        0.3 + 0.01 * rng.standard_normal(25),  # noise around a floor
        np.full(10, 0.29),
    ]
)
# Around 10 a gain of 2e-4 per step beats an absolute threshold of 1e-4 but not a relative 1e-4.
SLOW = np.concatenate(
    [
        np.linspace(12.0, 10.0, 6),
        10.0 - 2e-4 * np.arange(1, 31),
        np.full(10, 9.994),
        9.994 + 0.02 * rng.standard_normal(14),
    ]
)
METRICS = {
    "down": DOWN.tolist(),
    "up": (1.0 - DOWN).tolist(),
    "slow": SLOW.tolist(),
    "slow_up": (-SLOW).tolist(),
}
PLATEAU = [
    ({"lr": LR, "patience": 3}, "down"),
    ({"lr": LR}, "down"),
    ({"lr": LR, "mode": "max", "patience": 2, "factor": 0.5}, "up"),
    ({"lr": LR, "patience": 2, "threshold_mode": "abs", "threshold": 1e-4}, "slow"),
    ({"lr": LR, "patience": 2, "threshold_mode": "rel", "threshold": 1e-4}, "slow"),
    ({"lr": LR, "mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 1e-3}, "slow_up"),
    ({"lr": LR, "patience": 2, "cooldown": 4, "factor": 0.5}, "down"),
    ({"lr": LR, "patience": 0, "factor": 0.5, "min_lr": 0.004}, "down"),
    ({"lr": 1e-7, "patience": 1, "factor": 0.5}, "down"),  # stops once a cut is below eps = 1e-8
    ({"lr": 1e-3, "patience": 1, "factor": 0.5, "eps": 1e-4}, "down"),
    ({"lr": LR, "patience": 0, "cooldown": 2, "threshold": 0.0, "mode": "max"}, "up"),
]


# ----------------------------------------------------------------- running torch


def make_optimizer(name, lr):
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    if name == "adam":
        return torch.optim.Adam([p], lr=lr)
    return torch.optim.SGD([p], lr=lr, momentum=0.9)


def warmup_lambda(warmup_steps, start_factor, power):
    return lambda t: start_factor + (1.0 - start_factor) * (t / warmup_steps) ** power


def make_scheduler(opt, spec):
    name, kwargs = spec
    kwargs = dict(kwargs)
    if name == "SequentialLR":
        kwargs["schedulers"] = [make_scheduler(opt, s) for s in kwargs["schedulers"]]
    if name == "LambdaLR":
        kwargs = {"lr_lambda": warmup_lambda(**kwargs)}
    return getattr(lr_scheduler, name)(opt, **kwargs)


def momentum_of(opt):
    group = opt.param_groups[0]
    return group["betas"][0] if "betas" in group else group["momentum"]


def run_schedule(ours, spec, lr, steps, optimizer):
    opt = make_optimizer(optimizer, LR if lr is None else lr)
    scheduler = make_scheduler(opt, spec)
    cycles_momentum = spec[0] in ("CyclicLR", "OneCycleLR") and spec[1].get("cycle_momentum", True)
    lrs, momenta = [], []
    for t in range(steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        momenta.append(float(momentum_of(opt)))
        if t < steps - 1:
            opt.step()
            scheduler.step()
    case = {"ours": ours, "torch": spec, "optimizer": optimizer, "lrs": lrs}
    if cycles_momentum:
        case["momenta"] = momenta
    return case


def run_plateau(kwargs, metrics_name):
    kwargs = dict(kwargs)
    opt = make_optimizer("sgd", kwargs.pop("lr"))
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    lrs = [float(opt.param_groups[0]["lr"])]
    for m in METRICS[metrics_name]:
        opt.step()
        scheduler.step(m)
        lrs.append(float(opt.param_groups[0]["lr"]))
    ours = sched("reduce_on_plateau", lr=opt.defaults["lr"], **kwargs)
    return {"ours": ours, "torch": sched("ReduceLROnPlateau", **kwargs), "metrics": metrics_name, "lrs": lrs}


def main():
    cases = [run_schedule(*c) for c in CASES]
    plateau = [run_plateau(*c) for c in PLATEAU]
    data = {
        "meta": {"torch_version": torch.__version__, "dtype": "float64"},
        "metrics": METRICS,
        "cases": cases,
        "plateau": plateau,
    }
    OUT.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} schedule cases and {len(plateau)} plateau cases to {OUT.name}")


if __name__ == "__main__":
    main()

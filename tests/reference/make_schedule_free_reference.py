"""Write schedulefree's trajectories to ``tests/data/schedule_free_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch and the
schedulefree package (``pip install torch==2.13.0 schedulefree==1.4.1``; the course
itself never imports either)::

    python tests/reference/make_schedule_free_reference.py

``SGDScheduleFree`` and ``AdamWScheduleFree`` (their per-tensor code, ``foreach=False``)
run on hand-written gradients (those of ``common.py``, as in ``make_optimizer_reference.py``),
in float64. The optimizer is put in train mode once and stays there: the parameters are
:math:`y`, the points where gradients are taken. Each step records

- ``path``: :math:`y` (the parameters) before the first step and after each one;
- ``x_path``: :math:`x`, computed as ``optimizer.eval()`` does
  (``p.lerp_(z, 1 - 1/beta1)``) but on a copy, so that :math:`y` is never switched back
  and forth (``train()`` after ``eval()`` would round :math:`y` differently);
- ``z_path`` and the bookkeeping of the parameter group after each step: ``k``,
  ``weight_sum``, ``lr_max`` and ``scheduled_lr``;
- ``lrs``: ``param_groups[0]['lr']`` before each step (set by a scheduler in the
  scheduled cases), so the test can replay them without ``lrcourse.schedules``;

and at the end ``x_eval``: the parameters after a real ``optimizer.eval()``.

Every option is set away from its default in some case, and the script checks that each
(each component of ``betas``) changes the path of at least one case by more than the tests'
tolerance when it is put back to its default: ``weight_lr_power`` needs a rising rate (a
warmup), or ``lr_max ** weight_lr_power`` is the same factor in every weight and cancels.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import schedulefree
import torch
from common import OBJECTIVES, listed, params_of, set_grads, tensors_of
from torch.optim import lr_scheduler

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "schedule_free_reference.json"
STEPS = 80
ATOL = 1e-10  # tests/test_optimizers_schedule_free.py


CASES = [
    # (optimizer, kwargs for both libraries); every option away from its default somewhere
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "momentum": 0.5}),  # 1 - 1/beta < -0.5: torch.lerp's other branch
    ("sgd", {"lr": 0.05, "warmup_steps": 10}),
    ("sgd", {"lr": 0.05, "warmup_steps": 10, "r": 1.0, "weight_lr_power": 0.0}),  # weights ignore the rate
    (
        "sgd",
        {
            "lr": 0.03,
            "momentum": 0.8,
            "weight_decay": 0.1,
            "warmup_steps": 5,
            "r": 0.5,
            "weight_lr_power": 1.0,
        },
    ),
    ("sgd", {"lr": 0.05, "warmup_steps": 100}),  # still warming up at the end
    ("adamw", {"lr": 0.05}),
    ("adamw", {"lr": 0.05, "betas": (0.5, 0.99)}),
    ("adamw", {"lr": 0.05, "warmup_steps": 10, "eps": 1e-4}),
    ("adamw", {"lr": 0.05, "warmup_steps": 10, "r": 2.0, "weight_lr_power": 0.5}),
    ("adamw", {"lr": 0.02, "betas": (0.95, 0.9), "weight_decay": 0.2, "warmup_steps": 8, "r": 1.0}),
    ("adamw", {"lr": 0.0}),  # weight_sum stays 0: the library's ZeroDivisionError branch
]


def ramp_then_halve(t):
    """From 0 (weight_sum 0 at the first step) up to 1 in 10 steps, halved from step 40: lr_max != lr."""
    return min(t / 10, 1.0) * (0.5 if t >= 40 else 1.0)


LAMBDAS = {"ramp_then_halve": ramp_then_halve}

# Scheduled runs: a torch scheduler sets param_groups[0]['lr'], the warmup multiplies it.
SCHEDULED = [
    ("sgd", {"lr": 0.05, "warmup_steps": 5}, ("LambdaLR", {"lr_lambda": "ramp_then_halve"})),
    ("adamw", {"lr": 0.05}, ("CosineAnnealingLR", {"T_max": 40, "eta_min": 0.005})),
    (
        "adamw",
        {"lr": 0.05, "warmup_steps": 10, "weight_decay": 0.05},
        ("StepLR", {"step_size": 20, "gamma": 0.5}),
    ),
]

CLASSES = {"sgd": schedulefree.SGDScheduleFree, "adamw": schedulefree.AdamWScheduleFree}


def gentler(opt_name, kwargs, objective):
    """Rosenbrock's steep walls need a smaller rate for SGD (20x) to stay finite."""
    if objective != "rosenbrock" or opt_name != "sgd":
        return kwargs
    return {k: v / 20 if k == "lr" else v for k, v in kwargs.items()}


def beta_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def trajectory(opt_name, kwargs, grad_fn, x0, scheduler=None, steps=STEPS):
    is_tree = isinstance(x0, dict)
    tensors = tensors_of(x0)
    params = params_of(tensors)
    opt = CLASSES[opt_name](params, **kwargs, foreach=False)
    opt.train()
    sched = None
    if scheduler is not None:
        name, skw = scheduler
        skw = {k: LAMBDAS[v] if k == "lr_lambda" else v for k, v in skw.items()}
        sched = getattr(lr_scheduler, name)(opt, **skw)
    group = opt.param_groups[0]

    def z_and_x():
        """z from the state, and x as optimizer.eval() computes it, on a copy."""
        weight = 1 - 1 / beta_of(group)
        zs = [opt.state[p]["z"] if "z" in opt.state[p] else p.clone() for p in params]
        xs = [p.clone().lerp_(z, weight) for p, z in zip(params, zs, strict=True)]
        if is_tree:
            return dict(zip(tensors, zs, strict=True)), dict(zip(tensors, xs, strict=True))
        return zs[0], xs[0]

    z, x = z_and_x()
    run = {"path": [listed(tensors)], "x_path": [listed(x)], "z_path": [listed(z)]}
    run.update(lrs=[], k=[], weight_sum=[], lr_max=[], scheduled_lr=[])
    for _ in range(steps):
        run["lrs"].append(group["lr"])
        set_grads(tensors, grad_fn)
        opt.step()
        if sched is not None:
            sched.step()
        z, x = z_and_x()
        run["path"].append(listed(tensors))
        run["x_path"].append(listed(x))
        run["z_path"].append(listed(z))
        for key in ("k", "weight_sum", "lr_max", "scheduled_lr"):
            run[key].append(float(group[key]))
    opt.eval()
    run["x_eval"] = listed(tensors)
    return run


def main():
    cases = []
    for opt_name, kwargs in CASES:
        for objective, (grad_fn, x0) in OBJECTIVES.items():
            kw = gentler(opt_name, kwargs, objective)
            run = trajectory(opt_name, kw, grad_fn, x0)
            cases.append({"optimizer": opt_name, "kwargs": kw, "objective": objective, "x0": x0, **run})
    for opt_name, kwargs, scheduler in SCHEDULED:
        for objective in ("quadratic", "rosenbrock"):
            grad_fn, x0 = OBJECTIVES[objective]
            kw = gentler(opt_name, kwargs, objective)
            run = trajectory(opt_name, kw, grad_fn, x0, scheduler)
            case = {"optimizer": opt_name, "kwargs": kw, "objective": objective, "x0": x0, **run}
            cases.append({**case, "scheduler": [scheduler[0], scheduler[1]]})
    check_every_option_matters(cases)
    for case in cases:  # the rates above keep every run finite: a diverged path would compare NaNs
        assert np.isfinite(numbers(case["path"])).all() and np.isfinite(numbers(case["x_path"])).all(), case
    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch_version": torch.__version__,
        "schedulefree_version": schedulefree_version(),
        "steps": STEPS,
        "dtype": "float64",
    }
    OUT.write_text(json.dumps({"meta": meta, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} cases to {OUT.name}")


def check_every_option_matters(cases):
    """Each option set away from its default (each component of ``betas``) must move some path; else exit."""
    changed, tried = set(), set()
    for c in cases:
        if c.get("scheduler"):
            continue
        grad_fn, x0 = OBJECTIVES[c["objective"]]
        for option, kwargs in ablations(c["optimizer"], c["kwargs"]):
            tried.add((c["optimizer"], option))
            with np.errstate(all="ignore"):  # the default rate of SGD diverges on Rosenbrock
                other = trajectory(c["optimizer"], kwargs, grad_fn, x0)["path"]
            if not np.allclose(numbers(other), numbers(c["path"]), rtol=0, atol=ATOL):
                changed.add((c["optimizer"], option))
    idle = sorted(tried - changed)
    if idle:
        raise SystemExit(f"these options change no trajectory, choose other values: {idle}")


def ablations(opt_name, kwargs):
    """``(option, kwargs with it back at its default)`` for every option a case sets away from it."""
    defaults = inspect.signature(CLASSES[opt_name]).parameters
    for key, value in kwargs.items():
        default = defaults[key].default
        if isinstance(value, tuple):
            for i, (v, d) in enumerate(zip(value, default, strict=True)):
                if v != d:
                    yield f"{key}[{i}]", {**kwargs, key: value[:i] + (d,) + value[i + 1 :]}
        elif value != default:
            yield key, {k: v for k, v in kwargs.items() if k != key}


def numbers(value):
    """Every number of a path (lists of points, or of dicts of arrays) in one flat array."""
    if isinstance(value, dict):
        return np.concatenate([numbers(v) for v in value.values()])
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return np.concatenate([numbers(v) for v in value])
    return np.ravel(np.array(value, dtype=np.float64))


def schedulefree_version():
    from importlib.metadata import version

    return version("schedulefree")


if __name__ == "__main__":
    main()

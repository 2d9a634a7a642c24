"""lrcourse.optimizers against trajectories recorded from torch.optim (float64).

The data comes from ``tests/reference/make_optimizer_reference.py``; torch is not
needed here.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lrcourse import objectives, optimizers, schedules
from lrcourse.descent import run

DATA = json.loads((Path(__file__).parent / "data" / "optimizers_reference.json").read_text())
GRADS = {
    "quadratic": objectives.quadratic(1.0, 10.0).grad,
    "rosenbrock": objectives.rosenbrock().grad,
}
CYCLES_MOMENTUM = {"OneCycleLR", "CyclicLR"}


def tree_grad(params):
    w, b = params["w"], params["b"]
    c = np.array([[1.0, 4.0], [9.0, 0.5], [2.0, 3.0]])
    return {"w": c * w + 0.1 * b[None, :], "b": (b - 1.0) + 0.1 * w.sum(axis=0)}


def case_id(case):
    sched = case.get("scheduler")
    extra = f"-{sched[0]}" if sched else ""
    args = ",".join(f"{k}={v}" for k, v in case["kwargs"].items())
    return f"{case['optimizer']}({args})-{case['objective']}{extra}"


def build(case):
    kwargs = dict(case["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if case.get("scheduler"):
        lrs = case["lrs"]
        kwargs["lr"] = lambda t: lrs[t]
        if case["scheduler"][0] in CYCLES_MOMENTUM:
            momenta = case["momenta"]
            if case["optimizer"] in ("adam", "adamw"):
                kwargs["betas"] = (lambda t: momenta[t], kwargs.get("betas", (0.9, 0.999))[1])
            else:
                kwargs["momentum"] = lambda t: momenta[t]
    return getattr(optimizers, case["optimizer"])(**kwargs)


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_matches_torch(case):
    opt = build(case)
    steps = len(case["path"]) - 1
    if case["objective"] == "tree":
        params = {k: np.array(v, dtype=np.float64) for k, v in case["x0"].items()}
        state = opt.init(params)
        for t in range(steps):
            updates, state = opt.update(tree_grad(params), state, params)
            params = optimizers.apply_updates(params, updates)
            for k in params:
                np.testing.assert_allclose(params[k], case["path"][t + 1][k], rtol=0, atol=1e-10)
        return
    path = run(GRADS[case["objective"]], case["x0"], opt, steps)
    np.testing.assert_allclose(path, np.array(case["path"]), rtol=0, atol=1e-10)


def test_reference_covers_every_optimizer_and_option():
    seen = {(c["optimizer"], k) for c in DATA["cases"] for k in c["kwargs"]}
    expected = {
        "sgd": ["lr", "momentum", "dampening", "nesterov", "weight_decay"],
        "adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
        "rmsprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
        "adam": ["lr", "betas", "eps", "weight_decay", "amsgrad"],
        "adamw": ["lr", "betas", "weight_decay", "amsgrad"],
    }
    for name, options in expected.items():
        for option in options:
            assert (name, option) in seen, f"no reference case for {name}({option}=...)"
    scheduled = {c["optimizer"] for c in DATA["cases"] if c.get("scheduler")}
    assert scheduled == set(expected)


def lrcourse_schedule(case):
    """The same schedule as the torch scheduler of ``case``, built by lrcourse.schedules."""
    name, kwargs = case["scheduler"]
    kwargs = dict(kwargs)
    if name not in ("OneCycleLR", "CyclicLR"):
        kwargs["lr"] = case["kwargs"]["lr"]
    return schedules.get(name, **kwargs)


@pytest.mark.parametrize("case", [c for c in DATA["cases"] if c.get("scheduler")], ids=case_id)
def test_optimizer_driven_by_lrcourse_schedule_matches_torch(case):
    sched = lrcourse_schedule(case)
    kwargs = dict(case["kwargs"], lr=sched)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if sched.momentum is not None:
        if case["optimizer"] in ("adam", "adamw"):
            kwargs["betas"] = (sched.momentum, kwargs.get("betas", (0.9, 0.999))[1])
        else:
            kwargs["momentum"] = sched.momentum
    opt = getattr(optimizers, case["optimizer"])(**kwargs)
    path = run(GRADS[case["objective"]], case["x0"], opt, len(case["path"]) - 1)
    np.testing.assert_allclose(path, np.array(case["path"]), rtol=0, atol=1e-10)

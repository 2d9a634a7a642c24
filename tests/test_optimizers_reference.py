"""lrcourse.optimizers against trajectories recorded from torch.optim (float64).

The data comes from ``tests/reference/make_optimizer_reference.py``; torch is not
needed here.
"""

import json
from pathlib import Path

import pytest
from helpers import CYCLES_MOMENTUM, assert_path_matches, case_id, kwargs_of, lrcourse_schedule, replay

from lrcourse import optimizers

DATA = json.loads((Path(__file__).parent / "data" / "optimizers_reference.json").read_text())


def build(case):
    kwargs = kwargs_of(case)
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
    assert_path_matches(replay(case, build(case)), case)


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


@pytest.mark.parametrize("case", [c for c in DATA["cases"] if c.get("scheduler")], ids=case_id)
def test_optimizer_driven_by_lrcourse_schedule_matches_torch(case):
    sched = lrcourse_schedule(case)
    kwargs = dict(kwargs_of(case), lr=sched)
    if sched.momentum is not None:
        if case["optimizer"] in ("adam", "adamw"):
            kwargs["betas"] = (sched.momentum, kwargs.get("betas", (0.9, 0.999))[1])
        else:
            kwargs["momentum"] = sched.momentum
    opt = getattr(optimizers, case["optimizer"])(**kwargs)
    assert_path_matches(replay(case, opt), case)

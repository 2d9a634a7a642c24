"""The warmup-stable-decay schedule against PyTorch's SequentialLR compositions, and its behaviour.

The reference curves come from ``tests/reference/make_wsd_reference.py``; torch is not
needed here.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from ulp import assert_ulp_close

from lrcourse import objectives, schedules
from lrcourse.descent import run
from lrcourse.optimizers import sgd
from lrcourse.schedules import constant, warmup, wsd

DATA = json.loads((Path(__file__).parent / "data" / "wsd_reference.json").read_text())
RTOL = 1e-12  # as tests/test_schedules.py; measured worst: 1.1e-15
# One step sched(t) against the curve sched(np.arange(T)): numpy's cos and sqrt of a
# number and of an array may round apart (see ulp.py and tests/test_schedules.py).
ONE_STEP_ULP = 4


def case_id(case):
    return ",".join(f"{k}={v}" for k, v in case["ours"].items()) + f"-{case['torch'][0]}"


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_matches_torch(case):
    sched = wsd(**case["ours"])
    t = np.arange(len(case["lrs"]))
    np.testing.assert_allclose(sched(t), case["lrs"], rtol=RTOL, atol=0)
    assert_ulp_close([sched(int(i)) for i in t], sched(t), ONE_STEP_ULP)


def test_reference_covers_every_option():
    ours = [c["ours"] for c in DATA["cases"]]
    assert {o.get("decay", "linear") for o in ours} == {"linear", "cosine", "1-sqrt"}
    assert {o.get("start_factor", 0.0) > 0 for o in ours if o.get("warmup_steps")} == {True, False}
    assert {o.get("end_factor", 0.0) > 0 for o in ours} == {True, False}
    assert any("decay_start" in o for o in ours) and any("total_steps" in o for o in ours)
    assert any("total_steps" in o and "decay_steps" not in o for o in ours)  # the default fifth
    assert any(not o.get("warmup_steps") for o in ours)
    names = {
        s[0] for c in DATA["cases"] if c["torch"][0] == "SequentialLR" for s in c["torch"][1]["schedulers"]
    }
    assert names == {"LinearLR", "ConstantLR", "CosineAnnealingLR", "LambdaLR"}
    assert DATA["meta"]["torch_version"].startswith("2.13")


# ----------------------------------------------------------------- the shape


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
def test_three_phases(decay):
    sched = wsd(0.1, total_steps=100, warmup_steps=10, decay_steps=30, decay=decay, end_factor=0.1)
    curve = sched(np.arange(120))
    assert curve[0] == 0.0 and np.all(np.diff(curve[:11]) > 0)  # warmup from 0
    np.testing.assert_array_equal(curve[10:71], 0.1)  # stable, exactly lr
    assert np.all(np.diff(curve[70:101]) < 0)  # decay
    np.testing.assert_allclose(curve[100:], 0.01, rtol=1e-15)  # held at end_factor * lr


def test_default_decay_is_the_last_fifth():
    sched = wsd(0.1, total_steps=103)
    assert sched.params["decay_steps"] == 20
    curve = sched(np.arange(104))
    np.testing.assert_array_equal(curve[:84], 0.1)
    assert curve[84] < 0.1 and curve[103] == 0.0
    assert wsd(0.1, total_steps=3).params["decay_steps"] == 1


def test_decay_shapes_at_the_middle_of_the_decay():
    kw = dict(decay_start=0, decay_steps=100)
    assert wsd(1.0, decay="linear", **kw)(50) == 0.5
    assert wsd(1.0, decay="cosine", **kw)(50) == pytest.approx(0.5, abs=1e-15)
    assert wsd(1.0, decay="1-sqrt", **kw)(25) == 0.5  # 1 - sqrt(1/4)


# ----------------------------------------------------------------- branching


def test_a_decay_branches_off_the_constant_run_at_any_step():
    stable = warmup(constant(0.1), warmup_steps=10)  # the run without decay
    for start in (10, 37, 200):
        branch = wsd(0.1, decay_start=start, decay_steps=25, warmup_steps=10, decay="1-sqrt")
        t = np.arange(start + 40)
        np.testing.assert_allclose(branch(t[:start]), stable(t[:start]), rtol=1e-15, atol=0)
        np.testing.assert_array_equal(branch(t[10:start]), 0.1)
        assert branch(start) == 0.1 and branch(start + 1) < 0.1 and branch(start + 25) == 0.0
        # the same branch, given by the end of the run
        same = wsd(0.1, total_steps=start + 25, decay_steps=25, warmup_steps=10, decay="1-sqrt")
        np.testing.assert_array_equal(same(t), branch(t))


def test_a_sweep_of_branches_equals_each_branch():
    starts = np.array([20, 50, 80])
    branches = wsd(0.1, decay_start=starts, decay_steps=20, warmup_steps=10, decay="1-sqrt")
    assert branches.sweep_shape == (3,)
    curves = branches(np.arange(110))
    assert curves.shape == (110, 3)
    for i, start in enumerate(starts.tolist()):
        one = wsd(0.1, decay_start=start, decay_steps=20, warmup_steps=10, decay="1-sqrt")
        assert_ulp_close(curves[:, i], one(np.arange(110)), 1)
        assert_ulp_close(branches(45)[i], one(45), 1)
    # and each of them is a reference curve
    reference = {
        c["ours"]["decay_start"]: c["lrs"]
        for c in DATA["cases"]
        if "decay_start" in c["ours"] and c["ours"]["decay"] == "1-sqrt"
    }
    for i, start in enumerate(starts.tolist()):
        np.testing.assert_allclose(curves[:, i], reference[start], rtol=RTOL, atol=0)


# ----------------------------------------------------------------- sweeps

SWEEPS = [
    ("lr", {"lr": np.array([0.01, 0.1, 0.5])}),
    ("start_factor", {"start_factor": np.array([0.0, 0.1, 0.5])}),
    ("end_factor", {"end_factor": np.array([0.0, 0.1])}),
    ("warmup_steps", {"warmup_steps": np.array([0, 5, 20])}),
    ("total_steps", {"total_steps": np.array([60, 80, 100])}),
    ("decay_steps", {"decay_steps": np.array([1, 10, 40])}),
    ("two", {"lr": np.array([0.01, 0.1])[:, None], "total_steps": np.array([60, 80, 100])}),
]


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("name, swept", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_sweep_equals_schedules_one_at_a_time(name, swept, decay):
    base = {"lr": 0.1, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20, "decay": decay}
    sched = wsd(**{**base, **swept})
    shape = np.broadcast_shapes(*(v.shape for v in swept.values()))
    assert sched.sweep_shape == shape
    t = np.arange(130)
    curves = sched(t)
    assert curves.shape == (130,) + shape
    for index in np.ndindex(shape):
        values = {k: np.broadcast_to(v, shape)[index].item() for k, v in swept.items()}
        one = wsd(**{**base, **values})
        # +, -, *, / are exact alike; cos and sqrt of an array may round apart from one number's
        assert_ulp_close(curves[(slice(None),) + index], one(t), ONE_STEP_ULP)


def test_inputs_are_not_changed_and_calls_change_nothing():
    starts = np.array([20, 50])
    lrs = np.array([0.1, 0.2])
    sched = wsd(lrs, decay_start=starts, decay_steps=10)
    first = sched(np.arange(70))
    sched(np.arange(70)[::-1])
    np.testing.assert_array_equal(sched(np.arange(70)), first)
    np.testing.assert_array_equal(starts, [20, 50])
    np.testing.assert_array_equal(lrs, [0.1, 0.2])
    assert repr(sched).startswith("wsd(lr=[0.1, 0.2], decay_start=[20, 50], warmup_steps=0, decay_steps=10")


def test_as_the_rate_of_an_optimizer():
    sched = wsd(0.001, total_steps=40, warmup_steps=5)
    quad = objectives.quadratic(1.0, 10.0)
    path = run(quad.grad, [1.0, 1.0], sgd(lr=sched), 40)
    by_hand = [np.array([1.0, 1.0])]
    for t in range(40):
        by_hand.append(by_hand[-1] - sched(t) * quad.grad(by_hand[-1]))
    np.testing.assert_array_equal(path, by_hand)


BAD = [
    (lambda: wsd(-0.1, total_steps=10), "lr must be in [0, inf), got -0.1"),
    (lambda: wsd(0.1), "give total_steps (the decay takes the last decay_steps) or decay_start"),
    (lambda: wsd(0.1, total_steps=10, decay_start=5, decay_steps=2), "not both or neither"),
    (lambda: wsd(0.1, total_steps=0), "total_steps must be an integer in [1, inf], got 0"),
    (lambda: wsd(0.1, total_steps=10.0), "total_steps must be an integer >= 1 or an array"),
    (lambda: wsd(0.1, total_steps=True), "total_steps must be an integer"),
    (lambda: wsd(0.1, total_steps=np.array([10, 0])), "total_steps must be >= 1"),
    (lambda: wsd(0.1, total_steps=10, warmup_steps=-1), "warmup_steps must be an integer in [0, inf]"),
    (lambda: wsd(0.1, total_steps=10, decay_steps=0), "decay_steps must be an integer in [1, inf], got 0"),
    (
        lambda: wsd(0.1, total_steps=10, warmup_steps=5, decay_steps=6),
        "decay_steps must be <= total_steps - warm",
    ),
    (lambda: wsd(0.1, decay_start=5, warmup_steps=10, decay_steps=5), "warmup_steps must be <= decay_start"),
    (  # decay_steps not given: the message is about the default, not a decay_steps the user never passed
        lambda: wsd(0.1, total_steps=10, warmup_steps=9),
        "warmup_steps=9 leaves 1 of total_steps=10 steps for the decay, fewer than the default decay_steps "
        "(a fifth of total_steps, at least 1: 2)",
    ),
    (lambda: wsd(0.1, decay_start=5), "decay_steps is needed with decay_start"),
    (lambda: wsd(0.1, decay_start=-1, decay_steps=5), "decay_start must be an integer in [0, inf]"),
    (
        lambda: wsd(0.1, total_steps=10, decay="exponential"),
        "decay must be one of 'linear', 'cosine', '1-sqrt'",
    ),
    (lambda: wsd(0.1, total_steps=10, start_factor=1.5), "start_factor must be in [0, 1], got 1.5"),
    (lambda: wsd(0.1, total_steps=10, end_factor=np.array([0.1, -0.1])), "first bad element -0.1"),
    (lambda: wsd(np.ones(2), total_steps=np.array([10, 20, 30])), "must broadcast together"),
    (lambda: wsd(0.1, total_steps=10)(-1), "t must be >= 0"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_wsd_by_name():
    by_name = schedules.get("wsd", lr=0.1, total_steps=100, warmup_steps=10, decay="cosine")
    built = schedules.wsd(lr=0.1, total_steps=100, warmup_steps=10, decay="cosine")
    np.testing.assert_array_equal(by_name(np.arange(120)), built(np.arange(120)))

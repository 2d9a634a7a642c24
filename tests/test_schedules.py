"""lrcourse.schedules against PyTorch's lr_scheduler, and the behaviour of the Schedule object.

The reference curves come from ``tests/reference/make_schedule_reference.py``;
torch is not needed here.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from ulp import assert_ulp_close

from lrcourse import optimizers, schedules
from lrcourse.descent import run
from lrcourse.schedules import (
    ReduceLROnPlateau,
    clamp,
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    linear,
    multistep,
    one_cycle,
    polynomial,
    sequential,
    step_decay,
    warmup,
)

DATA = json.loads((Path(__file__).parent / "data" / "schedules_reference.json").read_text())
# PyTorch updates most rates recursively; the closed forms agree to round-off. The
# zeros (cosine at T_max, polynomial and linear at the end) come out exact on both sides.
RTOL = 1e-12
# How far one step, sched(t) for an int t, may be from the same step of the curve
# sched(np.arange(T)), in ULPs. One step evaluates the formula on numbers, the curve on
# arrays; both call the same numpy functions, but numpy's pow of numbers is not always
# its pow of arrays (see ulp.py): gamma ** 2 is gamma * gamma for a number and AVX-512's
# pow for an array of exponents. Measured worst, numpy 2.4: 1 ULP with AVX-512
# (step_decay, multistep, exponential, exp_range), 0 without.
ONE_STEP_ULP = 4


def build(spec):
    """A schedule from its stored description ``[name, kwargs]``, through ``schedules.get``."""
    name, kwargs = spec
    kwargs = dict(kwargs)
    if "schedule" in kwargs:
        kwargs["schedule"] = build(kwargs["schedule"])
    if "schedules" in kwargs:
        kwargs["schedules"] = [build(s) for s in kwargs["schedules"]]
    return schedules.get(name, **kwargs)


def spec_id(spec):
    name, kwargs = spec
    args = ",".join(
        f"{k}={spec_id(v) if k == 'schedule' else '+'.join(spec_id(s) for s in v) if k == 'schedules' else v}"
        for k, v in kwargs.items()
    )
    return f"{name}({args})"


# ----------------------------------------------------------------- against torch


def test_reference_covers_every_schedule():
    names = {c["ours"][0] for c in DATA["cases"]} | {c["ours"][0] for c in DATA["plateau"]}
    # clamp has no torch counterpart; wsd's (SequentialLR compositions) are in wsd_reference.json
    assert names == set(schedules.SCHEDULES) - {"clamp", "wsd"}
    assert DATA["meta"]["torch_version"].startswith("2.13")


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: f"{spec_id(c['ours'])}-{c['optimizer']}")
def test_matches_torch(case):
    sched = build(case["ours"])
    t = np.arange(len(case["lrs"]))
    np.testing.assert_allclose(sched(t), case["lrs"], rtol=RTOL, atol=0)
    assert_ulp_close([sched(int(i)) for i in t], sched(t), ONE_STEP_ULP)
    if "momenta" in case:
        np.testing.assert_allclose(sched.momentum(t), case["momenta"], rtol=RTOL, atol=0)
        assert_ulp_close([sched.momentum(int(i)) for i in t], sched.momentum(t), ONE_STEP_ULP)
    else:
        assert sched.momentum is None


@pytest.mark.parametrize("case", DATA["plateau"], ids=lambda c: f"{spec_id(c['ours'])}-{c['metrics']}")
def test_plateau_matches_torch(case):
    plateau = build(case["ours"])
    lrs = [plateau.lr] + [plateau.step(m) for m in DATA["metrics"][case["metrics"]]]
    np.testing.assert_allclose(lrs, case["lrs"], rtol=RTOL, atol=0)
    assert plateau.history == lrs
    state = plateau.init()  # the pure pair gives the same rates
    for metric, expected in zip(DATA["metrics"][case["metrics"]], lrs[1:], strict=True):
        lr, state = plateau.update(metric, state)
        assert lr == expected


def test_plateau_cases_reduce_the_rate():
    # The metric sequences must make the scheduler act, or the comparison proves little.
    for case in DATA["plateau"]:
        assert len(set(case["lrs"])) >= 3, case["ours"]


# ----------------------------------------------------------------- the Schedule object


def test_scalar_and_array_calls():
    sched = cosine(lr=0.1, T_max=10)
    assert type(sched(3)) is float
    assert type(sched(np.int64(3))) is float
    assert sched(np.arange(20)).shape == (20,)
    assert sched(np.arange(12).reshape(3, 4)).shape == (3, 4)
    assert sched([0, 5, 10]).tolist() == [0.1, pytest.approx(0.05), 0.0]
    assert sched(np.array([], dtype=int)).shape == (0,)


def test_sweep_shapes():
    sched = cosine(lr=np.array([0.1, 0.2, 0.3]), T_max=10)
    assert sched.sweep_shape == (3,)
    assert sched(np.arange(20)).shape == (20, 3)
    assert sched(5).shape == (3,)
    grid = cosine(lr=np.array([[0.1], [0.2]]), T_max=10, eta_min=np.array([0.0, 0.01, 0.02]))
    assert grid(np.arange(7)).shape == (7, 2, 3)
    assert grid(np.arange(6).reshape(2, 3)).shape == (2, 3, 2, 3)
    # exact: the swept rates meet only + - * / (test_schedules_properties.py has the rest)
    np.testing.assert_array_equal(grid(4)[1, 2], cosine(0.2, 10, 0.02)(4))


def test_sweep_of_composites():
    parts = sequential([linear(np.array([0.1, 0.2]), 0.5, 1.0, 4), cosine(0.1, 10)], [4])
    assert parts(np.arange(9)).shape == (9, 2)
    np.testing.assert_array_equal(  # exact: linear is + - * / only
        parts(np.arange(9))[:, 1], sequential([linear(0.2, 0.5, 1.0, 4), cosine(0.1, 10)], [4])(np.arange(9))
    )
    ramp = warmup(cosine(0.1, 10), 5, power=np.array([1.0, 2.0, 3.0]))
    assert ramp(np.arange(12)).shape == (12, 3)
    bounded = clamp(cosine(np.array([0.1, 0.2]), 10), min_lr=np.array([[0.01], [0.05]]))
    assert bounded(np.arange(12)).shape == (12, 2, 2)
    assert bounded(3).shape == (2, 2)


def test_calls_are_pure():
    # A schedule is a function of t: calls in any order give the curve, and change nothing.
    for sched in [
        one_cycle(0.5, total_steps=700, three_phase=True),
        warmup(cosine(np.array([0.1, 0.2]), 500), 100, power=2.0),
        clamp(cosine_restarts(1.0, 20, 2), min_lr=np.array([[0.1], [0.3]])),
        sequential([cyclic(0.01, 0.1, 30, mode="triangular2"), exponential(0.1, 0.99)], [300]),
    ]:
        attributes = dict(vars(sched))
        curve = sched(np.arange(701))
        order = np.random.default_rng(1).permutation(701)
        one_at_a_time = np.array([sched(int(t)) for t in order])
        assert_ulp_close(one_at_a_time, curve[order], ONE_STEP_ULP, repr(sched))
        assert_ulp_close(sched(np.int64(700)), curve[700], ONE_STEP_ULP, repr(sched))
        grid = order[:700].reshape(7, 100)
        np.testing.assert_array_equal(sched(grid), curve[grid])
        assert vars(sched).keys() == attributes.keys()
        assert all(vars(sched)[k] is v for k, v in attributes.items())


def test_sweep_results_are_fresh_arrays():
    sched = cosine(lr=np.array([0.1, 0.2]), T_max=10)
    first = sched(1)
    first[:] = -1.0
    assert (sched(1) > 0).all()


def test_repr_and_name():
    sched = warmup(cosine(lr=0.1, T_max=100), warmup_steps=10)
    assert sched.name == "warmup"
    assert (
        repr(sched)
        == "warmup(schedule=cosine(lr=0.1, T_max=100, eta_min=0.0), warmup_steps=10, start_factor=0.0, power=1.0)"
    )
    assert repr(cosine(lr=np.array([0.1, 0.2]), T_max=5)) == "cosine(lr=[0.1, 0.2], T_max=5, eta_min=0.0)"
    assert "array(100,)" in repr(cosine(lr=np.linspace(0.1, 1, 100), T_max=5))
    assert repr(cyclic(0.01, 0.1, 5).momentum).endswith(".momentum")
    assert repr(optimizers.sgd(lr=cosine(0.1, 10))).startswith("sgd(lr=cosine")
    assert "ReduceLROnPlateau(lr=0.1" in repr(ReduceLROnPlateau(0.1))


def test_get_by_name():
    assert repr(schedules.get("cosine", lr=0.1, T_max=5)) == repr(cosine(0.1, 5))
    assert repr(schedules.get("CosineAnnealingLR", lr=0.1, T_max=5)) == repr(cosine(0.1, 5))
    assert isinstance(schedules.get("ReduceLROnPlateau", lr=0.1), ReduceLROnPlateau)
    with pytest.raises(ValueError, match="unknown schedule 'cosin'.*cosine_restarts.*one_cycle"):
        schedules.get("cosin", lr=0.1)


# ----------------------------------------------------------------- formulas


def test_closed_forms():
    t = np.arange(40)
    np.testing.assert_array_equal(constant(0.3)(t), np.full(40, 0.3))
    np.testing.assert_allclose(step_decay(1.0, 10, 0.5)(t), 0.5 ** (t // 10), rtol=1e-15)
    np.testing.assert_allclose(
        multistep(1.0, [5, 30], 0.1)(t), np.where(t < 5, 1, np.where(t < 30, 0.1, 0.01)), rtol=1e-15
    )
    np.testing.assert_allclose(exponential(2.0, 0.9)(t), 2.0 * 0.9**t, rtol=1e-15)
    np.testing.assert_allclose(polynomial(1.0, 20, 2.0)(t), np.clip(1 - t / 20, 0, None) ** 2, rtol=1e-15)
    np.testing.assert_allclose(linear(1.0, 0.0, 1.0, 20)(t), np.minimum(t / 20, 1.0), rtol=1e-15)


def test_cosine_continues_periodically_past_T_max():
    sched = cosine(lr=0.1, T_max=10, eta_min=0.01)
    t = np.arange(60)
    np.testing.assert_allclose(sched(t + 20), sched(t), rtol=1e-13)
    assert sched(10) == pytest.approx(0.01) and sched(20) == pytest.approx(0.1)


def test_cosine_restarts_cycle_lengths():
    sched = cosine_restarts(lr=1.0, T_0=3, T_mult=2)
    restarts = np.flatnonzero(sched(np.arange(100)) == 1.0)
    np.testing.assert_array_equal(restarts, [0, 3, 9, 21, 45, 93])
    big = cosine_restarts(lr=1.0, T_0=5, T_mult=3)(np.array([5 * (3**k - 1) // 2 for k in range(1, 20)]))
    np.testing.assert_array_equal(big, 1.0)  # the logarithm's rounding is corrected at every restart


def test_one_cycle_ends_and_limits():
    sched = one_cycle(max_lr=1.0, total_steps=100, div_factor=25.0, final_div_factor=1e4)
    assert sched(0) == pytest.approx(1 / 25) and sched(29) == pytest.approx(1.0)
    assert sched(99) == pytest.approx(1 / 25 / 1e4)
    assert sched.momentum(0) == pytest.approx(0.95) and sched.momentum(29) == pytest.approx(0.85)
    with pytest.raises(ValueError, match=r"t must be in \[0, 100\]"):
        sched(101)
    with pytest.raises(ValueError, match=r"t must be in \[0, 100\]"):
        sched(np.arange(102))
    with pytest.raises(ValueError, match=r"t must be in \[0, 100\]"):
        sched.momentum(101)


def test_warmup_formula():
    target = cosine(0.2, 50, 0.01)
    for power, start in [(1.0, 0.0), (2.0, 0.05), (0.5, 0.1)]:
        sched = warmup(target, 10, power=power, start_lr=start)
        t = np.arange(10)
        np.testing.assert_allclose(sched(t), start + (0.2 - start) * (t / 10) ** power, rtol=1e-15)
        np.testing.assert_array_equal(sched(np.arange(10, 80)), target(np.arange(70)))
    np.testing.assert_allclose(
        warmup(target, 4, start_factor=0.5)(np.arange(4)), [0.1, 0.125, 0.15, 0.175], rtol=1e-15
    )
    np.testing.assert_array_equal(warmup(target, 0)(np.arange(30)), target(np.arange(30)))


def test_sequential_restarts_each_part_at_its_own_step_zero():
    a, b, c = exponential(0.1, 0.5), constant(0.07), step_decay(0.3, 2)
    sched = sequential([a, b, c], milestones=[3, 5])
    np.testing.assert_array_equal(
        sched(np.arange(10)), np.concatenate([a(np.arange(3)), b(np.arange(2)), c(np.arange(5))])
    )
    assert sequential([a], [])(4) == a(4)


def test_composites_of_a_one_cycle_end_with_it():
    cycle = one_cycle(0.1, total_steps=10)
    for sched, last in [
        (sequential([constant(0.1), cycle], [5]), 15),
        (warmup(cycle, 3), 13),
        (clamp(cycle, max_lr=0.05), 10),
    ]:
        assert sched.max_t == last
        assert sched(0) >= 0 and sched(last) >= 0 and sched(np.arange(last + 1)).shape == (last + 1,)
        with pytest.raises(ValueError, match=rf"t must be in \[0, {last}\]"):
            sched(last + 1)
    assert sequential([cycle, constant(0.1)], [11]).max_t is None


def test_clamp():
    sched = clamp(exponential(1.0, 0.5), min_lr=0.1, max_lr=0.6)
    np.testing.assert_array_equal(sched(np.arange(6)), [0.6, 0.5, 0.25, 0.125, 0.1, 0.1])
    cyc = cyclic(0.01, 0.1, 5)
    assert clamp(cyc, max_lr=0.05).momentum is cyc.momentum
    np.testing.assert_array_equal(clamp(cosine(0.1, 10))(np.arange(30)), cosine(0.1, 10)(np.arange(30)))


def test_cyclic_custom_scale_fn():
    sched = cyclic(0.0, 1.0, 2, scale_fn=lambda c: 1.0 / c, scale_mode="cycle")
    np.testing.assert_allclose(sched(np.arange(9)), [0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0], atol=1e-15)
    iters = cyclic(0.0, 1.0, 2, scale_fn=lambda t: 0.5 + 0 * t, scale_mode="iterations")
    np.testing.assert_allclose(iters(np.arange(5)), [0, 0.25, 0.5, 0.25, 0], atol=1e-15)
    assert cyclic(0.01, 0.1, 5, cycle_momentum=False).momentum is None


# ----------------------------------------------------------------- ReduceLROnPlateau


def test_plateau_state():
    plateau = ReduceLROnPlateau(1.0, factor=0.5, patience=1)
    assert plateau(0) == plateau(123) == plateau.lr == 1.0
    rates = [plateau.step(m) for m in [3.0, 3.0, 3.0, 2.0, 2.0, 2.0]]
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert plateau.history == [1.0] + rates and plateau(7) == 0.25
    plateau.reset()
    assert plateau.lr == 1.0 and plateau.history == [1.0] and plateau.num_bad_epochs == 0


def test_plateau_nan_metric_is_not_an_improvement():
    plateau = ReduceLROnPlateau(1.0, patience=0)
    plateau.step(1.0)
    assert plateau.step(float("nan")) == pytest.approx(0.1)


def test_plateau_sweep():
    plateau = ReduceLROnPlateau(np.array([1.0, 0.5]), factor=0.5, patience=0)
    plateau.step(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(plateau.step(np.array([2.0, 0.5])), [0.5, 0.5])
    np.testing.assert_array_equal(plateau.step(3.0), [0.25, 0.25])  # one number for every run
    runs = ReduceLROnPlateau(np.full(3, 0.1), patience=0)  # one plateau per run, same settings
    runs.step(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(runs.step(np.array([2.0, 0.5, 1.0])), [0.01, 0.1, 0.01])


def test_plateau_shape_is_fixed_at_construction():
    one = ReduceLROnPlateau(0.1, patience=0)
    with pytest.raises(ValueError, match=r"sweep shape \(\) .* got shape \(3,\); .* np.full\(\(3,\), lr\)"):
        one.step(np.array([1.0, 1.0, 1.0]))
    assert one.sweep_shape == () and one.history == [0.1] and one.num_bad_epochs == 0
    two = ReduceLROnPlateau(np.array([0.1, 0.2]))
    for metric in (np.ones(4), np.ones((3, 2))):
        with pytest.raises(ValueError, match=r"sweep shape \(2,\)"):
            two.step(metric)
    assert two.sweep_shape == (2,) and two.state.lr.shape == (2,)
    with pytest.raises(
        ValueError, match=r"state must be a PlateauState of sweep shape \(2,\).* got sweep shape \(\)"
    ):
        two.update(1.0, one.init())
    with pytest.raises(ValueError, match="state must be a PlateauState.* got None"):
        two.update(1.0, None)


def test_plateau_init_update_are_pure():
    plateau = ReduceLROnPlateau(np.array([1.0, 0.5]), factor=0.5, patience=1, cooldown=1)
    metrics = [3.0, np.array([3.0, 2.0]), 3.0, 3.0, np.array([1.0, 3.0]), 3.0, 3.0, 3.0]
    state = start = plateau.init()
    rates = []
    for m in metrics:
        old, copies = state, [a.copy() for a in state]
        lr, state = plateau.update(m, state)
        rates.append(lr)
        for a, b in zip(old, copies, strict=True):  # update leaves the state it was given alone
            np.testing.assert_array_equal(a, b)
    for a, b in zip(start, plateau.init(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(plateau.history) == 1 and plateau.lr.tolist() == [1.0, 0.5]  # nothing was stepped
    stepped = [plateau.step(m) for m in metrics]
    np.testing.assert_array_equal(stepped, rates)
    for a, b in zip(plateau.state, state, strict=True):
        np.testing.assert_array_equal(a, b)
    # patience 1: cut at the 2nd bad step in a row; cooldown 1: the step after a cut is not counted
    np.testing.assert_array_equal(
        rates, [[1, 0.5], [1, 0.5], [0.5, 0.5], [0.5, 0.25]] + [[0.5, 0.25]] * 2 + [[0.25, 0.125]] * 2
    )


# ----------------------------------------------------------------- with the optimizers


def test_schedule_drives_an_optimizer():
    sched = warmup(cosine(0.05, 30), 5)
    grad = lambda x: x  # noqa: E731
    x, manual = np.array([1.0, -2.0]), np.array([1.0, -2.0])
    opt = optimizers.sgd(lr=sched)
    state = opt.init(x)
    for t in range(40):
        updates, state = opt.update(grad(x), state, x)
        x = optimizers.apply_updates(x, updates)
        manual = manual - sched(t) * grad(manual)
    np.testing.assert_allclose(x, manual, rtol=1e-14)


def test_cyclic_momentum_and_sweeps_with_the_optimizers():
    cyc = one_cycle(max_lr=np.array([0.01, 0.1, 1.0]), total_steps=50)
    opt = optimizers.sgd(lr=cyc, momentum=cyc.momentum)
    assert opt.sweep_shape == (3,)
    path = run(lambda x: x, x0=[1.0, 1.0], optimizer=opt, steps=50)
    assert path.shape == (51, 3, 2)
    adam = optimizers.adam(lr=cyclic(0.001, 0.01, 5), betas=(cyclic(0.001, 0.01, 5).momentum, 0.999))
    assert run(lambda x: x, x0=[1.0], optimizer=adam, steps=20).shape == (21, 1)

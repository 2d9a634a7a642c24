"""Properties every schedule keeps (bounds, monotone pieces, periods, sweeps) and its argument checks."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ulp import assert_ulp_close

from lrcourse.schedules import (
    ReduceLROnPlateau,
    clamp,
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    get,
    linear,
    multistep,
    one_cycle,
    polynomial,
    sequential,
    step_decay,
    warmup,
)

FAST = settings(max_examples=50, deadline=None)
rates = st.floats(1e-6, 10.0)
fractions = st.floats(0.01, 1.0)
lengths = st.integers(1, 60)
T = np.arange(400)


def within(values, low, high):
    """``low <= values <= high`` up to round-off."""
    slack = 1e-12 * max(abs(low), abs(high), 1e-300)
    return bool(np.all(values >= low - slack) and np.all(values <= high + slack))


def non_increasing(values, scale):
    return bool(np.all(np.diff(values) <= 1e-14 * scale))


# ----------------------------------------------------------------- bounds


@st.composite
def bounded_schedules(draw):
    """A schedule with the interval its rates must stay in."""
    kind = draw(st.sampled_from(["constant", "step", "multistep", "exp", "poly", "linear", "cos", "sgdr"]))
    lr = draw(rates)
    if kind == "constant":
        return constant(lr), lr, lr
    if kind == "step":
        return step_decay(lr, draw(lengths), draw(fractions)), 0.0, lr
    if kind == "multistep":
        marks = sorted(set(draw(st.lists(st.integers(1, 300), min_size=1, max_size=5))))
        return multistep(lr, marks, draw(fractions)), 0.0, lr
    if kind == "exp":
        return exponential(lr, draw(fractions)), 0.0, lr
    if kind == "poly":
        return polynomial(lr, draw(lengths), draw(st.floats(0.0, 4.0))), 0.0, lr
    if kind == "linear":
        f0, f1 = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
        return linear(lr, f0, f1, draw(lengths)), lr * min(f0, f1), lr * max(f0, f1)
    eta_min = draw(st.floats(0.0, 10.0))
    if kind == "cos":
        return cosine(lr, draw(lengths), eta_min), min(lr, eta_min), max(lr, eta_min)
    return (
        cosine_restarts(lr, draw(lengths), draw(st.integers(1, 3)), eta_min),
        min(lr, eta_min),
        max(lr, eta_min),
    )


@FAST
@given(bounded_schedules())
def test_decays_stay_within_bounds(case):
    sched, low, high = case
    assert within(sched(T), low, high)


@FAST
@given(bounded_schedules(), bounded_schedules(), st.integers(1, 200))
def test_composites_stay_within_bounds(a, b, switch):
    (sa, la, ha), (sb, lb, hb) = a, b
    assert within(sequential([sa, sb], [switch])(T), min(la, lb), max(ha, hb))
    assert within(warmup(sa, switch)(T), 0.0, ha)
    low, high = sorted([la, hb])
    assert within(clamp(sa, min_lr=low, max_lr=high)(T), low, high)


@FAST
@given(
    rates,
    rates,
    lengths,
    st.one_of(st.none(), lengths),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
)
def test_cyclic_within_bounds(lr1, lr2, up, down, mode):
    low, high = sorted([lr1, lr2])
    sched = cyclic(low, high, up, down, mode=mode, gamma=0.999, base_momentum=0.8, max_momentum=0.9)
    assert within(sched(T), low, high)
    assert within(sched.momentum(T), 0.8, 0.9)


@FAST
@given(
    rates,
    st.integers(20, 400),
    st.floats(0.1, 0.45),
    st.sampled_from(["cos", "linear"]),
    st.booleans(),
    st.floats(1.0, 100.0),
    st.floats(1.0, 1e4),
)
def test_one_cycle_within_bounds(max_lr, total, pct, strategy, three, div, final_div):
    sched = one_cycle(
        max_lr, total, pct, strategy, div_factor=div, final_div_factor=final_div, three_phase=three
    )
    t = np.arange(total)  # the last step, total_steps itself, overshoots the cosine slightly as in torch
    assert within(sched(t), max_lr / div / final_div, max_lr)
    assert within(sched.momentum(t), 0.85, 0.95)


# ----------------------------------------------------------------- monotone pieces


@FAST
@given(rates, fractions, lengths, st.floats(0.0, 4.0))
def test_decays_never_increase(lr, gamma, n, power):
    for sched in [step_decay(lr, n, gamma), exponential(lr, gamma), multistep(lr, [n, 2 * n, 3 * n], gamma)]:
        assert non_increasing(sched(T), lr)
    assert non_increasing(polynomial(lr, n, power)(T), lr)


@FAST
@given(rates, st.floats(0.0, 1.0), lengths)
def test_cosine_halves_are_monotone(lr, eta_fraction, T_max):
    sched = cosine(lr, T_max, lr * eta_fraction)
    down, up = sched(np.arange(T_max + 1)), sched(np.arange(T_max, 2 * T_max + 1))
    assert non_increasing(down, lr)
    assert non_increasing(-up, lr)
    restarts = cosine_restarts(lr, T_max, 2, lr * eta_fraction)(np.arange(7 * T_max))
    for a, b in [(0, T_max), (T_max, 3 * T_max), (3 * T_max, 7 * T_max)]:
        assert non_increasing(restarts[a:b], lr)


@FAST
@given(rates, st.integers(0, 100), st.floats(0.0, 1.0), st.floats(0.1, 4.0))
def test_warmup_never_decreases(lr, steps, start_factor, power):
    sched = warmup(cosine(lr, 50), steps, start_factor, power)
    ramp = sched(np.arange(steps + 1))
    assert non_increasing(-ramp, lr)
    assert ramp[-1] == lr
    assert ramp[0] == pytest.approx(start_factor * lr if steps else lr)


# ----------------------------------------------------------------- periods


@FAST
@given(rates, st.floats(0.0, 1.0), lengths)
def test_cosine_period_is_two_T_max(lr, eta_fraction, T_max):
    sched = cosine(lr, T_max, lr * eta_fraction)
    t = np.arange(3 * T_max)
    np.testing.assert_allclose(sched(t + 2 * T_max), sched(t), rtol=1e-12, atol=1e-13 * lr)
    # exact: both see the same steps since the restart (t % T_max), so the same cos arguments
    np.testing.assert_array_equal(cosine_restarts(lr, T_max)(t + T_max), cosine_restarts(lr, T_max)(t))


@FAST
@given(rates, rates, lengths, lengths)
def test_cyclic_period(lr1, lr2, up, down):
    low, high = sorted([lr1, lr2])
    sched = cyclic(low, high, up, down)
    t = np.arange(3 * (up + down))
    np.testing.assert_allclose(sched(t + up + down), sched(t), rtol=1e-12, atol=1e-13 * high)
    np.testing.assert_allclose(sched.momentum(t + up + down), sched.momentum(t), rtol=1e-12)
    assert sched(0) == low and sched(up) == pytest.approx(high)


# ----------------------------------------------------------------- sweeps


# How far a sweep may be from its members run one at a time, in ULPs. The steps are
# the same for every member, so cos and log see the same arguments in both, and the
# swept parameters enter through +, -, * and /, which round correctly on every CPU:
# no difference at all. Where a swept parameter goes through pow (gamma ** t,
# x ** power) the sweep calls numpy's pow on arrays, while one member may not:
# x ** 2.0 is x * x, x ** 0.5 is sqrt(x), and with AVX-512 numpy uses a pow of its
# own. Measured worst, numpy 2.2 to 2.5: 2 ULP with AVX-512 (polynomial and warmup
# with power 2), 0 without.
EXACT, POW = 0, 4


def sweep_cases(a, b, c):
    """Triples (sweep schedule, function of member i giving the single schedule, max ULPs apart)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    g = np.clip(c / 10, 0.01, 1.0)
    return [
        (cosine(a, 17, b), lambda i: cosine(a[i], 17, b[i]), EXACT),
        (step_decay(a, 7, g), lambda i: step_decay(a[i], 7, g[i]), POW),
        (exponential(a, g), lambda i: exponential(a[i], g[i]), POW),
        (polynomial(a, 50, c), lambda i: polynomial(a[i], 50, c[i]), POW),
        (cosine_restarts(a, 9, 2, b), lambda i: cosine_restarts(a[i], 9, 2, b[i]), EXACT),
        (
            cyclic(lo, hi, 6, 10, "exp_range", g),
            lambda i: cyclic(lo[i], hi[i], 6, 10, "exp_range", g[i]),
            POW,
        ),
        (one_cycle(a, 399, div_factor=c + 1), lambda i: one_cycle(a[i], 399, div_factor=c[i] + 1), EXACT),
        (
            warmup(cosine(a, 30), 12, power=c + 0.5),
            lambda i: warmup(cosine(a[i], 30), 12, power=c[i] + 0.5),
            POW,
        ),
        (
            sequential([linear(a, 0.1, 1.0, 5), exponential(b, g)], [20]),
            lambda i: sequential([linear(a[i], 0.1, 1.0, 5), exponential(b[i], g[i])], [20]),
            POW,
        ),
        (clamp(cosine(a, 40), min_lr=b), lambda i: clamp(cosine(a[i], 40), min_lr=b[i]), EXACT),
    ]


@FAST
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(*[st.lists(rates, min_size=n, max_size=n)] * 3)))
def test_sweep_equals_one_at_a_time(arrays):
    a, b, c = (np.array(x) for x in arrays)
    for sweep, single, max_ulp in sweep_cases(a, b, c):
        curves = sweep(T)
        assert curves.shape == (len(T), len(a))
        for i in range(len(a)):
            member = f"{sweep!r}, member {i}"
            assert_ulp_close(curves[:, i], single(i)(T), max_ulp, member)
            assert_ulp_close(sweep(37)[i], single(i)(37), max_ulp, member)
            if sweep.momentum is not None:
                assert_ulp_close(sweep.momentum(T)[:, i], single(i).momentum(T), max_ulp, member)


@FAST
@given(st.lists(rates, min_size=2, max_size=3), st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_sweeps_broadcast_like_numpy(lrs, etas):
    sched = cosine(np.array(lrs)[:, None], 25, np.array(etas))
    curves = sched(T)
    assert curves.shape == (len(T), len(lrs), len(etas))
    # exact: lr and eta_min only meet +, -, * and / (see EXACT above)
    np.testing.assert_array_equal(curves[:, -1, 2], cosine(lrs[-1], 25, etas[2])(T))


# ----------------------------------------------------------------- argument checks

BAD = [
    (lambda: constant(-0.1), "lr"),
    (lambda: constant(float("nan")), "lr"),
    (lambda: constant(float("inf")), "lr"),
    (lambda: constant("fast"), "lr"),
    (lambda: constant(np.array([0.1, -0.2])), "lr"),
    (lambda: step_decay(0.1, 0), "step_size"),
    (lambda: step_decay(0.1, 2.5), "step_size"),
    (lambda: step_decay(0.1, 5, gamma=0.0), "gamma"),
    (lambda: step_decay(0.1, 5, gamma=-0.5), "gamma"),
    (lambda: step_decay(0.1, 5, gamma=float("nan")), "gamma"),
    (lambda: multistep(0.1, [5, 3]), "milestones"),
    (lambda: multistep(0.1, [5, 5]), "milestones"),
    (lambda: multistep(0.1, []), "milestones"),
    (lambda: multistep(0.1, [0, 4]), "milestones"),
    (lambda: multistep(0.1, [1.5]), "milestones"),
    (lambda: multistep(0.1, 5), "milestones"),
    (lambda: multistep(0.1, [5], gamma=0), "gamma"),
    (lambda: exponential(0.1, 0.0), "gamma"),
    (lambda: exponential(-1.0, 0.9), "lr"),
    (lambda: polynomial(0.1, total_iters=0), "total_iters"),
    (lambda: polynomial(0.1, power=-1.0), "power"),
    (lambda: linear(0.1, start_factor=1.5), "start_factor"),
    (lambda: linear(0.1, end_factor=-0.1), "end_factor"),
    (lambda: linear(0.1, total_iters=0), "total_iters"),
    (lambda: cosine(0.1, T_max=0), "T_max"),
    (lambda: cosine(0.1, T_max=10.0), "T_max"),
    (lambda: cosine(0.1, T_max=10, eta_min=-0.01), "eta_min"),
    (lambda: cosine(np.ones(3), 5, eta_min=np.zeros(2)), "broadcast"),
    (lambda: cosine_restarts(0.1, T_0=0), "T_0"),
    (lambda: cosine_restarts(0.1, T_0=5, T_mult=0), "T_mult"),
    (lambda: cosine_restarts(0.1, T_0=5, T_mult=1.5), "T_mult"),
    (lambda: cosine_restarts(0.1, T_0=5, eta_min=float("nan")), "eta_min"),
    (lambda: cyclic(-0.1, 0.1), "base_lr"),
    (lambda: cyclic(0.1, 0.01), "max_lr"),
    (lambda: cyclic(np.array([0.01, 0.2]), 0.1), "max_lr"),
    (lambda: cyclic(0.01, 0.1, step_size_up=0), "step_size_up"),
    (lambda: cyclic(0.01, 0.1, step_size_down=0), "step_size_down"),
    (lambda: cyclic(0.01, 0.1, mode="triangle"), "mode"),
    (lambda: cyclic(0.01, 0.1, gamma=0.0), "gamma"),
    (lambda: cyclic(0.01, 0.1, base_momentum=1.5), "base_momentum"),
    (lambda: cyclic(0.01, 0.1, base_momentum=0.9, max_momentum=0.8), "max_momentum"),
    (lambda: cyclic(0.01, 0.1, scale_fn=3), "scale_fn"),
    (lambda: cyclic(0.01, 0.1, scale_fn=np.sqrt, scale_mode="epochs"), "scale_mode"),
    (lambda: one_cycle(-1.0, 100), "max_lr"),
    (lambda: one_cycle(0.1, 0), "total_steps"),
    (lambda: one_cycle(0.1, 100.0), "total_steps"),
    (lambda: one_cycle(0.1, 100, pct_start=0.0), "pct_start"),
    (lambda: one_cycle(0.1, 100, pct_start=1.0), "pct_start"),
    (lambda: one_cycle(0.1, 100, pct_start=1.2), "pct_start"),
    (lambda: one_cycle(0.1, 100, pct_start=np.array([0.2, 0.3])), "pct_start"),
    (lambda: one_cycle(0.1, 3, pct_start=0.3), "pct_start"),
    (lambda: one_cycle(0.1, 100, pct_start=0.6, three_phase=True), "pct_start"),
    (lambda: one_cycle(0.1, 100, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: one_cycle(0.1, 100, div_factor=0.0), "div_factor"),
    (lambda: one_cycle(0.1, 100, final_div_factor=-1.0), "final_div_factor"),
    (lambda: one_cycle(0.1, 100, base_momentum=0.99), "max_momentum"),
    (lambda: sequential([], []), "schedules"),
    (lambda: sequential(cosine(0.1, 5), []), "schedules"),
    (lambda: sequential([cosine(0.1, 5), 0.01], [5]), "schedules[1]"),
    (lambda: sequential([cosine(0.1, 5), constant(0.01)], []), "milestones"),
    (lambda: sequential([cosine(0.1, 5), constant(0.01), constant(0.001)], [8, 4]), "milestones"),
    (lambda: sequential([cosine(0.1, 5), constant(0.01)], [0]), "milestones"),
    (lambda: sequential([one_cycle(0.1, 10), constant(0.01)], [12]), "milestones"),
    (lambda: warmup(0.1, 5), "schedule"),
    (lambda: warmup(cosine(0.1, 5), -1), "warmup_steps"),
    (lambda: warmup(cosine(0.1, 5), 5.0), "warmup_steps"),
    (lambda: warmup(cosine(0.1, 5), 5, power=0.0), "power"),
    (lambda: warmup(cosine(0.1, 5), 5, start_factor=2.0), "start_factor"),
    (lambda: warmup(cosine(0.1, 5), 5, start_lr=0.5), "start_lr"),
    (lambda: warmup(cosine(0.1, 5), 5, start_lr=-0.5), "start_lr"),
    (lambda: warmup(cosine(0.1, 5), 5, start_factor=0.1, start_lr=0.01), "start_factor"),
    (lambda: clamp("cosine"), "schedule"),
    (lambda: clamp(cosine(0.1, 5), min_lr=-1.0), "min_lr"),
    (lambda: clamp(cosine(0.1, 5), min_lr=0.05, max_lr=0.01), "max_lr"),
    (lambda: ReduceLROnPlateau(-0.1), "lr"),
    (lambda: ReduceLROnPlateau(0.1, mode="mean"), "mode"),
    (lambda: ReduceLROnPlateau(0.1, factor=1.0), "factor"),
    (lambda: ReduceLROnPlateau(0.1, factor=0.0), "factor"),
    (lambda: ReduceLROnPlateau(0.1, patience=-1), "patience"),
    (lambda: ReduceLROnPlateau(0.1, patience=1.5), "patience"),
    (lambda: ReduceLROnPlateau(0.1, threshold=-1e-4), "threshold"),
    (lambda: ReduceLROnPlateau(0.1, threshold_mode="relative"), "threshold_mode"),
    (lambda: ReduceLROnPlateau(0.1, cooldown=-1), "cooldown"),
    (lambda: ReduceLROnPlateau(0.1, min_lr=-1.0), "min_lr"),
    (lambda: ReduceLROnPlateau(0.1, eps=-1.0), "eps"),
    (lambda: get("warmup_cosine"), "unknown schedule"),
    (lambda: cosine(0.1, 5)(-1), "t must be >= 0"),
    (lambda: cosine(0.1, 5)(np.array([3, -2])), "t must be >= 0"),
    (lambda: cosine(0.1, 5)(1.5), "t must be an integer"),
    (lambda: cosine(0.1, 5)(np.linspace(0, 1, 3)), "t must be an integer"),
    (lambda: cosine(0.1, 5)(True), "t must be an integer"),
    (lambda: cosine(0.1, 5)(None), "t must be an integer"),
    (lambda: one_cycle(0.1, 10)(11), "t must be in"),
    (lambda: sequential([constant(0.1), one_cycle(0.1, 10)], [5])(np.arange(20)), "t must be in"),
    (lambda: warmup(one_cycle(0.1, 10), 5)(16), "t must be in"),
]


@pytest.mark.parametrize(("make", "name"), BAD, ids=[f"{i}-{name}" for i, (_, name) in enumerate(BAD)])
def test_bad_arguments_name_the_parameter(make, name):
    with pytest.raises(ValueError) as err:
        make()
    assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", str(err.value)), str(err.value)


def test_messages_give_value_and_range():
    with pytest.raises(ValueError, match=r"gamma must be in \(0, inf\), got -0.5"):
        step_decay(0.1, 5, gamma=-0.5)
    with pytest.raises(ValueError, match=r"T_max must be an integer in \[1, inf\], got 0"):
        cosine(0.1, 0)
    with pytest.raises(ValueError, match=r"pct_start must be in \(0, 1\), got 1.2"):
        one_cycle(0.1, 100, pct_start=1.2)
    with pytest.raises(ValueError, match=r"max_lr must be >= base_lr, got base_lr=0.1, max_lr=0.01"):
        cyclic(0.1, 0.01)
    with pytest.raises(
        ValueError, match=r"mode must be one of 'triangular', 'triangular2', 'exp_range', got 'tri'"
    ):
        cyclic(0.01, 0.1, mode="tri")


@FAST
@given(
    st.floats(max_value=-1e-12, allow_infinity=False),
    st.sampled_from(["lr", "eta_min", "base_lr", "max_lr", "min_lr"]),
)
def test_any_negative_rate_is_refused(value, name):
    build = {
        "lr": lambda v: cosine(v, 10),
        "eta_min": lambda v: cosine(0.1, 10, v),
        "base_lr": lambda v: cyclic(v, 0.1),
        "max_lr": lambda v: one_cycle(v, 100),
        "min_lr": lambda v: ReduceLROnPlateau(0.1, min_lr=v),
    }[name]
    with pytest.raises(ValueError, match=f"^{name} must be in"):
        build(value)

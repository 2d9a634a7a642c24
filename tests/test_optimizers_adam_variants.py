"""NAdam, RAdam and Adamax against trajectories recorded from torch.optim (float64), and beyond.

The data comes from ``tests/reference/make_adam_variants_reference.py``; torch is not
needed here.
"""

import copy
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import CYCLES_MOMENTUM, assert_path_matches, case_id, kwargs_of, lrcourse_schedule, replay
from hypothesis import given, settings
from hypothesis import strategies as st

from lrcourse import objectives
from lrcourse.descent import run
from lrcourse.optimizers import adam
from lrcourse.optimizers.adam_variants import adamax, nadam, radam

DATA = json.loads((Path(__file__).parent / "data" / "adam_variants_reference.json").read_text())
OPTIMIZERS = {"nadam": nadam, "radam": radam, "adamax": adamax}
QUAD = objectives.quadratic(1.0, 10.0)
ROSEN = objectives.rosenbrock()


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_matches_torch(case):
    kwargs = kwargs_of(case)
    if case.get("scheduler"):  # the rates (and beta1) torch's scheduler set, step by step
        lrs, momenta = case["lrs"], case["momenta"]
        kwargs["lr"] = lambda t: lrs[t]
        if case["scheduler"][0] in CYCLES_MOMENTUM:
            kwargs["betas"] = (lambda t: momenta[t], kwargs.get("betas", (0.9, 0.999))[1])
    assert_path_matches(replay(case, OPTIMIZERS[case["optimizer"]](**kwargs)), case)


@pytest.mark.parametrize("case", [c for c in DATA["cases"] if c.get("scheduler")], ids=case_id)
def test_optimizer_driven_by_lrcourse_schedule_matches_torch(case):
    sched = lrcourse_schedule(case)
    kwargs = dict(kwargs_of(case), lr=sched)
    if sched.momentum is not None:
        kwargs["betas"] = (sched.momentum, kwargs.get("betas", (0.9, 0.999))[1])
    assert_path_matches(replay(case, OPTIMIZERS[case["optimizer"]](**kwargs)), case)


def test_reference_covers_every_option_of_every_optimizer():
    for name, make in OPTIMIZERS.items():
        cases = [c for c in DATA["cases"] if c["optimizer"] == name]
        for option, param in inspect.signature(make).parameters.items():
            values = [c["kwargs"].get(option, param.default) for c in cases]
            if isinstance(param.default, bool):
                assert {True, False} <= set(values), f"{name}({option}=...) needs both values"
            elif option == "betas":
                for i in (0, 1):
                    assert any(v[i] != param.default[i] for v in values), f"{name}: betas[{i}]"
            else:
                assert any(v != param.default for v in values), f"no case for {name}({option}=...)"
        assert {c["objective"] for c in cases} == {"quadratic", "rosenbrock", "tree"}
        assert any(c.get("scheduler") for c in cases), f"no scheduled case for {name}"
        assert any(c.get("scheduler", [""])[0] in CYCLES_MOMENTUM for c in cases), name
    assert all(len(c["path"]) - 1 >= 60 for c in DATA["cases"])


def first_rectified_step(beta2, steps):
    """The first 1-based step at which RAdam takes a rectified step (None if none)."""
    rho_inf = 2 / (1 - beta2) - 1
    for k in range(1, steps + 1):
        if rho_inf - 2 * k * beta2**k / (1 - beta2**k) > 5:
            return k
    return None


def test_reference_takes_radam_through_both_phases():
    firsts = {
        first_rectified_step(c["kwargs"].get("betas", (0.9, 0.999))[1], len(c["path"]) - 1)
        for c in DATA["cases"]
        if c["optimizer"] == "radam"
    }
    assert {6, 7, None} <= firsts  # beta2 = 0.999 (and 0.99, 0.95), 0.8, and 0.5 (never)
    assert first_rectified_step(0.999, 100) == 6


# ----------------------------------------------------------------- sweeps

FACTORIES = {
    "nadam": lambda **kw: nadam(**{"lr": 0.02, "weight_decay": 0.01, **kw}),
    "nadamw": lambda **kw: nadam(**{"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True, **kw}),
    "radam": lambda **kw: radam(**{"lr": 0.002, "weight_decay": 0.01, **kw}),
    "radamw": lambda **kw: radam(**{"lr": 0.002, "weight_decay": 0.1, "decoupled_weight_decay": True, **kw}),
    "adamax": lambda **kw: adamax(**{"lr": 0.02, "weight_decay": 0.01, **kw}),
}


def assert_sweep_is_its_runs(make, swept_kwargs, one_kwargs, objective=ROSEN, steps=30):
    """Member ``i`` of the sweep equals the run with value ``i`` alone, bit for bit."""
    x0 = [-1.5, 2.0]
    swept = run(objective.grad, x0, make(**swept_kwargs), steps)
    for index, kwargs in one_kwargs:
        np.testing.assert_array_equal(
            swept[(slice(None), *index)], run(objective.grad, x0, make(**kwargs), steps)
        )


@pytest.mark.parametrize("name", FACTORIES)
@settings(max_examples=10, deadline=None)
@given(lrs=st.lists(st.floats(1e-5, 0.05), min_size=1, max_size=5))
def test_sweep_of_rates_equals_runs_one_at_a_time_exactly(name, lrs):
    make = FACTORIES[name]
    assert_sweep_is_its_runs(
        make, {"lr": np.array(lrs)}, [((i,), {"lr": lr}) for i, lr in enumerate(lrs)], QUAD
    )


@pytest.mark.parametrize("name", FACTORIES)
def test_sweep_of_betas_equals_runs_one_at_a_time_exactly(name):
    # Exact although torch raises the betas to the step: the module computes those
    # powers in Python floats for every member (numpy's power may differ in the last bit).
    # beta2 = 0.5 never rectifies RAdam, 0.8 from step 7, 0.93 and 0.999 from step 6: at
    # step 6 the sweep takes both branches at once.
    beta1s, beta2s = [0.0, 0.3, 0.9, 0.93], [0.5, 0.8, 0.93, 0.999]
    swept = {"betas": (np.array(beta1s)[:, None], np.array(beta2s))}
    ones = [((i, j), {"betas": (b1, b2)}) for i, b1 in enumerate(beta1s) for j, b2 in enumerate(beta2s)]
    for objective in (QUAD, ROSEN):
        assert_sweep_is_its_runs(FACTORIES[name], swept, ones, objective, steps=60)


@pytest.mark.parametrize(
    "name, option, values",
    [
        ("nadam", "momentum_decay", [0.0, 4e-3, 0.1]),
        ("nadamw", "weight_decay", [0.0, 0.1, 0.5]),
        ("radam", "eps", [1e-8, 1e-3, 0.1]),
        ("radamw", "weight_decay", [0.0, 0.1, 0.5]),
        ("adamax", "eps", [1e-8, 1e-3, 0.1]),
        ("adamax", "weight_decay", [0.0, 0.1, 0.5]),
    ],
)
def test_sweep_of_other_hyperparameters_equals_runs_one_at_a_time_exactly(name, option, values):
    ones = [((i,), {option: v}) for i, v in enumerate(values)]
    assert_sweep_is_its_runs(FACTORIES[name], {option: np.array(values)}, ones)


def test_sweep_with_both_radam_phases_raises_no_floating_point_warning():
    opt = radam(lr=0.01, betas=(0.9, np.array([0.5, 0.6, 0.999])))  # rho_inf = 3, 4 and 1999
    p = np.zeros((3, 2))
    state = opt.init(p)
    with np.errstate(all="raise"):
        for _ in range(8):
            updates, state = opt.update(np.array([1.0, 0.0]) + p, state, p)
            p = p + updates
    assert np.isfinite(p).all()


# ----------------------------------------------------------------- what a learner is taught


def constant_gradient_steps(opt, g, steps):
    return constant_gradient_steps_from(opt, g, np.zeros_like(g), steps)


def constant_gradient_steps_from(opt, g, p, steps):
    """The updates of ``steps`` steps at the fixed point ``p`` with gradient ``g``, and the state."""
    state, out = opt.init(p), []
    for _ in range(steps):
        updates, state = opt.update(g, state, p)
        out.append(updates)
    return np.array(out), state


def test_radam_first_five_steps_are_sgd_with_bias_corrected_momentum():
    lr, beta1 = 0.1, 0.9
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(8, 3))
    opt = radam(lr=lr, betas=(beta1, 0.999))
    p = np.zeros(3)
    state, m = opt.init(p), np.zeros(3)
    for k, g in enumerate(grads, start=1):
        updates, state = opt.update(g, state, p)
        m = beta1 * m + (1 - beta1) * g
        momentum_step = -lr * m / (1 - beta1**k)
        if k <= 5:
            np.testing.assert_allclose(updates, momentum_step, rtol=1e-13)
        else:  # rectified: Adam's step times r_k, far shorter than the momentum step
            assert np.all(np.abs(updates) < 0.2 * np.abs(momentum_step))


def test_radam_steps_scale_with_the_gradient_until_rectified():
    g = np.array([0.3, -2.0])
    small, _ = constant_gradient_steps(radam(lr=0.1), g, 8)
    large, _ = constant_gradient_steps(radam(lr=0.1), 1000 * g, 8)
    np.testing.assert_allclose(large[:5], 1000 * small[:5], rtol=1e-13)  # momentum steps: like SGD
    np.testing.assert_allclose(large[5:], small[5:], rtol=1e-6)  # rectified steps: like Adam (up to eps)


@pytest.mark.parametrize("step, r", [(6, 0.02582), (100, 0.2153), (1000, 0.6453)])
def test_radam_rectification_grows_slowly_towards_one(step, r):
    # With a constant gradient, Adam's step is lr * sign(g): RAdam's is that times r_k.
    updates, _ = constant_gradient_steps(radam(lr=0.1), np.array([2.0, -0.5]), step)
    np.testing.assert_allclose(updates[-1], [-0.1 * r, 0.1 * r], rtol=1e-3)


def test_radam_with_small_beta2_never_rectifies():
    # beta2 <= 2/3: rho_inf <= 5, every step is a momentum step (0.6 gives rho_inf = 4 exactly).
    g = np.array([1.0, -3.0])
    for beta2 in (0.0, 0.5, 0.6):
        updates, _ = constant_gradient_steps(radam(lr=0.1, betas=(0.9, beta2)), g, 200)
        np.testing.assert_allclose(updates, np.broadcast_to(-0.1 * g, updates.shape), rtol=1e-12)


def test_adamax_first_step_has_magnitude_lr():
    opt = adamax(lr=0.1)
    p = np.array([1.0, -1.0])
    updates, _ = opt.update(np.array([3.0, -0.01]), opt.init(p), p)
    np.testing.assert_allclose(updates, [-0.1, 0.1], rtol=1e-5)


def test_adamax_steps_have_magnitude_lr_while_the_gradient_stays_the_same():
    updates, state = constant_gradient_steps(adamax(lr=0.1), np.array([3.0, -0.01]), 50)
    np.testing.assert_allclose(np.abs(updates), 0.1, rtol=1e-5)
    np.testing.assert_allclose(state["exp_inf"], [3.0 + 1e-8, 0.01 + 1e-8], rtol=1e-15)


def test_adamax_eps_is_a_floor_under_the_norm():
    updates, _ = constant_gradient_steps(adamax(lr=0.1, eps=1e-3), np.array([1e-5]), 10)
    np.testing.assert_allclose(updates, -0.1 * 1e-5 / (1e-5 + 1e-3), rtol=1e-12)


def test_adamax_norm_remembers_the_largest_recent_gradient():
    opt = adamax(lr=0.1, betas=(0.9, 0.5), eps=0.0)
    p = np.zeros(1)
    state = opt.init(p)
    for g in [8.0, 1.0, 1.0, 1.0]:
        _, state = opt.update(np.array([g]), state, p)
    np.testing.assert_array_equal(state["exp_inf"], [1.0])  # max(8 * 0.5**3, 1)


def dozat_mu(beta1, momentum_decay, k):
    return beta1 * (1 - 0.5 * 0.96 ** (k * momentum_decay))


@pytest.mark.parametrize("momentum_decay", [0.0, 4e-3, 0.1])
def test_nadam_keeps_the_product_of_its_warming_momentum(momentum_decay):
    _, state = constant_gradient_steps(nadam(momentum_decay=momentum_decay), np.ones(2), 20)
    expected = np.prod([dozat_mu(0.9, momentum_decay, k) for k in range(1, 21)])
    np.testing.assert_allclose(state["mu_product"], expected, rtol=1e-14)
    assert dozat_mu(0.9, 4e-3, 1) == pytest.approx(0.45, abs=1e-3)  # starts near beta1 / 2
    assert dozat_mu(0.9, 4e-3, 4245) == pytest.approx(0.75 * 0.9, abs=1e-5)  # slowly up


def test_nadam_without_momentum_is_adam_without_momentum():
    # beta1 = 0: no momentum to look ahead with; both divide g by the bias-corrected RMS.
    a = run(ROSEN.grad, [-1.5, 2.0], nadam(lr=0.01, betas=(0.0, 0.99)), 60)
    b = run(ROSEN.grad, [-1.5, 2.0], adam(lr=0.01, betas=(0.0, 0.99)), 60)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [nadam, radam])
def test_decoupled_weight_decay_shrinks_the_parameters_as_adamw(make):
    p, g = np.array([10.0, -4.0]), np.zeros(2)
    opt = make(lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    updates, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(updates, -0.1 * 0.5 * p, rtol=1e-15)


def test_l2_weight_decay_goes_through_the_moments():
    p, g = np.array([10.0, -4.0]), np.zeros(2)
    # NAdam divides the penalty's gradient by its RMS: a step of about lr, whatever p is ...
    updates, _ = constant_gradient_steps_from(nadam(lr=0.1, weight_decay=0.5), g, p, 1)
    np.testing.assert_allclose(np.abs(updates[0]), np.abs(updates[0, 0]), rtol=1e-8)
    # ... while RAdam's momentum phase takes it as SGD does: -lr * weight_decay * p.
    updates, _ = constant_gradient_steps_from(radam(lr=0.1, weight_decay=0.5), g, p, 1)
    np.testing.assert_allclose(updates[0], -0.1 * 0.5 * p, rtol=1e-15)


# ----------------------------------------------------------------- purity, names, errors


@pytest.mark.parametrize(
    "opt",
    [
        nadam(weight_decay=0.1),
        nadam(weight_decay=0.1, decoupled_weight_decay=True),
        radam(weight_decay=0.1, decoupled_weight_decay=True),
        adamax(weight_decay=0.1),
    ],
    ids=repr,
)
def test_updates_do_not_mutate_inputs(opt):
    p = {"w": np.ones((2, 2)), "b": [np.zeros(2)]}
    g = {"w": np.full((2, 2), 0.5), "b": [np.ones(2)]}
    state = opt.init(p)
    for _ in range(7):  # into RAdam's rectified phase
        _, state = opt.update(g, state, p)
    before = copy.deepcopy((p, g, state))
    opt.update(g, state, p)
    after = (p, g, state)
    np.testing.assert_equal(after, before)


def test_repr_and_state_names():
    assert repr(nadam(lr=0.1)).startswith("nadam(lr=0.1, beta1=0.9, beta2=0.999")
    assert "momentum_decay=0.004" in repr(nadam())
    assert "decoupled_weight_decay=True" in repr(radam(decoupled_weight_decay=True))
    assert "array(3,)" in repr(adamax(lr=np.ones(3)))
    p = np.zeros(2)
    assert set(nadam().init(p)) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert set(radam().init(p)) == {"step", "exp_avg", "exp_avg_sq"}
    assert set(adamax().init(p)) == {"step", "exp_avg", "exp_inf"}
    assert adamax(betas=(np.array([0.8, 0.9]), 0.99)).sweep_shape == (2,)


BAD = [
    (lambda: nadam(lr=-0.1), "lr must be in [0, inf), got -0.1"),
    (lambda: radam(lr=float("nan")), "lr must not be NaN"),
    (lambda: adamax(lr=np.array([0.1, -1.0])), "first bad element -1.0"),
    (lambda: radam(lr="fast"), "lr must be a number or an array of numbers, got 'fast'"),
    (lambda: radam(lr=lambda t: -1.0), "lr must be in [0, inf), got -1.0"),
    (lambda: nadam(betas=(1.0, 0.999)), "betas[0] must be in [0, 1), got 1.0"),
    (lambda: radam(betas=(0.9, -0.1)), "betas[1] must be in [0, 1), got -0.1"),
    (lambda: adamax(betas=(0.9, 1.0)), "betas[1] must be in [0, 1), got 1.0"),
    (lambda: adamax(betas=(lambda t: 1.5, 0.999)), "betas[0] must be in [0, 1), got 1.5"),
    (lambda: nadam(betas=0.9), "betas must be a pair (beta1, beta2), each in [0, 1), got 0.9"),
    (lambda: radam(betas=(0.9,)), "betas must be a pair"),
    (lambda: nadam(eps=-1e-8), "eps must be in [0, inf), got -1e-08"),
    (lambda: radam(eps=-1.0), "eps must be in [0, inf), got -1.0"),
    (lambda: adamax(eps=np.inf), "eps must be in [0, inf), got inf"),
    (lambda: nadam(weight_decay=-0.1), "weight_decay must be in [0, inf), got -0.1"),
    (lambda: radam(weight_decay=-0.1), "weight_decay must be in [0, inf), got -0.1"),
    (lambda: adamax(weight_decay=-0.1), "weight_decay must be in [0, inf), got -0.1"),
    (lambda: nadam(momentum_decay=-4e-3), "momentum_decay must be in [0, inf), got -0.004"),
    (lambda: nadam(momentum_decay=np.array([4e-3, np.nan])), "momentum_decay must not be NaN"),
    (lambda: nadam(decoupled_weight_decay="yes"), "decoupled_weight_decay must be True or False, got 'yes'"),
    (lambda: radam(decoupled_weight_decay=1), "decoupled_weight_decay must be True or False, got 1"),
    (lambda: run(QUAD.grad, np.zeros((4, 2)), radam(lr=np.ones(3)), 5), "does not line up"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)

"""Optimizer behaviour beyond the reference data: sweeps, divergence, validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrcourse import objectives, optimizers
from lrcourse.descent import descend, run
from lrcourse.optimizers import adagrad, adam, adamw, rmsprop, sgd

ROSEN = objectives.rosenbrock()
QUAD = objectives.quadratic(1.0, 10.0)

FACTORIES = {
    "sgd": lambda lr: sgd(lr=lr, momentum=0.9, nesterov=True),
    "sgd_damped": lambda lr: sgd(lr=lr, momentum=0.5, dampening=0.3, weight_decay=0.01),
    "adagrad": lambda lr: adagrad(lr=lr, lr_decay=0.01),
    "rmsprop": lambda lr: rmsprop(lr=lr, momentum=0.5, centered=True),
    "adam": lambda lr: adam(lr=lr, amsgrad=True, weight_decay=0.01),
    "adamw": lambda lr: adamw(lr=lr),
}


@pytest.mark.parametrize("name", FACTORIES)
@settings(max_examples=15, deadline=None)
@given(
    lrs=st.lists(st.floats(1e-5, 0.05), min_size=1, max_size=5),
    start=st.tuples(st.floats(-2, 2), st.floats(-1, 3)),
)
def test_sweep_equals_runs_one_at_a_time_exactly(name, lrs, start):
    # Bit for bit on every CPU: the swept rate meets only +, -, *, / and sqrt, which
    # round correctly everywhere, and the betas (raised to powers) are not swept.
    make = FACTORIES[name]
    swept = run(QUAD.grad, list(start), make(np.array(lrs)), 30)
    assert swept.shape == (31, len(lrs), 2)
    for i, lr in enumerate(lrs):
        single = run(QUAD.grad, list(start), make(lr), 30)
        np.testing.assert_array_equal(swept[:, i], single)


def test_sweep_over_two_hyperparameters_and_several_starts():
    lrs = np.array([0.001, 0.01, 0.1])[:, None]
    momenta = np.array([0.0, 0.5, 0.9, 0.99])
    starts = np.array([[-1.5, 2.0], [1.0, 1.0], [0.0, 0.0], [2.0, -1.0]])
    path = run(ROSEN.grad, starts, sgd(lr=lrs / 100, momentum=momenta), 10)
    assert path.shape == (11, 3, 4, 2)
    single = run(ROSEN.grad, starts[1], sgd(lr=0.1 / 100, momentum=0.5), 10)
    np.testing.assert_array_equal(path[:, 2, 1], single)  # exact, as above


def test_shared_start_is_broadcast_over_a_1000_rate_sweep():
    path = run(ROSEN.grad, [-1.5, 2.0], adam(lr=np.logspace(-4, 0, 1000)), 5)
    assert path.shape == (6, 1000, 2)
    np.testing.assert_array_equal(path[0], np.broadcast_to([-1.5, 2.0], (1000, 2)))


def test_quadratic_stability_limit_is_two_over_L():
    L = QUAD.hessian_max_eigenvalue
    result = descend(QUAD, [1.0, 1.0], sgd(lr=np.array([0.99, 1.01]) * 2 / L), 2000)
    assert result.diverged.tolist() == [False, True]
    assert result.final_loss[0] < 1e-6


def test_divergence_is_reported_not_raised():
    with np.errstate(all="raise"):  # descend must silence its own overflow
        result = descend(ROSEN, [-1.5, 2.0], sgd(lr=np.array([1e-4, 0.01, 1.0])), 100)
    assert result.diverged.tolist() == [False, True, True]
    assert 0 < result.diverged_at[1] and 0 < result.diverged_at[2] <= result.diverged_at[1]
    assert result.diverged_at[0] == -1
    t = result.diverged_at[2]
    assert np.isnan(result.losses[t:, 2]).all() and np.isfinite(result.losses[:t, 2]).all()
    assert np.isnan(result.path[t:, 2]).all()


def test_descend_on_scalar_batch():
    result = descend(QUAD, [1.0, 1.0], sgd(lr=0.05), 20)
    assert result.path.shape == (21, 2)
    assert result.losses.shape == (21,)
    assert result.diverged.shape == () and not result.diverged
    assert int(result.diverged_at) == -1


def test_first_sgd_momentum_step_uses_raw_gradient():
    # torch: buf = g on the first step, even with dampening.
    opt = sgd(lr=1.0, momentum=0.9, dampening=0.5)
    p = np.array([1.0])
    state = opt.init(p)
    updates, state = opt.update(np.array([2.0]), state, p)
    assert updates[0] == -2.0
    updates, state = opt.update(np.array([2.0]), state, p)
    assert updates[0] == -(0.9 * 2.0 + 0.5 * 2.0)


def test_adam_first_step_has_magnitude_lr():
    # bias correction makes the first step exactly lr * g/|g| (up to eps).
    opt = adam(lr=0.1)
    p = np.array([1.0, -1.0])
    updates, _ = opt.update(np.array([3.0, -0.01]), opt.init(p), p)
    np.testing.assert_allclose(updates, [-0.1, 0.1], rtol=1e-5)


def test_adamw_decays_parameters_but_adam_l2_goes_through_the_moments():
    p = np.array([10.0])
    g = np.array([0.0])
    u_w, _ = adamw(lr=0.1, weight_decay=0.5).update(g, adamw(lr=0.1).init(p), p)
    u_l2, _ = adam(lr=0.1, weight_decay=0.5).update(g, adam().init(p), p)
    np.testing.assert_allclose(u_w, -0.1 * 0.5 * 10.0)  # decoupled: lr * wd * p
    np.testing.assert_allclose(u_l2, -0.1, rtol=1e-6)  # L2 gradient normalised by Adam


def test_updates_do_not_mutate_inputs():
    p = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    g = {"w": np.ones((2, 2)), "b": np.ones(2)}
    for opt in [
        sgd(lr=0.1, momentum=0.9),
        adagrad(),
        rmsprop(momentum=0.1, centered=True),
        adam(amsgrad=True),
    ]:
        state = opt.init(p)
        before = {k: v.copy() for k, v in state.items() if k != "step"}
        opt.update(g, state, p)
        for k, v in before.items():
            for leaf in v:
                np.testing.assert_array_equal(state[k][leaf], v[leaf])
        np.testing.assert_array_equal(p["w"], 1.0)


def test_apply_updates_on_trees():
    out = optimizers.apply_updates(
        {"a": np.ones(2), "b": [np.zeros(1)]}, {"a": np.ones(2), "b": [np.ones(1)]}
    )
    np.testing.assert_array_equal(out["a"], [2.0, 2.0])
    np.testing.assert_array_equal(out["b"][0], [1.0])


def test_repr_names_hyperparameters():
    assert repr(sgd(lr=0.1, momentum=0.9)).startswith("sgd(lr=0.1, momentum=0.9")
    assert "array(3,)" in repr(adam(lr=np.ones(3)))


def test_adam_hyperparameters_are_the_first_of_adam_and_adamw():
    hp = optimizers.adam_hyperparameters(np.array([1e-3, 1e-2]), (0.8, 0.99), 1e-7)
    assert list(hp) == ["lr", "beta1", "beta2", "eps"]
    assert (hp["beta1"], hp["beta2"], hp["eps"]) == (0.8, 0.99, 1e-7)
    for make in (adam, adamw):
        built = make(lr=np.array([1e-3, 1e-2]), betas=(0.8, 0.99), eps=1e-7).hyperparams
        assert list(built)[:4] == list(hp) and built["beta2"] == hp["beta2"]
        np.testing.assert_array_equal(built["lr"], hp["lr"])
    with pytest.raises(ValueError, match="betas must be a pair"):
        optimizers.adam_hyperparameters(1e-3, (0.9,), 1e-8)


BAD = [
    (lambda: sgd(lr=-0.1), "lr must be in [0, inf)"),
    (lambda: sgd(lr=float("nan")), "lr must not be NaN"),
    (lambda: sgd(lr=np.array([0.1, -1.0])), "first bad element -1.0"),
    (lambda: sgd(lr="fast"), "lr must be a number"),
    (lambda: sgd(momentum=-0.5), "momentum must be in [0, inf)"),
    (lambda: sgd(dampening=2.0), "dampening must be in [0, 1]"),
    (lambda: sgd(nesterov=True), "nesterov=True needs momentum in (0, inf)"),
    (lambda: sgd(momentum=0.9, dampening=0.1, nesterov=True), "dampening == 0"),
    (lambda: sgd(weight_decay=-1), "weight_decay must be in [0, inf)"),
    (lambda: adagrad(lr_decay=-1), "lr_decay must be in [0, inf)"),
    (lambda: adagrad(initial_accumulator_value=-1), "initial_accumulator_value must be in"),
    (lambda: adagrad(eps=-1e-10), "eps must be in [0, inf)"),
    (lambda: rmsprop(alpha=1.5), "alpha must be in [0, 1]"),
    (lambda: rmsprop(momentum=-0.1), "momentum must be in [0, inf)"),
    (lambda: adam(betas=(1.0, 0.999)), "betas[0] must be in [0, 1)"),
    (lambda: adam(betas=(0.9, -0.1)), "betas[1] must be in [0, 1)"),
    (lambda: adam(betas=0.9), "betas must be a pair"),
    (lambda: adamw(weight_decay=-0.1), "weight_decay must be in [0, inf)"),
    (lambda: adam(lr=lambda t: -1.0), "lr must be in [0, inf)"),
    (lambda: adam(lr=np.ones(3), betas=(np.full(2, 0.9), 0.999)), "must broadcast together"),
    (lambda: run(QUAD.grad, [0.0, 0.0], sgd(), -1), "steps must be an integer in [0, inf]"),
    (lambda: run(QUAD.grad, [np.nan, 0.0], sgd(), 5), "x0 must not be NaN"),
    (lambda: run(QUAD.grad, np.zeros((4, 2)), sgd(lr=np.ones(3)), 5), "does not line up"),
    (
        lambda: descend(QUAD, [0.0, 0.0], sgd(), 5, divergence_factor=0),
        "divergence_factor must be in (0, inf)",
    ),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)

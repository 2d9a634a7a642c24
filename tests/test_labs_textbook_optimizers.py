"""Textbook forms of the update rules, against the PyTorch-exact optimizers they are compared with."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import objectives, optimizers, schedules
from lrcourse.descent import run
from lrcourse.labs import textbook_optimizers as tb

QUAD = objectives.quadratic(1.0, 10.0)
ROSEN = objectives.rosenbrock()


def _ones(x):
    return np.ones_like(x)


def test_heavy_ball_equals_pytorch_momentum_for_a_constant_rate():
    a = run(QUAD.grad, [1.5, 1.5], optimizers.sgd(lr=0.02, momentum=0.9), 200)
    b = run(QUAD.grad, [1.5, 1.5], tb.heavy_ball(lr=0.02, momentum=0.9), 200)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_heavy_ball_velocity_is_minus_lr_times_the_pytorch_buffer():
    x = np.array([1.0, -2.0])
    torch_like, hb = optimizers.sgd(lr=0.1, momentum=0.9), tb.heavy_ball(lr=0.1, momentum=0.9)
    s1, s2 = torch_like.init(x), hb.init(x)
    for _ in range(5):
        g = QUAD.grad(x)
        _, s1 = torch_like.update(g, s1, x)
        u, s2 = hb.update(g, s2, x)
        x = x + u
    np.testing.assert_allclose(s2["velocity"], -0.1 * s1["momentum_buffer"], rtol=1e-12)


def test_rate_inside_or_outside_differs_only_after_the_rate_changes():
    sched = schedules.step_decay(0.02, step_size=30, gamma=0.1)
    a = run(QUAD.grad, [1.5, 1.5], optimizers.sgd(lr=sched, momentum=0.9), 60)
    b = run(QUAD.grad, [1.5, 1.5], tb.heavy_ball(lr=sched, momentum=0.9), 60)
    gap = np.abs(a - b).max(axis=-1)
    assert gap[:31].max() < 1e-13
    assert gap[31:].max() > 0.1


def test_ema_momentum_first_step_is_one_minus_mu_of_pytorch_dampened_first_step():
    torch_path = run(_ones, [0.0], optimizers.sgd(lr=0.1, momentum=0.9, dampening=0.9), 3)
    ema_path = run(_ones, [0.0], tb.ema_momentum(lr=0.1, momentum=0.9), 3)
    np.testing.assert_allclose(np.diff(torch_path[:, 0]), [-0.1, -0.1, -0.1])
    np.testing.assert_allclose(np.diff(ema_path[:, 0]), [-0.01, -0.019, -0.0271])


def test_ema_momentum_equals_dampened_pytorch_after_the_first_buffer():
    # Started from the same buffer, both recursions are b <- mu b + (1 - mu) g.
    x = np.array([0.5, -0.3])
    torch_like, ema = optimizers.sgd(lr=0.05, momentum=0.8, dampening=0.8), tb.ema_momentum(0.05, 0.8)
    s1, s2 = torch_like.init(x), ema.init(x)
    g = QUAD.grad(x)
    _, s1 = torch_like.update(g, s1, x)
    s2 = {"step": 1, "average": s1["momentum_buffer"].copy()}
    for _ in range(4):
        g = QUAD.grad(x)
        u1, s1 = torch_like.update(g, s1, x)
        u2, s2 = ema.update(g, s2, x)
        np.testing.assert_allclose(u1, u2, rtol=1e-13)
        x = x + u1


@pytest.mark.parametrize(("mu", "lr"), [(0.5, 1e-3), (0.9, 1e-3), (0.99, 1e-4)])
def test_pytorch_nesterov_is_the_lookahead_form_after_a_change_of_variables(mu, lr):
    phi = run(ROSEN.grad, [-1.2, 1.0], optimizers.sgd(lr=lr, momentum=mu, nesterov=True), 300)
    theta, v = tb.nesterov_lookahead(ROSEN.grad, [-1.2, 1.0], lr, mu, 300)
    assert np.isfinite(phi).all()
    np.testing.assert_allclose(phi, theta + mu * v, rtol=0, atol=1e-12)
    assert np.abs(phi - theta).max() > 1e-3  # the two variables themselves differ


def test_nesterov_lookahead_follows_its_formula():
    lr, mu = 1e-3, 0.9
    theta, v = tb.nesterov_lookahead(ROSEN.grad, [-1.2, 1.0], lr, mu, 30)
    th, vel = np.array([-1.2, 1.0]), np.zeros(2)
    np.testing.assert_array_equal(theta[0], th)
    np.testing.assert_array_equal(v[0], vel)
    for t in range(30):
        vel = mu * vel - lr * ROSEN.grad(th + mu * vel)
        th = th + vel
        np.testing.assert_array_equal(theta[t + 1], th)  # the same arithmetic
        np.testing.assert_allclose(v[t + 1], vel, rtol=0, atol=1e-15)  # read off the path
    # a schedule for the rate: a constant one gives the same path
    again, _ = tb.nesterov_lookahead(ROSEN.grad, [-1.2, 1.0], schedules.constant(lr), mu, 30)
    np.testing.assert_array_equal(again, theta)


def test_nesterov_lookahead_sweeps_over_rates():
    lrs = np.array([1e-4, 1e-3, 2e-3])
    theta, v = tb.nesterov_lookahead(ROSEN.grad, [-1.2, 1.0], lrs, 0.9, 50)
    assert theta.shape == v.shape == (51, 3, 2)
    single, _ = tb.nesterov_lookahead(ROSEN.grad, [-1.2, 1.0], 1e-3, 0.9, 50)
    np.testing.assert_array_equal(theta[:, 1], single)  # exact: the rate meets only + - * /


def test_rmsprop_eps_inside_matches_pytorch_for_large_gradients_only():
    big = run(QUAD.grad, [1.5, 1.5], optimizers.rmsprop(lr=0.01), 50)
    big_in = run(QUAD.grad, [1.5, 1.5], tb.rmsprop_eps_inside(lr=0.01), 50)
    np.testing.assert_allclose(big, big_in, rtol=1e-6)

    def tiny(x):
        return np.full_like(x, 1e-6)

    out = run(tiny, [0.0], optimizers.rmsprop(lr=0.01), 1)[1, 0]
    inside = run(tiny, [0.0], tb.rmsprop_eps_inside(lr=0.01), 1)[1, 0]
    # v = 0.01 * 1e-12; outside: 1e-6 / (1e-7 + 1e-8); inside: 1e-6 / sqrt(1e-14 + 1e-8)
    assert out == pytest.approx(-0.01 * 1e-6 / (1e-7 + 1e-8))
    assert inside == pytest.approx(-0.01 * 1e-6 / np.sqrt(1e-14 + 1e-8))
    assert abs(inside) < abs(out) / 50


def test_adam_without_bias_correction_takes_longer_first_steps():
    path = run(_ones, [0.0], tb.adam_no_bias_correction(lr=1e-3), 10)
    steps = -np.diff(path[:, 0]) / 1e-3
    k = np.arange(1, 11)
    expected = (1 - 0.9**k) / (np.sqrt(1 - 0.999**k) + 1e-8)
    np.testing.assert_allclose(steps, expected, rtol=1e-6)
    assert steps[0] == pytest.approx(np.sqrt(10), rel=1e-6)
    corrected = -np.diff(run(_ones, [0.0], optimizers.adam(lr=1e-3), 10)[:, 0]) / 1e-3
    np.testing.assert_allclose(corrected, 1.0, rtol=1e-6)


def test_textbook_optimizers_sweep_like_the_pytorch_ones():
    lrs = np.array([1e-3, 1e-2])
    for make in (tb.heavy_ball, tb.ema_momentum, tb.rmsprop_eps_inside, tb.adam_no_bias_correction):
        swept = run(QUAD.grad, [1.0, 1.0], make(lr=lrs), 20)
        single = run(QUAD.grad, [1.0, 1.0], make(lr=1e-2), 20)
        # exact: the swept rate meets only +, -, *, / and sqrt, correctly rounded everywhere
        np.testing.assert_array_equal(swept[:, 1], single)


def test_textbook_optimizers_work_on_parameter_dicts():
    params = {"w": np.array([1.0, -1.0]), "b": np.array(0.5)}
    grads = {"w": np.array([0.2, 0.1]), "b": np.array(-0.3)}
    for opt in (
        tb.heavy_ball(0.1),
        tb.ema_momentum(0.1),
        tb.rmsprop_eps_inside(0.1),
        tb.adam_no_bias_correction(0.1),
    ):
        state = opt.init(params)
        updates, state = opt.update(grads, state, params)
        assert set(updates) == {"w", "b"} and updates["w"].shape == (2,)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="momentum"):
        tb.heavy_ball(lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="lr"):
        tb.ema_momentum(lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        tb.adam_no_bias_correction(betas=0.9)
    with pytest.raises(ValueError, match="steps"):
        tb.nesterov_lookahead(ROSEN.grad, [0.0, 0.0], 0.1, 0.9, -1)
    with pytest.raises(ValueError, match="momentum"):
        tb.nesterov_lookahead(ROSEN.grad, [0.0, 0.0], 0.1, 1.0, 5)

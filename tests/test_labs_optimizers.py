"""Measuring optimizers: steps to a threshold, stable ranges, step cost, the synthetic problems."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import data, models, objectives, optimizers, training
from lrcourse.descent import descend
from lrcourse.labs import optimizers as lab

QUAD = objectives.quadratic(1.0, 10.0)


def test_steps_to_threshold_counts_from_where_the_loss_stays_below():
    losses = np.array([[5.0, 5.0, np.nan], [2.0, 4.0, np.nan], [0.5, 3.0, np.nan], [0.1, 3.0, np.nan]])
    np.testing.assert_array_equal(lab.steps_to_threshold(losses, 1.0), [2.0, np.inf, np.inf])
    np.testing.assert_array_equal(lab.first_crossing(losses, 1.0), [2.0, np.inf, np.inf])
    assert lab.steps_to_threshold(np.array([0.5, 0.2]), 1.0) == 0.0
    assert lab.steps_to_threshold(np.array([2.0, 0.9, 1.0]), 1.0) == np.inf  # ends at the threshold
    for fn in (lab.steps_to_threshold, lab.first_crossing):
        with pytest.raises(ValueError, match="step axis"):
            fn(1.0, 0.5)


def test_an_oscillating_run_that_dips_below_and_comes_back_has_not_converged():
    # dips below 1 at step 1 and comes back above: never converged, whatever the dip
    assert lab.steps_to_threshold(np.array([2.0, 0.5, 3.0]), 1.0) == np.inf
    assert lab.first_crossing(np.array([2.0, 0.5, 3.0]), 1.0) == 1.0
    # dips at step 1, back above at step 3, below for good from step 4
    hover = np.array([4.0, 0.5, 0.8, 1.5, 0.9, 0.7, 0.6])
    assert lab.steps_to_threshold(hover, 1.0) == 4.0
    assert lab.first_crossing(hover, 1.0) == 1.0
    # a diverged run (NaN at the end) never counts, even after a dip
    assert lab.steps_to_threshold(np.array([2.0, 0.5, np.nan]), 1.0) == np.inf
    # the same in a sweep: only the rate that stays below converges
    t = np.arange(201.0)
    calm = 2.0 * 0.9**t
    bouncing = np.where(t % 2 == 0, 0.5, 1e-4)  # hovers: every other step below 1e-2
    sweep = lab.RateSweep(
        name="toy",
        lrs=np.array([0.1, 0.2]),
        losses=np.stack([calm, bouncing], axis=1),
        steps=t,
        diverged=np.array([False, False]),
        threshold=1e-2,
    )
    assert np.isfinite(lab.first_crossing(sweep.losses, 1e-2)).all()  # both dip below 1e-2
    assert sweep.converged.tolist() == [True, False]
    assert sweep.steps_to[0] == np.argmax(calm < 1e-2) and sweep.steps_to[1] == np.inf
    assert sweep.best_lr == 0.1 and sweep.stable_decades == 0.0


def test_oscillating_rmsprop_on_the_ravine_is_not_counted_as_converged():
    # at a constant rate RMSProp hovers around the minimum: many rates pass through
    # the threshold, and those count only if their loss stays below to the end
    ravine = objectives.quadratic(1.0, 100.0)
    lrs = np.geomspace(1e-3, 1.0, 31)
    sweep = lab.sweep_landscape(ravine, [-1.8, 0.6], optimizers.rmsprop, 300, lr=lrs, threshold=1e-6)
    touched = np.isfinite(lab.first_crossing(sweep.losses, 1e-6))
    assert touched.sum() > sweep.converged.sum() > 0
    assert np.all(sweep.final_loss[sweep.converged] < 1e-6)
    assert np.all(~(sweep.final_loss[touched & ~sweep.converged] < 1e-6))
    assert np.all(sweep.steps_to[sweep.converged] >= lab.first_crossing(sweep.losses, 1e-6)[sweep.converged])


def test_sweep_landscape_on_a_quadratic_agrees_with_the_stability_limit():
    lrs = np.geomspace(1e-3, 1.0, 61)
    sweep = lab.sweep_landscape(QUAD, [1.0, 1.0], optimizers.sgd, 3000, lr=lrs, threshold=1e-8, name="SGD")
    assert sweep.name == "SGD"
    low, high = sweep.stable_range
    assert high < 0.2 <= sweep.lrs[np.searchsorted(sweep.lrs, high) + 1]  # 2/L = 0.2
    assert sweep.diverging_from > 0.2
    assert 0.1 < sweep.best_lr < 0.2
    assert sweep.stable_decades == pytest.approx(np.log10(high / low))
    assert sweep.converged.sum() == np.isfinite(sweep.steps_to).sum()
    # the fastest rate's own run reaches the threshold at the reported step
    one = descend(QUAD, [1.0, 1.0], optimizers.sgd(lr=sweep.best_lr), 3000)
    assert np.all(one.losses[int(sweep.best_steps) :] < 1e-8)
    assert one.losses[int(sweep.best_steps) - 1] >= 1e-8
    assert "SGD: best lr" in sweep.summary()


def test_rate_sweep_without_any_converging_rate():
    lrs = np.array([1e-6, 2e-6])
    sweep = lab.sweep_landscape(QUAD, [1.0, 1.0], optimizers.sgd, 10, lr=lrs, threshold=1e-8)
    assert sweep.best_index is None and np.isnan(sweep.best_lr) and sweep.best_steps == np.inf
    assert sweep.stable_range is None and np.isnan(sweep.stable_decades)
    assert np.isnan(sweep.diverging_from)
    assert "never" in sweep.summary() and "none" in sweep.summary()


def test_nudged_starts_and_sweep_starts():
    starts = lab.nudged_starts([1.0, -2.0], 3, size=1e-6, seed=1)
    assert starts.shape == (4, 2)
    np.testing.assert_array_equal(starts[0], [1.0, -2.0])
    assert np.all(np.abs(starts[1:] / starts[0] - 1) <= 1e-6) and len(np.unique(starts[:, 0])) == 4
    lrs = np.geomspace(1e-2, 0.3, 12)
    sweeps = lab.sweep_starts(QUAD, starts, optimizers.sgd, 200, lr=lrs, threshold=1e-6, name="SGD")
    assert len(sweeps) == 4 and all(s.name == "SGD" for s in sweeps)
    for start, sweep in zip(starts, sweeps, strict=True):
        alone = lab.sweep_landscape(QUAD, start, optimizers.sgd, 200, lr=lrs, threshold=1e-6)
        np.testing.assert_array_equal(sweep.steps_to, alone.steps_to)
        np.testing.assert_array_equal(sweep.losses, alone.losses)
    # gradient descent on a quadratic does not hang on the last digits of the start
    assert len({s.best_steps for s in sweeps}) == 1
    with pytest.raises(ValueError, match="shape"):
        lab.sweep_starts(QUAD, [1.0, 1.0], optimizers.sgd, 10, lr=lrs, threshold=1e-3)
    with pytest.raises(ValueError, match="one starting point"):
        lab.sweep_landscape(QUAD, [[1.0, 1.0]], optimizers.sgd, 10, lr=lrs, threshold=1e-3)
    with pytest.raises(ValueError, match="size"):
        lab.nudged_starts([1.0, 1.0], 2, size=0.1)


def test_longest_run_picks_the_widest_band():
    assert lab._longest_run(np.array([1, 0, 1, 1, 1, 0, 1, 1], dtype=bool)) == (2, 5)
    assert lab._longest_run(np.array([0, 0], dtype=bool)) is None
    assert lab._longest_run(np.array([0, 1], dtype=bool)) == (1, 2)


def test_sweep_arguments_are_checked():
    with pytest.raises(ValueError, match="increasing"):
        lab.sweep_landscape(QUAD, [1.0, 1.0], optimizers.sgd, 10, lr=np.array([0.1, 0.01]), threshold=1e-3)
    with pytest.raises(ValueError, match="constructor"):
        lab.sweep_landscape(
            QUAD, [1.0, 1.0], optimizers.sgd(lr=0.1), 10, lr=np.array([0.1, 0.2]), threshold=1e-3
        )


@pytest.fixture(scope="module")
def digits():
    X, y = data.load_digits()
    split, _ = data.standardize(data.train_val_test_split(X, y, 0.2, 0.2, seed=0))
    return split


def test_rate_sweep_reads_a_fit_sweep(digits):
    model = models.SoftmaxRegression(64, 10)
    train = (digits.X_train, digits.y_train)
    lrs = np.array([0.01, 0.1, 1.0])
    _, history = training.fit(model, train, optimizers.adagrad, 2, 36, lr=lrs, record=6)
    sweep = lab.rate_sweep(history, lrs, 0.5, name="AdaGrad")
    assert sweep.name == "AdaGrad" and sweep.losses.shape == (11, 3)
    np.testing.assert_array_equal(sweep.steps, np.arange(0, 61, 6))
    for i, lr in enumerate(lrs):  # every rate is its own fit, evaluated every 6 updates
        _, one = training.fit(model, train, optimizers.adagrad(lr=float(lr)), 2, 36, record=6)
        np.testing.assert_allclose(sweep.losses[:, i], one.train_loss, rtol=1e-10)
        above = np.flatnonzero(~(one.train_loss < 0.5))  # the loss stays below after the last of these
        if len(above) and above[-1] == len(one.train_loss) - 1:
            assert sweep.steps_to[i] == np.inf
        else:
            after = above[-1] + 1 if len(above) else 0
            assert sweep.steps_to[i] == one.eval_updates[after]
    assert 0 < sweep.best_steps < np.inf and sweep.best_steps % 6 == 0
    assert sweep.best_steps == sweep.steps_to[sweep.best_index]
    with pytest.raises(ValueError, match="one run per rate"):
        lab.rate_sweep(history, lrs[:2], 0.5)
    with pytest.raises(ValueError, match="increasing"):
        lab.rate_sweep(history, lrs[::-1], 0.5)


def test_rate_sweep_marks_divergence_by_the_rule_of_fit(digits):
    model = models.MLP(64, hidden=(16,), n_classes=10)
    lrs = np.array([0.05, 50.0])
    _, history = training.fit(model, (digits.X_train, digits.y_train), optimizers.sgd, 1, 36, lr=lrs)
    sweep = lab.rate_sweep(history, lrs, 0.5)
    assert sweep.diverged.tolist() == [False, True] and sweep.diverging_from == 50.0
    assert np.isnan(sweep.final_loss[1]) and np.isfinite(sweep.final_loss[0])


def test_state_arrays_per_optimizer():
    params = {"w": np.zeros(5), "b": np.zeros(())}
    counts = {
        "sgd": lab.count_state_arrays(optimizers.sgd(lr=0.1), params),
        "momentum": lab.count_state_arrays(optimizers.sgd(lr=0.1, momentum=0.9), params),
        "adagrad": lab.count_state_arrays(optimizers.adagrad(lr=0.1), params),
        "rmsprop": lab.count_state_arrays(optimizers.rmsprop(lr=0.1), params),
        "adam": lab.count_state_arrays(optimizers.adam(lr=0.1), params),
        "adamw": lab.count_state_arrays(optimizers.adamw(lr=0.1), params),
        "amsgrad": lab.count_state_arrays(optimizers.adam(lr=0.1, amsgrad=True), params),
    }
    assert counts == {
        "sgd": 0,
        "momentum": 1,
        "adagrad": 1,
        "rmsprop": 1,
        "adam": 2,
        "adamw": 2,
        "amsgrad": 3,
    }


def test_step_cost_reports_time_and_memory():
    cost = lab.step_cost(optimizers.adam, n_params=1000, repeats=3)
    assert cost["state_arrays"] == 2 and cost["state_bytes"] == 2 * 1000 * 8
    assert cost["ms"] > 0


def test_rotated_quadratic_gradient_and_curvature():
    f = lab.rotated_quadratic(1.0, 50.0, 30.0)
    x = np.array([[0.3, -0.7], [1.2, 0.4]])
    h = 1e-6
    num = np.stack(
        [(f.value(x + h * e) - f.value(x - h * e)) / (2 * h) for e in np.eye(2)],
        axis=-1,
    )
    np.testing.assert_allclose(f.grad(x), num, rtol=1e-6)
    H = np.stack([(f.grad(np.eye(2)[i] * h) - f.grad(-np.eye(2)[i] * h)) / (2 * h) for i in range(2)])
    np.testing.assert_allclose(np.linalg.eigvalsh((H + H.T) / 2), [1.0, 50.0], rtol=1e-6)
    assert f.hessian_max_eigenvalue == 50.0
    aligned = lab.rotated_quadratic(1.0, 50.0, 0.0)
    np.testing.assert_allclose(aligned.value(x), objectives.quadratic(1.0, 50.0).value(x))


def test_rotation_invariant_methods_follow_the_turned_path():
    f, g = objectives.quadratic(1.0, 50.0), lab.rotated_quadratic(1.0, 50.0, 30.0)
    start = np.array([-1.5, 1.0])
    turned = lab.rotate(start, 30.0)
    np.testing.assert_allclose(g.value(turned), f.value(start), rtol=1e-12)
    for opt in (optimizers.sgd(lr=0.02), optimizers.sgd(lr=0.01, momentum=0.9)):
        a = descend(f, start, opt, 100)
        b = descend(g, turned, opt, 100)
        np.testing.assert_allclose(b.losses, a.losses, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(b.path, lab.rotate(a.path, 30.0), atol=1e-12)
    a = descend(f, start, optimizers.adam(lr=0.01), 100)
    b = descend(g, turned, optimizers.adam(lr=0.01), 100)
    assert abs(a.final_loss - b.final_loss) > 0.1  # Adam depends on the axes
    with pytest.raises(ValueError, match="shape"):
        lab.rotate([1.0, 2.0, 3.0], 10.0)


def test_sparse_classification_has_the_requested_frequencies():
    X, y, rates = lab.make_sparse_classification(n_samples=20000, n_features=6, seed=1)
    np.testing.assert_allclose(rates, np.geomspace(0.5, 0.005, 6))
    np.testing.assert_allclose(X.mean(axis=0), rates, rtol=0.2, atol=0.002)
    assert set(np.unique(X)) <= {0.0, 1.0} and set(np.unique(y)) == {0, 1}
    again = lab.make_sparse_classification(n_samples=20000, n_features=6, seed=1)
    np.testing.assert_array_equal(X, again[0])
    with pytest.raises(ValueError, match="min_rate"):
        lab.make_sparse_classification(max_rate=0.1, min_rate=0.2)


def test_sparse_classification_jitter_keeps_pattern_and_labels():
    X, y, _ = lab.make_sparse_classification(n_samples=5000, n_features=6, seed=2)
    Xj, yj, _ = lab.make_sparse_classification(n_samples=5000, n_features=6, jitter=0.1, seed=2)
    np.testing.assert_array_equal(yj, y)
    np.testing.assert_array_equal(Xj > 0, X > 0)
    present = Xj[Xj > 0]
    assert present.min() >= 0.9 and present.max() <= 1.1 and len(np.unique(present)) == len(present)
    with pytest.raises(ValueError, match="jitter"):
        lab.make_sparse_classification(jitter=1.0)


def test_decay_under_noise_separates_adam_l2_from_adamw():
    scales = np.array([10.0, 0.01])
    l2 = lab.decay_under_noise(optimizers.adam(lr=1e-3, weight_decay=0.1), scales, steps=1000)
    decoupled = lab.decay_under_noise(optimizers.adamw(lr=1e-3, weight_decay=0.1), scales, steps=1000)
    assert l2.shape == decoupled.shape == (1001, 2)
    # AdamW: both shrink by about (1 - lr * wd) per step, whatever their gradients
    np.testing.assert_allclose(decoupled[-1], (1 - 1e-4) ** 1000, atol=0.02)
    # Adam + L2: the parameter with large gradients hardly decays, the quiet one collapses
    assert l2[-1, 0] > 0.98 and l2[-1, 1] < 0.3
    none = lab.decay_under_noise(optimizers.adam(lr=1e-3), scales, steps=200)
    np.testing.assert_allclose(none[-1], 1.0, atol=0.02)
    with pytest.raises(ValueError, match="Optimizer"):
        lab.decay_under_noise(optimizers.adam, scales)
    with pytest.raises(ValueError, match="steps"):
        lab.decay_under_noise(optimizers.adamw(lr=1e-3), scales, steps=0)


def test_decay_under_noise_is_the_plain_noise_loop():
    """fit with the linear-loss model makes exactly the updates of a loop over noise draws."""
    scales, opt = np.array([1.0, 0.1, 0.0]), optimizers.adam(lr=1e-2, weight_decay=0.1)
    rng = np.random.default_rng(3)
    theta = np.ones((5, 3))
    state, means = opt.init(theta), [theta.mean(axis=0)]
    for _ in range(50):
        updates, state = opt.update(scales * rng.standard_normal(theta.shape), state, theta)
        theta = theta + updates
        means.append(theta.mean(axis=0))
    got = lab.decay_under_noise(opt, scales, steps=50, n_runs=5, seed=3)
    np.testing.assert_array_equal(got, np.array(means))

"""Chapter 3's lab: batch-size sweeps through fit, wall-clock time, gradient noise, SGD on a line."""

import functools
from dataclasses import replace

import numpy as np
import pytest

from lrcourse import data, models, training
from lrcourse.labs import batch_size as bs
from lrcourse.optimizers import sgd


@pytest.fixture(scope="module")
def split():
    X, y = data.load_digits()
    parts = data.train_val_test_split(X[:300], y[:300], val_fraction=0.2, test_fraction=0.0, seed=0)
    return data.standardize(parts)[0]


def test_linear_scaling_rule():
    assert bs.linear_scaling_rule(0.1, 32, 256) == pytest.approx(0.8)
    np.testing.assert_allclose(bs.linear_scaling_rule(0.01, 2, np.array([2, 4, 64])), [0.01, 0.02, 0.32])
    with pytest.raises(ValueError, match="batch_size"):
        bs.linear_scaling_rule(0.1, 32, 0)


# ----------------------------------------------------------------- the sweep


def test_stack_seeds():
    model = models.MLP(64, hidden=(8,), n_classes=10)
    params = bs.stack_seeds(model, (3, 5), 4)
    for key, value in model.init(0).items():
        assert params[key].shape == (2, 4) + value.shape
    for s, seed in enumerate((3, 5)):
        for j in range(4):
            np.testing.assert_array_equal(params["W1"][s, j], model.init(seed)["W1"])


def test_sweep_matches_fit_run_by_run(split):
    model = models.MLP(64, hidden=(8,), n_classes=10)
    lrs = np.array([0.01, 0.1])
    _, sweep = bs.sweep_batch_sizes(model, split, sgd, 3, [16, 240], lr=lrs, seed=(0, 1), shuffle_seed=5)
    assert sweep.sweep_shape == (2, 2, 2)
    assert sweep.train_loss.shape == (4, 2, 2, 2)
    np.testing.assert_array_equal(sweep.updates_per_epoch[:, 0, 0], [15, 1])
    for k, b in enumerate([16, 240]):
        for s, seed in enumerate((0, 1)):
            for j, lr in enumerate(lrs):
                # each seed its own initialisation, one shuffle seed for all
                params = model.init(seed)
                _, h = training.fit(model, split, sgd(lr=lr), 3, b, params=params, seed=5)
                np.testing.assert_allclose(sweep.train_loss[:, k, s, j], h.train_loss, rtol=1e-9)
                np.testing.assert_allclose(sweep.val_loss[:, k, s, j], h.val_loss, rtol=1e-9)
                np.testing.assert_allclose(sweep.val_accuracy[:, k, s, j], h.val_accuracy)
    assert not sweep.diverged.any()


def test_one_seed_keeps_the_seed_axis(split):
    model = models.SoftmaxRegression(64, 10)
    lrs = np.array([0.01, 0.1])
    _, one = bs.sweep_batch_sizes(model, split, sgd, 2, [32], lr=lrs, seed=3)
    _, listed = bs.sweep_batch_sizes(model, split, sgd, 2, [32], lr=lrs, seed=[3])
    assert one.sweep_shape == listed.sweep_shape == (1, 1, 2)
    np.testing.assert_array_equal(one.val_loss, listed.val_loss)
    _, h = training.fit(model, split, sgd(lr=0.1), 2, 32, params=model.init(3), seed=0)
    np.testing.assert_allclose(one.val_loss[:, 0, 0, 1], h.val_loss, rtol=1e-9)


def test_sweep_marks_divergence_and_tuned_skips_it(split):
    model = models.SoftmaxRegression(64, 10)
    lrs = np.array([0.03, 0.3, 300.0])
    _, sweep = bs.sweep_batch_sizes(model, split, sgd, 2, [8], lr=lrs, divergence_factor=3.0)
    assert sweep.diverged[0, 0].tolist() == [False, False, True]
    assert np.isnan(sweep.train_loss[-1, 0, 0, 2])
    assert np.isfinite(sweep.train_loss[0, 0, 0, 2])  # before training every run is fine
    best = bs.tuned(sweep, lrs, "train_loss")
    assert best.best_lr[0] in (0.03, 0.3)
    best = bs.tuned(sweep, lrs, "val_accuracy")
    assert 0.5 < best.value[0] <= 1.0
    assert best.per_seed.shape == (1, 1)


@pytest.fixture(scope="module")
def small_sweep(split):
    """A sweep of shape (2 batch sizes, 2 seeds, 3 rates), evaluated after epochs 1 and 2."""
    model = models.SoftmaxRegression(64, 10)
    lrs = np.array([0.1, 1.0, 10.0])
    return lrs, bs.sweep_batch_sizes(model, split, sgd, 2, [120, 240], lr=lrs, seed=(0, 1))[1]


def test_tuned_picks_best_mean_and_flags_edges(small_sweep):
    lrs, sweep = small_sweep
    acc = np.zeros((3, 2, 2, 3))
    acc[2, 0] = [[0.5, 0.9, 0.7], [0.6, 0.8, 0.9]]  # means 0.55, 0.85, 0.8 -> index 1
    acc[2, 1] = [[0.9, 0.1, 0.1], [0.8, 0.2, 0.1]]  # index 0, at the edge
    finite = np.zeros_like(acc)
    made_up = replace(sweep, train_loss=1 - acc, val_loss=finite, val_accuracy=acc)
    t = bs.tuned(made_up, lrs)
    assert t.epoch == 2
    np.testing.assert_array_equal(t.batch_sizes, [120, 240])
    np.testing.assert_array_equal(t.best_index, [1, 0])
    np.testing.assert_allclose(t.best_lr, [1.0, 0.1])
    np.testing.assert_allclose(t.value, [0.85, 0.85])
    np.testing.assert_allclose(t.std, [0.1 / np.sqrt(2), 0.1 / np.sqrt(2)])  # ddof=1
    # the seeds of rate 2 (0.7, 0.9) overlap the best's (0.9, 0.8); those of rate 0 do not
    np.testing.assert_array_equal(t.near, [[False, True, True], [True, False, False]])
    np.testing.assert_array_equal(t.at_edge, [False, True])
    np.testing.assert_array_equal(bs.tuned(made_up, lrs, "train_loss").best_index, [1, 0])
    # a run whose loss is not finite at that evaluation rules its rate out, for every seed
    failed = made_up.train_loss.copy()
    failed[2, 0, 1, 1] = np.inf
    assert bs.tuned(replace(made_up, train_loss=failed), lrs).best_index[0] == 2


def test_tuned_reads_the_evaluated_epochs(split):
    model = models.SoftmaxRegression(64, 10)
    lrs = np.array([0.05, 0.2])
    _, full = bs.sweep_batch_sizes(model, split, sgd, 4, [32], lr=lrs, seed=(0, 1))
    _, some = bs.sweep_batch_sizes(model, split, sgd, 4, [32], lr=lrs, seed=(0, 1), record=[2])
    np.testing.assert_array_equal(some.eval_updates[:, 0, 0, 0], [0, 16, 32])
    np.testing.assert_array_equal(some.val_accuracy, full.val_accuracy[[0, 2, 4]])
    for epoch in (2, 4):
        a, b = bs.tuned(some, lrs, epoch=epoch), bs.tuned(full, lrs, epoch=epoch)
        np.testing.assert_array_equal(a.best_lr, b.best_lr)
        np.testing.assert_array_equal(a.value, b.value)
    assert bs.tuned(full, lrs, epoch=1).epoch == 1
    with pytest.raises(ValueError, match="not evaluated"):
        bs.tuned(some, lrs, epoch=1)
    with pytest.raises(ValueError, match="rates"):
        bs.tuned(some, lrs[:1])


def test_sweep_with_momentum_constructor_and_no_validation(split):
    model = models.SoftmaxRegression(64, 10)
    momentum = functools.partial(sgd, momentum=0.9)
    _, sweep = bs.sweep_batch_sizes(model, split.train, momentum, 1, [32], lr=[0.01, 0.1])
    assert sweep.val_loss is None and sweep.val_accuracy is None
    with pytest.raises(ValueError, match="no val_accuracy"):
        bs.tuned(sweep, [0.01, 0.1])
    assert bs.tuned(sweep, [0.01, 0.1], "train_loss").best_lr.shape == (1,)


def test_sweep_checks_arguments(split):
    model = models.SoftmaxRegression(64, 10)
    with pytest.raises(ValueError, match="constructor"):
        bs.sweep_batch_sizes(model, split, sgd(lr=0.1), 1, [8], lr=[0.1])
    with pytest.raises(ValueError, match="batch_size"):
        bs.sweep_batch_sizes(model, split, sgd, 1, [0], lr=[0.1])
    with pytest.raises(ValueError, match="lr"):
        bs.sweep_batch_sizes(model, split, sgd, 1, [8], lr=[[0.1]])
    with pytest.raises(ValueError, match="epochs"):
        bs.sweep_batch_sizes(model, split, sgd, 0, [8], lr=[0.1])
    with pytest.raises(ValueError, match="seed"):
        bs.sweep_batch_sizes(model, split, sgd, 1, [8], lr=[0.1], seed=())


# ----------------------------------------------------------------- wall-clock time


def test_time_per_epoch(split):
    model = models.SoftmaxRegression(64, 10)
    per_epoch, per_update = bs.time_per_epoch(model, split, sgd, [1, 240], lr=0.01, repeats=2)
    assert per_epoch.shape == per_update.shape == (2,)
    assert np.all(per_epoch > 0)
    np.testing.assert_allclose(per_update, per_epoch / np.array([240, 1]))
    with pytest.raises(ValueError, match="repeats"):
        bs.time_per_epoch(model, split, sgd, [8], lr=0.01, repeats=0)
    with pytest.raises(ValueError, match="batch_size"):
        bs.time_per_epoch(model, split, sgd, [0], lr=0.01)


# ----------------------------------------------------------------- a line


@pytest.fixture(scope="module")
def line_data():
    X, y, _ = data.make_linear_regression(n_samples=50, n_features=1, noise=0.5, seed=1)
    return X[:, 0], y + 1.5


def _affine_sgd(x, y, batch_size, lr, epochs, seed, start):
    """SGD on the line written out: theta <- theta - 2 lr (A_B theta - c_B) for each batch's moments."""
    rng = np.random.default_rng(seed)
    theta = np.array(start, dtype=float)
    path, losses = [theta], []
    for _ in range(epochs):
        for rows in training.minibatches(len(y), batch_size, rng):
            u = np.column_stack([x[rows], np.ones(len(rows))])
            A, c = u.T @ u / len(rows), u.T @ y[rows] / len(rows)
            losses.append(theta @ A @ theta - 2 * c @ theta + np.mean(y[rows] ** 2))
            theta = theta - 2 * lr * (A @ theta - c)
            path.append(theta)
    return np.array(path), np.array(losses)


def test_line_sgd_is_sgd_on_the_line(line_data):
    x, y = line_data
    line = bs.LineSGD(x, y, epochs=2, seed=3)
    model = models.LinearRegression(1)
    np.testing.assert_allclose(line.minimum, np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y)[0])
    theta = np.array([0.3, -0.2])
    assert line.loss(theta) == pytest.approx(model.loss({"w": theta[:1], "b": theta[1]}, x[:, None], y))
    for b in (1, 8, 50):
        path, batch_loss, full_loss, diverged_at = line.run(b, 0.05, start=(0.5, -1.0))
        want_path, want_losses = _affine_sgd(x, y, b, 0.05, 2, 3, (0.5, -1.0))
        assert diverged_at == -1
        assert len(path) == 2 * line.updates_per_epoch(b) + 1
        np.testing.assert_allclose(path, want_path, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(batch_loss, want_losses, rtol=1e-10)
        np.testing.assert_allclose(full_loss, line.loss(path))


def test_line_sgd_divergence_and_grid(line_data):
    x, y = line_data
    line = bs.LineSGD(x, y, epochs=3)
    path, batch_loss, full_loss, diverged_at = line.run(50, 5.0, divergence_factor=100.0)
    assert diverged_at > 0
    assert len(path) == diverged_at + 1 and len(batch_loss) == diverged_at + 1
    assert batch_loss[-1] > 100 * max(full_loss[0], 1.0)  # the loss that stopped it
    assert np.isfinite(path).all()
    W, B, L = line.grid(((-1, 1), (0, 2)), n=10)
    assert W.shape == B.shape == L.shape == (10, 10)
    assert L.min() >= line.min_loss - 1e-12
    with pytest.raises(ValueError, match="batch_size"):
        line.run(51, 0.1)
    with pytest.raises(ValueError, match="same length"):
        bs.LineSGD(x, y[:-1])


def test_line_sgd_runs_an_array_of_rates_at_once(line_data):
    x, y = line_data
    line = bs.LineSGD(x, y, epochs=2, seed=1)
    rates = np.array([0.01, 0.2, 5.0])
    path, batch_loss, full_loss, diverged_at = line.run(4, rates)
    assert path.shape == (2 * 13 + 1, 3, 2) and full_loss.shape == (2 * 13 + 1, 3)
    np.testing.assert_array_equal(diverged_at >= 0, [False, False, True])
    for j, lr in enumerate(rates[:2]):
        one = line.run(4, lr)
        np.testing.assert_allclose(path[:, j], one[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(batch_loss[:, j], one[1], rtol=1e-12)


# ----------------------------------------------------------------- gradient noise


@pytest.fixture(scope="module")
def digits_small():
    X, y = data.load_digits()
    return X[:120], y[:120]


def test_flat_gradient_concatenates_in_key_order():
    out = bs.flat_gradient({"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])})
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize(
    "model",
    [
        models.SoftmaxRegression(64, 10, l2=0.01),
        models.MLP(64, hidden=(8,), n_classes=10),
    ],
)
def test_per_example_gradients_average_to_the_full_gradient(model, digits_small):
    X, y = digits_small
    params = model.init(3)
    G = bs.per_example_gradients(model, params, X, y)
    assert G.shape == (len(y), model.n_params)
    full = bs.flat_gradient(model.loss_and_grad(params, X, y)[1])
    np.testing.assert_allclose(G.mean(axis=0), full, rtol=1e-10, atol=1e-12)
    one = bs.flat_gradient(model.loss_and_grad(params, X[5:6], y[5:6])[1])
    np.testing.assert_allclose(G[5], one)


def test_per_example_gradients_rejects_sweep_parameters(digits_small):
    X, y = digits_small
    model = models.SoftmaxRegression(64, 10)
    with pytest.raises(ValueError, match="no sweep axes"):
        bs.per_example_gradients(model, model.init(0, sweep=(3,)), X, y)


def test_expected_squared_error_formula():
    assert bs.expected_squared_error(8.0, 100, 4, replace=True) == pytest.approx(2.0)
    assert bs.expected_squared_error(8.0, 100, 4) == pytest.approx(2.0 * 96 / 99)
    assert bs.expected_squared_error(8.0, 100, 100) == 0.0
    assert bs.expected_squared_error(8.0, 100, 1) == pytest.approx(8.0)  # one example: no correction
    np.testing.assert_allclose(
        bs.expected_squared_error(3.0, 10, np.array([1, 5, 10])), [3.0, 3.0 / 5 * 5 / 9, 0.0]
    )
    assert bs.expected_squared_error(2.0, 1, 1) == 0.0


def test_expected_squared_error_checks_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        bs.expected_squared_error(1.0, 10, 11)
    with pytest.raises(ValueError, match="sigma2"):
        bs.expected_squared_error(-1.0, 10, 2)
    assert bs.expected_squared_error(1.0, 10, 11, replace=True) == pytest.approx(1 / 11)


@pytest.mark.parametrize("replace", [False, True])
def test_batch_weights_rows_are_batches(replace):
    rng = np.random.default_rng(0)
    w = bs.batch_weights(20, 6, 50, rng, replace=replace)
    assert w.shape == (50, 20)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    counts = np.round(w * 6).astype(int)
    assert np.all(counts.sum(axis=1) == 6)
    if not replace:
        assert counts.max() == 1
    else:
        assert counts.max() >= 2  # 50 batches of 6 out of 20: some repeat an example


def test_batch_weights_without_replacement_is_uniform():
    rng = np.random.default_rng(1)
    w = bs.batch_weights(10, 3, 20000, rng)
    freq = (w > 0).mean(axis=0)
    np.testing.assert_allclose(freq, 0.3, atol=0.015)


@pytest.mark.parametrize("replace", [False, True])
def test_gradient_noise_matches_theory(replace):
    rng = np.random.default_rng(2)
    G = rng.normal(size=(60, 5)) + np.array([1.0, 0, 0, 0, 0])
    res = bs.gradient_noise(G, [1, 4, 15, 60], n_batches=4000, seed=3, replace=replace)
    np.testing.assert_allclose(res.squared_error, res.theory, rtol=0.06, atol=1e-12)
    sigma2 = np.mean(np.sum((G - G.mean(0)) ** 2, axis=1))
    assert res.sigma2 == pytest.approx(sigma2)
    assert res.grad_norm == pytest.approx(np.linalg.norm(G.mean(0)))
    if not replace:
        assert res.squared_error[-1] == pytest.approx(0.0, abs=1e-20)
        assert res.cosine[-1] == pytest.approx(1.0)
    assert np.all(np.diff(res.relative_error) < 0)
    np.testing.assert_allclose(res.relative_theory, np.sqrt(res.theory) / res.grad_norm)
    assert res.noise_scale == pytest.approx(sigma2 / res.grad_norm**2)


def test_gradient_noise_is_seeded():
    G = np.random.default_rng(0).normal(size=(30, 4))
    a = bs.gradient_noise(G, [2, 8], n_batches=50, seed=7)
    b = bs.gradient_noise(G, [2, 8], n_batches=50, seed=7)
    np.testing.assert_array_equal(a.squared_error, b.squared_error)


def test_gradient_noise_checks_arguments():
    G = np.zeros((10, 3))
    with pytest.raises(ValueError, match="2-D"):
        bs.gradient_noise(np.zeros(10), [1])
    with pytest.raises(ValueError, match="batch_sizes"):
        bs.gradient_noise(G, [11])
    with pytest.raises(ValueError, match="n_batches"):
        bs.gradient_noise(G, [1], n_batches=0)

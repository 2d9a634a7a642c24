import functools

import numpy as np
import pytest

from lrcourse import batching, data, models, training
from lrcourse.optimizers import sgd


@pytest.fixture(scope="module")
def split():
    X, y = data.load_digits()
    parts = data.train_val_test_split(X[:300], y[:300], val_fraction=0.2, test_fraction=0.0, seed=0)
    return data.standardize(parts)[0]


def test_linear_scaling_rule():
    assert batching.linear_scaling_rule(0.1, 32, 256) == pytest.approx(0.8)
    np.testing.assert_allclose(
        batching.linear_scaling_rule(0.01, 2, np.array([2, 4, 64])), [0.01, 0.02, 0.32]
    )
    with pytest.raises(ValueError, match="batch_size"):
        batching.linear_scaling_rule(0.1, 32, 0)


def test_sweep_matches_fit_run_by_run(split):
    model = models.MLP(64, hidden=(8,), n_classes=10)
    lrs = np.array([0.01, 0.1])
    sweep = batching.sweep_batch_sizes(model, split, [16, 240], lrs, epochs=3, seeds=(0, 1), shuffle_seed=5)
    assert sweep.train_loss.shape == (2, 4, 2, 2)
    np.testing.assert_array_equal(sweep.updates_per_epoch, [15, 1])
    for k, b in enumerate([16, 240]):
        for s, seed in enumerate((0, 1)):
            for j, lr in enumerate(lrs):
                # fit seeds the initialisation and the shuffling with one seed: reproduce that pairing
                params = model.init(seed)
                _, h = training.fit(model, split, sgd(lr=lr), epochs=3, batch_size=b, params=params, seed=5)
                np.testing.assert_allclose(sweep.train_loss[k, :, s, j], h.train_loss, rtol=1e-9)
                np.testing.assert_allclose(sweep.val_loss[k, :, s, j], h.val_loss, rtol=1e-9)
                np.testing.assert_allclose(sweep.val_accuracy[k, :, s, j], h.val_accuracy)
    assert not sweep.diverged.any()
    assert np.all(sweep.seconds > 0)


def test_sweep_marks_divergence_and_tuned_skips_it(split):
    model = models.SoftmaxRegression(64, 10)
    lrs = np.array([0.03, 0.3, 300.0])
    sweep = batching.sweep_batch_sizes(model, split, [8], lrs, epochs=2, divergence_factor=3.0)
    assert sweep.diverged[0, 0].tolist() == [False, False, True]
    assert np.isnan(sweep.train_loss[0, -1, 0, 2])
    assert np.isfinite(sweep.train_loss[0, 0, 0, 2])  # before training every run is fine
    tuned = sweep.tuned("train_loss")
    assert tuned.best_lr[0] in (0.03, 0.3)
    best = sweep.tuned("val_accuracy")
    assert 0.5 < best.value[0] <= 1.0
    assert best.per_seed.shape == (1, 1)


def test_tuned_picks_best_mean_and_flags_edges():
    acc = np.zeros((2, 2, 2, 3))
    acc[0, 1] = [[0.5, 0.9, 0.7], [0.6, 0.8, 0.9]]  # means 0.55, 0.85, 0.8 -> index 1
    acc[1, 1] = [[0.9, 0.1, 0.1], [0.8, 0.2, 0.1]]  # index 0, at the edge
    sweep = batching.BatchSweep(
        batch_sizes=np.array([4, 8]),
        lrs=np.array([0.1, 1.0, 10.0]),
        seeds=(0, 1),
        epochs=1,
        n_train=8,
        updates_per_epoch=np.array([2, 1]),
        train_loss=1 - acc,
        val_loss=1 - acc,
        val_accuracy=acc,
        diverged=np.zeros((2, 2, 3), dtype=bool),
        seconds=np.ones(2),
    )
    t = sweep.tuned()
    np.testing.assert_array_equal(t.best_index, [1, 0])
    np.testing.assert_allclose(t.value, [0.85, 0.85])
    np.testing.assert_allclose(t.std, [0.05, 0.05])
    np.testing.assert_array_equal(t.at_edge, [False, True])
    np.testing.assert_array_equal(sweep.tuned("train_loss").best_index, [1, 0])
    with pytest.raises(ValueError, match="epoch"):
        sweep.tuned(epoch=2)


def test_sweep_with_momentum_constructor_and_no_validation(split):
    model = models.SoftmaxRegression(64, 10)
    sweep = batching.sweep_batch_sizes(
        model, split.train, [32], [0.01, 0.1], epochs=1, optimizer=functools.partial(sgd, momentum=0.9)
    )
    assert sweep.val_loss is None and sweep.val_accuracy is None
    with pytest.raises(ValueError, match="no val_accuracy"):
        sweep.tuned()
    assert sweep.tuned("train_loss").best_lr.shape == (1,)


def test_sweep_checks_arguments(split):
    model = models.SoftmaxRegression(64, 10)
    with pytest.raises(ValueError, match="constructor"):
        batching.sweep_batch_sizes(model, split, [8], [0.1], 1, optimizer=sgd(lr=0.1))
    with pytest.raises(ValueError, match="batch_sizes"):
        batching.sweep_batch_sizes(model, split, [0], [0.1], 1)
    with pytest.raises(ValueError, match="lrs"):
        batching.sweep_batch_sizes(model, split, [8], [[0.1]], 1)
    with pytest.raises(ValueError, match="epochs"):
        batching.sweep_batch_sizes(model, split, [8], [0.1], 0)


def test_time_per_epoch(split):
    model = models.SoftmaxRegression(64, 10)
    per_epoch, per_update = batching.time_per_epoch(model, split, [1, 240], repeats=2)
    assert per_epoch.shape == per_update.shape == (2,)
    assert np.all(per_epoch > 0)
    np.testing.assert_allclose(per_update, per_epoch / np.array([240, 1]))
    chunked, _ = batching.time_per_epoch(model, split, [240], repeats=1, chunk=32)
    assert chunked.shape == (1,) and chunked[0] > 0


@pytest.fixture(scope="module")
def line_data():
    X, y, _ = data.make_linear_regression(n_samples=50, n_features=1, noise=0.5, seed=1)
    return X[:, 0], y + 1.5


def test_line_sgd_matches_the_model_and_training_loop(line_data):
    x, y = line_data
    line = batching.LineSGD(x, y, [1, 8, 50], epochs=2, seed=3)
    model = models.LinearRegression(1)
    np.testing.assert_allclose(line.minimum, np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y)[0])
    theta = np.array([0.3, -0.2])
    assert line.loss(theta) == pytest.approx(model.loss({"w": theta[:1], "b": theta[1]}, x[:, None], y))
    for b in (1, 8, 50):
        path, batch_loss, full_loss, diverged_at = line.run(b, 0.05)
        params, h = training.fit(model, (x[:, None], y), sgd(lr=0.05), epochs=2, batch_size=b, seed=3)
        assert diverged_at == -1
        assert len(path) == 2 * line.updates_per_epoch(b) + 1
        np.testing.assert_allclose(batch_loss, h.update_loss, rtol=1e-10)
        np.testing.assert_allclose(path[-1], [params["w"][0], params["b"]], rtol=1e-10)
        np.testing.assert_allclose(full_loss, line.loss(path))


def test_line_sgd_divergence_and_grid(line_data):
    x, y = line_data
    line = batching.LineSGD(x, y, [50], epochs=3)
    path, batch_loss, full_loss, diverged_at = line.run(50, 5.0, explode=100.0)
    assert diverged_at > 0
    assert len(path) == diverged_at
    assert np.isfinite(path).all()
    W, B, L = line.grid(((-1, 1), (0, 2)), n=10)
    assert W.shape == B.shape == L.shape == (10, 10)
    assert L.min() >= line.min_loss - 1e-12
    with pytest.raises(ValueError, match="batch_size"):
        line.run(7, 0.1)
    with pytest.raises(ValueError, match="same length"):
        batching.LineSGD(x, y[:-1], [1])


def test_sweep_evaluates_only_the_chosen_epochs(split):
    model = models.SoftmaxRegression(64, 10)
    full = batching.sweep_batch_sizes(model, split, [32], [0.05, 0.2], epochs=4, seeds=(0, 1))
    some = batching.sweep_batch_sizes(
        model, split, [32], [0.05, 0.2], epochs=4, seeds=(0, 1), eval_epochs=[2]
    )
    assert some.evaluated == (0, 2, 4)
    assert full.evaluated == (0, 1, 2, 3, 4)
    for e in (0, 2, 4):  # exact: the same training, evaluated by the same code
        np.testing.assert_array_equal(some.val_accuracy[:, e], full.val_accuracy[:, e])
        np.testing.assert_array_equal(some.train_loss[:, e], full.train_loss[:, e])
    assert np.isnan(some.train_loss[:, 1]).all() and np.isnan(some.val_loss[:, 3]).all()
    np.testing.assert_array_equal(some.tuned(epoch=2).best_lr, full.tuned(epoch=2).best_lr)
    with pytest.raises(ValueError, match="not evaluated"):
        some.tuned(epoch=1)
    with pytest.raises(ValueError, match="eval_epochs"):
        batching.sweep_batch_sizes(model, split, [32], [0.05], epochs=2, eval_epochs=[3])


def test_chunks_give_the_same_gradient_and_metrics(split):
    model = models.MLP(64, hidden=(8,), n_classes=10, l2=0.01)
    params = model.init(0, sweep=(2,))
    X, y = split.train
    loss, grads = model.loss_and_grad(params, X, y)
    closs, cgrads = batching._loss_and_grad(model, params, X, y, chunk=37)
    np.testing.assert_allclose(closs, loss, rtol=1e-12)
    for k in grads:
        np.testing.assert_allclose(cgrads[k], grads[k], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(batching._evaluate(model, params, X, y, 50)[1], model.accuracy(params, X, y))
    a = batching.sweep_batch_sizes(model, split, [240], [0.1, 1.0], epochs=2, chunk=1000)
    b = batching.sweep_batch_sizes(model, split, [240], [0.1, 1.0], epochs=2, chunk=16)
    np.testing.assert_allclose(b.train_loss, a.train_loss, rtol=1e-9)
    np.testing.assert_allclose(b.val_accuracy, a.val_accuracy)

import sys
from functools import partial

import numpy as np
import pytest
from helpers import make_moons, small_classification
from hypothesis import given
from hypothesis import strategies as st

from lrcourse import data, models
from lrcourse.optimizers import adam, apply_updates, sgd
from lrcourse.training import EarlyStopping, fit, minibatches, updates_per_epoch


@pytest.fixture(scope="module")
def regression():
    X, y, _ = data.make_linear_regression(n_samples=100, n_features=5, noise=0.5, seed=0)
    split, _ = data.standardize(data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.0, seed=0))
    return split


@pytest.fixture(scope="module")
def classification():
    return small_classification()


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(n_samples=120, noise=0.2, seed=0)
    return data.train_val_test_split(X, y, val_fraction=0.25, test_fraction=0.0, seed=0)


@pytest.fixture(scope="module")
def overfit():
    X, y = data.make_polynomial_regression(n_samples=40, degree=12, noise=0.3, seed=0)
    split = data.train_val_test_split(X, y, val_fraction=0.5, test_fraction=0.0, seed=0)
    return data.standardize(split)[0]


class FakePlateau:
    """The ReduceLROnPlateau contract (mode 'min', absolute threshold 0): .reset(), .lr, .step(metric)."""

    def __init__(self, lr, factor=0.5, patience=0):
        self.initial_lr, self.factor, self.patience = lr, factor, patience
        self.reset()

    def reset(self):
        self.lr, self.best, self.bad = self.initial_lr, np.inf, 0
        self.seen = []

    def step(self, metric):
        self.seen.append(metric)
        if metric < self.best:
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.bad > self.patience:
            self.lr, self.bad = self.lr * self.factor, 0
        return self.lr


# ----------------------------------------------------------------- minibatches


@pytest.mark.parametrize(
    "n, b, drop, expected", [(10, 3, False, 4), (10, 3, True, 3), (10, 10, False, 1), (9, 3, True, 3)]
)
def test_updates_per_epoch(n, b, drop, expected):
    assert updates_per_epoch(n, b, drop) == expected
    batches = minibatches(n, b, np.random.default_rng(0), drop_last=drop)
    assert len(batches) == expected


def test_minibatches_cover_every_row_once_and_keep_the_last_partial_batch():
    batches = minibatches(10, 3, np.random.default_rng(0))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    dropped = minibatches(10, 3, np.random.default_rng(0), drop_last=True)
    assert [len(b) for b in dropped] == [3, 3, 3]
    np.testing.assert_array_equal(np.concatenate(dropped), np.concatenate(batches)[:9])


def test_minibatches_are_seeded_and_optionally_in_order():
    a = minibatches(20, 4, np.random.default_rng(1))
    b = minibatches(20, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    plain = minibatches(20, 4, np.random.default_rng(1), shuffle=False)
    np.testing.assert_array_equal(np.concatenate(plain), np.arange(20))


# ----------------------------------------------------------------- updates and epochs


def test_full_batch_training_makes_exactly_one_update_per_epoch(regression):
    n = len(regression.y_train)
    _, h = fit(models.LinearRegression(5), regression, sgd(lr=0.1), epochs=7, batch_size=n)
    assert h.updates_per_epoch == 1 and h.n_updates == 7 and len(h.update_loss) == 7
    assert h.epochs_run == 7 and len(h.train_loss) == 8
    _, h_default = fit(models.LinearRegression(5), regression, sgd(lr=0.1), epochs=7)
    assert h_default.batch_size == n and h_default.n_updates == 7


def test_full_batch_fit_is_plain_gradient_descent(regression):
    model = models.LinearRegression(5)
    params, h = fit(model, regression, sgd(lr=0.05), epochs=25)
    manual = model.init()
    X, y = regression.train
    for _ in range(25):
        _, g = model.loss_and_grad(manual, X, y)
        manual = apply_updates(manual, {k: -0.05 * v for k, v in g.items()})
    np.testing.assert_allclose(params["w"], manual["w"], rtol=1e-12)
    assert h.update_loss[0] == pytest.approx(h.train_loss[0])


@pytest.mark.parametrize(
    "batch_size, drop_last, per_epoch", [(16, False, 5), (16, True, 5), (32, False, 3), (32, True, 2)]
)
def test_minibatch_update_counts(regression, batch_size, drop_last, per_epoch):
    assert len(regression.y_train) == 80
    _, h = fit(
        models.LinearRegression(5),
        regression,
        sgd(lr=0.01),
        epochs=3,
        batch_size=batch_size,
        drop_last=drop_last,
    )
    assert h.updates_per_epoch == per_epoch
    assert h.n_updates == 3 * per_epoch == len(h.update_loss) == len(h.update_lr)


def test_fit_is_deterministic_and_seeded(moons):
    model = models.MLP(2, hidden=(8,), n_classes=2)
    p1, h1 = fit(model, moons, sgd(lr=0.1), epochs=3, batch_size=10, seed=4)
    p2, h2 = fit(model, moons, sgd(lr=0.1), epochs=3, batch_size=10, seed=4)
    p3, _ = fit(model, moons, sgd(lr=0.1), epochs=3, batch_size=10, seed=5)
    np.testing.assert_array_equal(p1["W1"], p2["W1"])
    np.testing.assert_array_equal(h1.update_loss, h2.update_loss)
    assert not np.array_equal(p1["W1"], p3["W1"])


def test_given_params_are_used_and_not_modified(regression):
    model = models.LinearRegression(5)
    start = {"w": np.ones(5), "b": np.array(0.5)}
    params, h = fit(model, regression, sgd(lr=0.1), epochs=3, params=start)
    np.testing.assert_array_equal(start["w"], 1.0)
    assert h.train_loss[0] == pytest.approx(model.loss(start, *regression.train))
    assert not np.array_equal(params["w"], start["w"])


# ----------------------------------------------------------------- history


def test_history_of_a_classifier(moons):
    model = models.MLP(2, hidden=(16,), n_classes=2)
    _, h = fit(model, moons, adam(lr=0.02), epochs=30, batch_size=16)
    assert len(h.train_loss) == len(h.val_loss) == len(h.train_accuracy) == len(h.val_accuracy) == 31
    np.testing.assert_array_equal(h.epochs, np.arange(31))
    assert h.val_accuracy[-1] > 0.9 and h.train_loss[-1] < h.train_loss[0]
    assert h.monitor == "val_loss" and h.best_epoch == int(np.argmin(h.val_loss))
    assert h.wall_time > 0 and h.stop_reason == "epochs done" and not h.diverged and h.diverged_at == -1
    assert len(h.epoch_lr) == 30 and np.all(h.epoch_lr == 0.02)
    text = str(h)
    assert "30 epochs x 6 updates" in text and "val loss" in text


def test_history_of_a_regression_without_validation(regression):
    _, h = fit(models.LinearRegression(5), regression.train, sgd(lr=0.1), epochs=4, batch_size=20)
    assert h.val_loss is None and h.train_accuracy is None and h.val_accuracy is None
    assert h.monitor == "train_loss"
    assert isinstance(h.train_loss, np.ndarray) and isinstance(h.update_loss, np.ndarray)


def test_data_as_a_tuple_of_four(moons):
    model = models.LogisticRegression(2)
    _, h = fit(model, (moons.X_train, moons.y_train, moons.X_val, moons.y_val), sgd(lr=0.5), epochs=2)
    assert h.val_loss is not None


# ----------------------------------------------------------------- learning rate


def test_lr_number_given_to_fit_equals_lr_inside_the_optimizer(moons):
    model = models.LogisticRegression(2)
    p1, h1 = fit(model, moons, sgd(lr=0.3, momentum=0.9), epochs=3, batch_size=16)
    p2, h2 = fit(model, moons, partial(sgd, momentum=0.9), epochs=3, batch_size=16, lr=0.3)
    np.testing.assert_array_equal(p1["w"], p2["w"])
    np.testing.assert_array_equal(h1.update_lr, h2.update_lr)


def test_schedule_stepped_per_update(regression):
    schedule = lambda t: 0.1 * 0.5 ** (t // 10)  # noqa: E731
    _, h = fit(models.LinearRegression(5), regression, sgd, epochs=6, batch_size=16, lr=schedule)
    np.testing.assert_allclose(h.update_lr, [schedule(t) for t in range(30)])
    _, h_own = fit(models.LinearRegression(5), regression, sgd(lr=schedule), epochs=6, batch_size=16)
    np.testing.assert_array_equal(h_own.update_lr, h.update_lr)
    np.testing.assert_array_equal(h_own.update_loss, h.update_loss)


def test_schedule_stepped_per_epoch(regression):
    schedule = lambda t: 0.1 * 0.5**t  # noqa: E731
    _, h = fit(
        models.LinearRegression(5), regression, sgd, epochs=4, batch_size=16, lr=schedule, lr_step="epoch"
    )
    np.testing.assert_allclose(h.update_lr, np.repeat([0.1, 0.05, 0.025, 0.0125], 5))
    np.testing.assert_allclose(h.epoch_lr, [0.1, 0.05, 0.025, 0.0125])


def test_reduce_on_plateau_is_driven_by_the_validation_loss(overfit):
    plateau = FakePlateau(lr=0.05, factor=0.5, patience=2)
    _, h = fit(models.LinearRegression(12), overfit, sgd, epochs=400, lr=plateau)
    np.testing.assert_allclose(plateau.seen, h.val_loss[1:])
    assert h.epoch_lr[0] == 0.05 and h.epoch_lr[-1] < 0.05
    assert np.all(np.diff(h.epoch_lr) <= 0)
    assert h.update_lr[-1] == plateau.lr or h.update_lr[-1] == plateau.lr / plateau.factor


# ----------------------------------------------------------------- early stopping


def test_early_stopping_counts_like_reduce_on_plateau():
    stopper = EarlyStopping(patience=2)
    decisions = [stopper.update(e, loss) for e, loss in enumerate([5.0, 4.0, 4.5, 4.2, 4.1])]
    assert decisions == [False, False, False, False, True]
    assert stopper.best_epoch == 1 and stopper.best_loss == 4.0
    eager = EarlyStopping(patience=0)
    assert [eager.update(e, x) for e, x in enumerate([3.0, 3.0])] == [False, True]
    strict = EarlyStopping(patience=1, min_delta=0.5)
    assert [strict.update(e, x) for e, x in enumerate([3.0, 2.8, 2.7])] == [False, False, True]
    assert strict.best_epoch == 0
    never = EarlyStopping(patience=None)
    assert not any(never.update(e, 1.0) for e in range(50))


def test_early_stopping_restores_the_best_parameters(overfit):
    model = models.LinearRegression(12)
    params, h = fit(model, overfit, sgd(lr=0.05, momentum=0.9), epochs=2000, patience=20)
    assert h.stopped_early and h.stop_reason == "early stopping"
    assert h.stopped_epoch == h.epochs_run == h.best_epoch + 21 < 2000
    assert model.loss(params, *overfit.val) == pytest.approx(h.val_loss.min())
    assert model.loss(params, *overfit.val) == pytest.approx(h.best_loss)
    last, h_last = fit(
        model, overfit, sgd(lr=0.05, momentum=0.9), epochs=2000, patience=20, restore_best=False
    )
    assert model.loss(last, *overfit.val) == pytest.approx(h_last.val_loss[-1])
    assert h_last.val_loss[-1] > h_last.best_loss


# ----------------------------------------------------------------- divergence


def test_divergence_stops_cleanly_without_warnings(regression):
    model = models.LinearRegression(5)
    params, h = fit(model, regression, sgd(lr=5.0), epochs=100, batch_size=16)
    assert h.diverged and h.stop_reason == "diverged" and h.diverged_at >= 1
    assert "exceeded" in h.divergence_reason
    assert h.n_updates == h.diverged_at == len(h.update_loss) - 1
    assert h.update_loss[h.diverged_at] > 1e3 * max(h.train_loss[0], 1)
    assert all(np.isfinite(v).all() for v in params.values())
    assert h.epochs_run < 100 and len(h.train_loss) == h.epochs_run + 1


def test_non_finite_loss_is_divergence(moons):
    model = models.MLP(2, hidden=(4,), n_classes=2)
    params, h = fit(model, moons, sgd(lr=1e200), epochs=3, batch_size=8, divergence_factor=1e300)
    assert h.diverged and "non-finite" in h.divergence_reason
    assert all(np.isfinite(v).all() for v in params.values())


def test_divergence_with_early_stopping_returns_the_best_params(regression):
    model = models.LinearRegression(5)
    params, h = fit(model, regression, sgd(lr=1.0), epochs=50, batch_size=80, patience=100)
    assert h.diverged
    assert model.loss(params, *regression.val) == pytest.approx(h.best_loss)


# ----------------------------------------------------------------- hooks


def test_callback_sees_every_epoch_and_can_stop(regression):
    seen = []

    def callback(epoch, params, logs):
        seen.append((epoch, logs["train_loss"], logs["lr"]))
        return epoch == 3

    _, h = fit(models.LinearRegression(5), regression, sgd(lr=0.1), epochs=10, callback=callback)
    assert [e for e, _, _ in seen] == [1, 2, 3]
    assert seen[1][1] == h.train_loss[2] and seen[0][2] == 0.1
    assert h.stop_reason == "callback" and h.epochs_run == 3


def test_progress_bar_with_and_without_tqdm(regression, monkeypatch, capsys):
    model = models.LinearRegression(5)
    p_bar, _ = fit(model, regression, sgd(lr=0.1), epochs=3, progress=True)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it now raises ImportError
    p_plain, h = fit(model, regression, sgd(lr=0.1), epochs=3, progress=True)
    np.testing.assert_array_equal(p_bar["w"], p_plain["w"])
    assert h.epochs_run == 3


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, r"batch_size must be an integer in \[1, 80\], got 0"),
        ({"batch_size": 81}, r"batch_size must be an integer in \[1, 80\], got 81"),
        ({"epochs": 0}, r"epochs must be an integer in \[1, inf\], got 0"),
        ({"patience": -1}, r"patience must be an integer in \[0, inf\], got -1"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"lr_step": "batch"}, "lr_step must be one of 'update', 'epoch', got 'batch'"),
        ({"divergence_factor": 0.5}, "divergence_factor"),
        ({"lr": 0.1}, "lr was given twice"),
        ({"lr_step": "epoch"}, "lr_step='epoch' needs lr given to fit"),
    ],
)
def test_bad_arguments(regression, kwargs, match):
    args = {"epochs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(models.LinearRegression(5), regression, sgd(lr=0.1), **args)


def test_bad_data_and_models(regression, moons):
    X, y = regression.train
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="X_train must be finite"):
        fit(models.LinearRegression(5), (bad, y), sgd(lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="same number of rows"):
        fit(models.LinearRegression(5), (X, y[:-1]), sgd(lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="X_train must have 4 features"):
        fit(models.LinearRegression(4), (X, y), sgd(lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="X_val must have 5 features"):
        fit(models.LinearRegression(5), (X, y, X[:, :2], y), sgd(lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="data must be a Split or a tuple"):
        fit(models.LinearRegression(5), (X, y, X), sgd(lr=0.1), epochs=1)
    with pytest.raises(ValueError, match=r"integer class labels in \[0, 1\]"):
        fit(models.LogisticRegression(5), (X, y), sgd(lr=0.1), epochs=1)


def test_bad_learning_rate_arguments(regression):
    model = models.LinearRegression(5)
    with pytest.raises(ValueError, match="lr is required"):
        fit(model, regression, sgd, epochs=1)
    with pytest.raises(ValueError, match="lr must be in"):
        fit(model, regression, sgd, epochs=1, lr=-0.1)
    with pytest.raises(ValueError, match="optimizer must be an Optimizer"):
        fit(model, regression, "sgd", epochs=1)
    with pytest.raises(ValueError, match=r"sweep shape \(2,\) of the optimizer .* \(3,\) of the parameters"):
        fit(model, regression, sgd(lr=np.array([0.1, 0.2])), epochs=1, params=model.init(sweep=(3,)))
    with pytest.raises(ValueError, match=r"params\['w'\] must have shape \(5,\)"):
        fit(model, regression, sgd(lr=0.1), epochs=1, params={"w": np.zeros(4), "b": np.zeros(())})
    with pytest.raises(ValueError, match="params must be a dict with keys"):
        fit(model, regression, sgd(lr=0.1), epochs=1, params={"w": np.zeros(5)})


# ----------------------------------------------------------------- with lrcourse.schedules


def test_real_schedules_per_update_and_per_epoch(regression):
    from lrcourse import schedules

    model = models.LinearRegression(5)
    decay = schedules.step_decay(0.1, step_size=7, gamma=0.5)
    _, h = fit(model, regression, sgd, epochs=4, batch_size=16, lr=decay)
    np.testing.assert_allclose(h.update_lr, decay(np.arange(20)))
    cos = schedules.cosine(0.1, T_max=4)
    _, h = fit(model, regression, sgd, epochs=4, batch_size=16, lr=cos, lr_step="epoch")
    np.testing.assert_allclose(h.epoch_lr, cos(np.arange(4)))
    np.testing.assert_allclose(h.update_lr, np.repeat(cos(np.arange(4)), 5))
    _, h_own = fit(model, regression, sgd(lr=decay), epochs=4, batch_size=16)
    np.testing.assert_allclose(h_own.update_lr, decay(np.arange(20)))


def test_real_reduce_on_plateau_replays_from_the_validation_losses(overfit):
    from lrcourse.schedules import ReduceLROnPlateau

    plateau = ReduceLROnPlateau(0.05, factor=0.5, patience=3)
    _, h = fit(models.LinearRegression(12), overfit, sgd, epochs=300, lr=plateau)
    replay = ReduceLROnPlateau(0.05, factor=0.5, patience=3)
    expected = [0.05] + [replay.step(v) for v in h.val_loss[1:-1]]
    np.testing.assert_allclose(h.epoch_lr, expected)
    assert h.epoch_lr[-1] < 0.05
    # fit starts every run from the plateau's first rate: a second run is the same run
    _, again = fit(models.LinearRegression(12), overfit, sgd, epochs=300, lr=plateau)
    np.testing.assert_array_equal(again.epoch_lr, h.epoch_lr)
    # a plateau inside a built optimizer could not be stepped: it is refused with advice
    with pytest.raises(ValueError, match="goes to fit as lr="):
        fit(models.LinearRegression(12), overfit, sgd(lr=plateau), epochs=3)
    with pytest.raises(ValueError, match="goes to fit as lr="):
        fit(models.LinearRegression(12), overfit, sgd(lr=plateau, momentum=np.array([0.0, 0.5])), epochs=3)


# ----------------------------------------------------------------- properties


@given(n=st.integers(1, 200), b=st.integers(1, 200), drop=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_minibatch_properties(n, b, drop, seed):
    b = min(b, n)
    batches = minibatches(n, b, np.random.default_rng(seed), drop_last=drop)
    assert len(batches) == updates_per_epoch(n, b, drop)
    rows = np.concatenate(batches)
    assert len(np.unique(rows)) == len(rows)  # no row twice
    assert len(rows) == (n - n % b if drop else n)
    assert all(len(batch) == b for batch in batches[:-1])


# ----------------------------------------------------------------- sweeps: one call, many runs


@pytest.mark.parametrize("batch_size", [None, 16, 30])
def test_sweep_member_is_the_single_run(classification, batch_size):
    """Run i of a sweep of rates is the run fit makes with rate i alone (to round-off)."""
    model = models.MLP(4, hidden=(8,), n_classes=3)
    lrs = np.array([0.01, 0.3, 1e4])  # the last one diverges
    params, sweep = fit(model, classification, sgd, 6, batch_size, lr=lrs, seed=3)
    assert sweep.sweep_shape == (3,)
    assert sweep.diverged.tolist() == [False, False, True]
    for i, rate in enumerate(lrs):
        p1, one = fit(model, classification, sgd, 6, batch_size, lr=rate, seed=3)
        run = sweep[i]
        for name in ("train_loss", "val_loss", "val_accuracy", "update_loss", "update_lr", "epoch_lr"):
            np.testing.assert_allclose(getattr(run, name), getattr(one, name), rtol=1e-12, atol=1e-14)
        for name in (
            "n_updates",
            "n_evals",
            "epochs_run",
            "diverged",
            "diverged_at",
            "stop_reason",
            "best_epoch",
        ):
            assert getattr(run, name) == getattr(one, name), name
        for key in p1:
            np.testing.assert_allclose(params[key][i], p1[key], rtol=1e-12, atol=1e-14)


def test_sweep_of_seeds_and_batch_sizes(classification):
    """Arrays of batch sizes and seeds become leading sweep axes; each cell is its own fit."""
    model = models.SoftmaxRegression(4, 3)
    _, grid = fit(model, classification, sgd, 3, [10, 40], lr=[0.1, 0.5], seed=[0, 1, 2])
    assert grid.sweep_shape == (2, 3, 2)
    assert grid.train_loss.shape == (4, 2, 3, 2)
    assert grid.updates_per_epoch[:, 0, 0].tolist() == [8, 2]
    _, one = fit(model, classification, sgd, 3, 40, lr=0.5, seed=2)
    np.testing.assert_allclose(grid[1, 2, 1].train_loss, one.train_loss, rtol=1e-12)
    np.testing.assert_allclose(grid[1, 2, 1].update_loss, one.update_loss, rtol=1e-12)


def test_sweep_early_stopping_member_by_member(classification):
    model = models.MLP(4, hidden=(8,), n_classes=3)
    lrs = np.array([0.05, 0.5, 2.0])
    params, sweep = fit(model, classification, sgd, 30, 16, lr=lrs, patience=2, seed=1)
    for i, rate in enumerate(lrs):
        p1, one = fit(model, classification, sgd, 30, 16, lr=rate, patience=2, seed=1)
        assert sweep[i].epochs_run == one.epochs_run and sweep[i].best_epoch == one.best_epoch
        assert sweep[i].stop_reason == one.stop_reason
        np.testing.assert_allclose(params["W1"][i], p1["W1"], rtol=1e-12, atol=1e-14)


def test_record_choices(regression):
    model = models.LinearRegression(5)
    _, h = fit(model, regression, sgd(lr=0.05), 4, 20, record="end")
    assert h.eval_updates.tolist() == [0, 16] and len(h.train_loss) == 2
    _, h = fit(model, regression, sgd(lr=0.05), 4, 20, record=2)
    assert h.eval_updates.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    _, h = fit(model, regression, sgd(lr=0.05), 4, 20, record=[1, 3])
    assert h.eval_updates.tolist() == [0, 4, 12, 16]
    with pytest.raises(ValueError, match="record"):
        fit(model, regression, sgd(lr=0.05), 4, 20, record="sometimes")
    with pytest.raises(ValueError, match="need record='epoch'"):
        fit(model, regression, sgd(lr=0.05), 4, 20, record="end", patience=1)


def test_watch_stacks_per_update(regression):
    model = models.LinearRegression(5)
    _, h = fit(model, regression, sgd(lr=[0.01, 0.05]), 2, 40, watch=lambda state, p: p["b"])
    assert h.watched.shape == (4, 2)


def test_indexing_a_grid_keeps_the_remaining_axes(classification):
    model = models.SoftmaxRegression(4, 3)
    _, grid = fit(model, classification, sgd, 2, 24, lr=[0.1, 0.5], seed=[0, 1, 2])
    assert grid.sweep_shape == (3, 2)
    row = grid[1]
    assert row.sweep_shape == (2,) and row.train_loss.shape == (3, 2)
    assert row[0].eval_updates.tolist() == grid[1, 0].eval_updates.tolist() == [0, 3, 6]
    np.testing.assert_array_equal(row[1].train_loss, grid[1, 1].train_loss)


def test_final_is_each_runs_last_evaluation(regression):
    """final() reads every run at its own last evaluation (early stopping, grids of batch sizes)."""
    model = models.LinearRegression(5)
    _, h = fit(model, regression, sgd, 30, 10, lr=[0.001, 0.05, 0.3], patience=0)
    for i in range(3):
        assert h.final("val_loss")[i] == h[i].val_loss[-1]
    _, grid = fit(model, regression, sgd, 4, [10, 40], lr=0.05, record=3)
    assert np.isfinite(grid.final("train_loss")).all()


def test_divergence_does_not_depend_on_the_budget(regression):
    """A loss on the whole training set above the limit is divergence too, also at the last epoch."""
    model = models.LinearRegression(5)
    _, long = fit(model, regression, sgd, 40, None, lr=1.5)
    _, short = fit(model, regression, sgd, long.diverged_at, None, lr=1.5)
    assert long.diverged and short.diverged and short.diverged_at == long.diverged_at


def test_record_other_than_epoch(regression):
    model = models.LinearRegression(5)
    _, h = fit(model, regression, sgd(lr=0.05), 4, 20, record="end")
    assert h.best_epoch == -1 and np.isnan(h.best_loss) and "best" not in str(h)
    with pytest.raises(ValueError, match="callbacks need record='epoch'"):
        fit(model, regression, sgd(lr=0.05), 4, 20, record="end", callback=lambda *a: False)
    with pytest.raises(ValueError, match="record must be"):
        fit(model, regression, sgd(lr=0.05), 4, 20, record=2.0)
    with pytest.raises(ValueError, match="callback follows one run"):
        fit(model, regression, sgd(lr=[0.01, 0.05]), 2, 20, callback=lambda *a: False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, regression, sgd(lr=0.05), 2, 32.7)
    with pytest.raises(ValueError, match="watch must be a function"):
        fit(model, regression, sgd(lr=0.05), 2, 20, watch=3)


def test_evaluate_at_evaluates_and_returns_the_average_of_schedule_free(classification):
    """evaluate_at=eval_params: the evaluations and the returned parameters are x; training is unchanged."""
    from lrcourse.optimizers import eval_params, sgd_schedule_free

    model = models.SoftmaxRegression(4, 3)
    opt = sgd_schedule_free(lr=[0.2, 1.0])
    last = {}

    def keep_x(state, params):
        last["x"] = eval_params(state, params)
        return np.zeros(2)

    y_params, at_y = fit(model, classification, opt, 3, 16, watch=keep_x)
    x_params, at_x = fit(model, classification, opt, 3, 16, evaluate_at=eval_params)
    np.testing.assert_array_equal(at_x.update_loss, at_y.update_loss)  # the same training
    for key in x_params:
        np.testing.assert_array_equal(x_params[key], last["x"][key])
    assert not np.allclose(x_params["W"], y_params["W"])
    X, y = classification.X_val, classification.y_val
    np.testing.assert_allclose(at_x.val_loss[-1], model.evaluate(x_params, X, y)[0], rtol=1e-14)
    np.testing.assert_allclose(at_y.val_loss[-1], model.evaluate(y_params, X, y)[0], rtol=1e-14)
    np.testing.assert_array_equal(at_x.val_loss[0], at_y.val_loss[0])  # before training x = y
    # with a grid of seeds, and the identity: the same as without
    _, grid = fit(model, classification, opt, 2, 16, seed=[0, 1], evaluate_at=eval_params)
    _, one = fit(model, classification, opt, 2, 16, seed=1, evaluate_at=eval_params)
    np.testing.assert_allclose(grid[1].val_loss, one.val_loss, rtol=1e-14)
    _, same = fit(model, classification, opt, 3, 16, evaluate_at=lambda state, params: params)
    np.testing.assert_array_equal(same.val_loss, at_y.val_loss)
    with pytest.raises(ValueError, match="evaluate_at must be a function"):
        fit(model, classification, opt, 2, 16, evaluate_at="x")


def test_evaluate_at_with_early_stopping_keeps_the_best_evaluated(classification):
    from lrcourse.optimizers import eval_params, sgd_schedule_free

    model = models.SoftmaxRegression(4, 3)
    seen = {}

    def remember(epoch, params, logs):
        seen[epoch] = params
        return False

    best, h = fit(
        model,
        classification,
        sgd_schedule_free(lr=1.0),
        8,
        16,
        patience=1,
        evaluate_at=eval_params,
        callback=remember,
    )
    X, y = classification.X_val, classification.y_val
    np.testing.assert_allclose(model.evaluate(best, X, y)[0], h.best_loss, rtol=1e-14)
    np.testing.assert_array_equal(seen[h.best_epoch]["W"], best["W"])

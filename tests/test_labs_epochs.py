from types import SimpleNamespace

import numpy as np
import pytest

from lrcourse import data, models
from lrcourse.diagnosis import VERDICTS, diagnose
from lrcourse.labs import epochs as epochs_lab
from lrcourse.optimizers import adam, sgd
from lrcourse.training import fit


@pytest.fixture(scope="module")
def points():
    X, y = data.make_polynomial_regression(n_samples=15, degree=1, noise=0.3, seed=0)
    X_val, y_val = data.make_polynomial_regression(n_samples=60, degree=1, noise=0.3, seed=1)
    return X[:, 0], y, X_val[:, 0], y_val


def _fit_degree(points, degree, optimizer, epochs):
    x, y, x_val, y_val = points
    split = (
        data.polynomial_features(x, degree),
        y,
        data.polynomial_features(x_val, degree),
        y_val,
    )
    return fit(models.LinearRegression(degree), split, optimizer, epochs, shuffle=False)


# ----------------------------------------------------------------- polynomial_sweep


def _sweep(points, degrees, optimizer, epochs, **kwargs):
    return epochs_lab.polynomial_sweep(degrees, points, optimizer, epochs, **kwargs)


@pytest.mark.parametrize(
    "make", [lambda: sgd(lr=0.3), lambda: sgd(lr=0.2, momentum=0.9), lambda: adam(lr=0.05)]
)
def test_sweep_equals_fit_for_every_degree(points, make):
    sweep = _sweep(points, (1, 3, 7, 12), make(), 150)
    assert sweep.runs.sweep_shape == (4,)
    for degree in (1, 3, 7, 12):
        params, h = _fit_degree(points, degree, make(), 150)
        mine = sweep.history(degree)
        np.testing.assert_allclose(mine.train_loss, h.train_loss, rtol=1e-10)
        np.testing.assert_allclose(mine.val_loss, h.val_loss, rtol=1e-10)
        got = sweep.params(degree, 150)
        np.testing.assert_allclose(got["w"], params["w"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got["b"], params["b"], rtol=1e-9, atol=1e-12)
        assert mine.n_updates == h.n_updates == 150 and mine.updates_per_epoch == 1
        # on a plateau round-off may pick a neighbouring epoch of the same loss
        assert h.val_loss[mine.best_epoch] == pytest.approx(h.val_loss[h.best_epoch], rel=1e-10)
        np.testing.assert_allclose(mine.update_loss, h.update_loss, rtol=1e-10)
        np.testing.assert_array_equal(mine.epoch_lr, h.epoch_lr)
        assert diagnose(mine).verdict == diagnose(h).verdict


def test_higher_powers_stay_zero_and_predict_matches_the_model(points):
    sweep = _sweep(points, range(1, 6), sgd(lr=0.3), 40)
    assert sweep.degrees == (1, 2, 3, 4, 5) and sweep.epochs == 40
    for s, d in enumerate(sweep.degrees):
        assert np.all(sweep.runs.watched[:, s, d:5] == 0)
        assert np.all(sweep.coefficients(d, 17)[d:5] == 0) and sweep.coefficients(d, 17)[d - 1] != 0
    np.testing.assert_array_equal(sweep.coefficients(3, 0), np.zeros(6))
    x = np.linspace(-1, 1, 7)
    p = sweep.params(3, 25)
    expected = models.LinearRegression(3).predict(p, data.polynomial_features(x, 3))
    np.testing.assert_allclose(sweep.predict(3, 25, x), expected, rtol=1e-12)
    assert sweep.history(3).best_epoch == int(np.argmin(sweep.runs.val_loss[:, 2]))


def test_the_stack_masks_the_higher_powers():
    model = epochs_lab.PolynomialStack((1, 3))
    assert model.n_features == 3 and repr(model) == "PolynomialStack(degrees=[1, 3])"
    X = data.polynomial_features(np.linspace(-1, 1, 5), 3)
    y = np.arange(5.0)
    params = {"w": np.ones((2, 3)), "b": np.zeros(2)}
    loss, grads = model.loss_and_grad(params, X, y)
    one, g1 = models.LinearRegression(1).loss_and_grad({"w": np.ones(1), "b": np.zeros(())}, X[:, :1], y)
    three, g3 = models.LinearRegression(3).loss_and_grad({"w": np.ones(3), "b": np.zeros(())}, X, y)
    np.testing.assert_allclose(loss, [one, three], rtol=1e-14)
    np.testing.assert_allclose(grads["w"], [[g1["w"][0], 0, 0], g3["w"]], rtol=1e-14)
    np.testing.assert_allclose(model.predict(params, X)[0], X[:, 0], rtol=1e-14)
    with pytest.raises(ValueError, match="one row per degree"):
        model.loss(model.init(0), X, y)
    with pytest.raises(ValueError, match="distinct"):
        epochs_lab.PolynomialStack((2, 2))


def test_divergence_is_detected_as_fit_does(points):
    make = lambda: sgd(lr=1.0, momentum=0.9)  # noqa: E731
    sweep = _sweep(points, (3, 14), make(), 200)
    for degree in (3, 14):
        _, h = _fit_degree(points, degree, make(), 200)
        mine = sweep.history(degree)
        assert mine.diverged == h.diverged
        assert (mine.diverged_at, mine.epochs_run, mine.best_epoch) == (
            h.diverged_at,
            h.epochs_run,
            h.best_epoch,
        )
        assert len(mine.update_loss) == len(h.update_loss) and len(mine.epoch_lr) == len(h.epoch_lr)
        assert diagnose(mine).verdict == diagnose(h).verdict
    stopped = sweep.history(14).epochs_run
    assert sweep.history(14).diverged and 0 < stopped < 200
    assert np.isnan(sweep.runs.train_loss[stopped + 1 :, 1]).all()
    assert np.isfinite(sweep.coefficients(14, stopped)).all()
    assert np.isnan(sweep.coefficients(14, stopped + 1)).all()
    assert not sweep.history(3).diverged
    # the run so far: before the epoch that stopped it, it had not diverged
    before = sweep.history(14, stopped - 1)
    assert not before.diverged and before.epochs_run == stopped - 1 and diagnose(before).verdict != "diverged"
    assert sweep.history(14, stopped).diverged


def test_history_can_stop_early(points):
    sweep = _sweep(points, (2, 9), sgd(lr=0.3), 100)
    h = sweep.history(9, epochs=30)
    assert h.epochs_run == 30 and len(h.train_loss) == 31 and len(h.update_loss) == 30
    assert h.n_evals == 31 and len(h.eval_updates) == 31 and len(h.watched) == 30
    np.testing.assert_array_equal(h.val_loss, sweep.runs.val_loss[:31, 1])
    assert h.best_epoch == int(np.argmin(h.val_loss)) and h.best_loss == h.val_loss[h.best_epoch]
    # the same as training 30 epochs
    _, short = _fit_degree(points, 9, sgd(lr=0.3), 30)
    assert (h.best_epoch, h.stop_reason) == (short.best_epoch, short.stop_reason)
    np.testing.assert_allclose(h.val_loss, short.val_loss, rtol=1e-10)
    assert sweep.history(9, epochs=100).epochs_run == 100


def test_sweep_arguments_are_checked(points):
    with pytest.raises(ValueError, match="distinct"):
        _sweep(points, (2, 2), sgd(lr=0.1), 5)
    with pytest.raises(ValueError, match="sweep shape"):
        _sweep(points, (2,), sgd(lr=np.array([0.1, 0.2])), 5)
    with pytest.raises(ValueError, match="lr is required"):
        _sweep(points, (2,), sgd, 5)
    x, y, xv, yv = points
    with pytest.raises(ValueError, match="same length"):
        _sweep((x, y[:-1], xv, yv), (2,), sgd(lr=0.1), 5)
    with pytest.raises(ValueError, match="x_train, y_train, x_val, y_val"):
        _sweep((x, y), (2,), sgd(lr=0.1), 5)
    sweep = _sweep(points, (2,), sgd, 5, lr=0.1)
    assert sweep.runs.update_lr[0, 0] == 0.1
    with pytest.raises(ValueError, match="degree must be one of"):
        sweep.params(3, 1)
    with pytest.raises(ValueError, match="epoch"):
        sweep.params(2, 6)
    with pytest.raises(ValueError, match="epochs"):
        sweep.history(2, 0)


# ----------------------------------------------------------------- selection bias


def test_choosing_on_the_selection_set_is_optimistic(points):
    sweep = _sweep(points, range(1, 13), sgd(lr=0.35), 300)
    epochs = [1, 10, 30, 100, 300]
    bias = epochs_lab.selection_bias(sweep, epochs, n_select=20, repeats=60, n_reference=5000)
    assert len(bias.candidates) == 12 * 5 and bias.chosen.shape == (60,)
    summary = bias.summary()
    assert summary["selected_score"] < summary["true_error"]
    assert bias.optimism > 0 and bias.fraction_optimistic > 0.6
    # the fresh score is an honest estimate: close to the true error on average
    assert abs(summary["fresh_score"] - summary["true_error"]) < 0.3 * summary["true_error"]
    # repetition 0 by hand: the chosen candidate has the lowest score on its set
    X, y = data.make_polynomial_regression(20, degree=12, noise=0.3, seed=10_000 + 1)
    scores = [np.mean((sweep.predict(d, e, X[:, 0]) - y) ** 2) for d, e in bias.candidates]
    assert int(np.argmin(scores)) == bias.chosen[0]
    assert bias.selected_score[0] == pytest.approx(min(scores), rel=1e-10)
    again = epochs_lab.selection_bias(sweep, epochs, n_select=20, repeats=60, n_reference=5000)
    np.testing.assert_array_equal(again.chosen, bias.chosen)


def test_selection_bias_arguments(points):
    sweep = _sweep(points, (1, 2), sgd(lr=0.1), 10)
    with pytest.raises(ValueError, match="PolynomialSweep"):
        epochs_lab.selection_bias("sweep", [1])
    with pytest.raises(ValueError, match="epochs"):
        epochs_lab.selection_bias(sweep, [11])
    with pytest.raises(ValueError, match="at least one"):
        epochs_lab.selection_bias(sweep, [])


# ----------------------------------------------------------------- evidence in words


def _history(train, val=None, diverged=False):
    return SimpleNamespace(
        train_loss=np.asarray(train, dtype=float),
        val_loss=None if val is None else np.asarray(val, dtype=float),
        train_accuracy=None,
        val_accuracy=None,
        diverged=diverged,
        diverged_at=17 if diverged else -1,
        divergence_reason="non-finite loss (nan)" if diverged else None,
    )


SETTLED = 1.0 + 9.0 * 0.5 ** np.arange(21)


@pytest.mark.parametrize(
    ("history", "verdict", "needle"),
    [
        (_history([2.0, 1.0], diverged=True), "diverged", "update 17"),
        (_history(1.0 + 0.5 * (np.arange(21) % 2)), "unstable", "50% of the epochs"),
        (
            _history(np.linspace(2, 0.1, 21), np.r_[np.linspace(2, 1, 11), np.linspace(1, 1.5, 11)[1:]]),
            "overfitting",
            "50% above its minimum at epoch 10",
        ),
        (_history(np.linspace(10, 5, 21), np.linspace(10, 5, 21)), "underfitting", "still falling"),
        (_history(SETTLED, 1.1 * SETTLED), "good fit", "0% above its minimum"),
    ],
)
def test_evidence_lines_name_the_deciding_numbers(history, verdict, needle):
    d = diagnose(history)
    assert d.verdict == verdict
    lines = epochs_lab.evidence_lines(d)
    assert any(needle in line for line in lines), lines
    compact = epochs_lab.evidence_lines(d, compact=True)
    assert len(compact) == len(lines) and all(len(line) < 60 for line in compact)
    if verdict != "diverged":
        expected = 4 if history.val_loss is None else 6
        assert len(epochs_lab.evidence_lines(d, full=True)) == expected


def test_evidence_without_validation_and_the_no_minus_zero_rule():
    d = diagnose(_history(np.linspace(1, 0.99, 11)))
    assert d.verdict == "underfitting"
    (line,) = epochs_lab.evidence_lines(d)
    assert "removed 1% of the initial loss" in line
    assert len(epochs_lab.evidence_lines(d, full=True)) == 4
    assert epochs_lab._pct(-0.001) == "0%"


# ----------------------------------------------------------------- the quiz


def test_curve_quiz_shows_every_verdict():
    quiz = epochs_lab.curve_quiz()
    assert [c.letter for c in quiz] == list("ABCDEF")
    verdicts = {c.diagnosis.verdict for c in quiz}
    assert verdicts == set(VERDICTS)
    other = epochs_lab.curve_quiz(seed=1)
    assert sorted(c.setting for c in other) == sorted(c.setting for c in quiz)
    assert [c.setting for c in other] != [c.setting for c in quiz]

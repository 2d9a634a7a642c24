"""Chapter 10: Hessian-vector products, power iteration and the sharpness along training.

The exact products of :meth:`lrcourse.models.MLP.hvp` are checked against PyTorch's
``torch.autograd.functional.hvp`` (``tests/reference/make_hvp_reference.py``), against a
dense Hessian of finite differences, and on a loss with a known Hessian.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrcourse import data, models, training
from lrcourse.labs import stability
from lrcourse.optimizers import sgd

REFERENCE = json.loads((Path(__file__).parent / "data" / "hvp_reference.json").read_text())
RNG = np.random.default_rng(0)
X = RNG.normal(size=(9, 4))
Y_CLS = RNG.integers(0, 3, size=9)


def _arrays(tree):
    return {k: np.array(v, dtype=np.float64) for k, v in tree.items()}


@pytest.mark.parametrize(
    "case", REFERENCE["cases"], ids=lambda c: f"{c['activation']}-{c['criterion']}-{c['hidden']}"
)
def test_exact_product_equals_pytorch(case):
    model = models.MLP(
        REFERENCE["n_features"],
        hidden=tuple(case["hidden"]),
        n_classes=REFERENCE["n_classes"],
        activation=case["activation"],
        l2=case["l2"],
        criterion=case["criterion"],
    )
    params, vector = _arrays(case["params"]), _arrays(case["vector"])
    Xr, yr = np.array(case["X"]), np.array(case["y"])
    assert model.loss(params, Xr, yr) == pytest.approx(case["loss"], rel=1e-12)
    product = stability.hessian_vector_product(model, params, vector, Xr, yr)
    for key, expected in _arrays(case["hvp"]).items():
        np.testing.assert_allclose(product[key], expected, rtol=1e-10, atol=1e-12, err_msg=key)


MODELS = [
    models.MLP(4, hidden=(5,), n_classes=3, activation="tanh"),
    models.MLP(4, hidden=(5, 6), n_classes=3, activation="tanh", l2=0.2),
    models.MLP(4, hidden=(5, 6), n_classes=3, activation="tanh", criterion="squared_error"),
    models.MLP(4, hidden=(6,), activation="tanh", l2=0.1),  # regression
]


def _start(model, seed=1):
    rng = np.random.default_rng(seed)
    return {k: v + 0.3 * rng.normal(size=v.shape) for k, v in model.init(seed).items()}


def _targets(model):
    return Y_CLS if model.n_classes else X[:, 0] - X[:, 1]


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_exact_hessian_is_symmetric_and_matches_finite_differences(model):
    params, y = _start(model), _targets(model)
    exact = stability.dense_hessian(model, params, X, y)
    assert exact.shape == (model.n_params, model.n_params)
    np.testing.assert_allclose(exact, exact.T, atol=1e-12)
    numeric = stability.dense_hessian(model, params, X, y, method="finite_difference", h=1e-5)
    np.testing.assert_allclose(numeric, exact, atol=2e-8 * np.abs(exact).max())


def test_finite_differences_converge_like_h_squared():
    model = MODELS[1]
    params, y = _start(model), _targets(model)
    v = {k: RNG.normal(size=a.shape) for k, a in params.items()}
    exact = stability.ravel(stability.hessian_vector_product(model, params, v, X, y))

    def error(h):
        fd = stability.hessian_vector_product(model, params, v, X, y, method="finite_difference", h=h)
        return np.abs(stability.ravel(fd) - exact).max()

    assert 70 < error(1e-2) / error(1e-3) < 130  # h ten times smaller: error 100 times smaller


def test_the_hessian_of_linear_regression_is_known():
    # L = mean (Xw + b - y)^2 + l2/2 |w|^2 has the Hessian 2/n [X 1]^T [X 1] + l2 diag(1, .., 1, 0)
    model = models.LinearRegression(4, l2=0.3)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1
    Xt = np.column_stack([X, np.ones(len(X))])
    expected = 2.0 / len(X) * Xt.T @ Xt + np.diag([0.3] * 4 + [0.0])
    H = stability.dense_hessian(model, model.init(0), X, y, method="finite_difference")
    np.testing.assert_allclose(H, expected, atol=1e-8)
    with pytest.raises(ValueError, match="finite_difference"):
        stability.hessian_vector_product(model, model.init(0), model.init(0), X, y)


def test_ravel_and_unravel_are_inverse():
    params = _start(MODELS[1])
    flat = stability.ravel(params)
    assert flat.size == MODELS[1].n_params
    back = stability.unravel(flat, params)
    assert list(back) == list(params)
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
    with pytest.raises(ValueError, match="entries"):
        stability.unravel(flat[:-1], params)


def test_power_iteration_finds_the_top_eigenvalue_of_a_known_matrix():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    A = Q @ np.diag([5.0, 2.0, 1.0, 0.5, -1.0, 0.1]) @ Q.T
    value, v = stability.power_iteration(lambda x: A @ x, np.ones(6), steps=200)
    assert value == pytest.approx(5.0, rel=1e-12)
    np.testing.assert_allclose(abs(v @ Q[:, 0]), 1.0, atol=1e-10)
    # the error after k steps shrinks like (2/5)^(2k)
    few, _ = stability.power_iteration(lambda x: A @ x, np.ones(6), steps=10)
    assert 0 < 5.0 - few < 1e-3
    assert stability.power_iteration(lambda x: 0 * x, np.ones(3))[0] == 0.0
    with pytest.raises(ValueError, match="zero vector"):
        stability.power_iteration(lambda x: x, np.zeros(3))


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_top_eigenvalue_matches_the_dense_hessian(model):
    params, y = _start(model), _targets(model)
    eigenvalues = np.linalg.eigvalsh(stability.dense_hessian(model, params, X, y))
    top = eigenvalues[np.argmax(np.abs(eigenvalues))]
    value, vector = stability.top_eigenvalue(model, params, X, y, steps=500)
    assert isinstance(value, float)
    assert value == pytest.approx(top, rel=1e-6)
    # a warm start from the eigenvector is already there
    again, _ = stability.top_eigenvalue(model, params, X, y, steps=1, vector=vector)
    assert again == pytest.approx(top, rel=1e-6)


def test_top_eigenvalue_of_a_sweep_is_one_per_member():
    model = MODELS[1]
    one, two = _start(model, 1), _start(model, 2)
    sweep = {k: np.stack([one[k], two[k]]) for k in one}
    values, vector = stability.top_eigenvalue(model, sweep, X, Y_CLS, steps=300)
    assert values.shape == (2,)
    for i, member in enumerate((one, two)):
        alone, _ = stability.top_eigenvalue(model, member, X, Y_CLS, steps=300)
        assert values[i] == pytest.approx(alone, rel=1e-8)
    norms = sum(np.sum(vector[k] ** 2, axis=tuple(range(1, vector[k].ndim))) for k in vector)
    np.testing.assert_allclose(norms, 1.0)


@pytest.fixture(scope="module")
def digits():
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    return data.Split(split.X_train[:200], split.y_train[:200], None, None)


def test_track_sharpness_runs_full_batch_descent_and_measures_it(digits):
    model = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh", criterion="squared_error")
    lrs = np.array([0.05, 0.2])
    trace = stability.track_sharpness(model, digits, lrs, 40, every=10, power_steps=50, first_power_steps=400)
    np.testing.assert_array_equal(trace.steps, [0, 10, 20, 30, 40])
    assert trace.sharpness.shape == (5, 2) and trace.loss.shape == (40, 2)
    np.testing.assert_allclose(trace.threshold, [40.0, 10.0])
    # the same descent through fit, and the sharpness measured afresh at the end
    params, h = training.fit(model, digits, sgd, 40, None, lr=lrs, shuffle=False, record="end")
    for key in params:
        np.testing.assert_array_equal(trace.params[key], params[key])
    np.testing.assert_allclose(trace.loss, h.update_loss, rtol=1e-12)
    np.testing.assert_allclose(trace.final_loss, h.train_loss[-1], rtol=1e-12)
    fresh, _ = stability.top_eigenvalue(model, params, digits.X_train, digits.y_train, steps=400)
    np.testing.assert_allclose(trace.sharpness[-1], fresh, rtol=1e-3)
    start, _ = stability.top_eigenvalue(model, model.init(0), digits.X_train, digits.y_train, steps=400)
    np.testing.assert_allclose(trace.sharpness[0], start, rtol=1e-3)
    np.testing.assert_allclose(trace.ratio(20), trace.sharpness[2:] * lrs / 2)
    rises = trace.loss_rises()
    assert rises.shape == (2,) and (rises >= 0).all()


def test_track_sharpness_masks_a_diverged_run(digits):
    model = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh", criterion="squared_error")
    trace = stability.track_sharpness(model, digits, [0.05, 50.0], 20, every=5, power_steps=3)
    assert trace.history.diverged.tolist() == [False, True]
    assert np.isfinite(trace.sharpness[:, 0]).all()
    assert np.isnan(trace.sharpness[1:, 1]).all()


def test_track_sharpness_checks_its_arguments(digits):
    model = models.MLP(64, hidden=(4,), n_classes=10, activation="tanh")
    with pytest.raises(ValueError, match="lr"):
        stability.track_sharpness(model, digits, [[0.1]], 10)
    with pytest.raises(ValueError, match="every"):
        stability.track_sharpness(model, digits, 0.1, 10, every=11)
    with pytest.raises(ValueError, match="first_power_steps"):
        stability.track_sharpness(model, digits, 0.1, 10, first_power_steps=0)


def test_track_sharpness_over_seeds_stacks_them_in_front(digits):
    model = models.MLP(64, hidden=(6,), n_classes=10, activation="tanh", criterion="squared_error")
    both = stability.track_sharpness(model, digits, [0.05, 0.2], 20, every=10, power_steps=30, seed=[0, 3])
    assert both.sharpness.shape == (3, 2, 2) and both.loss.shape == (20, 2, 2)
    assert both.final_loss.shape == (2, 2) and both.loss_rises().shape == (2, 2)
    alone = stability.track_sharpness(model, digits, [0.05, 0.2], 20, every=10, power_steps=30, seed=3)
    np.testing.assert_allclose(both.loss[:, 1], alone.loss, rtol=1e-12)
    np.testing.assert_allclose(both.sharpness[:, 1], alone.sharpness, rtol=1e-6)
    np.testing.assert_allclose(both.ratio(10), both.sharpness[1:] * np.array([0.05, 0.2]) / 2)

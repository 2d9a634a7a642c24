import numpy as np
import pytest

from lrcourse import data, models
from lrcourse import gradient_noise as gn


@pytest.fixture(scope="module")
def digits_small():
    X, y = data.load_digits()
    return X[:120], y[:120]


def test_flat_gradient_concatenates_in_key_order():
    out = gn.flat_gradient({"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])})
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
    G = gn.per_example_gradients(model, params, X, y)
    assert G.shape == (len(y), model.n_params)
    full = gn.flat_gradient(model.loss_and_grad(params, X, y)[1])
    np.testing.assert_allclose(G.mean(axis=0), full, rtol=1e-10, atol=1e-12)
    one = gn.flat_gradient(model.loss_and_grad(params, X[5:6], y[5:6])[1])
    np.testing.assert_allclose(G[5], one)


def test_per_example_gradients_rejects_sweep_parameters(digits_small):
    X, y = digits_small
    model = models.SoftmaxRegression(64, 10)
    with pytest.raises(ValueError, match="no sweep axes"):
        gn.per_example_gradients(model, model.init(0, sweep=(3,)), X, y)


def test_expected_squared_error_formula():
    assert gn.expected_squared_error(8.0, 100, 4, replace=True) == pytest.approx(2.0)
    assert gn.expected_squared_error(8.0, 100, 4) == pytest.approx(2.0 * 96 / 99)
    assert gn.expected_squared_error(8.0, 100, 100) == 0.0
    assert gn.expected_squared_error(8.0, 100, 1) == pytest.approx(8.0)  # one example: no correction
    np.testing.assert_allclose(
        gn.expected_squared_error(3.0, 10, np.array([1, 5, 10])), [3.0, 3.0 / 5 * 5 / 9, 0.0]
    )
    assert gn.expected_squared_error(2.0, 1, 1) == 0.0


def test_expected_squared_error_checks_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        gn.expected_squared_error(1.0, 10, 11)
    with pytest.raises(ValueError, match="sigma2"):
        gn.expected_squared_error(-1.0, 10, 2)
    assert gn.expected_squared_error(1.0, 10, 11, replace=True) == pytest.approx(1 / 11)


@pytest.mark.parametrize("replace", [False, True])
def test_batch_weights_rows_are_batches(replace):
    rng = np.random.default_rng(0)
    w = gn.batch_weights(20, 6, 50, rng, replace=replace)
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
    w = gn.batch_weights(10, 3, 20000, rng)
    freq = (w > 0).mean(axis=0)
    np.testing.assert_allclose(freq, 0.3, atol=0.015)


@pytest.mark.parametrize("replace", [False, True])
def test_gradient_noise_matches_theory(replace):
    rng = np.random.default_rng(2)
    G = rng.normal(size=(60, 5)) + np.array([1.0, 0, 0, 0, 0])
    res = gn.gradient_noise(G, [1, 4, 15, 60], n_batches=4000, seed=3, replace=replace)
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
    a = gn.gradient_noise(G, [2, 8], n_batches=50, seed=7)
    b = gn.gradient_noise(G, [2, 8], n_batches=50, seed=7)
    np.testing.assert_array_equal(a.squared_error, b.squared_error)


def test_gradient_noise_checks_arguments():
    G = np.zeros((10, 3))
    with pytest.raises(ValueError, match="2-D"):
        gn.gradient_noise(np.zeros(10), [1])
    with pytest.raises(ValueError, match="batch_sizes"):
        gn.gradient_noise(G, [11])
    with pytest.raises(ValueError, match="n_batches"):
        gn.gradient_noise(G, [1], n_batches=0)

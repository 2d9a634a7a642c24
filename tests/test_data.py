import numpy as np
import pytest

from lrcourse import data


def test_polynomial_regression_is_seeded_and_shaped():
    X1, y1 = data.make_polynomial_regression(15, 9, seed=3)
    X2, y2 = data.make_polynomial_regression(15, 9, seed=3)
    X3, _ = data.make_polynomial_regression(15, 9, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.ndim == 2 and y1.shape == (len(X1),) and X1.dtype == np.float64
    assert np.isfinite(X1).all()


def test_linear_regression_correlation_and_noise():
    X, y, w = data.make_linear_regression(n_samples=20000, n_features=5, noise=0.0, correlation=0.6, seed=0)
    C = np.corrcoef(X, rowvar=False)
    off = C[~np.eye(5, dtype=bool)]
    np.testing.assert_allclose(off, 0.6, atol=0.03)
    np.testing.assert_allclose(X.var(axis=0), 1.0, atol=0.05)
    np.testing.assert_allclose(y, X @ w)
    top = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    assert top == pytest.approx(1 + 4 * 0.6, rel=0.05)


def test_linear_regression_uncorrelated_by_default():
    X, y, w = data.make_linear_regression(n_samples=5000, n_features=8, noise=0.5, seed=1)
    off = np.corrcoef(X, rowvar=False)[~np.eye(8, dtype=bool)]
    assert np.abs(off).max() < 0.06
    assert np.std(y - X @ w) == pytest.approx(0.5, rel=0.05)


def test_polynomial_features_first_column_is_x():
    X, y = data.make_polynomial_regression(n_samples=10, degree=6, seed=0)
    x = X[:, 0]
    np.testing.assert_allclose(X, data.polynomial_features(x, 6))
    np.testing.assert_allclose(X[:, 2], x**3)
    assert np.all(np.abs(x) <= 1)


def test_load_digits_from_the_package():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.all(np.bincount(y) > 170)
    images, _ = data.load_digits(as_images=True)
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    assert "Alpaydin" in data.DIGITS_CITATION and "CC BY 4.0" in data.DIGITS_CITATION


def test_digits_licence_and_readme_are_shipped():
    folder = data._DATASETS
    assert (
        "CC BY 4.0" in (folder / "LICENSE").read_text()
        or "Attribution 4.0" in (folder / "LICENSE").read_text()
    )
    readme = (folder / "README.md").read_text()
    assert "Alpaydin" in readme and "Kaynak" in readme and "1998" in readme and "UCI" in readme
    assert (folder / "digits.npz").stat().st_size < 300_000


def test_split_sizes_disjoint_and_seeded():
    X = np.arange(100.0).reshape(50, 2)
    y = np.arange(50)
    s = data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=0)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (35, 10, 5)
    together = np.concatenate([s.y_train, s.y_val, s.y_test])
    np.testing.assert_array_equal(np.sort(together), y)
    np.testing.assert_array_equal(s.X_train[:, 0], 2 * s.y_train)  # rows stay paired
    again = data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=0)
    np.testing.assert_array_equal(again.y_val, s.y_val)
    other = data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=1)
    assert not np.array_equal(other.y_val, s.y_val)
    assert s.train[0] is s.X_train and s.val[1] is s.y_val
    assert "train=35" in repr(s)


def test_split_with_zero_fraction_has_no_part():
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    s = data.train_val_test_split(X, y, val_fraction=0.25, test_fraction=0.0)
    assert s.X_test is None and s.test is None and len(s.y_val) == 5


def test_split_rejects_bad_input():
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_test_split(X, y, val_fraction=1.0)
    with pytest.raises(ValueError, match="at least 1 training row"):
        data.train_val_test_split(X, y, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="same number of rows"):
        data.train_val_test_split(X, np.zeros(9))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X must be finite.*row 3"):
        data.train_val_test_split(bad, y)
    with pytest.raises(ValueError, match="2-D"):
        data.train_val_test_split(np.zeros(10), y)


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(200, 3))
    X[:, 2] = 5.0  # a constant column, like a blank pixel
    split = data.train_val_test_split(X, np.zeros(200), seed=0)
    scaled, scaler = data.standardize(split)
    np.testing.assert_allclose(scaled.X_train[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled.X_train[:, :2].std(axis=0), 1.0)
    np.testing.assert_array_equal(scaled.X_train[:, 2], 0.0)
    np.testing.assert_allclose(scaler.mean, split.X_train.mean(axis=0))
    np.testing.assert_allclose(scaled.X_val, (split.X_val - scaler.mean) / scaler.scale)
    assert abs(scaled.X_val[:, 0].mean()) > 1e-6  # not re-centred on its own statistics
    np.testing.assert_allclose(scaler.inverse_transform(scaled.X_test), split.X_test)
    np.testing.assert_array_equal(scaled.y_train, split.y_train)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        scaler.transform(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.make_linear_regression(n_features=0), "n_features"),
        (lambda: data.make_linear_regression(correlation=1.0), "correlation"),
        (lambda: data.polynomial_features(np.zeros((2, 2)), 3), "1-D"),
        (lambda: data.make_polynomial_regression(degree=0), "degree"),
    ],
)
def test_generators_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_noisy_labels_change_exactly_the_fraction():
    y = np.arange(200) % 10
    noisy = data.noisy_labels(y, 0.2, 10, seed=3)
    changed = noisy != y
    assert changed.sum() == 40 and noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(noisy, data.noisy_labels(y, 0.2, 10, seed=3))
    np.testing.assert_array_equal(data.noisy_labels(y, 0.0, 10), y)
    assert y[0] == 0  # the input is not modified
    with pytest.raises(ValueError, match="labels"):
        data.noisy_labels(np.array([0.5, 1.0]), 0.1, 2)
    with pytest.raises(ValueError, match="fraction"):
        data.noisy_labels(y, 1.5, 10)

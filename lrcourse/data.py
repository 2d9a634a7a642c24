"""Data sets for the training chapters: seeded synthetic generators and one real set.

Every generator takes a ``seed`` and returns ``(X, y)`` (the linear one also the
true weights): ``X`` of shape ``(n_samples, n_features)`` (float64) and ``y`` of
shape ``(n_samples,)``, float regression targets. The digits come with integer
labels ``0..9``.

- :func:`make_linear_regression`: ``y = X w + noise`` with free ``n_features`` and
  optionally correlated features (for the :math:`1/\\sqrt{d}` learning-rate rule).
- :func:`make_polynomial_regression`: few points, many polynomial features: overfits.
- :func:`load_digits`: the UCI handwritten digits (8 × 8 images), shipped in the package.
- :func:`noisy_labels`: a copy of class labels with a fraction of them wrong.

Then :func:`train_val_test_split` cuts a data set in three and :func:`standardize`
rescales the features with statistics of the *training* part only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lrcourse import _validate as check
from lrcourse._perturb import perturbed

DIGITS_CITATION = (
    "Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits [Dataset]. "
    "UCI Machine Learning Repository. https://doi.org/10.24432/C50P49 (CC BY 4.0)"
)

_DATASETS = Path(__file__).parent / "datasets"


# ----------------------------------------------------------------- checks


def check_xy(X, y, name="X"):
    """Return ``X`` (2-D float64) and ``y`` (1-D) as arrays after checking them.

    ``ValueError`` if ``X`` is not 2-D, ``y`` is not 1-D, their lengths differ,
    the set is empty, or either holds NaN or infinity.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    yname = "y" + name[1:]
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"{yname} must be 1-D (n_samples,), got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"{name} and {yname} must have the same number of rows, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{name} must have at least 1 row, got 0")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} must be finite, got NaN or inf at row {np.argwhere(~np.isfinite(X))[0][0]}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            f"{yname} must be finite, got NaN or inf at row {np.argwhere(~np.isfinite(y))[0][0]}"
        )
    return X, y


# ----------------------------------------------------------------- regression


def make_linear_regression(n_samples=200, n_features=10, noise=0.1, correlation=0.0, seed=0):
    r"""A linear regression problem :math:`y = X w + \varepsilon`; returns ``(X, y, w)``.

    Each row of ``X`` is standard normal with every pair of features correlated
    by ``correlation`` :math:`\rho`:

    .. math::

        x_j = \sqrt{1-\rho}\, z_j + \sqrt{\rho}\, c, \qquad z_j, c \sim \mathcal N(0, 1)

    so :math:`\operatorname{Var} x_j = 1` and :math:`\operatorname{Corr}(x_i, x_j) = \rho`.
    The largest eigenvalue of :math:`E[x x^\top]` is :math:`1 + (d-1)\rho`: with
    correlated features the stable learning rate shrinks as ``n_features`` grows,
    the situation behind the rule :math:`\eta = \min(1/\sqrt d, 0.2)`.

    The true weights are :math:`w_j \sim \mathcal N(0, 1/d)` (so the signal has
    variance about 1 whatever :math:`d`) and :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`.
    """
    n_samples = check.check_int("n_samples", n_samples, 1)
    n_features = check.check_int("n_features", n_features, 1)
    noise = float(check.check_nonnegative("noise", noise))
    rho = float(check.check_range("correlation", correlation, 0.0, 1.0, high_open=True))
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_samples, n_features))
    common = rng.standard_normal((n_samples, 1))
    X = np.sqrt(1 - rho) * z + np.sqrt(rho) * common
    w = rng.standard_normal(n_features) / np.sqrt(n_features)
    y = X @ w + noise * rng.standard_normal(n_samples)
    return perturbed(X), perturbed(y), w


def polynomial_features(x, degree):
    r"""The powers :math:`[x, x^2, \dots, x^{\text{degree}}]` of a 1-D array ``x``, shape ``(n, degree)``.

    No constant column: the models have their own bias.
    """
    degree = check.check_int("degree", degree, 1)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    return x[:, None] ** np.arange(1, degree + 1)


def make_polynomial_regression(n_samples=30, degree=12, noise=0.3, seed=0):
    r"""A tiny regression set that overfits easily: few noisy points, many polynomial features.

    :math:`x \sim U(-1, 1)`, :math:`y = \sin(\pi x) + \varepsilon` with
    :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`, and
    ``X = polynomial_features(x, degree)``, so ``X[:, 0]`` is ``x`` itself (use it
    to plot). With ``degree`` close to ``n_samples`` a model can pass through
    every training point, noise included: the training loss keeps falling while
    the validation loss turns up (the epochs / overfitting chapter).
    """
    n_samples = check.check_int("n_samples", n_samples, 2)
    noise = float(check.check_nonnegative("noise", noise))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n_samples)
    y = np.sin(np.pi * x) + noise * rng.standard_normal(n_samples)
    return polynomial_features(perturbed(x), degree), perturbed(y)


# ----------------------------------------------------------------- real data


def load_digits(as_images=False):
    """The UCI handwritten digits: 1797 images of 8 × 8 pixels, labels 0..9; returns ``(X, y)``.

    ``X`` holds the pixels scaled to :math:`[0, 1]` (the stored counts 0..16 divided
    by 16), shape ``(1797, 64)``, or ``(1797, 8, 8)`` with ``as_images=True``; ``y``
    is ``int64``. The file ships with the package (no network).

    Source: Alpaydin, E. & Kaynak, C. (1998), *Optical Recognition of Handwritten
    Digits*, UCI Machine Learning Repository, CC BY 4.0 (see :data:`DIGITS_CITATION`
    and ``lrcourse/datasets/README.md``).
    """
    with np.load(_DATASETS / "digits.npz") as f:
        images, target = f["images"], f["target"]
    X = images.astype(np.float64) / 16.0
    if not as_images:
        X = X.reshape(len(X), -1)
    return perturbed(X), target.astype(np.int64)


# ----------------------------------------------------------------- label noise


def noisy_labels(y, fraction, n_classes, seed=0):
    """A copy of the labels ``y`` in which a random ``fraction`` of them has a different, random class.

    Exactly ``round(fraction * len(y))`` labels change (drawn with
    ``numpy.random.default_rng(seed)``); each gets one of the other
    ``n_classes - 1`` classes with equal chance. Real data sets carry such wrong
    labels too; a model that memorises them gets worse on new data.
    """
    y = np.asarray(y)
    n_classes = check.check_int("n_classes", n_classes, 2)
    fraction = float(check.check_range("fraction", fraction, 0.0, 1.0))
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must be 1-D integer labels in [0, {n_classes - 1}]")
    rng = np.random.default_rng(seed)
    n_flip = int(round(fraction * len(y)))
    which = rng.choice(len(y), size=n_flip, replace=False)
    noisy = y.copy()
    noisy[which] = (y[which] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    return noisy


# ----------------------------------------------------------------- splitting and scaling


@dataclass(frozen=True)
class Split:
    """A data set cut into training, validation and test parts (the last two may be ``None``)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def train(self):
        """``(X_train, y_train)``."""
        return self.X_train, self.y_train

    @property
    def val(self):
        """``(X_val, y_val)``, or ``None`` without a validation part."""
        return None if self.X_val is None else (self.X_val, self.y_val)

    @property
    def test(self):
        """``(X_test, y_test)``, or ``None`` without a test part."""
        return None if self.X_test is None else (self.X_test, self.y_test)

    def __repr__(self):
        sizes = [
            f"{part}={len(getattr(self, 'y_' + part))}"
            for part in ("train", "val", "test")
            if getattr(self, "y_" + part) is not None
        ]
        return f"Split({', '.join(sizes)}, n_features={self.X_train.shape[1]})"


def unpack(data):
    """``(X_train, y_train, X_val, y_val)`` from a :class:`Split` or a tuple of 2 or 4 arrays.

    The validation pair is ``(None, None)`` when there is none. This is how the
    training functions accept either form of ``data``.
    """
    if isinstance(data, Split):
        return data.X_train, data.y_train, data.X_val, data.y_val
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return (*data, None, None) if len(data) == 2 else tuple(data)
    length = f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""
    raise ValueError(
        "data must be a Split or a tuple (X_train, y_train) or (X_train, y_train, X_val, y_val), "
        f"got {type(data).__name__}{length}"
    )


def train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.2, seed=0):
    r"""Shuffle the rows with ``np.random.default_rng(seed)`` and cut them into three parts.

    .. math::

        n_\text{val} = \operatorname{round}(n \cdot \text{val\_fraction}), \quad
        n_\text{test} = \operatorname{round}(n \cdot \text{test\_fraction}), \quad
        n_\text{train} = n - n_\text{val} - n_\text{test}

    A nonzero fraction gives at least one row; a zero fraction gives no part
    (``None``). The training part must keep at least one row.
    """
    X, y = check_xy(X, y)
    val_fraction = float(check.check_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True))
    test_fraction = float(check.check_range("test_fraction", test_fraction, 0.0, 1.0, high_open=True))
    n = len(y)
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise ValueError(
            f"val_fraction + test_fraction must leave at least 1 training row; with {n} rows, "
            f"val_fraction={val_fraction} and test_fraction={test_fraction} leave {n - n_val - n_test}"
        )
    order = np.random.default_rng(seed).permutation(n)
    val, test, train = np.split(order, [n_val, n_val + n_test])
    return Split(
        X[train],
        y[train],
        X[val] if n_val else None,
        y[val] if n_val else None,
        X[test] if n_test else None,
        y[test] if n_test else None,
    )


@dataclass(frozen=True)
class Standardizer:
    r"""Feature scaling :math:`x \mapsto (x - \mu) / \sigma` with :math:`\mu, \sigma` of the training data."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X_train):
        r"""Column means :math:`\mu` and standard deviations :math:`\sigma` of ``X_train``.

        A constant column (:math:`\sigma = 0`, e.g. a pixel that is always blank)
        gets :math:`\sigma = 1`, so it maps to 0 instead of dividing by zero.
        """
        X_train, _ = check_xy(X_train, np.zeros(len(np.asarray(X_train))), name="X_train")
        std = X_train.std(axis=0)
        return cls(X_train.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, X):
        r""":math:`(x - \mu) / \sigma`, column by column."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(f"X must have shape (n, {len(self.mean)}), got shape {X.shape}")
        return (X - self.mean) / self.scale

    def inverse_transform(self, X):
        r""":math:`x \sigma + \mu`: back to the original units."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean


def standardize(split):
    """Standardise every part of ``split`` with a :class:`Standardizer` fitted on its training part.

    Returns ``(scaled_split, scaler)``. Fitting on the training part only keeps
    the validation and test parts unseen, as they must be to estimate how the
    model does on new data.
    """
    scaler = Standardizer.fit(split.X_train)

    def scaled(X):
        return None if X is None else scaler.transform(X)

    new = replace(
        split, X_train=scaled(split.X_train), X_val=scaled(split.X_val), X_test=scaled(split.X_test)
    )
    return new, scaler

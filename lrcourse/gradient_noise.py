r"""How noisy is a minibatch gradient? Exact statistics and a vectorised measurement.

The gradient of a loss that averages over :math:`N` examples is the mean of the
per-example gradients :math:`g_i = \nabla\ell_i(\theta)`:

.. math:: g = \frac1N \sum_{i=1}^N g_i, \qquad
          \sigma^2 = \frac1N \sum_{i=1}^N \lVert g_i - g\rVert^2 ,

:math:`\sigma^2` being the total variance (the trace of the covariance) of one
example's gradient. A minibatch of :math:`B` examples drawn at random
estimates :math:`g` by :math:`g_B = \frac1B\sum_{i\in\mathcal B} g_i`, which is
unbiased, with mean squared error

.. math:: \mathbb E\,\lVert g_B - g\rVert^2 = \frac{\sigma^2}{B}
          \quad\text{(with replacement)}, \qquad
          \mathbb E\,\lVert g_B - g\rVert^2 = \frac{\sigma^2}{B}\cdot\frac{N-B}{N-1}
          \quad\text{(without replacement)} .

The second factor is the *finite-population correction*: drawing without
replacement, as a shuffled epoch does, a batch of the whole data set is exact.
:func:`expected_squared_error` evaluates the formula; :func:`gradient_noise`
measures the same quantity over many sampled batches, all in one matrix product,
from the per-example gradients of :func:`per_example_gradients`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.tree import tree_leaves

__all__ = [
    "GradientNoise",
    "batch_weights",
    "expected_squared_error",
    "flat_gradient",
    "gradient_noise",
    "per_example_gradients",
]


def flat_gradient(grads):
    """The arrays of a gradient (a dict of arrays, see :mod:`lrcourse.tree`) as one flat vector."""
    return np.concatenate([np.ravel(leaf) for leaf in tree_leaves(grads)])


def per_example_gradients(model, params, X, y):
    r"""The gradient of every example's loss :math:`\ell_i` at ``params``, shape ``(N, P)``.

    Row :math:`i` is ``model.loss_and_grad(params, X[i:i+1], y[i:i+1])`` flattened
    with :func:`flat_gradient` (``P = model.n_params``); the rows average to the
    full-batch gradient. One model only (no sweep axes). The loop over the rows
    costs :math:`N` small gradient evaluations: fine for a few thousand examples.
    """
    X, y = model.validate(X, y)
    shapes = [np.shape(leaf) for leaf in tree_leaves(params)]
    expected = [leaf.shape for leaf in tree_leaves(model.init(0))]
    if shapes != expected:
        raise ValueError(
            f"params must be the parameters of one model (shapes {expected}, no sweep axes), got {shapes}"
        )
    rows = [flat_gradient(model.loss_and_grad(params, X[i : i + 1], y[i : i + 1])[1]) for i in range(len(y))]
    return np.array(rows)


def expected_squared_error(sigma2, n, batch_size, replace=False):
    r"""The mean squared error :math:`\mathbb E\lVert g_B - g\rVert^2` of a minibatch gradient.

    ``sigma2`` is the per-example variance :math:`\sigma^2`, ``n`` the data set size
    :math:`N`. With ``replace=True`` the batch is drawn with replacement and the error
    is :math:`\sigma^2/B`; otherwise (the default, as in a shuffled epoch) it is
    :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}`, which is 0 at :math:`B = N`.
    Works elementwise on arrays of batch sizes.
    """
    sigma2 = check.check_nonnegative("sigma2", sigma2)
    n = check.check_int("n", n, 1)
    b = check.check_range("batch_size", batch_size, 1, None if replace else n)
    if replace:
        return sigma2 / b
    if n == 1:  # one example: the only batch is the whole data set
        return np.zeros(np.broadcast_shapes(np.shape(sigma2), b.shape))
    return sigma2 / b * (n - b) / (n - 1)


def batch_weights(n, batch_size, n_batches, rng, replace=False):
    r"""``n_batches`` random minibatches as rows of weights, shape ``(n_batches, n)``.

    Row :math:`k` holds :math:`1/B` at the examples of batch :math:`k` and 0
    elsewhere (with ``replace=True`` an example drawn twice gets :math:`2/B`), so
    ``batch_weights(...) @ G`` is every minibatch gradient at once. Without
    replacement each row picks the :math:`B` examples with the smallest of
    :math:`n` uniform random numbers: a uniformly random subset.
    """
    n = check.check_int("n", n, 1)
    batch_size = check.check_int("batch_size", batch_size, 1, None if replace else n)
    n_batches = check.check_int("n_batches", n_batches, 1)
    if replace:
        picks = rng.integers(0, n, size=(n_batches, batch_size))
        weights = np.zeros((n_batches, n))
        np.add.at(weights, (np.arange(n_batches)[:, None], picks), 1.0 / batch_size)
        return weights
    u = rng.random((n_batches, n))
    kth = np.partition(u, batch_size - 1, axis=1)[:, batch_size - 1 : batch_size]
    return (u <= kth) / batch_size


@dataclass(frozen=True)
class GradientNoise:
    r"""The result of :func:`gradient_noise`.

    For each batch size in ``batch_sizes``: ``squared_error`` is the measured mean of
    :math:`\lVert g_B - g\rVert^2` over ``n_batches`` sampled batches and
    ``theory`` its exact expectation (:func:`expected_squared_error`);
    ``relative_error`` and ``relative_theory`` are their square roots divided by
    :math:`\lVert g\rVert` (``grad_norm``). ``cosine`` is the mean cosine between
    :math:`g_B` and :math:`g` (1: the same direction). ``sigma2`` is the per-example
    variance and ``n`` the number of examples.
    """

    batch_sizes: np.ndarray
    n: int
    n_batches: int
    replace: bool
    grad_norm: float
    sigma2: float
    squared_error: np.ndarray
    theory: np.ndarray
    cosine: np.ndarray

    @property
    def relative_error(self):
        r"""Measured :math:`\sqrt{\mathbb E\lVert g_B - g\rVert^2} / \lVert g\rVert`."""
        return np.sqrt(self.squared_error) / self.grad_norm

    @property
    def relative_theory(self):
        r"""The same from the formula: :math:`\sqrt{\text{theory}} / \lVert g\rVert`."""
        return np.sqrt(self.theory) / self.grad_norm

    @property
    def noise_scale(self):
        r"""The batch size at which the noise equals the signal, :math:`\sigma^2 / \lVert g\rVert^2`
        (with replacement): the relative error is 1 there and falls as :math:`1/\sqrt B` beyond it."""
        return self.sigma2 / self.grad_norm**2


def gradient_noise(G, batch_sizes, n_batches=300, seed=0, replace=False):
    r"""Measure the error of minibatch gradients against the full gradient, for each batch size.

    ``G`` holds the per-example gradients, shape ``(N, P)`` (from
    :func:`per_example_gradients`). For every batch size :math:`B`, ``n_batches``
    batches are drawn (:func:`batch_weights`, seeded with ``seed``) and all their
    gradients computed in one matrix product; the result compares their mean
    squared error with :func:`expected_squared_error`. See :class:`GradientNoise`.
    """
    G = check.as_float_array("G", G)
    if G.ndim != 2:
        raise ValueError(f"G must be 2-D (n_examples, n_params), got shape {G.shape}")
    n = len(G)
    sizes = np.atleast_1d(np.asarray(batch_sizes))
    sizes = np.array([check.check_int("batch_sizes", int(b), 1, None if replace else n) for b in sizes])
    n_batches = check.check_int("n_batches", n_batches, 1)
    g = G.mean(axis=0)
    centred = G - g
    sigma2 = float(np.mean(np.sum(centred * centred, axis=1)))
    norm = float(np.linalg.norm(g))
    rng = np.random.default_rng(seed)
    errors, cosines = [], []
    for b in sizes:
        gb = batch_weights(n, int(b), n_batches, rng, replace) @ G
        diff = gb - g
        errors.append(float(np.mean(np.sum(diff * diff, axis=1))))
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = gb @ g / (np.linalg.norm(gb, axis=1) * norm)
        cosines.append(float(np.mean(cos)))
    theory = expected_squared_error(sigma2, n, sizes, replace)
    return GradientNoise(
        batch_sizes=sizes,
        n=n,
        n_batches=n_batches,
        replace=bool(replace),
        grad_norm=norm,
        sigma2=sigma2,
        squared_error=np.array(errors),
        theory=np.asarray(theory, dtype=np.float64),
        cosine=np.array(cosines),
    )

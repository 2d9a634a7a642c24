"""Small tools the tests share: two toy classification sets and a finite-difference gradient.

The chapters do not use these, so they live here rather than in the package.
"""

from __future__ import annotations

import numpy as np


def make_blobs(n_samples=300, n_classes=3, spread=1.0, radius=3.0, seed=0):
    """Gaussian blobs in 2-D, one per class, their centres evenly on a circle; returns ``(X, y)``.

    Classes are as equal in size as possible; the rows come in random order.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = centres[y] + spread * rng.standard_normal((n_samples, 2))
    order = rng.permutation(n_samples)
    return X[order], y[order]


def make_moons(n_samples=200, noise=0.1, seed=0):
    """Two interleaving half circles (2 classes, 2 features) plus Gaussian noise; returns ``(X, y)``.

    Not linearly separable: logistic regression underfits, an MLP does not.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    theta = rng.uniform(0.0, np.pi, n_samples)
    X = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(theta), np.sin(theta)], axis=1),
        np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], axis=1),
    )
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def numerical_grad(model, params, X, y, eps=1e-6):
    """The gradient of ``model.loss`` by central finite differences, to check backpropagation.

    With a sweep the losses are summed, so each member gets its own gradient. Costs two
    loss evaluations per parameter: use it on small models only.
    """
    grads = {}
    for key, value in params.items():
        g = np.zeros(np.shape(value))
        for j in np.ndindex(g.shape):
            plus = {**params, key: np.array(value, dtype=np.float64)}
            minus = {**params, key: np.array(value, dtype=np.float64)}
            plus[key][j] += eps
            minus[key][j] -= eps
            g[j] = (np.sum(model.loss(plus, X, y)) - np.sum(model.loss(minus, X, y))) / (2 * eps)
        grads[key] = g
    return grads


def assert_moves_blit(explorer, moves, monkeypatch):
    """After the first frame, every move reuses the cached background: no full redraw.

    Speed itself is measured by ``make bench``; here only that moves redraw just the
    changing (animated) artists.
    """
    explorer.update(**moves[0])
    assert explorer._live._animated, "no animated artists: every move would be a full redraw"
    canvas = explorer._live.fig.canvas
    full_draws, draw = [], canvas.draw
    monkeypatch.setattr(canvas, "draw", lambda: full_draws.append(draw()))
    for move in moves[1:]:
        explorer.update(**move)
    assert not full_draws, f"{len(full_draws)} of {len(moves) - 1} moves redrew the whole figure"

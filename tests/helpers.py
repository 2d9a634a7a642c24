"""Small tools the tests share: two toy classification sets, a finite-difference gradient,
and the reading of the reference trajectories that ``tests/reference/`` recorded from torch.

The chapters do not use these, so they live here rather than in the package.
"""

from __future__ import annotations

import inspect

import numpy as np

from lrcourse import objectives, schedules
from lrcourse.descent import run
from lrcourse.optimizers import apply_updates


def small_split():
    """120 standardized points in 5-D, 3 classes from a noisy linear rule, split 90/30
    (train/validation): the lab tests' data, small enough to train in milliseconds."""
    from lrcourse import data

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = np.argmax(X @ rng.normal(size=(5, 3)) + 0.7 * rng.normal(size=(120, 3)), axis=1)
    parts = data.train_val_test_split(X, y, val_fraction=0.25, test_fraction=0.0, seed=0)
    return data.standardize(parts)[0]


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


def small_classification():
    """90 points in 4 features, 3 classes, split 80/20 and standardised: a trainer's quick test."""
    from lrcourse import data

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)) + 0.5 * rng.normal(size=(90, 3)), axis=1)
    split, _ = data.standardize(data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.0, seed=0))
    return split


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


# ----------------------------------------------------------------- the reference trajectories
# A case of ``tests/data/*_reference.json`` has ``optimizer``, ``kwargs``, ``objective``, ``x0``
# and ``path`` (``x0`` and each point: a list, or a dict of lists); a scheduled case also
# ``scheduler``, ``[name, kwargs]`` of a ``torch.optim.lr_scheduler`` class.


def tree_grad(params):
    """The gradient of the reference loss on two tensors (``tree_grad`` of ``tests/reference/common.py``)."""
    w, b = params["w"], params["b"]
    c = np.array([[1.0, 4.0], [9.0, 0.5], [2.0, 3.0]])
    return {"w": c * w + 0.1 * b[None, :], "b": (b - 1.0) + 0.1 * w.sum(axis=0)}


REFERENCE_GRADS = {
    "quadratic": objectives.quadratic(1.0, 10.0).grad,
    "rosenbrock": objectives.rosenbrock().grad,
    "tree": tree_grad,
}
CYCLES_MOMENTUM = {"OneCycleLR", "CyclicLR"}  # set their own rates (max_lr, base_lr), cycle momentum


def case_id(case):
    """A test id: ``optimizer(kwargs)-objective``, and ``-Scheduler`` for a scheduled case."""
    sched = case.get("scheduler")
    args = ",".join(f"{k}={v}" for k, v in case["kwargs"].items())
    return f"{case['optimizer']}({args})-{case['objective']}" + (f"-{sched[0]}" if sched else "")


def kwargs_of(case):
    """The case's keyword arguments, JSON's lists back as tuples (``betas``, ``eps``, ...)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}


def ablations(make, kwargs):
    """``(option, kwargs with it back at its default)`` for every option ``kwargs`` sets away from it.

    ``make`` is the optimizer's constructor, whose signature gives the defaults. A tuple
    option yields one ablation per component away from its default (``eps[0]``, ``betas[1]``).
    """
    defaults = {p.name: p.default for p in inspect.signature(make).parameters.values()}
    for key, value in kwargs.items():
        default = defaults[key]
        if isinstance(value, tuple):
            for i, (v, d) in enumerate(zip(value, default, strict=True)):
                if v != d:
                    yield f"{key}[{i}]", {**kwargs, key: value[:i] + (d,) + value[i + 1 :]}
        elif value != default:
            yield key, {k: v for k, v in kwargs.items() if k != key}


def as_arrays(tree):
    """A list as a float64 array, or a dict of lists as a dict of them."""
    if isinstance(tree, dict):
        return {k: np.array(v, dtype=np.float64) for k, v in tree.items()}
    return np.array(tree, dtype=np.float64)


def descend(opt, grad_fn, params, steps):
    """The path ``[params_0, ..., params_steps]`` of ``opt`` (any tree of parameters)."""
    state = opt.init(params)
    path = [params]
    for _ in range(steps):
        updates, state = opt.update(grad_fn(params), state, params)
        params = apply_updates(params, updates)
        path.append(params)
    return path


def replay(case, opt):
    """The path of ``opt`` from the case's start on its objective, as many steps as the case's.

    An array from :func:`lrcourse.descent.run` on the landscapes, a list of dicts on the tree.
    """
    steps = len(case["path"]) - 1
    if case["objective"] == "tree":
        return descend(opt, tree_grad, as_arrays(case["x0"]), steps)
    return run(REFERENCE_GRADS[case["objective"]], case["x0"], opt, steps)


def assert_tree_close(actual, expected, **tolerance):
    """``np.testing.assert_allclose`` of an array, or of each array of a dict (same keys).

    NaN counts as equal to NaN (numpy's ``equal_nan=True``), as the clipping references need.
    """
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for k in expected:
            np.testing.assert_allclose(actual[k], expected[k], **tolerance)
    else:
        np.testing.assert_allclose(actual, expected, **tolerance)


def max_difference(path, reference):
    """The largest ``|difference|`` between a path and a case's (a list of points, or of dicts of them).

    NaN if either holds a NaN (so ``not max_difference(...) <= atol`` counts a diverged run).
    """
    reference = [as_arrays(p) for p in reference]
    if isinstance(path[0], dict):
        steps = [np.max(np.abs(p[k] - r[k])) for p, r in zip(path, reference, strict=True) for k in p]
    else:
        steps = [np.max(np.abs(p - r)) for p, r in zip(path, reference, strict=True)]
    return float(np.max(steps))  # np.max, not max(): a NaN anywhere gives NaN


def assert_path_matches(path, case, atol=1e-10):
    """Every point of ``path`` within ``atol`` of the case's (``rtol=0``)."""
    if isinstance(path, np.ndarray):
        np.testing.assert_allclose(path, np.array(case["path"]), rtol=0, atol=atol)
    else:
        for mine, theirs in zip(path, case["path"], strict=True):
            assert_tree_close(mine, theirs, rtol=0, atol=atol)


def lrcourse_schedule(case):
    """The schedule of a scheduled case built by ``lrcourse.schedules``, from the case's base rate."""
    name, kwargs = case["scheduler"]
    if name not in CYCLES_MOMENTUM:
        kwargs = dict(kwargs, lr=case["kwargs"]["lr"])
    return schedules.get(name, **kwargs)

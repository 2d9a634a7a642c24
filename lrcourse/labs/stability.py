r"""The edge of stability (chapter 10): the sharpness of a loss, measured while it trains.

The **sharpness** of a loss at parameters :math:`\theta` is the largest eigenvalue
:math:`\lambda_{\max}` of its Hessian :math:`H = \nabla^2 L(\theta)`. On a quadratic it is
the curvature :math:`L` of chapter 2, and gradient descent with rate :math:`\eta` is
stable exactly when :math:`\lambda_{\max} < 2/\eta`. On a network the Hessian changes
as the network trains; this module measures it along the way.

- :func:`hessian_vector_product`: :math:`Hv` without forming :math:`H`, exactly for an
  :class:`~lrcourse.models.MLP` (its :meth:`~lrcourse.models.MLP.hvp`) or by central
  differences of gradients for any model,
  :math:`Hv \approx \frac{\nabla L(\theta + hv) - \nabla L(\theta - hv)}{2h}`.
- :func:`dense_hessian`: the whole :math:`P \times P` matrix, one product per column
  (for tiny models and for checking).
- :func:`power_iteration`: the top eigenvalue of a symmetric matrix given only its
  products, :math:`v \leftarrow Hv/\lVert Hv\rVert`, on flat vectors.
- :func:`top_eigenvalue`: the same on the parameters of a model, for every member of a
  sweep at once, started from a given vector (a warm start).
- :func:`track_sharpness`: full-batch gradient descent through
  :func:`~lrcourse.training.fit`, with the sharpness measured every few updates;
  returns a :class:`SharpnessTrace`.

Power iteration converges to the eigenvalue of largest *magnitude*; the functions
return the Rayleigh quotient :math:`v^\top H v` of the final unit vector, which is that
eigenvalue with its sign. At the points this course measures, the top eigenvalue is
positive and the largest in magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse import training
from lrcourse.optimizers import sgd
from lrcourse.tree import tree_leaves

__all__ = [
    "SharpnessTrace",
    "dense_hessian",
    "hessian_vector_product",
    "power_iteration",
    "ravel",
    "top_eigenvalue",
    "track_sharpness",
    "unravel",
]


# ----------------------------------------------------------------- flat vectors


def ravel(tree):
    """The arrays of one model's parameters (no sweep axes) as one flat vector."""
    return np.concatenate([np.ravel(leaf) for leaf in tree_leaves(tree)])


def unravel(vector, like):
    """A flat ``vector`` cut back into a dict shaped like ``like`` (the inverse of :func:`ravel`)."""
    vector = np.asarray(vector, dtype=np.float64)
    total = sum(np.size(leaf) for leaf in like.values())
    if vector.shape != (total,):
        raise ValueError(
            f"vector must be flat with {total} entries to fill the parameters, got shape {vector.shape}"
        )
    out, start = {}, 0
    for key, leaf in like.items():
        size = np.size(leaf)
        out[key] = vector[start : start + size].reshape(np.shape(leaf))
        start += size
    return out


# ----------------------------------------------------------------- Hessian-vector products


def hessian_vector_product(model, params, vector, X, y, *, method="exact", h=1e-5):
    r"""The Hessian of ``model.loss`` at ``params`` times ``vector`` (a dict like ``params``).

    ``method="exact"`` uses the model's own ``hvp`` (forward-over-reverse, see
    :meth:`lrcourse.models.MLP.hvp`); ``"finite_difference"`` works for any model with
    two gradients,

    .. math:: Hv \approx \frac{\nabla L(\theta + h v) - \nabla L(\theta - h v)}{2h},

    whose error shrinks like :math:`h^2` until round-off, about
    :math:`\epsilon_{\text{mach}} \lVert\nabla L\rVert / h`, takes over.
    """
    method = check.check_choice("method", method, ("exact", "finite_difference"))
    if method == "exact":
        if not hasattr(model, "hvp"):
            raise ValueError(
                f"{type(model).__name__} has no exact Hessian-vector product; use method='finite_difference'"
            )
        return model.hvp(params, vector, X, y)
    h = float(check.check_positive("h", h))
    plus = {k: params[k] + h * vector[k] for k in params}
    minus = {k: params[k] - h * vector[k] for k in params}
    g_plus, g_minus = model.loss_and_grad(plus, X, y)[1], model.loss_and_grad(minus, X, y)[1]
    return {k: (g_plus[k] - g_minus[k]) / (2 * h) for k in params}


def dense_hessian(model, params, X, y, *, method="exact", h=1e-5):
    """The Hessian of ``model.loss`` at ``params`` (one model) as a ``(P, P)`` matrix.

    Column :math:`j` is :math:`H e_j` from :func:`hessian_vector_product` (``method``
    and ``h`` as there), in the order of :func:`ravel`. ``P`` products: for small models.
    """
    flat = ravel(params)
    columns = []
    for j in range(flat.size):
        unit = np.zeros(flat.size)
        unit[j] = 1.0
        product = hessian_vector_product(model, params, unravel(unit, params), X, y, method=method, h=h)
        columns.append(ravel(product))
    return np.column_stack(columns)


# ----------------------------------------------------------------- power iteration


def power_iteration(matvec, v0, steps=100):
    r"""The eigenvalue of largest magnitude of a symmetric matrix known only through ``matvec``.

    Start from ``v0`` (any vector with a component along the top eigenvector) and
    repeat :math:`v \leftarrow Av / \lVert Av\rVert`; the estimate is the Rayleigh
    quotient :math:`\lambda = v^\top A v` of the unit vector :math:`v`. The error
    shrinks like :math:`(\lambda_2/\lambda_1)^{2k}` after :math:`k` steps
    (:math:`\lambda_2` the next eigenvalue in magnitude). Returns ``(eigenvalue, v)``
    after ``steps`` products.
    """
    v = check.as_float_array("v0", v0).ravel()
    steps = check.check_int("steps", steps, 1)
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValueError("v0 must not be the zero vector")
    v = v / norm
    eigenvalue = 0.0
    for _ in range(steps):
        w = np.asarray(matvec(v), dtype=np.float64)
        eigenvalue = float(v @ w)
        norm = np.linalg.norm(w)
        if norm == 0:  # v lies in the null space: its eigenvalue is 0
            return 0.0, v
        v = w / norm
    return eigenvalue, v


def _model_axes(model):
    """The number of axes of each parameter of one model (no sweep)."""
    return {k: np.ndim(v) for k, v in model.init(0).items()}


def _dot(a, b, axes):
    """Sum of ``a * b`` over every parameter's own axes: one number per member of a sweep."""
    return sum(np.sum(a[k] * b[k], axis=tuple(range(-axes[k], 0))) for k in a)


def _scale(tree, factor, axes):
    """``tree`` times ``factor`` (one number per sweep member), leaf by leaf."""
    factor = np.asarray(factor)
    return {k: v * factor.reshape(factor.shape + (1,) * axes[k]) for k, v in tree.items()}


def top_eigenvalue(model, params, X, y, *, steps=20, vector=None, seed=0, method="exact"):
    r"""The sharpness :math:`\lambda_{\max}` of ``model.loss`` at ``params``, by power iteration.

    Works on the parameter dicts themselves, so a sweep (leading axes) gets one
    eigenvalue per member in one pass. ``vector`` is the start (a dict like ``params``,
    for instance the vector a previous call returned: a warm start); by default a
    standard normal draw seeded with ``seed``, the same for every member. Returns
    ``(eigenvalue, vector)``: the Rayleigh quotient after ``steps`` products (an array
    over the sweep, a float without one) and the last unit vector.
    """
    steps = check.check_int("steps", steps, 1)
    axes = _model_axes(model)
    if vector is None:
        rng = np.random.default_rng(seed)
        vector = {
            k: np.broadcast_to(rng.standard_normal(np.shape(v)[-axes[k] :]), np.shape(v))
            for k, v in params.items()
        }
    v = _scale(vector, 1.0 / np.sqrt(_dot(vector, vector, axes)), axes)
    for _ in range(steps):
        w = hessian_vector_product(model, params, v, X, y, method=method)
        eigenvalue = _dot(v, w, axes)
        norm = np.sqrt(_dot(w, w, axes))
        v = _scale(w, 1.0 / np.where(norm > 0, norm, 1.0), axes)
    eigenvalue = np.asarray(eigenvalue, dtype=np.float64)
    return (float(eigenvalue) if eigenvalue.ndim == 0 else eigenvalue), v


# ----------------------------------------------------------------- sharpness along training


@dataclass(frozen=True)
class SharpnessTrace:
    r"""Full-batch gradient descent with its sharpness measured, from :func:`track_sharpness`.

    ``lrs`` are the rates (one run each); ``steps`` the update counts at which the
    sharpness was measured (0: the start); ``sharpness[i, r]`` the top Hessian
    eigenvalue of run ``r`` after ``steps[i]`` updates (NaN once a run diverged);
    ``loss[t, r]`` the training loss of run ``r`` before update ``t`` (the full batch,
    so the loss on all the training data), ``t = 0, ..., T-1``; ``final_loss[r]``
    after the last update. With several seeds every array has the axes
    ``(seed, rate)`` in place of the rate axis. ``params`` are the parameters after
    the last update (with the sweep axes) and ``history`` is
    :func:`~lrcourse.training.fit`'s record.
    """

    lrs: np.ndarray
    steps: np.ndarray
    sharpness: np.ndarray
    loss: np.ndarray
    final_loss: np.ndarray
    params: dict
    history: training.History

    @property
    def threshold(self):
        r"""The stability limit :math:`2/\eta` of each run."""
        return 2.0 / self.lrs

    def ratio(self, start=0):
        r"""Sharpness over :math:`2/\eta` from update ``start`` on: ``(measurements, runs)``."""
        return self.sharpness[self.steps >= start] * self.lrs / 2.0

    def loss_rises(self, start=0):
        """How many updates from ``start`` on raised the training loss, for each run."""
        loss = np.vstack([self.loss, self.final_loss[None]])[start:]
        return np.sum(np.diff(loss, axis=0) > 0, axis=0)


def track_sharpness(
    model, data, lr, steps, *, every=10, power_steps=10, first_power_steps=100, seed=0, **fit_options
):
    r"""Full-batch gradient descent for ``steps`` updates, with its sharpness every ``every`` updates.

    ``lr`` is one rate or a 1-D array of rates, trained side by side (one sweep of
    :func:`~lrcourse.training.fit` with ``sgd``, ``batch_size=None``, the rows in their
    order). The sharpness is the top eigenvalue of the Hessian of the loss on all the
    training data (:func:`top_eigenvalue`, exact products): ``first_power_steps``
    products at the start, then ``power_steps`` at each measurement, warm-started from the
    previous eigenvector, which moves little between measurements. ``seed`` seeds the
    initialisation; a list of seeds trains every rate from each of them, and the results
    then carry the sweep axes ``(seed, rate)``. ``fit_options`` go to ``fit``. Returns a
    :class:`SharpnessTrace`.
    """
    lrs = np.atleast_1d(check.check_positive("lr", lr)).astype(np.float64)
    if lrs.ndim != 1:
        raise ValueError(f"lr must be one rate or a 1-D array of rates, got shape {lrs.shape}")
    steps = check.check_int("steps", steps, 1)
    every = check.check_int("every", every, 1, steps)
    power_steps = check.check_int("power_steps", power_steps, 1)
    first_power_steps = check.check_int("first_power_steps", first_power_steps, 1)
    seeds = [check.check_int("seed", int(s), 0) for s in np.atleast_1d(seed)]
    X, y, _, _ = training.checked_data(model, data)
    starts = [model.init(s, sweep=(len(lrs),)) for s in seeds]
    if np.ndim(seed) == 0:
        start, shape = starts[0], (len(lrs),)
    else:  # the sweep axes (seed, rate)
        start, shape = {k: np.stack([p[k] for p in starts]) for k in starts[0]}, (len(seeds), len(lrs))
    with training.one_blas_thread():  # many small products: one thread is faster
        first, vector = top_eigenvalue(model, start, X, y, steps=first_power_steps)
    warm = {"vector": vector, "updates": 0}

    def watch(state, params):
        warm["updates"] += 1
        if warm["updates"] % every:
            return np.full(shape, np.nan)
        value, warm["vector"] = top_eigenvalue(model, params, X, y, steps=power_steps, vector=warm["vector"])
        return value

    params, history = training.fit(
        model,
        data,
        sgd,
        steps,
        None,
        lr=np.broadcast_to(lrs, shape).copy(),
        seed=seeds[0],
        params=start,
        shuffle=False,
        watch=watch,
        record=fit_options.pop("record", "end"),
        **fit_options,
    )
    watched = np.asarray(history.watched)
    at = np.arange(every, len(watched) + 1, every)  # the updates after which watch measured
    when = at.reshape((-1,) + (1,) * len(shape))
    alive = ~np.asarray(history.diverged) | (when < np.asarray(history.diverged_at))
    sharpness = np.concatenate([np.asarray(first)[None], np.where(alive, watched[at - 1], np.nan)])
    return SharpnessTrace(
        lrs=lrs,
        steps=np.concatenate([[0], at]),
        sharpness=sharpness,
        loss=np.asarray(history.update_loss),
        final_loss=np.asarray(history.train_loss[-1]),
        params=params,
        history=history,
    )

r"""Chapter 11: gradient clipping by global norm, measured on a network.

- :func:`clip_grid` trains one optimizer at a grid of rates times a grid of
  ``max_norm`` values (``inf``: no clipping) from several seeds, in one call of
  :func:`lrcourse.training.fit` per seed, and records the global gradient norm of
  every update before clipping: a :class:`ClipGrid`. Its methods read the grid: the
  final numbers, how often the clipping was active, each ``max_norm`` at its own
  tuned rate.
- :func:`spiked` wraps an optimizer so that the gradient of one chosen update is
  multiplied by a factor: a stand-in for the rare huge gradient (a bad minibatch,
  a cliff of the loss) that clipping is meant to catch. Put :func:`spiked` *outside*
  :func:`~lrcourse.optimizers.clipped`, so that the clipping sees the spike, as it
  would see a real one.

The clipping itself is :func:`lrcourse.optimizers.clip_grad_norm` and
:func:`lrcourse.optimizers.clipped` (as ``torch.nn.utils.clip_grad_norm_``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers import Optimizer, check_constructor, clipped
from lrcourse.training import fit
from lrcourse.tree import tree_map

__all__ = ["ClipGrid", "clip_grid", "spiked"]


@dataclass(frozen=True)
class ClipGrid:
    """One optimizer trained at ``lrs`` times ``max_norms`` from ``seeds``.

    ``curves[metric]`` has shape ``(evaluations, seeds, max_norms, rates)`` (the
    evaluations of ``fit``'s ``record``, ``eval_updates`` counts the updates before
    each), ``grad_norms`` shape ``(updates, seeds, max_norms, rates)``: the global norm
    of each update's gradient *before* clipping (NaN after a run diverged),
    ``diverged`` shape ``(seeds, max_norms, rates)``. A ``max_norm`` of ``inf`` is the
    run without clipping.
    """

    lrs: np.ndarray
    max_norms: np.ndarray
    seeds: np.ndarray
    eval_updates: np.ndarray
    curves: dict
    grad_norms: np.ndarray
    diverged: np.ndarray

    def final(self, metric="val_loss"):
        """The last value of ``metric`` of every run, NaN where it diverged: ``(seeds, max_norms, rates)``."""
        return np.where(self.diverged, np.nan, self.curves[metric][-1])

    def active_fraction(self):
        """The fraction of each run's updates whose gradient was clipped: ``(seeds, max_norms, rates)``.

        Only the updates before a divergence count; a run without clipping has 0.
        """
        norms = self.grad_norms
        limit = self.max_norms[None, None, :, None]
        seen = np.isfinite(norms)
        with np.errstate(invalid="ignore"):
            active = seen & (norms > limit)
        return active.sum(axis=0) / np.maximum(seen.sum(axis=0), 1)

    def tuned(self, metric="val_loss"):
        """Per ``max_norm``, the index of the rate with the lowest mean ``metric`` over seeds
        among the rates at which no seed diverged; -1 if every rate diverged."""
        mean = np.mean(self.final(metric), axis=0)  # NaN where a seed diverged
        best = np.argmin(np.where(np.isnan(mean), np.inf, mean), axis=-1)
        return np.where(np.isnan(mean).all(axis=-1), -1, best)

    def at_tuned(self, metric="val_loss"):
        """``metric`` of every seed at each ``max_norm``'s tuned rate: ``(seeds, max_norms)``."""
        index = self.tuned(metric)
        values = self.final(metric)
        columns = [
            values[:, c, i] if i >= 0 else np.full(len(self.seeds), np.nan) for c, i in enumerate(index)
        ]
        return np.stack(columns, axis=1)


def clip_grid(model, data, optimizer, epochs, batch_size=None, *, lr, max_norm, seed=0, **fit_options):
    """Train ``optimizer`` clipped at every ``max_norm``, at every rate ``lr``, from every ``seed``.

    ``optimizer`` is a constructor (``sgd``, ``functools.partial(sgd, momentum=0.9)``,
    ``adamw``) called with the array of rates; ``max_norm`` an array of norms (``np.inf``
    for no clipping). The other options (``record``, ...) go to
    :func:`~lrcourse.training.fit`. Returns a :class:`ClipGrid`.
    """
    check_constructor(optimizer)
    lrs = check.check_positive("lr", lr).ravel()
    norms = check.check_range("max_norm", max_norm, 0.0, np.inf).ravel()
    if not (norms > 0).all():
        raise ValueError(f"max_norm must be positive (inf: no clipping), got {norms}")
    seeds = np.atleast_1d(np.asarray(seed)).ravel()
    if "watch" in fit_options:
        raise ValueError("clip_grid records the gradient norms itself; watch is not an option here")
    opt = clipped(optimizer(lr=lrs[None, :]), norms[:, None])

    def watch(state, params):
        return state["total_norm"]

    _, history = fit(model, data, opt, epochs, batch_size, seed=seeds, watch=watch, **fit_options)
    curves = {
        name: np.asarray(getattr(history, name))
        for name in ("train_loss", "val_loss", "val_accuracy")
        if getattr(history, name) is not None
    }
    return ClipGrid(
        lrs=lrs,
        max_norms=norms,
        seeds=seeds,
        eval_updates=np.asarray(history.eval_updates)[:, 0, 0, 0],
        curves=curves,
        grad_norms=np.asarray(history.watched, dtype=float),
        diverged=np.asarray(history.diverged, dtype=bool),
    )


def spiked(optimizer, at, factor):
    r"""``optimizer`` whose gradient at update ``at`` (0-based) is multiplied by ``factor``.

    A stand-in for a rare huge gradient: the update rule is the optimizer's, only the
    gradient of that one update is :math:`c\,g` instead of :math:`g`. An integer ``at`` or
    a list of them; ``factor`` a positive number. The state is ``{"step", "inner"}``.
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an Optimizer such as sgd(lr=0.1), got {optimizer!r}")
    steps = {check.check_int("at", a, 0) for a in np.atleast_1d(at).tolist()}
    factor = float(check.check_positive("factor", factor))

    def init(params):
        return {"step": 0, "inner": optimizer.init(params)}

    def update(grads, state, params):
        t = state["step"]
        if t in steps:
            grads = tree_map(lambda g: factor * g, grads)
        updates, inner = optimizer.update(grads, state["inner"], params)
        return updates, {"step": t + 1, "inner": inner}

    return Optimizer(
        "spiked", init, update, dict(optimizer.hyperparams), sweep_axes=optimizer.sweep_axes, resweep=None
    )

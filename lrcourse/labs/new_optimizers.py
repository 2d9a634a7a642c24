r"""Chapter 11: the optimizers after Adam (Lion, Adafactor, Muon) against AdamW, by rate.

- :func:`hidden_matrices` names the 2-D weights of an MLP's hidden layers: the
  parameters Muon is meant for (every weight matrix but the output layer's).
- :func:`muon_adamw` is Muon for those matrices and AdamW for the rest, as one
  optimizer (:func:`lrcourse.labs.layerwise.partition`): the way Muon is used.
- :func:`state_size` counts the numbers an optimizer keeps per parameter set: Adam's
  two per weight against Lion's one and Adafactor's row and column averages.
- :func:`rate_sweep` trains several optimizers, each at its own grid of rates, from
  several seeds, with the same budget and schedule: a :class:`RateSweep`, which finds
  each optimizer's best rate and the range of rates that come close to it.

The optimizers are :func:`lrcourse.optimizers.lion`, :func:`~lrcourse.optimizers.adafactor`
and :func:`~lrcourse.optimizers.muon`; every run trains through
:func:`lrcourse.training.fit`, one call per optimizer (rates and seeds swept in it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.labs.layerwise import partition
from lrcourse.optimizers import Optimizer, adamw, muon
from lrcourse.training import fit
from lrcourse.tree import tree_leaves

__all__ = ["RateSweep", "hidden_matrices", "muon_adamw", "rate_sweep", "state_size"]


def hidden_matrices(model):
    """The keys of the hidden layers' weight matrices of ``model`` (an MLP): ``W1``, ..., not the last."""
    keys = [k for k in model.init(0) if k.startswith("W")]
    if not keys:
        raise ValueError(f"model must have weight matrices named W1, W2, ..., got {model!r}")
    return sorted(keys, key=lambda k: int(k[1:]))[:-1]


def muon_adamw(model, lr, *, adamw_lr=None, weight_decay=0.0, adjust_lr_fn="match_rms_adamw", **muon_options):
    """Muon on the hidden weight matrices of ``model``, AdamW on every other parameter.

    ``lr`` is Muon's rate (a number, an array: a sweep, or a schedule); ``adamw_lr`` the
    rate of the AdamW part, by default the same. With ``adjust_lr_fn="match_rms_adamw"``
    (the default here) Muon's updates have about the RMS of AdamW's, so one rate serves
    both parts; with ``None`` (PyTorch's default, Jordan's scale) Muon needs a rate of its
    own, typically far larger. ``weight_decay`` is used by both parts (0 by default here).
    """
    matrices = hidden_matrices(model)
    if not matrices:
        raise ValueError(f"model has no hidden weight matrix for Muon: {model!r}")
    groups = {"muon": matrices, "adamw": "*"}
    parts = {
        "muon": muon(lr=lr, weight_decay=weight_decay, adjust_lr_fn=adjust_lr_fn, **muon_options),
        "adamw": adamw(lr=lr if adamw_lr is None else adamw_lr, weight_decay=weight_decay),
    }
    return partition(parts, groups)


def state_size(optimizer, params):
    """How many numbers ``optimizer`` keeps for ``params`` (its state's array entries, step counts aside)."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an Optimizer such as adamw(lr=1e-3), got {optimizer!r}")
    state = optimizer.init(params)
    return int(sum(np.size(leaf) for leaf in tree_leaves(state) if np.ndim(leaf) > 0))


@dataclass(frozen=True)
class RateSweep:
    """Final numbers of several optimizers, each at its own grid of rates, from several seeds.

    ``lrs[name]`` is the rate grid of optimizer ``name``; ``finals[name][metric]`` and
    ``diverged[name]`` have shape ``(seeds, rates)``, NaN where a run diverged.
    """

    names: tuple
    lrs: dict
    finals: dict
    diverged: dict

    def mean(self, name, metric="val_loss"):
        """The mean over seeds at every rate of ``name``; NaN where a seed diverged."""
        return np.mean(self.finals[name][metric], axis=0)

    def best(self, name, metric="val_loss"):
        """The index of the rate with the lowest mean ``metric`` (no seed diverged)."""
        mean = self.mean(name, metric)
        if np.isnan(mean).all():
            raise ValueError(f"every rate of {name!r} diverged")
        return int(np.nanargmin(mean))

    def best_lr(self, name, metric="val_loss"):
        return float(self.lrs[name][self.best(name, metric)])

    def at_best(self, name, metric="val_loss"):
        """``metric`` of every seed at the best rate of ``name``: ``(seeds,)``."""
        return self.finals[name][metric][:, self.best(name, metric)]

    def basin(self, name, within=1.5, metric="val_loss"):
        """The lowest and highest rate whose mean ``metric`` is at most ``within`` times the best.

        Only the rates connected to the best one count (a run of neighbours of the grid).
        """
        within = float(check.check_range("within", within, 1.0, None))
        mean = self.mean(name, metric)
        i = self.best(name, metric)
        good = np.nan_to_num(mean, nan=np.inf) <= within * mean[i]
        lo = i
        while lo > 0 and good[lo - 1]:
            lo -= 1
        hi = i
        while hi < len(good) - 1 and good[hi + 1]:
            hi += 1
        return float(self.lrs[name][lo]), float(self.lrs[name][hi])


def rate_sweep(model, data, optimizers, epochs, batch_size=None, *, lr, seed=0, schedule=None, **fit_options):
    """Train each optimizer of ``optimizers`` at its rates ``lr`` from every ``seed``: a :class:`RateSweep`.

    ``optimizers`` is a dict ``{name: make}``, ``make(lr)`` building the optimizer from a
    rate (an array of rates, or the schedule ``schedule(rates)`` when ``schedule`` is
    given, for example ``lambda r: schedules.cosine(r, T_max=T)``). ``lr`` is one array of
    rates for all, or a dict ``{name: rates}``. One call of
    :func:`~lrcourse.training.fit` per optimizer (and seed); the same ``epochs``,
    ``batch_size`` and seeds for all.
    """
    if not isinstance(optimizers, dict) or not optimizers:
        raise ValueError(f"optimizers must be a non-empty dict {{name: make}}, got {optimizers!r}")
    grids = {}
    for name in optimizers:
        rates = lr[name] if isinstance(lr, dict) else lr
        grids[name] = check.check_positive(f"lr[{name!r}]", rates).ravel()
    seeds = np.atleast_1d(np.asarray(seed)).ravel()
    finals, diverged = {}, {}
    for name, make in optimizers.items():
        rates = grids[name]
        opt = make(rates if schedule is None else schedule(rates))
        _, history = fit(model, data, opt, epochs, batch_size, seed=seeds, record="end", **fit_options)
        div = np.asarray(history.diverged, dtype=bool).reshape(len(seeds), len(rates))
        diverged[name] = div
        finals[name] = {
            m: np.where(div, np.nan, np.reshape(history.final(m), div.shape))
            for m in ("train_loss", "val_loss", "val_accuracy")
            if getattr(history, m) is not None
        }
    return RateSweep(names=tuple(optimizers), lrs=grids, finals=finals, diverged=diverged)

r"""Scaling rules (chapter 10): learning rates across the width of a network and across batch sizes.

**Width.** Under the standard parametrization (SP) every layer of an
:class:`~lrcourse.models.MLP` starts with variance :math:`\propto 1/\text{fan-in}` and gets
the same rate, and the best rate shrinks as the network gets wider. The maximal-update
parametrization, muP (Yang et al., 2022), rescales the output layer's initialisation
(the model's ``base_width``) and gives each layer its own multiple of one base rate
:math:`\eta`, so that the best :math:`\eta` found on a narrow network also serves a wide
one. With :math:`a_l` and :math:`b_l` the width multipliers (width over base width) of
the fan-in and the fan-out of layer :math:`l` (1 for the inputs and the outputs):

============================  =========================  ======================
                              weights :math:`W_l`        biases :math:`b_l`
============================  =========================  ======================
Adam-like (entrywise scaled)  :math:`\eta / a_l`         :math:`\eta`
SGD-like                      :math:`\eta\, b_l / a_l`   :math:`\eta\, b_l`
============================  =========================  ======================

so with Adam the hidden and output weights get :math:`\eta/m` and the input layer
:math:`\eta`; with SGD the input layer and the hidden biases get :math:`\eta m`, the
hidden weights :math:`\eta` and the output weights :math:`\eta / m`. These are the rates
of the ``mup`` package's ``MuAdam`` and ``MuSGD`` for the effective weights (a
``MuReadout`` layer divides its input by :math:`m`; here that factor is folded into the
initialisation and the rate). :func:`mup_multipliers` returns them,
:func:`mup_optimizer` builds the optimizer, :func:`width_sweep` trains a range of widths
at a range of rates, returning a :class:`WidthSweep`.

**Batch size.** :func:`square_root_rule` is the rule of Malladi et al. (2022) for
Adam, :math:`\eta(B) = \eta_\text{ref}\sqrt{B/B_\text{ref}}`, beside chapter 3's
:func:`lrcourse.labs.batch_size.linear_scaling_rule` for SGD;
:func:`adam_sde_rule` gives their whole rule (the betas and :math:`\epsilon` too).
:func:`rate_exponent` fits :math:`\log \eta^*(B) = c + k \log B` to the best rates of a
sweep of batch sizes, seed by seed, returning a :class:`RateExponent`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse import training
from lrcourse.labs.layerwise import scaled
from lrcourse.models import MLP

__all__ = [
    "ADAM_LIKE",
    "refined_minimum",
    "RateExponent",
    "WidthSweep",
    "adam_sde_rule",
    "best_rates",
    "mup_multipliers",
    "mup_optimizer",
    "rate_exponent",
    "square_root_rule",
    "width_sweep",
]

ADAM_LIKE = ("adam", "adamw", "nadam", "radam", "adamax", "rmsprop", "adagrad")
"""Optimizers that divide each gradient entry by a running scale of its own (``MuAdam``'s rule)."""


# ----------------------------------------------------------------- muP


def _rule_of(optimizer):
    """``"adam"`` or ``"sgd"`` from an optimizer constructor's name (through ``functools.partial``)."""
    while isinstance(optimizer, functools.partial):
        optimizer = optimizer.func
    name = getattr(optimizer, "__name__", "")
    if name == "sgd":
        return "sgd"
    if name in ADAM_LIKE:
        return "adam"
    raise ValueError(f"cannot tell the muP rule of {optimizer!r}: pass rule='adam' or rule='sgd'")


def mup_multipliers(model, rule="adam"):
    r"""The muP multiple of the base rate for every parameter of ``model``: ``{key: multiplier}``.

    ``model`` is an :class:`~lrcourse.models.MLP`; its ``width_multipliers`` give the
    :math:`a_l` (fan-in) and :math:`b_l` (fan-out) of each layer, all 1 without a
    ``base_width`` (the standard parametrization: every multiplier 1).
    ``rule="adam"``: weights :math:`1/a_l`, biases 1. ``rule="sgd"``: weights
    :math:`b_l/a_l`, biases :math:`b_l`.
    """
    if not isinstance(model, MLP):
        raise ValueError(f"model must be a lrcourse.models.MLP, got {type(model).__name__}")
    rule = check.check_choice("rule", rule, ("adam", "sgd"))
    m = model.width_multipliers
    out = {}
    for l in range(1, model.n_layers + 1):
        fan_in, fan_out = m[l - 1], m[l]
        if rule == "adam":
            out[f"W{l}"], out[f"b{l}"] = 1.0 / fan_in, 1.0
        else:
            out[f"W{l}"], out[f"b{l}"] = fan_out / fan_in, fan_out
    return out


def mup_optimizer(optimizer, model, rule=None, **hyper):
    r"""An optimizer constructor that gives every parameter of ``model`` its muP rate.

    ``optimizer`` is a constructor (``sgd``, ``adam``, a ``functools.partial`` of one);
    ``rule`` is ``"adam"`` or ``"sgd"`` (by default read from the constructor's name:
    SGD, or one of :data:`ADAM_LIKE`). The result is called with the base rate,
    ``make(lr=eta)``, and gives parameter ``k`` the rate
    ``mup_multipliers(model, rule)[k] * eta`` (through
    :func:`lrcourse.labs.layerwise.scaled`, one group a parameter), so it goes wherever
    a constructor goes: ``fit(model, data, make, epochs, lr=...)``.
    """
    rule = _rule_of(optimizer) if rule is None else rule
    factors = mup_multipliers(model, rule)
    return scaled(optimizer, factors, {k: [k] for k in factors}, **hyper)


@dataclass(frozen=True)
class WidthSweep:
    """Final losses of MLPs of several widths at several base rates, from :func:`width_sweep`.

    ``train_loss[w, s, r]`` is the loss on all the training data after training width
    ``widths[w]`` with seed ``seeds[s]`` at base rate ``lrs[r]`` (NaN where the run
    diverged); ``val_loss`` the same on the validation data (``None`` without it).
    ``parametrization`` is ``"sp"`` or ``"mup"``.
    """

    widths: np.ndarray
    lrs: np.ndarray
    seeds: np.ndarray
    parametrization: str
    train_loss: np.ndarray
    val_loss: np.ndarray | None
    diverged: np.ndarray

    def mean_loss(self, metric="train_loss"):
        """The loss averaged over seeds, ``(width, rate)``; NaN where any seed diverged."""
        return getattr(self, metric).mean(axis=1)

    def best(self, metric="train_loss"):
        """Index of the best rate of every width (lowest mean loss over seeds; diverged rates never)."""
        mean = self.mean_loss(metric)
        return np.argmin(np.where(np.isfinite(mean), mean, np.inf), axis=1)

    def best_lr(self, metric="train_loss"):
        """The best base rate of every width (see :meth:`best`)."""
        return self.lrs[self.best(metric)]

    def best_per_seed(self, metric="train_loss", refine=False):
        """The best rate of every width and seed, ``(width, seed)``, each seed on its own.

        With ``refine=True`` the minimum between grid points, :func:`refined_minimum`.
        """
        loss = getattr(self, metric)
        if refine:
            return refined_minimum(self.lrs, loss)
        return self.lrs[np.argmin(np.where(np.isfinite(loss), loss, np.inf), axis=2)]


def width_sweep(model, data, optimizer, epochs, batch_size, *, widths, lr, seed=0, rule=None, **fit_options):
    r"""Train ``model`` at each of ``widths`` and each base rate of ``lr``; return a :class:`WidthSweep`.

    ``model`` is an :class:`~lrcourse.models.MLP` whose hidden layers all get the width
    :math:`w` in turn (``hidden=(w,) * depth``). Without a ``base_width`` it is trained
    in the standard parametrization, every parameter at the rate; with one, in muP:
    the model's initialisation and the rates of :func:`mup_optimizer` (``rule`` as
    there). ``seed`` is one seed or a list: each seed is its own initialisation and
    minibatch order (an array ``seed`` of :func:`~lrcourse.training.fit`). Every run
    is evaluated before and after training only; ``fit_options`` go to ``fit``.
    """
    if not isinstance(model, MLP):
        raise ValueError(f"model must be a lrcourse.models.MLP, got {type(model).__name__}")
    widths = [check.check_int("widths", int(w), 1) for w in np.atleast_1d(widths)]
    lrs = check.check_positive("lr", lr)
    if lrs.ndim != 1 or lrs.size == 0:
        raise ValueError(f"lr must be a 1-D array of base rates, got shape {lrs.shape}")
    seeds = np.atleast_1d(np.asarray(seed))
    depth = len(model.hidden)
    mup = model.base_width is not None
    train, val, diverged = [], [], []
    for w in widths:
        net = dataclasses.replace(model, hidden=(w,) * depth)
        make = mup_optimizer(optimizer, net, rule) if mup else optimizer
        _, h = training.fit(
            net, data, make, epochs, batch_size, lr=lrs, seed=seeds, record="end", **fit_options
        )
        train.append(h.final("train_loss"))
        val.append(None if h.val_loss is None else h.final("val_loss"))
        diverged.append(h.diverged)
    return WidthSweep(
        widths=np.array(widths),
        lrs=lrs,
        seeds=seeds,
        parametrization="mup" if mup else "sp",
        train_loss=np.array(train),
        val_loss=None if val[0] is None else np.array(val),
        diverged=np.array(diverged),
    )


def refined_minimum(lrs, losses):
    r"""The rate of lowest loss between the grid points: the vertex of a parabola in log-log.

    ``losses`` has the rates on its last axis (NaN where a run diverged). Around the
    grid point :math:`j` of lowest loss, a parabola through
    :math:`(\log\eta_i, \log L_i)`, :math:`i = j-1, j, j+1`, has its vertex between
    :math:`\eta_{j-1}` and :math:`\eta_{j+1}`; its rate is returned (the grid point
    itself at an end of the grid or next to a diverged run). Unlike the grid point, it
    moves continuously when two neighbouring losses trade places, so a tiny change in
    the numbers cannot make it jump a whole grid step. The grid must be evenly spaced
    in :math:`\log\eta`.
    """
    lrs = check.check_positive("lrs", lrs)
    x = np.log(lrs)
    if lrs.ndim != 1 or lrs.size < 3 or not np.allclose(np.diff(x), x[1] - x[0]):
        raise ValueError(f"lrs must be at least 3 rates evenly spaced on a log scale, got {lrs}")
    losses = np.asarray(losses, dtype=np.float64)
    if losses.shape[-1] != lrs.size:
        raise ValueError(f"losses must have the {lrs.size} rates on its last axis, got shape {losses.shape}")
    y = np.log(np.where(np.isfinite(losses) & (losses > 0), losses, np.inf))
    j = np.argmin(y, axis=-1)
    inner = np.clip(j, 1, lrs.size - 2)
    take = lambda k: np.take_along_axis(y, k[..., None], axis=-1)[..., 0]  # noqa: E731
    left, mid, right = take(inner - 1), take(inner), take(inner + 1)
    curve = left - 2 * mid + right
    ok = (j == inner) & np.isfinite(left) & np.isfinite(right) & (curve > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(ok, 0.5 * (left - right) / curve, 0.0)  # in grid steps, within (-1/2, 1/2]
    return np.exp(x[j] + shift * (x[1] - x[0]))


# ----------------------------------------------------------------- batch size


def square_root_rule(lr_ref, batch_ref, batch_size):
    r"""The square-root rule for Adam (Malladi et al., 2022): :math:`\eta(B) = \eta_\text{ref}\sqrt{B / B_\text{ref}}`.

    When the batch grows :math:`k`-fold, grow the rate :math:`\sqrt k`-fold. Works
    elementwise on an array of batch sizes.
    """
    lr_ref = check.check_positive("lr_ref", lr_ref)
    batch_ref = check.check_positive("batch_ref", batch_ref)
    batch_size = check.check_positive("batch_size", batch_size)
    return lr_ref * np.sqrt(batch_size / batch_ref)


def adam_sde_rule(lr, betas, eps, batch_ref, batch_size):
    r"""Adam's hyperparameters for ``batch_size`` by the whole square-root rule of Malladi et al. (2022).

    With :math:`\kappa = B / B_\text{ref}`:
    :math:`\eta' = \sqrt\kappa\,\eta`, :math:`1 - \beta_i' = \kappa (1 - \beta_i)`,
    :math:`\epsilon' = \epsilon / \sqrt\kappa`. Returns ``(lr, (beta1, beta2), eps)``;
    ``ValueError`` when a new beta would fall below 0 (:math:`\kappa (1 - \beta_i) > 1`):
    the rule then cannot scale this far up.
    """
    kappa = float(
        check.check_positive("batch_size", batch_size) / check.check_positive("batch_ref", batch_ref)
    )
    lr = float(check.check_positive("lr", lr))
    beta1, beta2 = (float(check.check_range("betas", b, 0.0, 1.0, high_open=True)) for b in betas)
    eps = float(check.check_nonnegative("eps", eps))
    new = tuple(1.0 - kappa * (1.0 - b) for b in (beta1, beta2))
    if min(new) < 0:
        raise ValueError(
            f"scaling the batch {kappa:g}-fold makes a beta negative ({new[0]:g}, {new[1]:g}): "
            "the rule needs kappa * (1 - beta) <= 1"
        )
    return np.sqrt(kappa) * lr, new, eps / np.sqrt(kappa)


def best_rates(history, lrs, metric="train_loss", refine=False):
    """The best rate of every batch size and seed of a sweep, ``(batch size, seed)``.

    ``history`` comes from :func:`lrcourse.labs.batch_size.sweep_batch_sizes` (sweep axes
    ``(batch size, seed, rate)``); each seed is judged on its own at the last
    evaluation: the rate with the lowest ``metric`` (a loss), a diverged run never.
    With ``refine=True`` the minimum between grid points, :func:`refined_minimum`.
    """
    metric = check.check_choice("metric", metric, ("train_loss", "val_loss"))
    lrs = np.asarray(lrs, dtype=np.float64)
    last = history.final(metric)  # (batch size, seed, rate), NaN where diverged
    if last.ndim != 3 or last.shape[-1] != lrs.size:
        raise ValueError(
            f"history must have the sweep axes (batch size, seed, rate) with {lrs.size} rates, "
            f"got sweep shape {last.shape}"
        )
    if refine:
        return refined_minimum(lrs, last)
    return lrs[np.argmin(np.where(np.isfinite(last), last, np.inf), axis=-1)]


@dataclass(frozen=True)
class RateExponent:
    r"""A power law :math:`\eta^*(B) \propto B^k` fitted to best rates, from :func:`rate_exponent`.

    ``slopes[s]`` is the exponent :math:`k` fitted to seed ``s`` alone (least squares of
    :math:`\log_{10}\eta^*` on :math:`\log_{10} B`), ``slope`` their mean and ``spread``
    their sample standard deviation (``ddof=1``); ``stderr`` is ``spread`` over
    :math:`\sqrt{S}`, the uncertainty of the mean. ``intercept`` is the mean
    :math:`\log_{10}` rate at :math:`B = 1`.
    """

    batch_sizes: np.ndarray
    best: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray

    @property
    def slope(self):
        return float(np.mean(self.slopes))

    @property
    def spread(self):
        return float(np.std(self.slopes, ddof=1)) if len(self.slopes) > 1 else 0.0

    @property
    def stderr(self):
        return self.spread / np.sqrt(len(self.slopes))

    @property
    def intercept(self):
        return float(np.mean(self.intercepts))

    def predict(self, batch_size):
        """The fitted rate :math:`10^{c}\\,B^{k}` at ``batch_size`` (mean slope and intercept)."""
        return 10.0**self.intercept * np.asarray(batch_size, dtype=np.float64) ** self.slope


def rate_exponent(batch_sizes, best):
    r"""Fit :math:`\log_{10} \eta^* = c + k \log_{10} B` to the best rates ``best``, ``(batch size, seed)``.

    One straight line per seed (column), so the spread of the slopes over seeds shows
    how much of the fitted exponent is noise. Returns a :class:`RateExponent`.
    """
    sizes = check.check_positive("batch_sizes", batch_sizes)
    best = check.check_positive("best", best)
    if best.ndim == 1:
        best = best[:, None]
    if sizes.ndim != 1 or best.shape[0] != sizes.size or sizes.size < 2:
        raise ValueError(
            f"best must hold one row per batch size ({sizes.size}, at least 2), got shape {best.shape}"
        )
    x, ys = np.log10(sizes), np.log10(best)
    fits = [np.polyfit(x, ys[:, s], 1) for s in range(ys.shape[1])]
    return RateExponent(
        batch_sizes=sizes,
        best=best,
        slopes=np.array([f[0] for f in fits]),
        intercepts=np.array([f[1] for f in fits]),
    )

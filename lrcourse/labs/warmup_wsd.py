r"""Chapter 9: warmup and Adam's first steps, and schedules for runs of unknown length.

Warmup (the chapter's first page):

- :func:`step_sizes` follows how far each weight moves per update, in units of a
  reference rate, during one run of :func:`lrcourse.training.fit`: Adam's first
  updates move nearly every weight by a full rate, its later ones far less.
- :func:`rectification` is RAdam's :math:`\rho_k` and :math:`r_k` for the steps
  :math:`k = 1, 2, \dots`, and :func:`untuned_warmup` the rule-of-thumb warmup of Ma &
  Yarats (2021), a linear ramp over :math:`2/(1-\beta_2)` steps, multiplied into a schedule.
- :func:`dead_units` counts the ReLU units that a large first step has switched off.
- :func:`warmup_test` trains several (optimizer, schedule) methods at a sweep of rates
  from several seeds, for the "put to the test" of warmup; a :class:`RateTable` reads it.

Runs of unknown length (the later pages): every function trains to a list of
*budgets* (in epochs) and returns a :class:`BudgetRuns`, the final numbers of each
budget, seed and rate.

- :func:`cosine_budgets`: one cosine schedule per budget, each trained on its own;
- :func:`wsd_branches`: warmup-stable-decay, all budgets in one call: every budget is a
  decay branched off the same constant-rate run;
- :func:`checkpoints`: one long run read at every budget (a constant rate, or a
  schedule-free optimizer evaluated where ``evaluate_at`` says);
- :func:`decay_variants`: WSD with other decay shapes and lengths, at a given rate per
  budget;
- :func:`branch_grid`: the constant run and a grid of branches off it, recorded every
  epoch, for the branch explorer of :mod:`lrcourse.widgets.warmup_wsd`;
- :func:`branching_cost`: the epochs one WSD run with branches costs against one
  cosine run per budget.

Every run trains through :func:`lrcourse.training.fit`, through
:func:`lrcourse.labs.schedules.train_schedules` where several schedules share a call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.labs.schedules import train_schedules
from lrcourse.schedules import cosine, wsd
from lrcourse.training import fit, updates_per_epoch
from lrcourse.tree import tree_leaves

__all__ = [
    "BranchGrid",
    "BudgetRuns",
    "RateTable",
    "StepSizes",
    "branch_grid",
    "branching_cost",
    "checkpoints",
    "cosine_budgets",
    "dead_units",
    "decay_variants",
    "rectification",
    "step_sizes",
    "untuned_warmup",
    "warmup_test",
    "wsd_branches",
]

BEST = {
    "train_loss": np.argmin,
    "val_loss": np.argmin,
    "train_accuracy": np.argmax,
    "val_accuracy": np.argmax,
}
"""How a rate is tuned on each metric: the lowest loss, the highest accuracy."""

METRICS = ("train_loss", "val_loss", "val_accuracy")


def _train_plan(model, data, optimizer, epochs, batch_size, plan, seeds, fit_options, at=None):
    """Train every schedule of ``plan`` from every seed of ``seeds`` in one call of
    :func:`~lrcourse.labs.schedules.train_schedules`; member ``j`` is the ``j``-th entry
    of ``plan``. Returns ``(finals, diverged)``: ``finals[metric]`` of shape
    ``(seeds, members)`` at the end, or ``(seeds, len(at), members)`` read at each number
    of epochs in ``at``; ``diverged`` of shape ``(seeds, members)``."""
    record = "end" if at is None else list(at)
    _, history = train_schedules(
        model, data, optimizer, epochs, batch_size, schedules=plan, seed=seeds, record=record, **fit_options
    )
    shape = (len(seeds), len(plan))
    diverged = np.reshape(history.diverged, shape)
    if at is None:
        return {m: np.reshape(history.final(m), shape) for m in METRICS}, diverged
    evaluated = np.reshape(history.eval_updates, (len(history.eval_updates), -1))[:, 0]
    per_epoch = _per_epoch(data, batch_size)
    rows = [int(np.flatnonzero(evaluated == b * per_epoch)[0]) for b in at]
    finals = {m: np.stack([np.reshape(getattr(history, m)[r], shape) for r in rows], axis=1) for m in METRICS}
    return finals, diverged


# ----------------------------------------------------------------- Adam's first steps


@dataclass(frozen=True)
class StepSizes:
    r"""How far the weights moved at every update of one run, in units of the rate ``lr``.

    ``quantiles[t, j]`` is quantile ``levels[j]`` of :math:`|\Delta\theta_i| / \eta` over
    the weights :math:`i` at update :math:`t + 1`, ``mean[t]`` their mean. Weights that
    never move in the whole run are left out (``n_weights`` counts the others): their
    gradient is always exactly zero, as for a weight fed by a pixel that is blank in
    every image.
    """

    lr: float
    levels: tuple
    quantiles: np.ndarray
    mean: np.ndarray
    n_weights: int

    @property
    def steps(self):
        """The 1-based update numbers: 1, 2, ..., T."""
        return np.arange(1, len(self.mean) + 1)

    def at(self, k, level=0.5):
        """Quantile ``level`` of the step sizes at update ``k`` (1-based)."""
        return float(self.quantiles[k - 1, self.levels.index(level)])


def step_sizes(model, data, optimizer, epochs, batch_size=None, *, lr, levels=(0.1, 0.5, 0.9), **fit_options):
    r"""Train once and record the size of every weight's step, divided by ``lr``: a :class:`StepSizes`.

    ``optimizer`` is a built optimizer (one run, no sweep), for example
    ``adam(lr=0.01)`` or Adam with a warmup schedule; ``lr`` the reference rate (the
    peak rate of a schedule). The steps are the changes of the parameters between
    updates, so any optimizer works; ``fit_options`` (``seed``, ...) go to
    :func:`~lrcourse.training.fit`.
    """
    lr = float(check.check_positive("lr", lr))
    levels = tuple(float(q) for q in check.check_range("levels", levels, 0.0, 1.0).ravel())
    if getattr(optimizer, "sweep_shape", ()):
        raise ValueError(f"step_sizes follows one run: give an optimizer without a sweep, got {optimizer!r}")
    seed = fit_options.pop("seed", 0)
    start = model.init(seed)
    last = {"params": start}
    steps = []

    def watch(state, params):
        pairs = zip(tree_leaves(params), tree_leaves(last["params"]), strict=True)
        steps.append(np.concatenate([np.ravel(p - q) for p, q in pairs]))
        last["params"] = params
        return 0.0

    _, history = fit(
        model,
        data,
        optimizer,
        epochs,
        batch_size,
        params=start,
        seed=seed,
        record="end",
        watch=watch,
        **fit_options,
    )
    sizes = np.abs(np.array(steps)) / lr
    sizes = sizes[:, (sizes > 0).any(axis=0)]  # the weights that move at some update
    return StepSizes(
        lr=lr,
        levels=levels,
        quantiles=np.quantile(sizes, levels, axis=1).T,
        mean=sizes.mean(axis=1),
        n_weights=sizes.shape[1],
    )


def dead_units(model, params, X):
    r"""The fraction of the first hidden layer's ReLU units that output 0 for every row of ``X``.

    A unit whose pre-activation :math:`x^\top w + b` is negative for every input passes
    no gradient back to its weights: it is *dead* and stays so (unless weight decay or a
    change in the layers below revives it). ``model`` is an :class:`lrcourse.models.MLP`
    with ReLU; ``params`` may carry sweep axes, which the result keeps.
    """
    if getattr(model, "activation", None) != "relu":
        raise ValueError(f"dead_units needs an MLP with ReLU units, got {model!r}")
    X = check.as_float_array("X", X)
    Z = X @ params["W1"] + params["b1"][..., None, :]
    return np.mean(np.all(Z <= 0, axis=-2), axis=-1)


def rectification(beta2, steps):
    r"""RAdam's :math:`\rho_k` and rectification :math:`r_k` for :math:`k = 1, \dots,` ``steps``.

    .. math::

        \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
        \rho_k = \rho_\infty - \frac{2k\,\beta_2^k}{1-\beta_2^k}, \qquad
        r_k = \sqrt{\frac{(\rho_k-4)(\rho_k-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_k}}

    Returns ``(k, rho, r)``, with ``r = 0`` where :math:`\rho_k \le 5` (PyTorch's momentum
    steps, which do not divide by :math:`\sqrt{v}`), as :func:`lrcourse.optimizers.radam`.
    """
    beta2 = float(check.check_range("beta2", beta2, 0.0, 1.0, low_open=True, high_open=True))
    steps = check.check_int("steps", steps, 1)
    k = np.arange(1, steps + 1, dtype=np.float64)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    power = np.power(beta2, k)
    rho = rho_inf - 2.0 * k * power / (1.0 - power)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return k.astype(int), rho, np.where(rho > 5.0, r, 0.0)


def untuned_warmup(schedule, beta2=0.999):
    r"""``schedule`` times the untuned linear warmup of Ma & Yarats (2021).

    .. math:: \eta_t = \eta^{\text{schedule}}_t \cdot \min\Bigl(1,\ \frac{(1-\beta_2)(t+1)}{2}\Bigr)

    for the 0-based update :math:`t`: a ramp over :math:`2/(1-\beta_2)` updates (2000
    for :math:`\beta_2 = 0.999`) that multiplies whatever the schedule does meanwhile.
    ``schedule`` is a function of the step (a number is a constant rate).
    """
    beta2 = float(check.check_range("beta2", beta2, 0.0, 1.0, low_open=True, high_open=True))
    base = schedule if callable(schedule) else (lambda t, lr=float(schedule): lr + 0.0 * np.asarray(t))

    def rate(t):
        return base(t) * np.minimum(1.0, (1.0 - beta2) * (np.asarray(t) + 1.0) / 2.0)

    return rate


# ----------------------------------------------------------------- methods at a sweep of rates


@dataclass(frozen=True)
class RateTable:
    """Final numbers of several methods at a sweep of rates from several seeds.

    ``finals[metric]`` and ``diverged`` have shape ``(seeds, methods, rates)``;
    ``methods`` are the names, ``lrs`` the (peak) rates. A diverged run's numbers are NaN.
    """

    methods: tuple
    lrs: np.ndarray
    finals: dict
    diverged: np.ndarray

    def diverged_count(self):
        """How many seeds diverged, per method and rate: shape ``(methods, rates)``."""
        return self.diverged.sum(axis=0)

    def tuned(self, metric="val_loss"):
        """Per method, the index of the rate with the best mean over seeds among the rates at
        which no seed diverged (lowest loss, highest accuracy); -1 if every rate diverged."""
        mean = np.where(self.diverged.any(axis=0), np.nan, np.mean(self.finals[metric], axis=0))
        pick = BEST[metric]
        fill = np.inf if pick is np.argmin else -np.inf
        best = pick(np.where(np.isnan(mean), fill, mean), axis=-1)
        return np.where(np.isnan(mean).all(axis=-1), -1, best)

    def at_tuned(self, metric="val_loss", tuned_on=None):
        """``metric`` at each method's tuned rate (tuned on ``tuned_on``, default ``metric``): ``(seeds, methods)``."""
        index = self.tuned(tuned_on or metric)
        values = self.finals[metric]
        return np.stack(
            [values[:, m, i] if i >= 0 else np.full(len(values), np.nan) for m, i in enumerate(index)], 1
        )


def warmup_test(model, data, epochs, batch_size=None, *, lr, methods, seed=0, **fit_options):
    """Train every method of ``methods`` at every rate of ``lr`` from every ``seed``: a :class:`RateTable`.

    ``methods`` is a dict ``{name: (optimizer, make_schedule)}``: an optimizer
    constructor (``adam``, ``radam``, ...) and a function that turns a peak rate into a
    schedule (``lambda lr: schedules.cosine(lr, T_max=T)``). Methods that share an
    optimizer train side by side in one call of
    :func:`~lrcourse.labs.schedules.train_schedules` (one call of ``fit`` per seed).
    """
    if not isinstance(methods, dict) or not methods:
        raise ValueError(
            f"methods must be a non-empty dict {{name: (optimizer, make_schedule)}}, got {methods!r}"
        )
    lrs = check.check_positive("lr", lr).ravel()
    seeds = np.atleast_1d(np.asarray(seed))
    groups = {}
    for name, (optimizer, make) in methods.items():
        groups.setdefault(optimizer, []).append((name, make))
    shape = (len(seeds), len(methods), len(lrs))
    finals = {m: np.full(shape, np.nan) for m in METRICS}
    diverged = np.zeros(shape, dtype=bool)
    names = list(methods)
    for optimizer, members in groups.items():
        plan = {(name, i): make(float(r)) for name, make in members for i, r in enumerate(lrs)}
        run, div = _train_plan(model, data, optimizer, epochs, batch_size, plan, seeds, fit_options)
        for j, (name, i) in enumerate(plan):
            m = names.index(name)
            diverged[:, m, i] = div[:, j]
            for metric in finals:
                finals[metric][:, m, i] = run[metric][:, j]
    return RateTable(methods=tuple(names), lrs=lrs, finals=finals, diverged=diverged)


# ----------------------------------------------------------------- runs of unknown length


@dataclass(frozen=True)
class BudgetRuns:
    """The final numbers of one schedule at several budgets, rates and seeds.

    ``budgets`` in epochs, ``lrs`` of shape ``(budgets, rates)`` (the peak rate of each
    column at each budget), ``finals[metric]`` and ``diverged`` of shape
    ``(seeds, budgets, rates)``, ``name`` a label.
    """

    name: str
    budgets: tuple
    lrs: np.ndarray
    finals: dict
    diverged: np.ndarray

    def tuned(self, metric="val_loss"):
        """Per budget, the index of the rate with the best mean over seeds (no seed diverged)."""
        mean = np.where(self.diverged.any(axis=0), np.nan, np.mean(self.finals[metric], axis=0))
        pick = BEST[metric]
        fill = np.inf if pick is np.argmin else -np.inf
        return pick(np.where(np.isnan(mean), fill, mean), axis=-1)

    def tuned_lr(self, metric="val_loss"):
        """The tuned rate at each budget, shape ``(budgets,)``."""
        return self.lrs[np.arange(len(self.budgets)), self.tuned(metric)]

    def at_tuned(self, metric="val_loss", tuned_on=None):
        """``metric`` at each budget's tuned rate (tuned on ``tuned_on``, default ``metric``): ``(seeds, budgets)``."""
        index = self.tuned(tuned_on or metric)
        return self.finals[metric][:, np.arange(len(self.budgets)), index]


def _budgets(budgets):
    values = [check.check_int("budgets", b, 1) for b in np.atleast_1d(budgets).tolist()]
    if any(b >= c for b, c in zip(values, values[1:], strict=False)):
        raise ValueError(f"budgets must be increasing numbers of epochs, got {values}")
    return tuple(values)


def _per_epoch(data, batch_size):
    n = len(unpack(data)[1])
    return updates_per_epoch(n, n if batch_size is None else batch_size)


def _train_branches(model, data, optimizer, budgets, batch_size, plan, seed, fit_options):
    """Train the branches of ``plan`` (keyed ``(budget index, column)``) up to the longest
    budget in one call of ``fit`` per seed; each is read at the end of its own budget.
    Returns ``(finals, diverged)`` of shape ``(seeds, budgets, columns)``."""
    seeds = np.atleast_1d(np.asarray(seed))
    run, div = _train_plan(
        model, data, optimizer, budgets[-1], batch_size, plan, seeds, fit_options, at=budgets
    )
    shape = (len(seeds), len(budgets), 1 + max(c for _, c in plan))
    finals = {m: np.full(shape, np.nan) for m in METRICS}
    diverged = np.zeros(shape, dtype=bool)
    for j, (b, c) in enumerate(plan):
        diverged[:, b, c] = div[:, j]
        for metric in finals:
            finals[metric][:, b, c] = run[metric][:, b, j]
    return finals, diverged


def cosine_budgets(model, data, optimizer, budgets, batch_size=None, *, lr, seed=0, **fit_options):
    """A cosine schedule from each rate of ``lr`` down to 0 at the end of each budget, each
    budget trained on its own (one call of ``fit`` per budget and seed): a :class:`BudgetRuns`."""
    budgets, lrs = _budgets(budgets), check.check_positive("lr", lr).ravel()
    per_epoch, seeds = _per_epoch(data, batch_size), np.atleast_1d(np.asarray(seed))
    shape = (len(seeds), len(budgets), len(lrs))
    finals = {m: np.empty(shape) for m in METRICS}
    diverged = np.empty(shape, dtype=bool)
    for b, epochs in enumerate(budgets):
        plan = {i: cosine(float(r), T_max=epochs * per_epoch) for i, r in enumerate(lrs)}
        run, diverged[:, b] = _train_plan(
            model, data, optimizer, epochs, batch_size, plan, seeds, fit_options
        )
        for metric in finals:
            finals[metric][:, b] = run[metric]
    return BudgetRuns("cosine", budgets, np.broadcast_to(lrs, (len(budgets), len(lrs))), finals, diverged)


def _decay_steps(budget, fraction, per_epoch):
    return max(1, round(fraction * budget * per_epoch))


def wsd_branches(
    model,
    data,
    optimizer,
    budgets,
    batch_size=None,
    *,
    lr,
    decay_fraction=0.2,
    decay="linear",
    seed=0,
    **fit_options,
):
    """WSD for every budget in one call of ``fit`` per seed: a :class:`BudgetRuns`.

    At each rate the stable run is shared; the branch for a budget of :math:`B`
    epochs leaves it :math:`D` = ``decay_fraction`` :math:`\\times B` epochs before the
    end (:func:`lrcourse.schedules.wsd` with ``decay_start``) and decays to 0 by the
    end of the budget, where it is read. A branch that has ended keeps the rate 0 (its
    weights no longer move) until the longest budget is done.
    """
    budgets, lrs = _budgets(budgets), check.check_positive("lr", lr).ravel()
    fraction = float(check.check_range("decay_fraction", decay_fraction, 0.0, 1.0, low_open=True))
    per_epoch = _per_epoch(data, batch_size)
    plan = {}
    for b, epochs in enumerate(budgets):
        length = _decay_steps(epochs, fraction, per_epoch)
        for c, r in enumerate(lrs):
            start = epochs * per_epoch - length
            plan[b, c] = wsd(float(r), decay_start=start, decay_steps=length, decay=decay)
    finals, diverged = _train_branches(model, data, optimizer, budgets, batch_size, plan, seed, fit_options)
    name = f"WSD ({decay}, {fraction:.0%})"
    return BudgetRuns(name, budgets, np.broadcast_to(lrs, (len(budgets), len(lrs))), finals, diverged)


def decay_variants(
    model,
    data,
    optimizer,
    budgets,
    batch_size=None,
    *,
    lr,
    decays=("linear",),
    fractions=(0.2,),
    seed=0,
    **fit_options,
):
    """WSD with each decay shape of ``decays`` and length of ``fractions``, at the rate
    ``lr[b]`` for budget ``b``, all in one call of ``fit`` per seed.

    Returns ``{(decay, fraction): BudgetRuns}`` with one rate per budget.
    """
    budgets = _budgets(budgets)
    lrs = np.broadcast_to(check.check_positive("lr", lr), (len(budgets),))
    per_epoch = _per_epoch(data, batch_size)
    variants = [(d, float(f)) for d in decays for f in fractions]
    plan = {}
    for v, (shape, fraction) in enumerate(variants):
        for b, epochs in enumerate(budgets):
            length = _decay_steps(epochs, fraction, per_epoch)
            start = epochs * per_epoch - length
            plan[b, v] = wsd(float(lrs[b]), decay_start=start, decay_steps=length, decay=shape)
    finals, diverged = _train_branches(model, data, optimizer, budgets, batch_size, plan, seed, fit_options)
    out = {}
    for v, (shape, fraction) in enumerate(variants):
        one = {m: a[:, :, v : v + 1] for m, a in finals.items()}
        name = f"WSD ({shape}, {fraction:.0%})"
        out[shape, fraction] = BudgetRuns(name, budgets, lrs[:, None], one, diverged[:, :, v : v + 1])
    return out


def checkpoints(model, data, optimizer, budgets, batch_size=None, *, lr, seed=0, name=None, **fit_options):
    """One run of the longest budget at every rate of ``lr``, read at the end of each budget: a :class:`BudgetRuns`.

    ``optimizer`` is a constructor called with the array of rates (a constant rate, or a
    schedule-free optimizer with ``evaluate_at=lrcourse.optimizers.eval_params`` in
    ``fit_options``): what it reaches after :math:`B` epochs does not depend on the
    budgets that come later. A run counts as diverged at a budget if it diverged by then.
    """
    budgets, lrs = _budgets(budgets), check.check_positive("lr", lr).ravel()
    per_epoch, seeds = _per_epoch(data, batch_size), np.atleast_1d(np.asarray(seed))
    _, history = fit(
        model,
        data,
        optimizer,
        budgets[-1],
        batch_size,
        lr=lrs,
        seed=seeds,
        record=list(budgets),
        **fit_options,
    )
    shape = (len(seeds), len(lrs))
    at = [int(np.flatnonzero(history.eval_updates[:, 0, 0] == b * per_epoch)[0]) for b in budgets]
    finals = {
        m: np.stack([np.reshape(getattr(history, m)[i], shape) for i in at], axis=1)
        for m in ("train_loss", "val_loss", "val_accuracy")
    }
    gone = np.reshape(history.diverged, shape)
    when = np.reshape(history.diverged_at, shape)
    diverged = np.stack([gone & (when <= b * per_epoch) for b in budgets], axis=1)
    label = name or getattr(optimizer, "__name__", "checkpoints")
    return BudgetRuns(label, budgets, np.broadcast_to(lrs, (len(budgets), len(lrs))), finals, diverged)


def branching_cost(budgets, decay_fraction=0.2):
    r"""Epochs of training for all ``budgets``: WSD with branches, and one cosine run per budget.

    With branches the stable run is trained once, to the start of the last decay, and each
    budget adds its own decay: :math:`(1-f)\,B_{\max} + f\sum_b B_b` epochs, against
    :math:`\sum_b B_b` for a cosine per budget (:math:`f` = ``decay_fraction``).
    Returns ``(wsd_epochs, cosine_epochs)``.
    """
    budgets = _budgets(budgets)
    f = float(check.check_range("decay_fraction", decay_fraction, 0.0, 1.0))
    return (1 - f) * budgets[-1] + f * sum(budgets), float(sum(budgets))


# ----------------------------------------------------------------- the branch explorer's data


@dataclass(frozen=True)
class BranchGrid:
    """The constant-rate run and decays branched off it, recorded after every epoch.

    ``starts`` and ``lengths`` in epochs; ``stable[metric]`` has shape ``(epochs + 1,)``,
    ``branches[metric]`` shape ``(epochs + 1, starts, lengths)``, NaN where a branch would
    end after the last epoch. ``lr`` is the peak rate, ``per_epoch`` the updates per epoch.
    """

    lr: float
    epochs: int
    per_epoch: int
    decay: str
    starts: np.ndarray
    lengths: np.ndarray
    stable: dict
    branches: dict

    def rates(self, start, length):
        """The rate of the branch at every update, as a fraction of the peak (0-based updates)."""
        t = np.arange(self.epochs * self.per_epoch)
        sched = wsd(
            1.0,
            decay_start=int(start * self.per_epoch),
            decay_steps=int(length * self.per_epoch),
            decay=self.decay,
        )
        return sched(t)


def branch_grid(
    model,
    data,
    optimizer,
    epochs,
    batch_size=None,
    *,
    lr,
    starts,
    lengths,
    decay="linear",
    seed=0,
    **fit_options,
):
    """Train the constant run at ``lr`` and a branch for every (start, length) in one call: a :class:`BranchGrid`."""
    epochs = check.check_int("epochs", epochs, 2)
    starts = np.asarray([check.check_int("starts", s, 1, epochs - 1) for s in np.ravel(starts).tolist()])
    lengths = np.asarray([check.check_int("lengths", d, 1, epochs) for d in np.ravel(lengths).tolist()])
    per_epoch = _per_epoch(data, batch_size)
    plan = {"stable": float(lr)}
    for s in starts:
        for d in lengths:
            if s + d <= epochs:
                plan[s, d] = wsd(
                    float(lr), decay_start=int(s * per_epoch), decay_steps=int(d * per_epoch), decay=decay
                )
    check.check_int("seed", seed, 0)
    _, history = train_schedules(
        model, data, optimizer, epochs, batch_size, schedules=plan, seed=seed, **fit_options
    )
    stable, branches = {}, {}
    for metric in ("train_loss", "val_loss", "val_accuracy"):
        values = getattr(history, metric)
        stable[metric] = values[:, 0]
        grid = np.full((epochs + 1, len(starts), len(lengths)), np.nan)
        for j, key in enumerate(plan):
            if key != "stable":
                grid[:, list(starts).index(key[0]), list(lengths).index(key[1])] = values[:, j]
        branches[metric] = grid
    return BranchGrid(float(lr), epochs, per_epoch, decay, starts, lengths, stable, branches)

r"""The tuning recipe (chapter 8): its steps, timed, and a grid of recipes to check it against.

- :class:`Recipe` keeps a log of the steps a practitioner takes (a baseline, a range
  test, a schedule, a batch size, the final run): the wall-clock seconds each one
  cost, the validation accuracy it reached and a note on what it told us.
- :func:`warmup_cosine` is the schedule the recipe uses: a linear warmup to a peak
  rate, then a cosine down to ``final_lr`` at the end of the budget.
- :func:`epochs_to_reach` reads off a curve when a target is first reached, the
  basis of a *time-to-accuracy* comparison.
- :func:`sweep_recipes` trains a whole grid of (peak rate, warmup, batch size)
  recipes, the exhaustive search the recipe is checked against (and the data of the
  recipe dashboard in :mod:`lrcourse.widgets.tuning`); :func:`sweep_seeds` trains the
  same grid from several seeds, to show the noise between seeds and the recipes near
  the stability limit that train from some seeds and diverge from others.

Every run trains through :func:`lrcourse.training.fit`: one call per batch size,
whose optimizer gets one rate per (warmup, peak rate) at every update and whose
``seed`` is the array of seeds.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.schedules import cosine, warmup
from lrcourse.training import fit, updates_per_epoch

__all__ = [
    "Recipe",
    "RecipeGrid",
    "Step",
    "epochs_to_reach",
    "recipe_rates",
    "sweep_recipes",
    "sweep_seeds",
    "warmup_cosine",
]


# ----------------------------------------------------------------- the log of a recipe


@dataclass
class Step:
    """One step of a recipe: its ``name``, the ``seconds`` it took, and what it found.

    Set ``val_accuracy`` (a fraction, or ``None`` if the step trains no model) and
    ``note`` (a few words) inside the ``with recipe.step(...)`` block.
    """

    name: str
    seconds: float = float("nan")
    val_accuracy: float | None = None
    note: str = ""


@dataclass
class Recipe:
    """The log of a tuning recipe: every step with its wall-clock time and its result.

    ::

        recipe = Recipe()
        with recipe.step("1. baseline") as step:
            params, history = fit(...)
            step.val_accuracy = history.val_accuracy[-1]
            step.note = "the defaults"
        print(recipe.table())

    Each step is timed with :func:`time.perf_counter`. Inside a step numpy's BLAS runs
    on one thread: the many small matrix products of these models are faster that way
    on a busy machine (:mod:`threadpoolctl`); the results do not depend on it.
    """

    steps: list = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name):
        """Time the ``with`` block as the step ``name``; yields its :class:`Step`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        entry = Step(name)
        start = time.perf_counter()
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                yield entry
        finally:
            entry.seconds = time.perf_counter() - start
            self.steps = [s for s in self.steps if s.name != name] + [entry]

    def __getitem__(self, name):
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no step called {name!r}; the steps are {[s.name for s in self.steps]}")

    @property
    def total_seconds(self):
        """The time of all steps together."""
        return float(sum(s.seconds for s in self.steps))

    def table(self, times=True, width=40):
        """The steps as a text table: step | time | validation accuracy | note.

        ``times=False`` leaves the (machine-dependent) seconds out, for output that
        must be reproducible. Notes longer than ``width`` are wrapped.
        """
        import textwrap

        name_w = max([4, *(len(s.name) for s in self.steps)])
        head = f"{'step':<{name_w}}  " + ("  time  " if times else "") + "val. acc.  what it told us"
        lines = [head, "-" * len(head)]
        indent = name_w + 2 + (8 if times else 0) + 11
        for s in self.steps:
            acc = "" if s.val_accuracy is None else f"{s.val_accuracy:.1%}"
            row = f"{s.name:<{name_w}}  " + (f"{s.seconds:5.1f} s " if times else "") + f"{acc:>9}  "
            note = textwrap.wrap(s.note, width) or [""]
            lines.append(row + note[0])
            lines += [" " * indent + more for more in note[1:]]
        if times:
            lines.append(f"{'total':<{name_w}}  {self.total_seconds:5.1f} s")
        return "\n".join(lines)


# ----------------------------------------------------------------- the recipe's schedule


def warmup_cosine(peak_lr, total_steps, warmup_steps, final_lr=0.0):
    r"""A linear warmup from 0 to ``peak_lr``, then a cosine to ``final_lr`` at ``total_steps``.

    With :math:`T` = ``total_steps`` and :math:`T_w` = ``warmup_steps``:

    .. math::

        \eta_t = \begin{cases}
            \eta_{\text{peak}}\, t / T_w & t < T_w \\
            \eta_{\text{final}} + \tfrac12(\eta_{\text{peak}} - \eta_{\text{final}})
            \bigl(1 + \cos\frac{\pi (t - T_w)}{T - T_w}\bigr) & T_w \le t < T
        \end{cases}

    that is ``schedules.warmup(schedules.cosine(peak_lr, T_max=T - T_w, eta_min=final_lr), T_w)``.
    ``peak_lr`` may be an array (a sweep). Steps count updates (or epochs, if the
    schedule is stepped per epoch).
    """
    total_steps = check.check_int("total_steps", total_steps, 1)
    warmup_steps = check.check_int("warmup_steps", warmup_steps, 0, total_steps - 1)
    return warmup(cosine(peak_lr, T_max=total_steps - warmup_steps, eta_min=final_lr), warmup_steps)


def epochs_to_reach(curve, target):
    """The first epoch ``e >= 1`` with ``curve[e] >= target``, or ``None`` if it never does.

    ``curve[e]`` is a metric after ``e`` epochs (index 0: before training), such as
    ``history.val_accuracy``. NaN (a diverged run) never reaches the target.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1:
        raise ValueError(f"curve must be 1-D (one value per epoch), got shape {curve.shape}")
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero(curve[1:] >= target)
    return None if len(hits) == 0 else int(hits[0]) + 1


# ----------------------------------------------------------------- a grid of recipes


@dataclass(frozen=True)
class RecipeGrid:
    """The result of :func:`sweep_recipes`: a grid of recipes, not one training history.

    Per-epoch arrays have shape ``(n_batch_sizes, n_warmups, n_lrs, epochs + 1)``:
    ``val_accuracy``, ``val_loss``, ``train_loss`` (NaN at the epochs not evaluated
    and from a run's divergence on); ``diverged`` has shape
    ``(n_batch_sizes, n_warmups, n_lrs)``. ``seconds[b]`` is the wall-clock time
    the runs of batch size ``b`` took together.
    """

    lrs: np.ndarray
    warmups: tuple
    batch_sizes: tuple
    epochs: int
    updates_per_epoch: tuple
    val_accuracy: np.ndarray
    val_loss: np.ndarray
    train_loss: np.ndarray
    diverged: np.ndarray
    seconds: np.ndarray

    def index(self, lr, warmup, batch_size):
        """``(b, w, r)``: the indices of a batch size, a warmup (both exact) and the rate nearest ``lr``."""
        check.check_choice("warmup", warmup, self.warmups)
        check.check_choice("batch_size", batch_size, self.batch_sizes)
        r = int(np.argmin(np.abs(np.log(self.lrs) - np.log(float(check.check_positive("lr", lr))))))
        return self.batch_sizes.index(batch_size), self.warmups.index(warmup), r

    def curve(self, lr, warmup, batch_size, metric="val_accuracy"):
        """The per-epoch ``metric`` of one recipe (length ``epochs + 1``)."""
        check.check_choice("metric", metric, ("val_accuracy", "val_loss", "train_loss"))
        return getattr(self, metric)[self.index(lr, warmup, batch_size)]

    def final(self, metric="val_accuracy"):
        """``metric`` after the last epoch, shape ``(n_batch_sizes, n_warmups, n_lrs)``."""
        check.check_choice("metric", metric, ("val_accuracy", "val_loss", "train_loss"))
        return getattr(self, metric)[..., -1]

    def best(self, metric="val_accuracy"):
        """``(lr, warmup, batch_size)`` with the best final ``metric`` (highest accuracy, lowest loss)."""
        values = self.final(metric)
        flat = np.nanargmax(values) if metric == "val_accuracy" else np.nanargmin(values)
        b, w, r = np.unravel_index(flat, values.shape)
        return float(self.lrs[r]), self.warmups[w], self.batch_sizes[b]


def recipe_rates(lr, warmups, epochs, per_epoch):
    """The rate of every update of every recipe: shape ``(epochs * per_epoch, n_warmups, n_lrs)``.

    Recipe ``(w, r)`` follows :func:`warmup_cosine` with peak ``lr[r]`` over the whole
    budget of ``epochs * per_epoch`` updates, its warmup lasting ``warmups[w]`` epochs
    (``round(warmups[w] * per_epoch)`` updates; a warmup may be a fraction of an epoch).
    """
    total = epochs * per_epoch
    steps = np.arange(total)
    return np.stack([warmup_cosine(lr, total, int(round(w * per_epoch)))(steps) for w in warmups], axis=1)


def sweep_recipes(model, data, optimizer, epochs, batch_size, *, lr, warmups, seed=0, record="epoch"):
    """Train every recipe (peak rate, warmup, batch size) of a grid; return a :class:`RecipeGrid`.

    ``batch_size`` lists the batch sizes, ``lr`` the peak rates and ``warmups`` the
    warmups (in epochs). Recipe ``(lr, w, B)`` trains for ``epochs`` epochs with
    minibatches of ``B`` and :func:`warmup_cosine` with peak ``lr`` over the whole
    budget, its warmup lasting ``w`` epochs (see :func:`recipe_rates`); ``optimizer``
    is a constructor such as ``sgd``, called with those rates. All rates and warmups
    of one batch size train in one call of :func:`~lrcourse.training.fit`. ``record``
    says after which epochs the curves are evaluated: ``"epoch"``, ``"end"`` or a list
    of epochs, as in ``fit`` (the epochs left out are NaN).
    :func:`sweep_seeds` trains the same grid from several seeds.
    """
    seed = check.check_int("seed", seed, 0)
    return _sweep(model, data, optimizer, epochs, batch_size, lr, warmups, [seed], record)[0]


def sweep_seeds(model, data, optimizer, epochs, batch_size, *, lr, warmups, seed, record="end"):
    """The grid of :func:`sweep_recipes` for each of ``seed`` (a list): a list of :class:`RecipeGrid`, one per seed.

    A seed sets the initial weights and the order of the minibatches, so the spread
    of one recipe over the seeds is the noise any comparison between recipes has to
    beat, and a recipe near the stability limit may train from some seeds and diverge
    from others. By default (``record="end"``) only the start and the end of every run
    are evaluated, as only the final values are compared. One call of ``fit`` per batch
    size trains every seed (fit's ``seed`` is the array of seeds); the ``seconds`` of
    every grid are the time of all seeds together.
    """
    seeds = [check.check_int("seed", s, 0) for s in np.atleast_1d(seed).tolist()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seed must list distinct non-negative integers, at least one, got {seeds}")
    return _sweep(model, data, optimizer, epochs, batch_size, lr, warmups, seeds, record)


def _sweep(model, data, optimizer, epochs, batch_size, lr, warmups, seeds, record):
    lr = check.check_positive("lr", lr)
    if lr.ndim != 1 or len(lr) == 0:
        raise ValueError(f"lr must be 1-D and non-empty (the peak rates), got shape {lr.shape}")
    warmups = tuple(float(check.check_nonnegative("warmups", w)) for w in warmups)
    batch_sizes = tuple(check.check_int("batch_size", b, 1) for b in np.atleast_1d(batch_size).tolist())
    if not warmups or not batch_sizes:
        raise ValueError("warmups and batch_size must each hold at least one value")
    epochs = check.check_int("epochs", epochs, 1)
    if max(warmups) >= epochs:
        raise ValueError(
            f"every warmup must be shorter than the budget of {epochs} epochs, got {max(warmups)}"
        )
    if isinstance(record, (int, np.integer)):
        raise ValueError(
            f"record must be 'epoch', 'end' or a list of epochs (a grid keeps curves over epochs), "
            f"got record={record!r}"
        )
    _, y, X_val, _ = unpack(data)
    if X_val is None:
        raise ValueError("sweeping recipes needs validation data: a Split or (X, y, X_val, y_val)")
    shape = (len(seeds), len(batch_sizes), len(warmups), len(lr))
    out = {k: np.full((*shape, epochs + 1), np.nan) for k in ("val_accuracy", "val_loss", "train_loss")}
    diverged = np.zeros(shape, dtype=bool)
    seconds = np.zeros(len(batch_sizes))
    per_epoch = tuple(updates_per_epoch(len(y), B) for B in batch_sizes)
    for b, B in enumerate(batch_sizes):
        rates = recipe_rates(lr, warmups, epochs, per_epoch[b])
        start = time.perf_counter()
        _, history = fit(
            model,
            data,
            optimizer,
            epochs,
            B,
            lr=lambda t, rates=rates: rates[np.minimum(t, len(rates) - 1)],
            seed=np.array(seeds),
            record=record,
        )
        seconds[b] = time.perf_counter() - start
        for key in out:
            out[key][:, b] = _per_epoch(history, key, per_epoch[b], epochs)
        diverged[:, b] = history.diverged
    return [
        RecipeGrid(
            lrs=lr,
            warmups=warmups,
            batch_sizes=batch_sizes,
            epochs=epochs,
            updates_per_epoch=per_epoch,
            diverged=diverged[g],
            seconds=seconds,
            **{k: v[g] for k, v in out.items()},
        )
        for g in range(len(seeds))
    ]


def _per_epoch(history, key, per_epoch, epochs):
    """``history.<key>`` as curves over the epochs ``0..epochs``, the sweep axes first: NaN at
    the epochs not evaluated and from a run's divergence on (also at the evaluation that found it)."""
    values, at = getattr(history, key), history.eval_updates
    gone = history.diverged & (
        (at > history.diverged_at) | ((at == history.diverged_at) & history.diverged_at_evaluation)
    )
    curves = np.full(history.sweep_shape + (epochs + 1,), np.nan)
    evaluated = at.reshape(len(at), -1)[:, 0].astype(int) // per_epoch  # the same for every run
    curves[..., evaluated] = np.moveaxis(np.where(gone, np.nan, values), 0, -1)
    return curves

r"""Chapter 8's recipe as practised today (chapter 11): AdamW, a decaying schedule, clipping.

- :func:`adamw_clipped` is the optimizer of the current recipe: AdamW with its gradients
  clipped at a global norm (:func:`lrcourse.optimizers.clipped`), as a constructor that
  a sweep calls with its rates.
- :func:`gradient_norms` records the global norm of every minibatch gradient of a pilot
  run, and :func:`clip_threshold` turns them into a clipping threshold (a percentile of
  the norms, as the Deep Learning Tuning Playbook suggests).
- :func:`recipe_schedule` is the schedule of a recipe for a budget of updates: a linear
  warmup, then a cosine to zero (:func:`lrcourse.labs.tuning.warmup_cosine`) or WSD
  (:func:`lrcourse.schedules.wsd`).
- :func:`compare_recipes` trains several recipes, each at every rate of its own grid
  and from several seeds, at one budget: a :class:`lrcourse.labs.warmup_wsd.RateTable`
  per recipe (final numbers of shape ``(seeds, methods, rates)``, ``tuned()`` picks each
  method's rate).
- :func:`weight_decays` trains AdamW at every pair of a rate and a weight decay, the
  next step of the Playbook's order once the rate is known.
- :func:`tuned_rate` picks the rate with the best mean over seeds among the rates at
  which no seed diverged, the rule a tuning study applies.

Every run trains through :func:`lrcourse.training.fit` (via
:func:`lrcourse.labs.warmup_wsd.warmup_test`: one call per seed and optimizer).
"""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.labs.tuning import warmup_cosine
from lrcourse.labs.warmup_wsd import warmup_test
from lrcourse.optimizers import adamw, clipped
from lrcourse.schedules import wsd
from lrcourse.training import fit, updates_per_epoch

__all__ = [
    "KINDS",
    "adamw_clipped",
    "clip_threshold",
    "compare_recipes",
    "gradient_norms",
    "recipe_schedule",
    "tuned_rate",
    "weight_decays",
]

KINDS = ("cosine", "wsd", "constant")
"""The schedules of :func:`recipe_schedule`."""


def adamw_clipped(max_norm=1.0, weight_decay=0.01, betas=(0.9, 0.999)):
    """A constructor ``lr -> clipped(adamw(lr, ...), max_norm)``: the current recipe's optimizer.

    The gradient of every minibatch is scaled down to a global norm of at most
    ``max_norm`` (``inf``: no clipping), then AdamW (decoupled weight decay
    ``weight_decay``, PyTorch's default 0.01) takes its step. The constructor is what
    :func:`compare_recipes` and :func:`~lrcourse.training.fit` call with the rates.
    """
    max_norm = float(check.check_range("max_norm", max_norm, 0.0, np.inf))
    weight_decay = float(check.check_nonnegative("weight_decay", weight_decay))

    def build(lr):
        return clipped(adamw(lr=lr, betas=betas, weight_decay=weight_decay), max_norm=max_norm)

    build.max_norm, build.weight_decay = max_norm, weight_decay
    return build


def gradient_norms(model, data, optimizer, epochs, batch_size=None, *, lr, seed=0, **fit_options):
    """The global norm of every minibatch gradient of a run: shape ``(updates, *sweep)``.

    ``optimizer`` is a constructor (``adamw``, ``partial(sgd, momentum=0.9)``); it trains
    unclipped (the norm is read before any clipping). ``lr`` is a rate or a schedule,
    ``seed`` one seed or several (then the seeds are the sweep axis). A diverged run's
    later norms are NaN.
    """
    if not callable(optimizer):
        raise ValueError(f"optimizer must be a constructor such as adamw, got {optimizer!r}")
    _, history = fit(
        model,
        data,
        lambda lr: clipped(optimizer(lr=lr), max_norm=np.inf),
        epochs,
        batch_size,
        lr=lr,
        seed=seed,
        record="end",
        watch=lambda state, params: state["total_norm"],
        **fit_options,
    )
    return np.asarray(history.watched, dtype=np.float64)


def clip_threshold(norms, percentile=90.0):
    """The ``percentile`` of the finite gradient norms ``norms``: a clipping threshold.

    The Playbook's starting point is the 90th percentile of the norms of an unclipped
    run: most updates pass untouched and only the largest tenth is scaled down.
    """
    percentile = float(check.check_range("percentile", percentile, 0.0, 100.0))
    norms = np.asarray(norms, dtype=np.float64).ravel()
    norms = norms[np.isfinite(norms)]
    if len(norms) == 0:
        raise ValueError("norms must hold at least one finite gradient norm")
    return float(np.percentile(norms, percentile))


def recipe_schedule(kind, lr, total_steps, warmup_steps, decay_fraction=0.2):
    """The schedule of a recipe over ``total_steps`` updates, as a function of the update ``t``.

    ``"cosine"``: a linear warmup over ``warmup_steps``, then a cosine to zero at
    ``total_steps`` (:func:`lrcourse.labs.tuning.warmup_cosine`). ``"wsd"``: the same
    warmup, a constant rate, and a linear decay to zero over the last ``decay_fraction``
    of the budget (:func:`lrcourse.schedules.wsd`). ``"constant"``: ``lr`` throughout,
    after the same warmup.
    """
    kind = check.check_choice("kind", kind, KINDS)
    total_steps = check.check_int("total_steps", total_steps, 2)
    warmup_steps = check.check_int("warmup_steps", warmup_steps, 0, total_steps - 1)
    if kind == "cosine":
        return warmup_cosine(lr, total_steps, warmup_steps)
    decay_fraction = float(check.check_range("decay_fraction", decay_fraction, 0.0, 1.0, low_open=True))
    if kind == "constant":  # a "decay" from lr to lr
        return wsd(lr, total_steps, warmup_steps, 1, end_factor=1.0)
    decay_steps = max(1, min(int(round(decay_fraction * total_steps)), total_steps - warmup_steps))
    return wsd(lr, total_steps, warmup_steps, decay_steps)


def _steps(data, batch_size, epochs, warmup_epochs):
    n = len(unpack(data)[1])
    per_epoch = updates_per_epoch(n, batch_size)
    return epochs * per_epoch, int(round(warmup_epochs * per_epoch))


def compare_recipes(model, data, epochs, batch_size, *, arms, warmup_epochs=1.0, seed=0, **fit_options):
    """Train every recipe of ``arms`` at every rate of its own grid from every ``seed``.

    ``arms`` is a dict ``{name: (optimizer, kind, lrs)}``: an optimizer constructor
    (``partial(sgd, momentum=0.9)``, :func:`adamw_clipped`), a schedule kind of
    :func:`recipe_schedule` and the grid of peak rates. Every recipe gets the same budget,
    ``epochs`` epochs of minibatches of ``batch_size``, and a warmup of ``warmup_epochs``.
    Returns ``{name: RateTable}`` (one method per table; see
    :class:`lrcourse.labs.warmup_wsd.RateTable`).
    """
    if not isinstance(arms, dict) or not arms:
        raise ValueError(f"arms must be a non-empty dict {{name: (optimizer, kind, lrs)}}, got {arms!r}")
    total, warm = _steps(data, batch_size, epochs, warmup_epochs)
    tables = {}
    for name, (optimizer, kind, lrs) in arms.items():
        check.check_choice("kind", kind, KINDS)
        method = {name: (optimizer, lambda lr, kind=kind: recipe_schedule(kind, lr, total, warm))}
        tables[name] = warmup_test(
            model, data, epochs, batch_size, lr=lrs, methods=method, seed=seed, **fit_options
        )
    return tables


def tuned_rate(lrs, val_loss):
    """The rate of ``lrs`` with the lowest mean ``val_loss`` over seeds, among safe rates.

    ``val_loss`` has shape ``(seeds, rates)``, NaN where a run diverged. A rate at which
    any seed diverged is out (a recipe that fails from one seed in three is no recipe);
    ``None`` if every rate is out.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(val_loss, dtype=np.float64)
    if losses.ndim != 2 or losses.shape[1] != len(lrs):
        raise ValueError(f"val_loss must have shape (seeds, {len(lrs)}), got {losses.shape}")
    mean = losses.mean(axis=0)  # NaN wherever a seed diverged
    if np.isnan(mean).all():
        return None
    return float(lrs[np.nanargmin(mean)])


def weight_decays(
    model,
    data,
    epochs,
    batch_size,
    *,
    lr,
    weight_decay,
    max_norm=np.inf,
    kind="cosine",
    warmup_epochs=1.0,
    seed=0,
):
    """AdamW (clipped at ``max_norm``) at every pair of a rate of ``lr`` and a weight decay.

    The second step of the Playbook's order: the rate and the weight decay tuned
    together. One call of ``fit`` per seed trains every pair (the weight decay is a
    hyperparameter array of the optimizer, one value per member). Returns a
    :class:`~lrcourse.labs.warmup_wsd.RateTable` whose methods are the weight decays
    (``"wd 0.01"``, ...): ``finals[metric]`` of shape ``(seeds, weight decays, rates)``.
    """
    lrs = check.check_positive("lr", lr).ravel()
    wds = check.check_nonnegative("weight_decay", weight_decay).ravel()
    if len(wds) == 0 or len(lrs) == 0:
        raise ValueError("lr and weight_decay must each hold at least one value")
    max_norm = float(check.check_range("max_norm", max_norm, 0.0, np.inf))
    per_member = np.repeat(wds, len(lrs))  # the members are (weight decay, rate), decay first

    def build(lr):
        return clipped(adamw(lr=lr, weight_decay=per_member), max_norm=max_norm)

    total, warm = _steps(data, batch_size, epochs, warmup_epochs)
    kind = check.check_choice("kind", kind, KINDS)
    methods = {f"wd {w:g}": (build, lambda r: recipe_schedule(kind, r, total, warm)) for w in wds}
    return warmup_test(model, data, epochs, batch_size, lr=lrs, methods=methods, seed=seed)

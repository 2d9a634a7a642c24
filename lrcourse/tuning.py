r"""The tuning recipe of the last chapter of "Training well": its steps, timed, and a grid to check it.

- :class:`Recipe` keeps a log of the steps a practitioner takes (a baseline, a range
  test, a schedule, a batch size, the final run): the wall-clock seconds each one
  cost, the validation accuracy it reached and a note on what it told us.
- :func:`warmup_cosine` is the schedule the recipe uses: a linear warmup to a peak
  rate, then a cosine down to ``final_lr`` at the end of the budget.
- :func:`epochs_to_reach` reads off a curve when a target is first reached, the
  basis of a *time-to-accuracy* comparison.
- :func:`train_rates` trains many copies of one :class:`~lrcourse.models.MLP` with
  plain SGD at once, each with its own rate for every update, and
  :func:`sweep_recipes` uses it to train a whole grid of (peak rate, warmup, batch
  size) recipes, the exhaustive search the recipe is checked against (and the data
  of the recipe dashboard in :mod:`lrcourse.widgets`); :func:`sweep_seeds` trains
  the same grid from several seeds at once, to show the noise between seeds and
  the recipes near the stability limit that train from some seeds and diverge
  from others.

:func:`train_rates` gives the numbers :func:`lrcourse.training.fit` gives for each
member alone (to round-off: the products are summed in another order). It is written
for speed: the first layer's weights of all members sit side by side in one matrix,
so the input batch, which every member of a seed shares, meets all of them in a single
matrix product, forwards and backwards, and a member that diverges is dropped. That
makes a grid of a hundred runs affordable in a notebook;
:func:`lrcourse.schedule_lab.train_schedules` does the same for any model and
optimizer, more slowly.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from lrcourse import _validate as check
from lrcourse.data import unpack
from lrcourse.models import ACTIVATIONS, MLP, log_softmax
from lrcourse.schedules import cosine, warmup
from lrcourse.training import DIVERGENCE_FACTOR, checked_data, minibatches, updates_per_epoch

__all__ = [
    "Recipe",
    "RecipeGrid",
    "RateRuns",
    "Step",
    "epochs_to_reach",
    "sweep_recipes",
    "sweep_seeds",
    "train_rates",
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


# ----------------------------------------------------------------- many MLPs at once


@dataclass(frozen=True)
class RateRuns:
    """The result of :func:`train_rates`: one column per member (per rate sequence).

    Per epoch, shape ``(epochs + 1, S)`` (row 0 before training): ``train_loss``,
    ``val_loss``, ``train_accuracy``, ``val_accuracy`` (the validation ones ``None``
    without validation data). A member that diverged (``diverged[i]``, at update
    ``diverged_at[i]``) has NaN from the epoch it diverged in.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray | None
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray | None
    diverged: np.ndarray
    diverged_at: np.ndarray
    batch_size: int
    updates_per_epoch: int


def _check_mlp(model):
    if not isinstance(model, MLP) or model.n_classes is None:
        raise ValueError(f"model must be a classifier lrcourse.models.MLP (n_classes given), got {model!r}")
    return model


def _seeds(seed):
    """``seed`` as a tuple of ints (one seed, or a sequence of them)."""
    many = np.ndim(seed) == 1
    seeds = tuple(check.check_int("seed", s, 0) for s in (np.asarray(seed).tolist() if many else [seed]))
    if not seeds:
        raise ValueError("seed must be an int or a non-empty sequence of ints")
    return seeds


def train_rates(
    model,
    data,
    rates,
    epochs,
    batch_size=32,
    *,
    seed=0,
    divergence_factor=DIVERGENCE_FACTOR,
    train_metrics="epoch",
):
    r"""Train copies of an MLP classifier with plain SGD, copy ``i`` with the rates ``rates[:, i]``.

    ``rates`` has shape ``(epochs * updates_per_epoch, R)``: the rate of every update for
    every member. Every member starts from ``model.init(seed)`` and sees the minibatches
    of ``np.random.default_rng(seed)``, so member ``i`` is
    ``fit(model, data, sgd, epochs, batch_size, lr=schedule_i, seed=seed)`` for the
    schedule whose rates are ``rates[:, i]`` (equal to round-off). ``seed`` may also be
    a sequence of ``G`` seeds: then every rate sequence is trained from each seed's
    start and minibatches, ``S = G * R`` members in all, seed-major (column
    ``g * R + i`` is seed ``seed[g]`` with ``rates[:, i]``). A member *diverges*,
    and stops, at the first minibatch loss that is not finite or exceeds
    ``divergence_factor * max(L_0, 1)`` (:math:`L_0` its initial training loss), as in
    ``fit``; from then on it is no longer computed. With ``train_metrics="end"`` the
    training set is evaluated only before and after training (its per-epoch rows in
    between are NaN), which saves most of the evaluation time when only the
    validation curves matter. Returns a :class:`RateRuns`.
    """
    model = _check_mlp(model)
    X, y, X_val, y_val = checked_data(model, data)
    n = len(y)
    epochs = check.check_int("epochs", epochs, 1)
    batch_size = check.check_int("batch_size", batch_size, 1, n)
    per_epoch = updates_per_epoch(n, batch_size)
    rates = check.check_nonnegative("rates", rates)
    if rates.ndim != 2 or rates.shape[0] != epochs * per_epoch:
        raise ValueError(
            f"rates must have shape ({epochs * per_epoch}, S): one row per update "
            f"({epochs} epochs x {per_epoch} updates), got shape {rates.shape}"
        )
    divergence_factor = float(check.check_range("divergence_factor", divergence_factor, 1.0, low_open=True))
    every_epoch = check.check_choice("train_metrics", train_metrics, ("epoch", "end")) == "epoch"
    seeds = _seeds(seed)
    G, R = len(seeds), rates.shape[1]
    S = G * R
    L = model.n_layers
    phi, phi_grad, _ = ACTIVATIONS[model.activation]
    l2 = model.l2
    eye = np.eye(model.n_classes)
    starts = [model.init(s) for s in seeds]
    D, H = starts[0]["W1"].shape

    # The members still training, seed-major; member k of them is column ids[k] of the
    # result and trains from seed group[k]. Layer 1 of all of them sits side by side,
    # W1 of shape (D, k * H), so a batch meets every member of its seed in one product.
    ids = np.arange(S)
    group = np.repeat(np.arange(G), R)
    W1 = np.concatenate([np.tile(p["W1"], (1, R)) for p in starts], axis=1)
    P = {k: np.repeat(np.stack([p[k] for p in starts]), R, axis=0) for k in starts[0] if k != "W1"}
    rates = np.tile(rates, (1, G))  # (T, S)
    limit = None

    def columns():  # the columns of W1 of each seed's members: [(g, slice), ...]
        cuts = np.searchsorted(group, np.arange(G + 1))
        return [(g, slice(cuts[g] * H, cuts[g + 1] * H)) for g in range(G) if cuts[g + 1] > cuts[g]]

    blocks = columns()

    def layer_one(Xb):  # Xb: (n, D) shared by all members, or (G, m, D) one batch per seed
        if Xb.ndim == 2:
            Z = Xb @ W1
        else:
            Z = np.empty((Xb.shape[1], W1.shape[1]))
            for g, cols in blocks:
                Z[:, cols] = Xb[g] @ W1[:, cols]
        k = len(ids)
        return Z.reshape(-1, k, H).transpose(1, 0, 2) + P["b1"][:, None, :]

    def forward(Xb):
        Z = layer_one(Xb)
        pre, acts = [Z], []
        for layer in range(2, L + 1):
            acts.append(phi(pre[-1]))
            Z = acts[-1] @ P[f"W{layer}"] + P[f"b{layer}"][:, None, :]
            if layer < L:
                pre.append(Z)
        return Z, pre, acts

    def penalty():
        if l2 == 0:
            return 0.0
        total = np.sum((W1 * W1).reshape(D, -1, H), axis=(0, 2))
        for layer in range(2, L + 1):
            W = P[f"W{layer}"]
            total = total + np.sum(W * W, axis=(1, 2))
        return 0.5 * l2 * total

    def nll(log_p, labels):  # labels: (m,) shared or (k, m)
        if labels.ndim == 1:
            return -np.mean(log_p[:, np.arange(len(labels)), labels], axis=1)
        return -np.mean(np.take_along_axis(log_p, labels[:, :, None], axis=2)[..., 0], axis=1)

    records = {"train_loss": [], "val_loss": [], "train_accuracy": [], "val_accuracy": []}

    def evaluate(train=True):
        for part, Xp, yp in (("train", X, y), ("val", X_val, y_val)):
            if Xp is None:
                continue
            loss = np.full(S, np.nan)
            acc = np.full(S, np.nan)
            if (part == "val" or train) and len(ids):
                out = forward(Xp)[0]
                loss[ids] = nll(log_softmax(out), yp) + penalty()
                acc[ids] = np.mean(np.argmax(out, axis=-1) == yp, axis=1)
            records[f"{part}_loss"].append(loss)
            records[f"{part}_accuracy"].append(acc)

    def drop(bad):
        """Stop the members where ``bad`` (a mask over the members still training)."""
        nonlocal W1, ids, group, limit, blocks
        keep = ~bad
        W1 = W1.reshape(D, -1, H)[:, keep].reshape(D, -1)
        for k in P:
            P[k] = P[k][keep]
        ids, group, limit = ids[keep], group[keep], limit[keep]
        blocks = columns()
        return keep

    diverged_at = np.full(S, -1)
    rngs = [np.random.default_rng(s) for s in seeds]
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        evaluate()
        limit = divergence_factor * np.maximum(records["train_loss"][0], 1.0)
        t = 0
        for epoch in range(epochs):
            epoch_batches = [minibatches(n, batch_size, rng) for rng in rngs]
            for batch_rows in zip(*epoch_batches, strict=True):
                if not len(ids):
                    t += 1
                    continue
                rows = np.stack(batch_rows)  # (G, m)
                m = rows.shape[1]
                Xb = X[rows]
                out, pre, acts = forward(Xb)
                log_p = log_softmax(out)
                yb = y[rows[0]] if G == 1 else y[rows][group]
                loss = nll(log_p, yb) + penalty()
                bad = ~np.isfinite(loss) | (loss > limit)
                if bad.any():  # diverged: stop these members before their update
                    diverged_at[ids[bad]] = t
                    keep = drop(bad)
                    log_p, pre, acts = log_p[keep], [a[keep] for a in pre], [a[keep] for a in acts]
                    if G > 1:
                        yb = yb[keep]
                    if not len(ids):
                        t += 1
                        continue
                lr = rates[t, ids]
                delta = (np.exp(log_p) - eye[yb]) / m  # (k, m, K)
                for layer in range(L, 1, -1):
                    W = P[f"W{layer}"]
                    gW = np.swapaxes(acts[layer - 2], 1, 2) @ delta
                    if l2:
                        gW = gW + l2 * W
                    P[f"b{layer}"] = P[f"b{layer}"] - lr[:, None] * delta.sum(axis=1)
                    delta = (delta @ np.swapaxes(W, 1, 2)) * phi_grad(pre[layer - 2])
                    P[f"W{layer}"] = W - lr[:, None, None] * gW
                k = len(ids)
                flat = delta.transpose(1, 0, 2).reshape(m, k * H)  # (m, k * H)
                gW1 = np.empty_like(W1)
                for g, cols in blocks:
                    gW1[:, cols] = Xb[g].T @ flat[:, cols]
                if l2:
                    gW1 = gW1 + l2 * W1
                W1 = W1 - np.repeat(lr, H)[None, :] * gW1
                P["b1"] = P["b1"] - lr[:, None] * delta.sum(axis=1)
                t += 1
            with_train = every_epoch or epoch == epochs - 1
            evaluate(train=with_train)
            for key in ("train_loss", "val_loss"):  # a non-finite loss at the end of an epoch also counts
                if not records[key] or (key == "train_loss" and not with_train):
                    continue
                bad = ~np.isfinite(records[key][-1][ids])
                if bad.any():
                    diverged_at[ids[bad]] = t
                    for k in records:
                        if records[k]:
                            records[k][-1][ids[bad]] = np.nan
                    drop(bad)

    def stacked(key):
        return np.array(records[key]) if records[key] else None

    return RateRuns(
        train_loss=stacked("train_loss"),
        val_loss=stacked("val_loss"),
        train_accuracy=stacked("train_accuracy"),
        val_accuracy=stacked("val_accuracy"),
        diverged=diverged_at >= 0,
        diverged_at=diverged_at,
        batch_size=batch_size,
        updates_per_epoch=per_epoch,
    )


# ----------------------------------------------------------------- a grid of recipes


@dataclass(frozen=True)
class RecipeGrid:
    """The result of :func:`sweep_recipes`.

    Per-epoch arrays have shape ``(n_batch_sizes, n_warmups, n_lrs, epochs + 1)``:
    ``val_accuracy``, ``val_loss``, ``train_loss``; ``diverged`` has shape
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


def sweep_recipes(model, data, lrs, warmups, batch_sizes, epochs, *, seed=0, train_metrics="epoch"):
    """Train every recipe (peak rate, warmup, batch size) of a grid with SGD; return a :class:`RecipeGrid`.

    Recipe ``(lr, w, B)`` trains for ``epochs`` epochs with minibatches of ``B`` and
    :func:`warmup_cosine` with peak ``lr`` over the whole budget, its warmup lasting
    ``w`` epochs (``round(w * updates_per_epoch)`` updates; ``w`` may be a fraction).
    All rates and warmups of one batch size train at once (:func:`train_rates`);
    ``train_metrics="end"`` evaluates the training loss only at the end (faster).
    :func:`sweep_seeds` trains the same grid from several seeds at once.
    """
    return _sweep(model, data, lrs, warmups, batch_sizes, epochs, _seeds(seed)[:1], train_metrics)[0]


def sweep_seeds(model, data, lrs, warmups, batch_sizes, epochs, seeds, *, train_metrics="end"):
    """The grid of :func:`sweep_recipes` for each of ``seeds``: a list of :class:`RecipeGrid`, one per seed.

    A seed sets the initial weights and the order of the minibatches, so the spread
    of one recipe over the seeds is the noise any comparison between recipes has to
    beat, and a recipe near the stability limit may train from some seeds and diverge
    from others. All seeds of one batch size train at once (:func:`train_rates` with a
    sequence of seeds), which is much faster than one grid after the other. The
    ``seconds`` of every grid are the time of all seeds together.
    """
    seeds = _seeds(seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return _sweep(model, data, lrs, warmups, batch_sizes, epochs, seeds, train_metrics)


def _sweep(model, data, lrs, warmups, batch_sizes, epochs, seeds, train_metrics):
    lrs = check.check_positive("lrs", lrs)
    if lrs.ndim != 1 or len(lrs) == 0:
        raise ValueError(f"lrs must be 1-D and non-empty, got shape {lrs.shape}")
    warmups = tuple(float(check.check_nonnegative("warmups", w)) for w in warmups)
    batch_sizes = tuple(check.check_int("batch_sizes", b, 1) for b in batch_sizes)
    if not warmups or not batch_sizes:
        raise ValueError("warmups and batch_sizes must each hold at least one value")
    epochs = check.check_int("epochs", epochs, 1)
    if max(warmups) >= epochs:
        raise ValueError(
            f"every warmup must be shorter than the budget of {epochs} epochs, got {max(warmups)}"
        )
    X, y, _, _ = unpack(data)
    G = len(seeds)
    shape = (G, len(batch_sizes), len(warmups), len(lrs))
    out = {k: np.empty((*shape, epochs + 1)) for k in ("val_accuracy", "val_loss", "train_loss")}
    diverged = np.zeros(shape, dtype=bool)
    seconds = np.zeros(len(batch_sizes))
    per_epoch = []
    for b, B in enumerate(batch_sizes):
        upe = updates_per_epoch(len(y), B)
        per_epoch.append(upe)
        total = epochs * upe
        steps = np.arange(total)
        columns = [warmup_cosine(lrs, total, int(round(w * upe)))(steps) for w in warmups]  # each (T, R)
        rates = np.concatenate(columns, axis=1)
        start = time.perf_counter()
        runs = train_rates(model, data, rates, epochs, B, seed=list(seeds), train_metrics=train_metrics)
        seconds[b] = time.perf_counter() - start
        if runs.val_accuracy is None:
            raise ValueError("sweep_recipes needs validation data: a Split or (X, y, X_val, y_val)")
        for key in out:
            out[key][:, b] = getattr(runs, key).T.reshape(G, len(warmups), len(lrs), epochs + 1)
        diverged[:, b] = runs.diverged.reshape(G, len(warmups), len(lrs))
    return [
        RecipeGrid(
            lrs=lrs,
            warmups=warmups,
            batch_sizes=batch_sizes,
            epochs=epochs,
            updates_per_epoch=tuple(per_epoch),
            diverged=diverged[g],
            seconds=seconds,
            **{k: v[g] for k, v in out.items()},
        )
        for g in range(G)
    ]

r"""Layer-wise learning rates: a different optimizer, or a different rate, for each group of parameters.

The optimizers of :mod:`lrcourse.optimizers` give every parameter the same
hyperparameters. Here the parameters (a dict such as ``{"W1", "b1", "W2", "b2"}``)
are split into named **groups** and each group gets its own optimizer:

::

    from lrcourse.labs import layerwise
    from lrcourse.optimizers import sgd

    opt = layerwise.partition(
        {"body": sgd(lr=0.01), "head": sgd(lr=0.1)},
        {"body": ["W1", "b1"], "head": ["W2", "b2"]},
    )

or, with one base rate and a multiplier per group (the rate of group :math:`g` is
:math:`m_g\,\eta_t`, the base rate :math:`\eta_t` possibly a schedule),
an optimizer *constructor* that :func:`lrcourse.training.fit` and
:func:`lrcourse.lr_finder.range_test` call with the base rate::

    make = layerwise.scaled(sgd, {"body": 0.1, "head": 1.0}, groups)
    fit(model, data, make, epochs, lr=schedules.cosine(0.1, T_max=300))

A multiplier (or a rate) of 0 freezes a group: plain SGD, momentum and Adam all
leave a parameter unchanged when its rate is 0. :func:`frozen` does the same
without keeping any optimizer state.

**PyTorch** calls the groups ``param_groups``: a list of dicts, each with its
``"params"`` and any hyperparameters that differ from the defaults::

    torch.optim.SGD([
        {"params": model.body.parameters(), "lr": 0.01},
        {"params": model.head.parameters()},          # uses the default lr=0.1
    ], lr=0.1)

A scheduler then multiplies every group's own base rate by the same factor, which
is what :func:`scaled` does. A GAN's generator and discriminator usually get two
separate optimizers instead (``opt_g = Adam(G.parameters(), lr=1e-4)``,
``opt_d = Adam(D.parameters(), lr=4e-4)``); :func:`partition` covers that case
too, when both players are updated at the same time (see :mod:`lrcourse.labs.games`).
"""

from __future__ import annotations

import fnmatch
import re

import numpy as np

from lrcourse import _validate as check
from lrcourse.optimizers import Optimizer, at_sweep_axes
from lrcourse.tree import tree_map

__all__ = ["assign", "by_layer", "frozen", "layer_decay", "partition", "scaled"]


# ----------------------------------------------------------------- groups


def _patterns(group, spec):
    if isinstance(spec, str):
        return [spec]
    try:
        patterns = list(spec)
    except TypeError:
        raise ValueError(
            f"groups[{group!r}] must be a key pattern or a list of them, such as ['W1', 'b1'] or '*1', "
            f"got {spec!r}"
        ) from None
    for p in patterns:
        if not isinstance(p, str):
            raise ValueError(f"groups[{group!r}] must hold strings (key patterns), got {p!r}")
    return patterns


def assign(keys, groups):
    """Which group each parameter key belongs to: a dict ``{key: group}``.

    ``groups`` is either a dict ``{group: patterns}``, where ``patterns`` is a key or
    a list of keys, each of which may use the wildcards of :mod:`fnmatch` (``"*1"``
    matches ``"W1"`` and ``"b1"``, ``"*"`` matches everything), or a function
    ``key -> group``. With a dict the groups are tried in order and the first
    match wins, so a catch-all ``"*"`` goes last. Every key must land in a group
    and every group must receive a key; otherwise ``ValueError`` says which.
    """
    keys = list(keys)
    if callable(groups):
        out = {k: groups(k) for k in keys}
        for k, g in out.items():
            if not isinstance(g, str):
                raise ValueError(f"the group function must return a group name (str), got {g!r} for {k!r}")
        return out
    if not isinstance(groups, dict) or not groups:
        raise ValueError(
            f"groups must be a non-empty dict {{group: key patterns}} or a function, got {groups!r}"
        )
    table = {g: _patterns(g, spec) for g, spec in groups.items()}
    out = {}
    for k in keys:
        for g, patterns in table.items():
            if any(fnmatch.fnmatchcase(k, p) for p in patterns):
                out[k] = g
                break
        else:
            raise ValueError(
                f"parameter {k!r} matches no group; the groups are {table} (add '*' to a last group "
                "to catch the rest)"
            )
    empty = [g for g in table if g not in out.values()]
    if empty:
        raise ValueError(f"group(s) {empty} match no parameter; the parameters are {keys}")
    return out


def by_layer(keys):
    """Groups ``{"layer1": ["W1", "b1"], "layer2": [...], ...}`` from keys that end in a layer number.

    The keys of :class:`lrcourse.models.MLP` parameters (``W1, b1, W2, b2, ...``)
    end in the number of their layer; ``by_layer(params)`` groups them by it, in
    order. A key without a trailing number raises ``ValueError``.
    """
    layers = {}
    for k in keys:
        match = re.search(r"(\d+)$", k)
        if not match:
            raise ValueError(f"key {k!r} does not end in a layer number (as W1, b1, W2, ... do)")
        layers.setdefault(int(match.group(1)), []).append(k)
    return {f"layer{i}": layers[i] for i in sorted(layers)}


# ----------------------------------------------------------------- optimizers per group


def frozen():
    """An optimizer that never changes its parameters (updates are zeros; no state).

    PyTorch: ``p.requires_grad_(False)`` for the frozen parameters (or leave them out
    of the optimizer). Keras: ``layer.trainable = False``.
    """

    def init(params):
        return {"step": 0}

    def update(grads, state, params):
        return tree_map(lambda g: np.zeros(np.shape(g)), grads), {"step": state["step"] + 1}

    return Optimizer("frozen", init, update, {"lr": 0.0})


def _group_rate(optimizers, t):
    """The largest rate of all groups at step ``t`` (elementwise for sweeps)."""
    values = []
    for opt in optimizers.values():
        h = opt.hyperparams.get("lr", 0.0)
        values.append(np.asarray(h(t) if callable(h) else h, dtype=np.float64))
    top = np.maximum.reduce(np.broadcast_arrays(*values))
    return float(top) if np.ndim(top) == 0 else top


def partition(optimizers, groups):
    r"""One optimizer per group of parameters, as one :class:`~lrcourse.optimizers.Optimizer`.

    ``optimizers`` is a dict ``{group: Optimizer}``; ``groups`` says which parameter
    keys belong to which group (see :func:`assign`). The parameters must be a dict;
    each group's optimizer sees only its own keys (its state too), and the updates
    are put back together in the order of the parameters. So partitioning is the
    same as running the optimizers separately, each on its own part:

    .. math:: \theta^{(g)}_{t+1} = \theta^{(g)}_t + \operatorname{update}_g\bigl(\nabla_{\theta^{(g)}} L\bigr)
              \quad \text{for every group } g .

    The optimizer's ``hyperparams["lr"]`` is the largest rate of the groups at each
    step: the rate :func:`lrcourse.training.fit` records in its history.
    PyTorch: ``torch.optim.SGD([{"params": ..., "lr": ...}, ...])`` (param groups).

    Every parameter gets the sweep axes of all groups; an optimizer that depends on them
    (Adafactor, Muon, :func:`~lrcourse.optimizers.clipped`) is given their number, so the
    members stay independent (``ValueError`` naming ``sweep_axes=`` if it was built with another).
    """
    if not isinstance(optimizers, dict) or not optimizers:
        raise ValueError(f"optimizers must be a non-empty dict {{group: Optimizer}}, got {optimizers!r}")
    for g, opt in optimizers.items():
        if not isinstance(opt, Optimizer):
            raise ValueError(
                f"optimizers[{g!r}] must be an Optimizer such as sgd(lr=0.1) (not the constructor sgd), "
                f"got {opt!r}"
            )
    if isinstance(groups, dict):
        unknown = [g for g in groups if g not in optimizers]
        missing = [g for g in optimizers if g not in groups]
        if unknown or missing:
            raise ValueError(
                f"groups and optimizers must name the same groups; only in groups: {unknown}, "
                f"only in optimizers: {missing}"
            )
    original = optimizers
    optimizers, n_sweep = _on_the_whole_sweep(original)

    def split(params):
        if not isinstance(params, dict):
            raise ValueError(
                f"partition needs the parameters as a dict of named arrays, got {type(params).__name__}"
            )
        owner = assign(params, groups)
        for k, g in owner.items():
            if g not in optimizers:
                raise ValueError(f"parameter {k!r} went to group {g!r}, which has no optimizer")
        return owner

    def part(tree, owner, g):
        return {k: tree[k] for k in tree if owner[k] == g}

    def init(params):
        owner = split(params)
        return {
            "step": 0,
            "groups": {g: opt.init(part(params, owner, g)) for g, opt in optimizers.items()},
        }

    def update(grads, state, params):
        owner = split(params)
        updates, states = {}, {}
        for g, opt in optimizers.items():
            u, states[g] = opt.update(part(grads, owner, g), state["groups"][g], part(params, owner, g))
            updates.update(u)
        return {k: updates[k] for k in params}, {"step": state["step"] + 1, "groups": states}

    lrs = {g: opt.hyperparams.get("lr", 0.0) for g, opt in optimizers.items()}
    if any(callable(h) for h in lrs.values()):
        lr = lambda t: _group_rate(optimizers, t)  # noqa: E731
    else:
        lr = _group_rate(optimizers, 0)
    name = "partition(" + ", ".join(f"{g}: {opt.name}" for g, opt in optimizers.items()) + ")"
    resweep = None if n_sweep is None else (lambda n: partition(_on_the_whole_sweep(original, n)[0], groups))
    return Optimizer(name, init, update, {"lr": lr}, sweep_axes=n_sweep, resweep=resweep)


def _on_the_whole_sweep(optimizers, least=0):
    """The groups' optimizers, those that depend on a parameter's shape given the partition's sweep axes.

    Also returns their number: that of the groups' sweeps together, of the optimizers' own
    ``sweep_axes`` and ``least``, the largest; ``None`` when no optimizer depends on it.
    """
    shapes = [opt.sweep_shape for opt in optimizers.values()]
    try:
        n_sweep = max(least, len(np.broadcast_shapes(*shapes)))
    except ValueError:
        raise ValueError(f"the groups' sweeps must broadcast together, got shapes {shapes}") from None
    fixed = [opt.sweep_axes for opt in optimizers.values() if opt.sweep_axes is not None]
    if not fixed:
        return optimizers, None
    n_sweep = max(n_sweep, *fixed)
    return {
        g: at_sweep_axes(opt, n_sweep, f"partition (group {g!r})") for g, opt in optimizers.items()
    }, n_sweep


def _times(factor, lr):
    """``factor`` times a rate that may be a number, an array or a schedule."""
    if callable(lr):
        return lambda t: factor * lr(t)
    return factor * np.asarray(lr, dtype=np.float64) if isinstance(lr, np.ndarray) else factor * lr


def scaled(constructor, factors, groups, **hyper):
    r"""An optimizer constructor that gives group :math:`g` the rate :math:`m_g\,\eta`.

    ``constructor`` is an optimizer constructor such as ``sgd`` or ``adam``;
    ``factors`` a dict ``{group: m_g}`` of non-negative multipliers (0 freezes the
    group); ``groups`` as in :func:`assign`; ``hyper`` further hyperparameters for
    every group (``momentum=0.9``). The result is called as ``make(lr=...)`` with a
    base rate :math:`\eta` that may be a number, an array (a sweep) or a schedule, so
    it can go wherever a constructor goes: ``fit(model, data, make, epochs, lr=...)``,
    :func:`lrcourse.lr_finder.range_test`.

    .. math:: \eta^{(g)}_t = m_g\, \eta_t

    PyTorch: param groups whose ``"lr"`` is ``m_g * base_lr``; a scheduler scales
    each group's rate by the same factor over time.
    """
    if not callable(constructor) or isinstance(constructor, Optimizer):
        raise ValueError(f"constructor must be an optimizer constructor such as sgd, got {constructor!r}")
    if not isinstance(factors, dict) or not factors:
        raise ValueError(f"factors must be a non-empty dict {{group: multiplier}}, got {factors!r}")
    factors = {g: float(check.check_nonnegative(f"factors[{g!r}]", m)) for g, m in factors.items()}

    def make(lr):
        return partition({g: constructor(lr=_times(m, lr), **hyper) for g, m in factors.items()}, groups)

    make.__name__ = f"scaled({getattr(constructor, '__name__', 'optimizer')})"
    return make


def layer_decay(base_lr, decay, n_layers):
    r"""Layer-wise rate decay: the top layer gets ``base_lr``, each layer below ``decay`` times the one above.

    For layers :math:`l = 1, \dots, L` (1 = the input side, :math:`L` = the output layer):

    .. math:: \eta_l = \eta_{\text{base}}\; d^{\,L - l}

    Returns the array ``[eta_1, ..., eta_L]``. With :math:`d < 1` the early layers,
    which hold the most general features of a pretrained network, change least; ULMFiT
    (Howard & Ruder, 2018) divided the rate by 2.6 per layer, :math:`d = 1/2.6`.
    """
    base_lr = float(check.check_nonnegative("base_lr", base_lr))
    decay = float(check.check_nonnegative("decay", decay))
    n_layers = check.check_int("n_layers", n_layers, 1)
    return base_lr * decay ** (n_layers - np.arange(1, n_layers + 1))

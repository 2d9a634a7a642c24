"""Parameters as a plain array or a (nested) dict / list / tuple of arrays.

Models keep their weights as ``{"W1": ..., "b1": ...}``; the 2-D landscapes use a
single array of shape ``(..., 2)``. The optimizers treat both the same way by
mapping a function over the leaves.
"""

from __future__ import annotations

import numpy as np


def tree_map(fn, tree, *rest):
    """Apply ``fn`` leaf by leaf to ``tree`` and the trees in ``rest`` (same structure)."""
    if isinstance(tree, dict):
        if len(rest) == 1:  # (the usual case spelled out: training calls this twice a step)
            (other,) = rest
            return {k: tree_map(fn, v, other[k]) for k, v in tree.items()}
        return {k: tree_map(fn, v, *[r[k] for r in rest]) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, *leaves) for leaves in zip(tree, *rest, strict=True))
    return fn(tree, *rest)


def tree_leaves(tree):
    """The arrays of ``tree`` in a fixed order."""
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in tree_leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def tree_zeros_like(tree):
    """A tree of float64 zeros shaped like ``tree``."""
    return tree_map(lambda x: np.zeros(np.shape(x)), tree)


def tree_copy(tree):
    """A deep copy of the arrays in ``tree`` (as float64)."""
    return tree_map(lambda x: np.array(x, dtype=np.float64), tree)

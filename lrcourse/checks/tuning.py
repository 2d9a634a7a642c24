r"""Checkers for the chapter on the tuning recipe.

- :func:`check_layer_rates`: ``layer_rates(base_lr, decay, n_layers)`` returns the
  layer-wise rates :math:`\eta_l = \eta_{\text{base}}\, d^{\,L-l}`, first layer first
  (the reference is :func:`lrcourse.labs.layerwise.layer_decay`).
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function
from lrcourse.labs.layerwise import layer_decay

__all__ = ["check_layer_rates"]


def _powers(decay, n_layers):
    return decay ** (n_layers - np.arange(1, n_layers + 1))


def _random_case(rng):
    base = float(10 ** rng.uniform(-4, 0))
    decay = float(rng.uniform(0.1, 0.95))
    return (base, decay, int(rng.integers(2, 7)))


def check_layer_rates(layer_rates, quiet=False, record=None):
    """Chapter 8: ``layer_rates(base_lr, decay, n_layers)`` returns ``base_lr * decay ** (L - l)`` for l = 1..L."""
    cases = [
        Case((0.1, 0.5, 3), label="three layers, halving per layer"),
        Case((0.3, 0.1, 2), label="the MLP of this chapter, first layer 10x smaller"),
        Case((2e-5, 1 / 2.6, 4), label="ULMFiT's factor 2.6 per layer"),
        Case((0.01, 1.0, 4), label="decay 1: the same rate everywhere"),
        Case((0.05, 0.5, 1), label="a single layer"),
    ]
    mistakes = [
        (
            lambda base, d, n: base * d ** np.arange(n),
            "the first layer got the full base rate: the order is the other way round. "
            "Return the first layer first; the last (output) layer gets base_lr and "
            "each layer below it decay times less.",
        ),
        (
            lambda base, d, n: base * d ** (n - np.arange(1, n + 1) + 1),
            "off by one layer: the output layer (l = L) must get exactly base_lr. "
            "What must the exponent be for the last layer, and how does it grow "
            "from one layer to the one below?",
        ),
        (
            lambda base, d, n: base / d ** (n - np.arange(1, n + 1)),
            "you divided by the decay; multiply by it once per layer below the top, so "
            "that a decay below 1 gives the early layers smaller rates.",
        ),
        (
            lambda base, d, n: _powers(d, n),
            "these are the multipliers decay ** (L - l); multiply them by base_lr.",
        ),
        (
            lambda base, d, n: base * d * np.arange(n, 0, -1),
            "the decay compounds: each layer down multiplies by decay once more "
            "(a power, decay ** (L - l)), it does not add.",
        ),
    ]
    return check_function(
        layer_rates,
        layer_decay,
        cases,
        name="layer_rates",
        random_case=_random_case,
        arg_names=["base_lr", "decay", "n_layers"],
        mistakes=mistakes,
        hint=(
            "the last layer gets base_lr; each layer below it gets decay times the rate of the "
            "layer above. Which power of decay does layer l get?"
        ),
        rtol=1e-9,
        atol=1e-15,
        quiet=quiet,
        record=record,
    )

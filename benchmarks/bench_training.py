"""How fast is training? Prints milliseconds (median of repeats).

    python benchmarks/bench_training.py

1. ``fit`` of an MLP (64 -> 64 ReLU -> 10, Adam) on the UCI digits for 20 epochs at batch
   size 32, with the training and validation loss and accuracy evaluated after every epoch;
2. a parallel range test of 50 constant learning rates on logistic regression (digits
   0-4 against 5-9), 3 epochs at batch size 32, all rates in one ``fit`` call.

Budget: each well under a second, here 500 ms. The script exits with status 1 when a
budget is missed.
"""

from __future__ import annotations

import argparse
import platform
import sys

import numpy as np
from timing import median_ms

from lrcourse import data, lr_finder, models, training
from lrcourse.optimizers import adam, sgd

BUDGET_MS = 500.0


def digits_split():
    """The standardised digits, 80 % train / 20 % validation, as the benchmark uses them."""
    X, y = data.load_digits()
    split, _ = data.standardize(data.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.0, seed=0))
    return split


def fit_mlp(split):
    """The timed training run: MLP 64-64-10, Adam(1e-3), 20 epochs at batch size 32."""
    return training.fit(
        models.MLP(64, hidden=(64,), n_classes=10), split, adam(lr=1e-3), epochs=20, batch_size=32
    )


RANGE_RATES = np.logspace(-4, 1, 50)


def range_test_logistic(split):
    """The timed parallel range test: 50 rates x 3 epochs on logistic regression (0-4 vs 5-9),
    read with :func:`lrcourse.lr_finder.lowest_final_loss`; returns its suggestion."""
    binary = (split.X_train, (split.y_train >= 5).astype(np.int64))
    _, history = training.fit(models.LogisticRegression(64), binary, sgd, 3, 32, lr=RANGE_RATES)
    return lr_finder.lowest_final_loss(RANGE_RATES, history.final("train_loss"))


def measure(repeats=7):
    """Median milliseconds of (the MLP fit, the parallel range test)."""
    split = digits_split()
    return (
        median_ms(lambda: fit_mlp(split), repeats),
        median_ms(lambda: range_test_logistic(split), repeats),
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    split = digits_split()
    _, history = fit_mlp(split)
    suggestion = range_test_logistic(split)
    fit_ms, sweep_ms = measure(args.repeats)
    rates = RANGE_RATES

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    print(
        f"fit MLP 64-64-10 on digits, 20 epochs x {history.updates_per_epoch} updates (batch 32): "
        f"{fit_ms:8.1f} ms  (budget {BUDGET_MS:g} ms; val accuracy {history.val_accuracy[-1]:.3f})"
    )
    print(
        f"parallel range test, {len(rates)} rates x 3 epochs, logistic regression:        "
        f"{sweep_ms:8.1f} ms  (budget {BUDGET_MS:g} ms; best lr {suggestion.lr:.3g})"
    )
    missed = [name for name, ms in (("fit", fit_ms), ("parallel range test", sweep_ms)) if ms > BUDGET_MS]
    if missed:
        print(f"over budget: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

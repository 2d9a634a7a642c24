"""The experiments of the chapters, one module a topic (the names of :mod:`lrcourse.widgets`
and :mod:`lrcourse.checks`). Each computes with the core (every run trains through
:func:`lrcourse.training.fit`); the figures are drawn in :mod:`lrcourse.plotting`.

- :mod:`~lrcourse.labs.learning_rate` (chapter 2): the stability limit of gradient descent,
  sweeps of rates, good ranges and trial-and-error searches.
- :mod:`~lrcourse.labs.batch_size` (chapter 3): batch sizes times rates, wall-clock time,
  the noise of a minibatch gradient.
- :mod:`~lrcourse.labs.epochs` (chapter 4): model capacity against epochs.
- :mod:`~lrcourse.labs.schedules` (chapter 5): schedules trained side by side.
- :mod:`~lrcourse.labs.optimizers`, :mod:`~lrcourse.labs.textbook_optimizers` (chapter 6):
  optimizers measured against each other, and the textbook forms of their rules.
- :mod:`~lrcourse.labs.early_stopping` (chapter 7): early stopping replayed on recorded curves.
- :mod:`~lrcourse.labs.tuning`, :mod:`~lrcourse.labs.layerwise`, :mod:`~lrcourse.labs.games`
  (chapter 8): the tuning recipe, layer-wise rates, two players with two rates.
- :mod:`~lrcourse.labs.warmup_wsd` (chapter 9): Adam's first steps and warmup, and
  schedules for runs of unknown length (WSD branches, schedule-free) at several budgets.
- :mod:`~lrcourse.labs.stability`, :mod:`~lrcourse.labs.scaling` (chapter 10): the
  sharpness of a loss and the edge of stability; rates across width (muP) and batch size.
- :mod:`~lrcourse.labs.clipping`, :mod:`~lrcourse.labs.new_optimizers` (chapter 11):
  gradient clipping over a grid of rates and norms; Lion, Adafactor and Muon by rate.
- :mod:`~lrcourse.labs.recipe` (chapter 11): chapter 8's recipe as practised today
  (AdamW, warmup + cosine or WSD, clipping) against the old one, and batch sizes retuned.

``from lrcourse import labs`` then ``labs.batch_size.time_per_epoch(...)``: a module is
imported the first time it is used.
"""

import importlib

TOPICS = (
    "learning_rate",
    "batch_size",
    "epochs",
    "schedules",
    "optimizers",
    "textbook_optimizers",
    "early_stopping",
    "tuning",
    "layerwise",
    "games",
    "warmup_wsd",
    "stability",
    "scaling",
    "clipping",
    "new_optimizers",
    "recipe",
)


def __getattr__(name):
    if name in TOPICS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(TOPICS)

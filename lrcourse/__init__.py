"""lrcourse: the small numpy package behind the course on learning rates.

Modules, each with one job:

- :mod:`lrcourse.objectives`: 1-D and 2-D loss landscapes with exact gradients.
- :mod:`lrcourse.optimizers`: SGD, AdaGrad, RMSprop, Adam, AdamW matching ``torch.optim``,
  plus :func:`~lrcourse.optimizers.run` and :func:`~lrcourse.optimizers.descend`
  (from :mod:`lrcourse.descent`).
- :mod:`lrcourse.schedules`: learning-rate schedules matching ``torch.optim.lr_scheduler``.
- :mod:`lrcourse.data`: seeded synthetic data sets, the handwritten digits, splits.
- :mod:`lrcourse.models`: linear, logistic and softmax regression and an MLP with
  hand-written backpropagation.
- :mod:`lrcourse.training`: minibatch training with schedules, early stopping and a history.
- :mod:`lrcourse.diagnosis`: names the state of a run (good fit, overfitting, ...).
- :mod:`lrcourse.lr_finder`: the learning-rate range test.
- :mod:`lrcourse.stability`: the stability limit :math:`2/\\lambda_{\\max}` of gradient descent,
  exact on quadratics and linear regression, and measured with a vectorised sweep.
- :mod:`lrcourse.rate_search`: many learning rates trained at once (the runs of ``fit``),
  good ranges and trial-and-error searches.
- :mod:`lrcourse.schedule_lab`: many schedules trained side by side, label noise, a noisy
  regression and a sharp-and-wide landscape for experiments with schedules.
- :mod:`lrcourse.early_stopping`: early stopping replayed on recorded validation curves,
  scored against the best epoch in hindsight.
- :mod:`lrcourse.plotting`: the course's figures (they draw, never compute).
- :mod:`lrcourse.widgets`: explorers (sliders) for a kernel and for the static website.
- :mod:`lrcourse.checks`: checkers for the exercises.
"""

__version__ = "0.1.0"

"""lrcourse: the small numpy package behind the course on learning rates.

Modules, each with one job:

The numerical core:

- :mod:`lrcourse.objectives`: 1-D and 2-D loss landscapes with exact gradients.
- :mod:`lrcourse.optimizers`: SGD, AdaGrad, RMSprop, Adam, AdamW matching ``torch.optim``.
- :mod:`lrcourse.descent`: :func:`~lrcourse.descent.run` and :func:`~lrcourse.descent.descend`
  run an optimizer on a landscape, sweeps included.
- :mod:`lrcourse.schedules`: learning-rate schedules matching ``torch.optim.lr_scheduler``.
- :mod:`lrcourse.tree`: parameters as one array or a (nested) dict of arrays.

The training lab:

- :mod:`lrcourse.data`: seeded synthetic data sets, the handwritten digits, splits.
- :mod:`lrcourse.models`: linear, logistic and softmax regression and an MLP with
  hand-written backpropagation.
- :mod:`lrcourse.training`: minibatch training with schedules, early stopping and a history.
- :mod:`lrcourse.diagnosis`: names the state of a run (good fit, overfitting, ...).
- :mod:`lrcourse.lr_finder`: the learning-rate range test.

The experiments of the chapters (each computes; the figures are drawn elsewhere):

- :mod:`lrcourse.labs.learning_rate` (chapter 2): the stability limit
  :math:`2/\\lambda_{\\max}` of gradient descent, exact on quadratics and linear
  regression and measured with a sweep of rates; good ranges and trial-and-error searches.
- :mod:`lrcourse.labs.batch_size` (chapter 3): many batch sizes times many rates,
  wall-clock time, and how noisy a minibatch gradient is.
- :mod:`lrcourse.labs.epochs` (chapter 4): model capacity against epochs.
- :mod:`lrcourse.labs.schedules` (chapter 5): many schedules trained side by side.
- :mod:`lrcourse.labs.optimizers`, :mod:`lrcourse.labs.textbook_optimizers` (chapter 6):
  optimizers measured against each other, and the textbook forms of their update rules.
- :mod:`lrcourse.labs.early_stopping` (chapter 7): early stopping replayed on recorded
  validation curves, scored against the best epoch in hindsight.
- :mod:`lrcourse.labs.tuning`, :mod:`lrcourse.labs.layerwise`, :mod:`lrcourse.labs.games`
  (chapter 8): the tuning recipe and its grid, layer-wise rates, two players with two rates.

Around them:

- :mod:`lrcourse.plotting`: the course's figures (they draw, never compute).
- :mod:`lrcourse.widgets`: explorers (sliders) for a kernel and for the static website.
- :mod:`lrcourse.checks`: checkers for the exercises.
- :mod:`lrcourse.assign`: student versions, answer keys and an autograder
  (``python -m lrcourse.assign``).
"""

__version__ = "0.1.0"

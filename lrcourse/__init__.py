"""lrcourse: the small numpy package behind the course on learning rates.

Modules, each with one job:

- :mod:`lrcourse.objectives`: 1-D and 2-D loss landscapes with exact gradients.
- :mod:`lrcourse.optimizers`: SGD, AdaGrad, RMSprop, Adam, AdamW matching ``torch.optim``,
  plus :func:`~lrcourse.optimizers.run` and :func:`~lrcourse.optimizers.descend`.
- :mod:`lrcourse.schedules`: learning-rate schedules matching ``torch.optim.lr_scheduler``.
"""

__version__ = "0.1.0"

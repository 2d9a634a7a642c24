"""Gradient-descent optimizers that follow ``torch.optim``'s update rules, in numpy.

Every optimizer is a pair of pure functions, in the style of optax::

    opt = adam(lr=1e-2)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)          # params + updates

``params`` is one array or a dict/list of arrays (see :mod:`lrcourse.tree`).

**Sweeps.** Any hyperparameter may be an array. Its axes line up with the
*leading* axes of the parameters, so ``adam(lr=np.logspace(-4, 0, 1000))`` on
parameters of shape ``(1000, 2)`` runs 1000 independent descents in one call.
:func:`lrcourse.descent.run` adds the sweep axes to a shared starting point for you.

**Schedules.** A hyperparameter may also be a function of the 0-based step
``t`` (for example a schedule from :mod:`lrcourse.schedules`, or
``sched.momentum`` of a cyclic schedule). It is evaluated at the step count the
optimizer has reached, as PyTorch's ``param_groups[0]['lr']`` is read at each
``optimizer.step()``.

The arithmetic follows PyTorch's single-tensor CPU code in float64, including
the details that textbook formulas leave out; each docstring gives the rule.
The paths agree with PyTorch's to float64 round-off (the tests check ``1e-10``).

**The optimizers**, by family (one module each):

- chapter 6 (:mod:`~lrcourse.optimizers.classic`): :func:`sgd` (with momentum),
  :func:`adagrad`, :func:`rmsprop`, :func:`adam`, :func:`adamw`;
- Adam's variants (:mod:`~lrcourse.optimizers.adam_variants`): :func:`nadam`,
  :func:`radam`, :func:`adamax`, as ``torch.optim`` has them;
- after Adam (:mod:`~lrcourse.optimizers.after_adam`): :func:`adafactor` and :func:`muon`
  as ``torch.optim`` has them, :func:`lion` as ``lion-pytorch`` has it;
- schedule-free (:mod:`~lrcourse.optimizers.schedule_free`): :func:`sgd_schedule_free`,
  :func:`adamw_schedule_free` as the ``schedulefree`` package has them, and
  :func:`eval_params`, the point to evaluate;
- clipping (:mod:`~lrcourse.optimizers.clipping`): :func:`clip_grad_norm` as
  ``torch.nn.utils.clip_grad_norm_``, and :func:`clipped`, any optimizer with its
  gradients clipped first.
"""

from lrcourse.optimizers._core import (
    Optimizer,
    adam_hyperparameters,
    align,
    apply_updates,
    at_sweep_axes,
    check_constructor,
    hyperparameter,
    value_at,
    with_sweep_axes,
)
from lrcourse.optimizers.adam_variants import adamax, nadam, radam
from lrcourse.optimizers.after_adam import adafactor, lion, muon
from lrcourse.optimizers.classic import adagrad, adam, adamw, rmsprop, sgd
from lrcourse.optimizers.clipping import clip_grad_norm, clipped
from lrcourse.optimizers.schedule_free import adamw_schedule_free, eval_params, sgd_schedule_free

__all__ = [
    "Optimizer",
    "sgd",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "nadam",
    "radam",
    "adamax",
    "adafactor",
    "lion",
    "muon",
    "sgd_schedule_free",
    "adamw_schedule_free",
    "eval_params",
    "clip_grad_norm",
    "clipped",
    "apply_updates",
    "check_constructor",
    "at_sweep_axes",
    "hyperparameter",
    "adam_hyperparameters",
    "with_sweep_axes",
    "value_at",
    "align",
]

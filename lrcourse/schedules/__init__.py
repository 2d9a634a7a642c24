"""Learning-rate schedules that reproduce ``torch.optim.lr_scheduler``, as closed-form numpy functions.

A schedule is a function of the 0-based update step ``t``::

    sched = cosine(lr=0.1, T_max=100)
    sched(0)                  # 0.1, the rate of the first update
    sched(np.arange(300))     # the whole curve, shape (300,)

``sched(t)`` equals PyTorch's ``optimizer.param_groups[0]['lr']`` after ``t``
calls of ``scheduler.step()`` (the scheduler built on an optimizer whose base
rate is ``lr``). PyTorch updates most rates recursively, step by step; the
closed forms here agree with it to float64 round-off (the tests check ``1e-12``).

A schedule is pure: a call computes the closed form and changes nothing, so steps
may be asked for in any order. One step, ``sched(5)`` (an optimizer's call, once per
update), evaluates the formula on numbers; ``sched(np.arange(T))`` on arrays. They
agree bit for bit, except where a power is taken (``gamma``, ``power``): numpy's
``pow`` of a number may differ from its ``pow`` of an array in the last bit.

**Sweeps.** Rates (``lr``, ``base_lr``, ``max_lr``, ``eta_min``, ...) and factors
(``gamma``, ...) may be arrays; ``sched(t)`` then has shape
``np.shape(t) + sched.sweep_shape``, one curve per member, e.g.
``cosine(lr=np.array([0.1, 0.2, 0.3]), T_max=10)(np.arange(20)).shape == (20, 3)``.
A member's curve is that of the schedule built with the member's values alone: bit
for bit where the swept values only meet +, -, * and / (rates, ``eta_min``, ...),
to within a few ULPs where they go through a power (``gamma``, ``power``), since
numpy's ``pow`` of an array may round differently from one schedule's.

**With the optimizers.** A schedule is the ``lr`` of any optimizer in
:mod:`lrcourse.optimizers`; ``cyclic`` and ``one_cycle`` also have a
``.momentum`` schedule for SGD's ``momentum`` or Adam's ``betas[0]``.

**By name.** ``get("cosine", lr=0.1, T_max=100)``; :data:`SCHEDULES` lists the names,
and PyTorch's class names (``"CosineAnnealingLR"``, ...) work too.

Schedules: :func:`constant`, :func:`step_decay`, :func:`multistep`,
:func:`exponential`, :func:`polynomial`, :func:`linear`, :func:`cosine`,
:func:`cosine_restarts`, :func:`cyclic`, :func:`one_cycle`, :func:`wsd` (warmup-stable-decay);
built from schedules:
:func:`sequential`, :func:`warmup`, :func:`clamp`; driven by a metric of the run:
:class:`ReduceLROnPlateau`, a pure pair ``init()`` / ``update(metric, state)`` (its
state a :class:`PlateauState`) that ``step(metric)`` also runs for you, as PyTorch's.
"""

from __future__ import annotations

from lrcourse.schedules._core import Schedule
from lrcourse.schedules.compose import clamp, sequential, warmup
from lrcourse.schedules.cyclical import cyclic, one_cycle
from lrcourse.schedules.decay import (
    constant,
    cosine,
    cosine_restarts,
    exponential,
    linear,
    multistep,
    polynomial,
    step_decay,
)
from lrcourse.schedules.plateau import PlateauState, ReduceLROnPlateau
from lrcourse.schedules.wsd import wsd

SCHEDULES = {
    "constant": constant,
    "step_decay": step_decay,
    "multistep": multistep,
    "exponential": exponential,
    "polynomial": polynomial,
    "linear": linear,
    "cosine": cosine,
    "cosine_restarts": cosine_restarts,
    "cyclic": cyclic,
    "one_cycle": one_cycle,
    "sequential": sequential,
    "warmup": warmup,
    "clamp": clamp,
    "wsd": wsd,
    "reduce_on_plateau": ReduceLROnPlateau,
}
"""Every schedule constructor by name."""

TORCH_NAMES = {
    "ConstantLR": "constant",
    "StepLR": "step_decay",
    "MultiStepLR": "multistep",
    "ExponentialLR": "exponential",
    "PolynomialLR": "polynomial",
    "LinearLR": "linear",
    "CosineAnnealingLR": "cosine",
    "CosineAnnealingWarmRestarts": "cosine_restarts",
    "CyclicLR": "cyclic",
    "OneCycleLR": "one_cycle",
    "SequentialLR": "sequential",
    "ReduceLROnPlateau": "reduce_on_plateau",
}
"""PyTorch's scheduler class names and the schedule each one corresponds to."""


def get(name, **kwargs):
    """Build a schedule by name: ``get("cosine", lr=0.1, T_max=100)``.

    ``name`` is a key of :data:`SCHEDULES` or a PyTorch class name from
    :data:`TORCH_NAMES`; ``kwargs`` go to the constructor. An unknown name
    raises ``ValueError`` listing the valid ones.
    """
    key = TORCH_NAMES.get(name, name)
    if key not in SCHEDULES:
        raise ValueError(
            f"unknown schedule {name!r}; valid names: {', '.join(SCHEDULES)} "
            f"(or PyTorch's: {', '.join(TORCH_NAMES)})"
        )
    return SCHEDULES[key](**kwargs)


__all__ = [
    "SCHEDULES",
    "TORCH_NAMES",
    "PlateauState",
    "ReduceLROnPlateau",
    "Schedule",
    "clamp",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "get",
    "linear",
    "multistep",
    "one_cycle",
    "polynomial",
    "sequential",
    "step_decay",
    "warmup",
    "wsd",
]

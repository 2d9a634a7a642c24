"""Write PyTorch's warmup-stable-decay curves to ``tests/data/wsd_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch
(``pip install torch==2.13.0``; the course itself never imports torch)::

    python tests/reference/make_wsd_reference.py

Each case is the ``SequentialLR`` composition a PyTorch user writes for a WSD schedule,
``[warmup, ConstantLR(factor=1.0), decay]`` with milestones at the end of the warmup
and at the start of the decay: ``LinearLR`` for a linear warmup (``LambdaLR`` from a
start factor of 0, which ``LinearLR`` refuses), ``LinearLR``, ``CosineAnnealingLR`` or a
``LambdaLR`` for the decay. As in ``make_schedule_reference.py``, a dummy float64
parameter gets SGD, ``param_groups[0]['lr']`` is recorded before each update and
``optimizer.step()`` then ``scheduler.step()`` run in between: entry ``t`` is the rate
``lrcourse.schedules.wsd`` gives at step ``t``.

Every case stores the ``wsd`` keyword arguments (``ours``) next to the torch
composition (``torch``: ``[name, kwargs]``, nested; a ``LambdaLR`` names one of the
factor functions below and its arguments).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch.optim import lr_scheduler

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "wsd_reference.json"
LR = 0.1


def warmup_from_zero(warmup_steps):
    return lambda t: t / warmup_steps


def one_minus_sqrt(decay_steps, end_factor):
    return lambda t: end_factor + (1.0 - end_factor) * (1.0 - math.sqrt(min(t, decay_steps) / decay_steps))


def cosine_then_hold(decay_steps, end_factor):
    """A cosine decay that stays at its end (CosineAnnealingLR would climb back)."""
    return lambda t: (
        end_factor + (1.0 - end_factor) * (1 + math.cos(math.pi * min(t, decay_steps) / decay_steps)) / 2
    )


LAMBDAS = {
    "warmup_from_zero": warmup_from_zero,
    "1-sqrt": one_minus_sqrt,
    "cosine_then_hold": cosine_then_hold,
}


def sched(name, **kwargs):
    return [name, kwargs]


def composition(warmup_steps, start, decay_steps, decay, start_factor, end_factor, lr=LR):
    """The SequentialLR a PyTorch user writes for wsd(...) (decay: a torch spec or a LambdaLR name)."""
    parts, milestones = [], []
    if warmup_steps:
        if start_factor > 0:
            parts.append(
                sched("LinearLR", start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)
            )
        else:
            parts.append(sched("LambdaLR", fn="warmup_from_zero", args={"warmup_steps": warmup_steps}))
        milestones.append(warmup_steps)
    if start > warmup_steps or not parts:
        parts.append(sched("ConstantLR", factor=1.0))
        milestones.append(start)
    if decay == "linear":
        parts.append(sched("LinearLR", start_factor=1.0, end_factor=end_factor, total_iters=decay_steps))
    elif decay == "cosine":
        parts.append(sched("CosineAnnealingLR", T_max=decay_steps, eta_min=end_factor * lr))
    else:
        parts.append(sched("LambdaLR", fn=decay, args={"decay_steps": decay_steps, "end_factor": end_factor}))
    if start == 0:  # no warmup, no stable phase: the decay alone
        return parts[-1]
    return sched("SequentialLR", schedulers=parts, milestones=milestones)


def case(steps, ours, decay_spec=None):
    """``ours``: wsd's keyword arguments; the torch composition follows from them."""
    warmup = ours.get("warmup_steps", 0)
    if "decay_start" in ours:
        start, decay_steps = ours["decay_start"], ours["decay_steps"]
    else:
        decay_steps = ours.get("decay_steps", max(ours["total_steps"] // 5, 1))
        start = ours["total_steps"] - decay_steps
    decay = decay_spec or ours.get("decay", "linear")
    spec = composition(
        warmup,
        start,
        decay_steps,
        decay,
        ours.get("start_factor", 0.0),
        ours.get("end_factor", 0.0),
        ours["lr"],
    )
    return (dict(ours), spec, steps)


CASES = [
    # every decay shape, with and without a warmup from a factor > 0 or from 0, ends 0 or not
    case(121, {"lr": LR, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20, "start_factor": 0.1}),
    case(130, {"lr": LR, "total_steps": 100, "decay_steps": 25, "end_factor": 0.1}),
    case(100, {"lr": LR, "total_steps": 100, "warmup_steps": 5}),  # decay_steps: a fifth
    case(
        121,
        {
            "lr": 0.3,
            "total_steps": 120,
            "warmup_steps": 12,
            "decay_steps": 30,
            "decay": "cosine",
            "start_factor": 0.2,
            "end_factor": 0.05,
        },
    ),  # CosineAnnealingLR: compared up to total_steps only, it climbs back after
    case(101, {"lr": LR, "total_steps": 100, "warmup_steps": 10, "decay_steps": 40, "decay": "cosine"}),
    case(
        140,
        {"lr": LR, "total_steps": 100, "warmup_steps": 10, "decay_steps": 40, "decay": "cosine"},
        decay_spec="cosine_then_hold",
    ),
    case(130, {"lr": LR, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20, "decay": "1-sqrt"}),
    case(
        90,
        {
            "lr": 0.05,
            "total_steps": 80,
            "warmup_steps": 8,
            "decay_steps": 16,
            "decay": "1-sqrt",
            "start_factor": 0.5,
            "end_factor": 0.1,
        },
    ),
    case(40, {"lr": LR, "total_steps": 30, "warmup_steps": 10, "decay_steps": 20}),  # no stable phase
    case(50, {"lr": LR, "total_steps": 40, "decay_steps": 40, "end_factor": 0.2}),  # the decay alone
]
# branches off one constant run: the same warmup and rate, the decay starting at 20, 50 or 80
for decay in ("linear", "1-sqrt"):
    for start in (20, 50, 80):
        ours = {"lr": LR, "decay_start": start, "decay_steps": 20, "warmup_steps": 10, "decay": decay}
        CASES.append(case(110, ours))


def make_scheduler(opt, spec):
    name, kwargs = spec
    kwargs = dict(kwargs)
    if name == "SequentialLR":
        kwargs["schedulers"] = [make_scheduler(opt, s) for s in kwargs["schedulers"]]
    if name == "LambdaLR":
        kwargs = {"lr_lambda": LAMBDAS[kwargs["fn"]](**kwargs["args"])}
    return getattr(lr_scheduler, name)(opt, **kwargs)


def run_case(ours, spec, steps):
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    opt = torch.optim.SGD([p], lr=ours["lr"], momentum=0.9)
    scheduler = make_scheduler(opt, spec)
    lrs = []
    for t in range(steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        if t < steps - 1:
            opt.step()
            scheduler.step()
    return {"ours": ours, "torch": spec, "lrs": lrs}


def main():
    cases = [run_case(*c) for c in CASES]
    data = {"meta": {"torch_version": torch.__version__, "dtype": "float64"}, "cases": cases}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} WSD cases to {OUT.name}")


if __name__ == "__main__":
    main()

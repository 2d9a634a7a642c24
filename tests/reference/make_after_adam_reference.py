"""Write Adafactor, Muon and Lion trajectories to ``tests/data/after_adam_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch and lion-pytorch
(``pip install torch==2.13.0 lion-pytorch==0.2.5``; the course itself never imports either)::

    python tests/reference/make_after_adam_reference.py

The references are ``torch.optim.Adafactor`` (its single-tensor code, ``foreach=False``),
``torch.optim.Muon`` and ``lion_pytorch.Lion`` (its plain PyTorch update, not the Triton
kernel), all in float64. Gradients are written by hand, as in ``make_optimizer_reference.py``
(its objectives and the loop that records a trajectory are imported from ``common.py``): both
implementations see the same gradient at the same point, so any difference comes from the
update rule alone. A case records the path, and
the learning rate and momentum (Muon's ``momentum``, Lion's ``betas[0]``) in force at each
step, so the test can replay scheduled runs without the schedules module.

**Muon in float64.** ``torch.optim.Muon`` casts the momentum to bfloat16 before its
Newton-Schulz iteration (8 significant bits, fast on accelerators). The trajectories here run
torch's code with that one cast replaced by a copy (:func:`float64_newton_schulz`), so they
check the algorithm to float64 round-off. The unchanged bfloat16 code is recorded too, one
step from each start (``bfloat16`` in the file), to show how far it is from the float64 rule.

Every option of the three optimizers appears in at least one case (each keyword at a value
other than its default, both values of each boolean, every ``adjust_lr_fn``), and the script
checks that each such option, and each component of a tuple option (``eps[0]``, ``betas[1]``,
...), changes the trajectory of at least one case by more than the tests' tolerance when it is
put back to its default.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import json
from functools import partial
from pathlib import Path

import numpy as np
import torch
from common import TREE_X0, VECTORS, trajectory, tree_grad
from lion_pytorch import Lion

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "after_adam_reference.json"
STEPS = 60
ATOL = {"adafactor": 1e-10, "lion": 1e-10, "muon": 1e-9}  # tests/test_optimizers_after_adam.py


def matrix_grad(W):
    """Gradient of sum(C * (W - T)**2)/2 + 0.5 * sum((W @ 1)**2)/2: curvature per entry, rows coupled."""
    m, n = W.shape[-2:]
    i, j = np.indices((m, n))
    C = 1.0 + (3 * i + 5 * j) % 7
    T = ((2 * i + j) % 5 - 2) / 2
    return C * (W - T) + 0.5 * W.sum(axis=-1, keepdims=True)


def matrix_start(shape):
    """A fixed starting matrix (or stack of matrices) with entries in [-1.25, 1.25]."""
    idx = np.indices(shape)
    return ((sum((3 + 4 * a) * idx[a] for a in range(len(shape))) % 11 - 5) / 4).tolist()


def matrices_grad(params):
    """Two matrices, each with the loss of matrix_grad, plus the coupling 0.1 * sum(A) * sum(B)."""
    A, B = params["A"], params["B"]
    return {"A": matrix_grad(A) + 0.1 * B.sum(), "B": matrix_grad(B) + 0.1 * A.sum()}


OBJECTIVES = {
    **VECTORS,  # quadratic, rosenbrock: vectors of 2
    "tree": (tree_grad, TREE_X0),
    "matrix32": (matrix_grad, matrix_start((3, 2))),
    "matrix24": (matrix_grad, matrix_start((2, 4))),
    "stack": (matrix_grad, matrix_start((2, 3, 2))),  # a 3-D tensor: torch factors its last two axes
    "matrices": (matrices_grad, {"A": matrix_start((3, 2)), "B": matrix_start((4, 4))}),
}

ON = {
    "adafactor": ["quadratic", "rosenbrock", "matrix32", "tree", "stack"],
    "muon": ["matrix32", "matrix24", "matrices"],
    "lion": ["quadratic", "rosenbrock", "tree"],
}

CASES = [
    # (optimizer, kwargs for both libraries[, objectives other than ON's])
    # On Rosenbrock the default rate of Adafactor sits at the edge of stability: from step 20 a
    # difference in the last bit grows 2.5-fold a step (a start moved by 1e-13 ends 1e-4 away).
    ("adafactor", {}, ["quadratic", "matrix32", "tree", "stack"]),
    ("adafactor", {"lr": 0.05}),
    ("adafactor", {"lr": 0.05, "beta2_decay": -0.5}),
    ("adafactor", {"lr": 0.05, "eps": (1.0, 1e-3)}),  # eps1 floors the second moment and mean(R)
    ("adafactor", {"lr": 0.05, "eps": (None, 0.5)}),  # eps2 floors the parameters' RMS
    ("adafactor", {"lr": 0.05, "d": 1.1}),  # clips less
    # lr = 1 > 1/sqrt(k) from the second step: rho_k = min(lr, 1/sqrt(k)) is 1/sqrt(k). Not on
    # the tree, where b[0] ends on the edge of stability (a last-bit difference grows 10x in 3 steps)
    ("adafactor", {"lr": 1.0}, ["quadratic", "rosenbrock", "matrix32", "stack"]),
    ("adafactor", {"lr": 0.05, "weight_decay": 0.2}),
    ("adafactor", {"lr": 0.02, "beta2_decay": -0.6, "eps": (1e-2, 1e-2), "d": 2.0, "weight_decay": 0.05}),
    ("muon", {}),
    ("muon", {"lr": 0.02}),
    ("muon", {"lr": 0.02, "weight_decay": 0.0}),
    ("muon", {"lr": 0.02, "momentum": 0.8}),
    ("muon", {"lr": 0.02, "momentum": 0.3}),  # 1 - momentum > 0.5: the other branch of torch's lerp
    ("muon", {"lr": 0.02, "nesterov": True}),
    ("muon", {"lr": 0.02, "nesterov": False}),
    ("muon", {"lr": 0.02, "ns_coefficients": (1.5, -0.5, 0.0)}),  # the cubic Newton-Schulz iteration
    ("muon", {"lr": 0.02, "eps": 3.0}),  # floors the norm the momentum is divided by
    ("muon", {"lr": 0.02, "ns_steps": 3}),
    ("muon", {"lr": 0.02, "adjust_lr_fn": None}),
    ("muon", {"lr": 0.02, "adjust_lr_fn": "original"}),
    ("muon", {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw"}),
    (
        "muon",
        {
            "lr": 0.01,
            "momentum": 0.9,
            "nesterov": False,
            "ns_steps": 8,
            "adjust_lr_fn": "match_rms_adamw",
            "weight_decay": 0.05,
        },
    ),
    ("lion", {}),
    ("lion", {"lr": 0.01}),
    ("lion", {"lr": 0.01, "betas": (0.95, 0.98)}),
    ("lion", {"lr": 0.01, "betas": (0.5, 0.9)}),
    ("lion", {"lr": 0.01, "weight_decay": 0.5, "decoupled_weight_decay": False}),
    ("lion", {"lr": 0.01, "weight_decay": 0.002, "decoupled_weight_decay": True}),
]

# Scheduled runs: the scheduler is rebuilt from this description on the torch side.
# OneCycleLR also cycles Muon's momentum and Lion's beta1.
SCHEDULED = [
    ("adafactor", {"lr": 0.05}, "tree", ("ExponentialLR", {"gamma": 0.95})),
    ("adafactor", {"lr": 0.05, "weight_decay": 0.1}, "rosenbrock", ("CosineAnnealingLR", {"T_max": 20})),
    ("muon", {"lr": 0.02}, "matrices", ("OneCycleLR", {"max_lr": 0.04, "total_steps": STEPS})),
    ("muon", {"lr": 0.02, "nesterov": False}, "matrix32", ("StepLR", {"step_size": 10, "gamma": 0.5})),
    ("lion", {"lr": 0.01}, "tree", ("OneCycleLR", {"max_lr": 0.02, "total_steps": STEPS})),
    (
        "lion",
        {"lr": 0.01, "weight_decay": 0.002, "decoupled_weight_decay": True},
        "rosenbrock",
        ("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001}),
    ),
    # A warmup: lion-pytorch divides the weight decay by the constructor's rate, not the first one
    (
        "lion",
        {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True},
        "tree",
        ("LinearLR", {"start_factor": 0.1, "total_iters": 20}),
    ),
]

# Options given their default value on purpose (both values of a boolean, every adjust_lr_fn).
SAME_AS_DEFAULT = {
    ("muon", "nesterov", True),
    ("muon", "adjust_lr_fn", None),
    ("muon", "adjust_lr_fn", "original"),
    ("lion", "decoupled_weight_decay", False),
}

TORCH_NAMES = {"adafactor": torch.optim.Adafactor, "muon": torch.optim.Muon, "lion": Lion}
EXTRA = {"adafactor": {"foreach": False}, "muon": {}, "lion": {}}


@contextlib.contextmanager
def float64_newton_schulz():
    """Run torch's Muon with its cast to bfloat16 replaced by a copy (Muon's only call of it)."""
    cast = torch.Tensor.bfloat16
    torch.Tensor.bfloat16 = lambda self: self.clone()
    try:
        yield
    finally:
        torch.Tensor.bfloat16 = cast


def torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler=None, steps=STEPS):
    """The trajectory of the reference of ``opt_name``, with the keywords of ``EXTRA``."""
    make_optimizer = partial(TORCH_NAMES[opt_name], **kwargs, **EXTRA[opt_name])
    return trajectory(make_optimizer, grad_fn, x0, steps, scheduler)


def run(opt_name, kwargs, objective, scheduler=None, steps=STEPS):
    grad_fn, x0 = OBJECTIVES[objective]
    if opt_name != "muon":
        return torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler, steps)
    with float64_newton_schulz():
        return torch_trajectory(opt_name, kwargs, grad_fn, x0, scheduler, steps)


def check_every_option_matters(cases):
    """Each option set away from its default must change at least one trajectory; else exit.

    An option is put back to its default (a tuple option one component at a time) and the
    case run again; it counts only if the path moves by more than the tests' tolerance.
    """
    changed, tried = set(), set()
    for c in cases:
        if c.get("scheduler"):
            continue
        for option, kwargs in ablations(c["optimizer"], c["kwargs"]):
            tried.add((c["optimizer"], option))
            other = run(c["optimizer"], kwargs, c["objective"])["path"]
            if not np.allclose(flat(other), flat(c["path"]), rtol=0, atol=ATOL[c["optimizer"]]):
                changed.add((c["optimizer"], option))
    idle = sorted(tried - changed)
    if idle:
        raise SystemExit(f"these options change no trajectory, choose other values: {idle}")


def ablations(opt_name, kwargs):
    """``(option, kwargs with it back at its default)`` for every option a case sets.

    A tuple option yields one ablation per component away from its default (``eps[0]``).
    """
    defaults = inspect.signature(TORCH_NAMES[opt_name]).parameters
    for key, value in kwargs.items():
        if (opt_name, key, value) in SAME_AS_DEFAULT:
            continue
        default = defaults[key].default
        if not isinstance(value, tuple):
            yield key, {k: v for k, v in kwargs.items() if k != key}
            continue
        for i, (v, d) in enumerate(zip(value, default, strict=True)):
            if v != d:
                yield f"{key}[{i}]", {**kwargs, key: value[:i] + (d,) + value[i + 1 :]}


def flat(path):
    """A path (a list of arrays or of dicts of arrays) as one float array."""
    if isinstance(path[0], dict):
        return np.concatenate([np.ravel(p[k]) for p in path for k in sorted(p)])
    return np.ravel(np.array(path, dtype=np.float64))


def bfloat16_steps():
    """One step of torch's own Muon (Newton-Schulz in bfloat16) from each start."""
    out = []
    for objective in ON["muon"]:
        for kwargs in ({"lr": 0.02}, {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw"}):
            grad_fn, x0 = OBJECTIVES[objective]
            step = torch_trajectory("muon", kwargs, grad_fn, x0, steps=1)
            out.append({"optimizer": "muon", "kwargs": kwargs, "objective": objective, "x0": x0, **step})
    return out


def main():
    cases = []
    for opt_name, kwargs, *objectives in CASES:
        for objective in objectives[0] if objectives else ON[opt_name]:
            x0 = OBJECTIVES[objective][1]
            cases.append(
                {
                    "optimizer": opt_name,
                    "kwargs": kwargs,
                    "objective": objective,
                    "x0": x0,
                    **run(opt_name, kwargs, objective),
                }
            )
    for opt_name, kwargs, objective, scheduler in SCHEDULED:
        cases.append(
            {
                "optimizer": opt_name,
                "kwargs": kwargs,
                "objective": objective,
                "x0": OBJECTIVES[objective][1],
                "scheduler": [scheduler[0], scheduler[1]],
                **run(opt_name, kwargs, objective, scheduler),
            }
        )
    check_every_option_matters(cases)
    for c in cases:
        if not np.isfinite(flat(c["path"])).all():
            raise SystemExit(
                f"a reference path is not finite: {c['optimizer']} {c['kwargs']} {c['objective']}"
            )
    meta = {
        "torch_version": torch.__version__,
        "lion_pytorch_version": importlib.metadata.version("lion-pytorch"),
        "steps": STEPS,
        "dtype": "float64",
        "muon_newton_schulz": "float64 (torch's cast to bfloat16 replaced by a copy)",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "cases": cases, "bfloat16": bfloat16_steps()}))
    print(f"wrote {len(cases)} cases to {OUT.name}")


if __name__ == "__main__":
    main()

"""Write PyTorch's gradient-norm clipping to ``tests/data/clipping_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch and the
schedulefree package (``pip install torch==2.13.0 schedulefree==1.4.1``; the course
itself never imports either)::

    python tests/reference/make_clipping_reference.py

Two kinds of cases, in float64:

- ``clip``: ``torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)`` (defaults
  ``error_if_nonfinite=False``, ``foreach=None``) on given gradients: one tensor or a
  tree of two, every norm type (2, 1, 3, 0.5, inf), ``max_norm`` below and above the
  norm, 0 and inf, zero gradients, and non-finite ones (NaN, +-inf, an overflowing
  square). Each records the gradients before and after, and the returned total norm.
  NaN and infinities are written as JSON's ``NaN`` and ``Infinity`` (Python's ``json``
  reads them back).
- ``runs``: training loops that clip between the gradient and ``optimizer.step()``,
  on the hand-written gradients of ``common.py`` (those of ``make_optimizer_reference.py``);
  each records the parameters before the first step and after each one, and the norm of
  each step.
"""

from __future__ import annotations

import json
from pathlib import Path

import schedulefree
import torch
from common import OBJECTIVES, listed, params_of, set_grads, tensors_of

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "clipping_reference.json"
STEPS = 60
INF, NAN = float("inf"), float("nan")

TREE = {"w": [[0.5, -1.0], [1.0, 2.0], [-0.5, 0.3]], "b": [0.2, -3.0]}  # 2-norm 3.9535
GRADS = {
    "vector": [3.0, -4.0, 12.0],  # norm 2: 13
    "tree": TREE,
    "zero": {"w": [[0.0, 0.0], [0.0, 0.0]], "b": [0.0]},
    "nan": {"w": [[0.5, NAN], [1.0, 2.0]], "b": [0.2, -3.0]},
    "inf": {"w": [[0.5, -1.0], [INF, 2.0]], "b": [0.2, -3.0]},
    "minus_inf": [1.0, -INF, 2.0],
    "overflow": {"w": [[1e200, 1.0]], "b": [2.0]},  # 1e200 ** 2 overflows: norm inf for p >= 2
}
CLIP = [(g, m, p) for g in ("vector", "tree") for p in (2.0, 1.0, 3.0, 0.5, INF) for m in (0.5, 100.0)]
CLIP += [
    ("vector", 0.0, 2.0),
    ("tree", INF, 2.0),
    ("tree", 3.95, 2.0),  # just below the norm
    ("zero", 1.0, 2.0),
    ("zero", 1.0, INF),
    ("nan", 1.0, 2.0),
    ("nan", 1.0, INF),
    ("inf", 1.0, 2.0),
    ("inf", 1.0, 1.0),
    ("inf", 1.0, INF),
    ("minus_inf", 5.0, 2.0),
    ("overflow", 1.0, 2.0),
    ("overflow", 1.0, 1.0),
    ("overflow", 1.0, INF),
]


OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd_schedule_free": schedulefree.SGDScheduleFree,
}
RUNS = [
    # (optimizer, kwargs, max_norm, norm_type, objective)
    ("sgd", {"lr": 0.002, "momentum": 0.9}, 10.0, 2.0, "rosenbrock"),
    ("sgd", {"lr": 0.05, "weight_decay": 0.1}, 1.0, 1.0, "tree"),
    ("adam", {"lr": 0.05, "weight_decay": 0.1}, 2.0, 3.0, "quadratic"),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1}, 0.5, INF, "tree"),
    ("sgd_schedule_free", {"lr": 0.01, "warmup_steps": 5}, 1.0, 2.0, "rosenbrock"),
]


def clip_case(name, max_norm, norm_type):
    grads = tensors_of(GRADS[name])
    holders = []
    for g in params_of(grads):
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g
        holders.append(p)
    total = torch.nn.utils.clip_grad_norm_(holders, max_norm, norm_type)
    return {
        "grads": GRADS[name],
        "name": name,
        "max_norm": max_norm,
        "norm_type": norm_type,
        "total_norm": float(total),
        "clipped": listed(grads),  # clip_grad_norm_ scaled these tensors in place
    }


def run_case(opt_name, kwargs, max_norm, norm_type, objective):
    grad_fn, x0 = OBJECTIVES[objective]
    tensors = tensors_of(x0)
    params = params_of(tensors)
    extra = {"foreach": False}
    opt = OPTIMIZERS[opt_name](params, **kwargs, **extra)
    if opt_name.endswith("schedule_free"):
        opt.train()
    path, norms = [listed(tensors)], []
    for _ in range(STEPS):
        set_grads(tensors, grad_fn)
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)))
        opt.step()
        path.append(listed(tensors))
    case = {"optimizer": opt_name, "kwargs": kwargs, "max_norm": max_norm, "norm_type": norm_type}
    return {**case, "objective": objective, "x0": x0, "path": path, "norms": norms}


def main():
    clip = [clip_case(*c) for c in CLIP]
    runs = [run_case(*r) for r in RUNS]
    for run in runs:  # the norms must exceed max_norm often, or the runs prove little
        assert sum(n > run["max_norm"] for n in run["norms"]) >= 10, run["optimizer"]
    meta = {"torch_version": torch.__version__, "steps": STEPS, "dtype": "float64"}
    OUT.write_text(json.dumps({"meta": meta, "clip": clip, "runs": runs}, separators=(",", ":")) + "\n")
    print(f"wrote {len(clip)} clipping cases and {len(runs)} runs to {OUT.name}")


if __name__ == "__main__":
    main()

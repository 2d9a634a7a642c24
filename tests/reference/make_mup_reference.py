"""Write what the ``mup`` package does to a small MLP to ``tests/data/mup_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch and mup
(``pip install torch==2.13.0 mup==1.0.0``; the course itself never imports either)::

    python tests/reference/make_mup_reference.py

For each case, a tanh MLP ``Linear(d, w) -> tanh -> [Linear(w, w) -> tanh] ->
MuReadout(w, k)`` of hidden width ``w`` with base shapes from the same network at width
``base`` (``mup.set_base_shapes``, which rescales the readout), in float64:

- ``params``: every parameter as mup sees it: its name, its role (``W1``, ``b1``, ...
  as :class:`lrcourse.models.MLP` names them), its ``infshape`` (``ninf``,
  ``width_mult``), the factor by which the forward pass multiplies it (the readout's
  ``output_mult / width_mult``, 1 elsewhere), ``init_ratio``, the ratio of the
  parameter times that factor to the same parameter of a standard-parametrization twin
  drawn from the same seed (``nn.Linear`` readout, no base shapes), and the learning
  rate of its group in ``MuAdam`` and in ``MuSGD`` divided by the base rate.
- ``runs``: ``MuSGD(lr=0.1)`` and ``MuAdam(lr=0.01)`` for 6 full-batch steps on 16
  random rows with the cross-entropy loss: the data, the effective parameters before
  training (weights as ``(fan_in, fan_out)`` matrices, the readout multiplied by its
  forward factor) and the loss before every step and after the last.

The file is written without indentation, to keep it small.
"""

from __future__ import annotations

import json
from pathlib import Path

import mup
import torch
from torch import nn

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "mup_reference.json"
D, K, N = 8, 3, 16
CASES = [
    {"name": "one hidden layer", "depth": 1, "base": 8, "width": 32},
    {"name": "two hidden layers", "depth": 2, "base": 8, "width": 32},
    {"name": "narrower than the base", "depth": 2, "base": 32, "width": 8},
]
STEPS = 6


def network(depth, width, readout, seed):
    torch.manual_seed(seed)
    layers, fan_in = [], D
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.Tanh()]
        fan_in = width
    layers.append(readout(width, K))
    return nn.Sequential(*layers)


def mu_network(depth, width, base, seed):
    model = network(depth, width, mup.MuReadout, seed)
    mup.set_base_shapes(model, network(depth, base, mup.MuReadout, seed))
    return model


def roles(model):
    """lrcourse's names of the parameters, in order: W1, b1, W2, b2, ..."""
    names, layer = {}, 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            layer += 1
            names[f"{name}.weight"], names[f"{name}.bias"] = f"W{layer}", f"b{layer}"
    return names


def forward_factor(model, name):
    module = model.get_submodule(name.rsplit(".", 1)[0])
    if isinstance(module, mup.MuReadout) and name.endswith("weight"):
        return module.output_mult / module.width_mult()
    return 1.0


def group_rates(optimizer, model, lr):
    rate = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            rate[id(p)] = group["lr"] / lr
    return {name: rate[id(p)] for name, p in model.named_parameters()}


def effective(model):
    out = {}
    for name, p in model.named_parameters():
        value = p.detach() * forward_factor(model, name)
        out[roles(model)[name]] = (value.T if value.ndim == 2 else value).tolist()
    return out


def describe(case):
    depth, base, width = case["depth"], case["base"], case["width"]
    model = mu_network(depth, width, base, seed=0)
    twin = network(depth, width, nn.Linear, seed=0)
    adam = group_rates(mup.MuAdam(model.parameters(), lr=0.01), model, 0.01)
    sgd = group_rates(mup.MuSGD(model.parameters(), lr=0.1), model, 0.1)
    twins = dict(twin.named_parameters())
    params = []
    for name, p in model.named_parameters():
        factor = forward_factor(model, name)
        ratio = (p.detach() * factor / twins[name].detach()).flatten()
        params.append(
            {
                "name": name,
                "role": roles(model)[name],
                "ninf": p.infshape.ninf(),
                "width_mult": p.infshape.width_mult(),
                "forward_factor": factor,
                "init_ratio": float(ratio.mean()),
                "init_ratio_spread": float(ratio.max() - ratio.min()),
                "adam_group_lr": adam[name],
                "sgd_group_lr": sgd[name],
            }
        )
    return params


def run(case, kind):
    depth, base, width = case["depth"], case["base"], case["width"]
    model = mu_network(depth, width, base, seed=1)
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(N, D, generator=gen)
    y = torch.randint(0, K, (N,), generator=gen)
    start = effective(model)
    if kind == "sgd":
        opt, lr = mup.MuSGD(model.parameters(), lr=0.1), 0.1
    else:
        opt, lr = mup.MuAdam(model.parameters(), lr=0.01), 0.01
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    losses.append(nn.functional.cross_entropy(model(X), y).item())
    return {
        "case": case["name"],
        "optimizer": kind,
        "lr": lr,
        "X": X.tolist(),
        "y": y.tolist(),
        "start": start,
        "losses": losses,
    }


def main():
    data = {
        "torch": torch.__version__,
        "mup": "1.0.0",
        "n_features": D,
        "n_classes": K,
        "cases": [{**case, "params": describe(case)} for case in CASES],
        "runs": [run(case, kind) for case in CASES for kind in ("sgd", "adam")],
    }
    OUT.write_text(json.dumps(data) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

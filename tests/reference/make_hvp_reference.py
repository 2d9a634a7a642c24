"""Write PyTorch's Hessian-vector products of small MLP losses to ``tests/data/hvp_reference.json``.

Run by hand, from the repository root, in an environment with PyTorch
(``pip install torch==2.13.0``; the course itself never imports it)::

    python tests/reference/make_hvp_reference.py

Each case is the loss of :class:`lrcourse.models.MLP` written in torch, float64: hidden
layers with tanh or ReLU, then the mean cross-entropy or the mean squared distance to
the one-hot targets (``criterion="squared_error"``), plus ``l2 / 2`` times the sum of the
squared weights. Random parameters (weights as ``(fan_in, fan_out)`` matrices), a random
direction ``v``, random data; ``torch.autograd.functional.hvp`` gives the loss and
:math:`Hv`, recorded for every parameter.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "data" / "hvp_reference.json"
D, K, N = 4, 3, 9
CASES = [
    {"hidden": [5], "activation": "tanh", "criterion": "cross_entropy", "l2": 0.0},
    {"hidden": [5, 6], "activation": "tanh", "criterion": "cross_entropy", "l2": 0.2},
    {"hidden": [5, 6], "activation": "tanh", "criterion": "squared_error", "l2": 0.0},
    {"hidden": [6], "activation": "relu", "criterion": "cross_entropy", "l2": 0.1},
    {"hidden": [5, 4], "activation": "relu", "criterion": "squared_error", "l2": 0.0},
]


def shapes(hidden):
    sizes = [D, *hidden, K]
    out = {}
    for l in range(1, len(sizes)):
        out[f"W{l}"] = (sizes[l - 1], sizes[l])
        out[f"b{l}"] = (sizes[l],)
    return out


def loss_fn(case, X, y, keys):
    phi = torch.tanh if case["activation"] == "tanh" else torch.relu
    n_layers = len(case["hidden"]) + 1

    def loss(*flat):
        p = dict(zip(keys, flat, strict=True))
        A = X
        for l in range(1, n_layers + 1):
            Z = A @ p[f"W{l}"] + p[f"b{l}"]
            A = phi(Z) if l < n_layers else Z
        if case["criterion"] == "cross_entropy":
            value = torch.nn.functional.cross_entropy(A, y)
        else:
            value = ((A - torch.nn.functional.one_hot(y, K)) ** 2).sum() / len(y)
        penalty = sum((p[f"W{l}"] ** 2).sum() for l in range(1, n_layers + 1))
        return value + 0.5 * case["l2"] * penalty

    return loss


def main():
    gen = torch.Generator().manual_seed(0)
    out = []
    for case in CASES:
        sizes = shapes(case["hidden"])
        keys = list(sizes)
        params = [0.7 * torch.randn(sizes[k], generator=gen) for k in keys]
        vector = [torch.randn(sizes[k], generator=gen) for k in keys]
        X = torch.randn(N, D, generator=gen)
        y = torch.randint(0, K, (N,), generator=gen)
        loss, hv = torch.autograd.functional.hvp(loss_fn(case, X, y, keys), tuple(params), tuple(vector))
        out.append(
            {
                **case,
                "X": X.tolist(),
                "y": y.tolist(),
                "params": {k: v.tolist() for k, v in zip(keys, params, strict=True)},
                "vector": {k: v.tolist() for k, v in zip(keys, vector, strict=True)},
                "loss": loss.item(),
                "hvp": {k: v.tolist() for k, v in zip(keys, hv, strict=True)},
            }
        )
    OUT.write_text(
        json.dumps({"torch": torch.__version__, "n_features": D, "n_classes": K, "cases": out}) + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

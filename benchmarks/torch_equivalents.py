"""The benchmark's workloads written the way a PyTorch user writes them (needs torch).

Each function times PyTorch on CPU in float64 and checks that it gives the same numbers
as lrcourse: same data, same starting weights, same batch order. Imported by
``benchmarks/report.py --torch``; torch is never a dependency of the course.
"""

from __future__ import annotations

import time

import bench_core
import bench_training
import numpy as np
import torch
from timing import median_ms

from lrcourse import models, objectives, training
from lrcourse.descent import run
from lrcourse.lr_finder import range_test
from lrcourse.optimizers import adam, sgd

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def _ms(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), result


def torch_mlp(params):
    """nn.Sequential(Linear, ReLU, Linear) holding lrcourse's starting weights (Linear stores W transposed)."""
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(params["W1"].T))
        net[0].bias.copy_(torch.from_numpy(params["b1"]))
        net[2].weight.copy_(torch.from_numpy(params["W2"].T))
        net[2].bias.copy_(torch.from_numpy(params["b2"]))
    return net


def compare_sweep():
    f = objectives.rosenbrock()
    opt = adam(lr=bench_core.RATES)
    ours_ms = median_ms(lambda: run(f.grad, bench_core.START, opt, bench_core.STEPS), 21)
    start = time.perf_counter()
    finals_torch = bench_core.torch_loop(bench_core.RATES)
    torch_ms = (time.perf_counter() - start) * 1e3
    finals = run(f.grad, bench_core.START, opt, bench_core.STEPS)[-1]
    same = bool(np.allclose(finals, finals_torch, rtol=1e-9, atol=1e-9, equal_nan=True))
    return {
        "what": "Adam, 1000 rates x 200 steps (torch: a loop of runs)",
        "ours_ms": ours_ms,
        "torch_ms": torch_ms,
        "same": same,
    }


def compare_range_test():
    split = bench_training.digits_split()
    model = models.MLP(64, hidden=(64,), n_classes=10)
    kwargs = {"start_lr": 1e-5, "end_lr": 10.0, "steps": 100, "batch_size": 32}
    ours_ms, ours = _ms(lambda: range_test(model, split, sgd, **kwargs, stop_factor=1e9), repeats=5)

    def torch_range_test():
        net = torch_mlp(model.init(0))
        opt = torch.optim.SGD(net.parameters(), lr=kwargs["start_lr"], foreach=False)
        X, y = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
        rng = np.random.default_rng(0)
        batches = []
        lrs = kwargs["start_lr"] * (kwargs["end_lr"] / kwargs["start_lr"]) ** (np.arange(100) / 99)
        loss_fn = torch.nn.CrossEntropyLoss()

        def batch():
            if not batches:
                batches.extend(training.minibatches(len(y), 32, rng))
            rows = torch.from_numpy(batches.pop(0))
            return X[rows], y[rows]

        losses = []
        xb, yb = batch()
        opt.zero_grad()
        loss_fn(net(xb), yb).backward()
        for lr in lrs:
            opt.param_groups[0]["lr"] = float(lr)
            opt.step()
            xb, yb = batch()
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            losses.append(loss.item())
            if not np.isfinite(losses[-1]):
                break
        return np.array(losses)

    torch_ms, torch_losses = _ms(torch_range_test)
    n = min(len(ours.losses), len(torch_losses))
    finite = np.isfinite(ours.losses[:n]) & np.isfinite(torch_losses[:n])
    same = bool(n > 50 and np.allclose(ours.losses[:n][finite], torch_losses[:n][finite], rtol=1e-6))
    return {
        "what": "LR range test, MLP on digits, 100 batches",
        "ours_ms": ours_ms,
        "torch_ms": torch_ms,
        "same": same,
    }


def compare_training():
    split = bench_training.digits_split()
    ours_ms, (params, history) = _ms(lambda: bench_training.fit_mlp(split))

    def torch_fit():
        net = torch_mlp(models.MLP(64, hidden=(64,), n_classes=10).init(0))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=False)
        X, y = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
        Xv, yv = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
        loss_fn = torch.nn.CrossEntropyLoss()
        rng = np.random.default_rng(0)
        val = []
        for _ in range(20):
            for rows in training.minibatches(len(y), 32, rng):
                rows = torch.from_numpy(rows)
                opt.zero_grad()
                loss_fn(net(X[rows]), y[rows]).backward()
                opt.step()
            with torch.no_grad():  # what fit records every epoch: train and validation loss
                loss_fn(net(X), y)
                val.append(loss_fn(net(Xv), yv).item())
        return np.array(val)

    torch_ms, torch_val = _ms(torch_fit)
    same = bool(np.allclose(history.val_loss[1:], torch_val, rtol=1e-6))
    return {
        "what": "fit: MLP 64-64-10, Adam, 20 epochs at batch 32",
        "ours_ms": ours_ms,
        "torch_ms": torch_ms,
        "same": same,
    }


def compare():
    """All comparisons, the sweep first."""
    return [compare_sweep(), compare_range_test(), compare_training()]


if __name__ == "__main__":
    for row in compare():
        print(row)

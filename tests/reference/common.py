"""What the optimizer reference scripts share: the hand-written objectives and the torch loop.

Not a script: the ``make_*_reference.py`` scripts beside it import it (run from the
repository root, ``python tests/reference/<script>.py`` puts this folder on the path).

Gradients are written by hand (the same formulas as ``lrcourse.objectives``), so no
autograd rounding enters: both implementations see the same gradient for the same point,
and any difference comes from the update rule alone. A start is a list (one tensor) or a
dict of lists (a tree of tensors). The tests take the same gradients from
``lrcourse.objectives`` and ``tests/helpers.py`` (``tree_grad``, kept equal to the one here).
"""

from __future__ import annotations

import numpy as np
import torch


def quadratic_grad(x):
    return np.array([1.0 * x[0], 10.0 * x[1]])


def rosenbrock_grad(x):
    u, v = x
    r = v - u * u
    return np.array([-2 * (1 - u) - 400 * u * r, 200 * r])


def tree_grad(params):
    """A quadratic loss on two tensors: sum(c_w * w**2)/2 + sum((b - 1)**2)/2 + coupling."""
    w, b = params["w"], params["b"]
    c = np.array([[1.0, 4.0], [9.0, 0.5], [2.0, 3.0]])
    return {"w": c * w + 0.1 * b[None, :], "b": (b - 1.0) + 0.1 * w.sum(axis=0)}


TREE_X0 = {"w": [[0.5, -1.0], [1.0, 2.0], [-0.5, 0.3]], "b": [0.0, 2.0]}
VECTORS = {
    "quadratic": (quadratic_grad, [1.5, 1.0]),
    "rosenbrock": (rosenbrock_grad, [-1.5, 2.0]),
}
OBJECTIVES = {**VECTORS, "tree": (tree_grad, TREE_X0)}


def tensors_of(value, requires_grad=False):
    """A float64 tensor of a list, or a dict of them of a dict of lists."""
    if isinstance(value, dict):
        return {k: tensors_of(v, requires_grad) for k, v in value.items()}
    return torch.tensor(np.array(value, dtype=np.float64), requires_grad=requires_grad)


def params_of(tensors):
    """The tensors of :func:`tensors_of` as the list of parameters an optimizer takes."""
    return list(tensors.values()) if isinstance(tensors, dict) else [tensors]


def listed(tensors):
    """The values of a tensor (or a dict of tensors) as lists, for the JSON file."""
    if isinstance(tensors, dict):
        return {k: t.detach().numpy().tolist() for k, t in tensors.items()}
    return tensors.detach().numpy().tolist()


def set_grads(tensors, grad_fn):
    """Set ``.grad`` of each tensor to ``grad_fn`` at the tensors' values."""
    if isinstance(tensors, dict):
        grads = grad_fn({k: t.detach().numpy() for k, t in tensors.items()})
        for k, t in tensors.items():
            t.grad = torch.from_numpy(np.array(grads[k]))
    else:
        tensors.grad = torch.from_numpy(grad_fn(tensors.detach().numpy()))


def momentum_of(group):
    """The momentum of a parameter group: ``betas[0]`` where there are betas, else ``momentum``."""
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum", 0.0)


def trajectory(make_optimizer, grad_fn, x0, steps, scheduler=None):
    """Run ``make_optimizer(params)`` on hand-written gradients; record params, lr and momentum per step.

    ``scheduler`` is ``None`` or ``(name, kwargs)`` of a ``torch.optim.lr_scheduler`` class,
    stepped after each step of the optimizer.
    """
    tensors = tensors_of(x0, requires_grad=True)
    opt = make_optimizer(params_of(tensors))
    sched = None
    if scheduler is not None:
        name, skw = scheduler
        sched = getattr(torch.optim.lr_scheduler, name)(opt, **skw)
    path, lrs, momenta = [listed(tensors)], [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(momentum_of(opt.param_groups[0]))
        set_grads(tensors, grad_fn)
        opt.step()
        if sched is not None:
            sched.step()
        path.append(listed(tensors))
    return {"path": path, "lrs": lrs, "momenta": momenta}

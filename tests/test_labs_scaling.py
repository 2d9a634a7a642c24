"""Chapter 10: muP against the ``mup`` package, width sweeps, and the batch-size rules.

``tests/data/mup_reference.json`` comes from ``tests/reference/make_mup_reference.py``:
what ``mup.set_base_shapes``, ``MuReadout``, ``MuAdam`` and ``MuSGD`` do to a small
tanh MLP in PyTorch, float64.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from lrcourse import data, models, training
from lrcourse.labs import batch_size, scaling
from lrcourse.optimizers import adam, adamw, sgd

REFERENCE = json.loads((Path(__file__).parent / "data" / "mup_reference.json").read_text())
CASES = {case["name"]: case for case in REFERENCE["cases"]}


def _model(case):
    return models.MLP(
        REFERENCE["n_features"],
        hidden=(case["width"],) * case["depth"],
        n_classes=REFERENCE["n_classes"],
        activation="tanh",
        base_width=case["base"],
    )


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["name"])
@pytest.mark.parametrize("rule", ["adam", "sgd"])
def test_multipliers_are_the_effective_rates_of_mup(case, rule):
    # mup keeps the readout weight W and multiplies it by f = output_mult / width_mult in the
    # forward pass; the effective weight fW moves f times as far under Adam (which ignores the
    # scale of its gradient) and f^2 times as far under SGD (whose gradient is f times larger)
    ours = scaling.mup_multipliers(_model(case), rule)
    power = 1 if rule == "adam" else 2
    for p in case["params"]:
        effective = p[f"{rule}_group_lr"] * p["forward_factor"] ** power
        assert ours[p["role"]] == pytest.approx(effective, rel=1e-12), p["name"]


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["name"])
def test_initial_weights_scale_as_in_mup(case):
    # the ratio of muP's (effective) weights to those of a standard twin drawn from the same seed
    model = _model(case)
    standard = models.MLP(model.n_features, model.hidden, model.n_classes, activation="tanh")
    ours, twin = model.init(0), standard.init(0)
    for p in case["params"]:
        if p["role"].startswith("W"):
            assert p["init_ratio_spread"] == 0.0
            ratio = ours[p["role"]] / twin[p["role"]]
            np.testing.assert_allclose(ratio, p["init_ratio"], rtol=1e-12, err_msg=p["name"])
        else:
            # our biases start at zero (torch draws them, and mup rescales them); zero stays zero
            assert not ours[p["role"]].any()


@pytest.mark.parametrize("run", REFERENCE["runs"], ids=lambda r: f"{r['case']}-{r['optimizer']}")
def test_training_follows_mup(run):
    case = CASES[run["case"]]
    model = _model(case)
    start = {k: np.array(v, dtype=np.float64) for k, v in run["start"].items()}
    X, y = np.array(run["X"]), np.array(run["y"])
    make = scaling.mup_optimizer(sgd if run["optimizer"] == "sgd" else adam, model)
    steps = len(run["losses"]) - 1
    _, h = training.fit(model, (X, y), make, steps, None, lr=run["lr"], params=start, shuffle=False, record=1)
    # SGD is the same arithmetic; Adam adds its eps to the raw gradient in mup, which for
    # the readout is the effective gradient times f: a relative difference near 1e-8
    rtol = 1e-11 if run["optimizer"] == "sgd" else 1e-7
    np.testing.assert_allclose(h.train_loss, run["losses"], rtol=rtol)


def test_standard_parametrization_has_every_multiplier_one():
    model = models.MLP(64, hidden=(256, 256), n_classes=10)
    for rule in ("adam", "sgd"):
        assert set(scaling.mup_multipliers(model, rule).values()) == {1.0}
    at_base = models.MLP(64, hidden=(32,), n_classes=10, base_width=32)
    assert set(scaling.mup_multipliers(at_base, "sgd").values()) == {1.0}


def test_the_rule_is_read_from_the_optimizer():
    model = models.MLP(8, hidden=(32,), n_classes=3, base_width=8)
    rates = {}
    for name, constructor in [
        ("sgd", sgd),
        ("momentum", functools.partial(sgd, momentum=0.9)),
        ("adam", adam),
        ("adamw", functools.partial(adamw, weight_decay=0.0)),
    ]:
        opt = scaling.mup_optimizer(constructor, model)(lr=0.1)
        rates[name] = _rates(opt, model)
    assert rates["sgd"] == rates["momentum"] == {"W1": 0.4, "b1": 0.4, "W2": 0.025, "b2": 0.1}
    assert rates["adam"] == rates["adamw"] == {"W1": 0.1, "b1": 0.1, "W2": 0.025, "b2": 0.1}
    with pytest.raises(ValueError, match="rule="):
        scaling.mup_optimizer(lambda lr: sgd(lr=lr), model)
    with pytest.raises(ValueError, match="MLP"):
        scaling.mup_multipliers(models.SoftmaxRegression(4, 3))


def _rates(opt, model):
    """Each parameter's rate, read off the first update for a gradient of ones (Adam's first
    step is then the rate itself, up to eps)."""
    params = model.init(0)
    ones = {k: np.ones_like(v) for k, v in params.items()}
    updates, _ = opt.update(ones, opt.init(params), params)
    return {k: float(np.round(-u.flat[0], 6)) for k, u in updates.items()}


@pytest.fixture(scope="module")
def digits():
    split, _ = data.standardize(data.train_val_test_split(*data.load_digits(), seed=0))
    return data.Split(split.X_train[:300], split.y_train[:300], split.X_val[:100], split.y_val[:100])


def test_width_sweep_trains_every_width_rate_and_seed(digits):
    lrs = np.array([1e-3, 1e-2])
    mup = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh", base_width=8)
    sweep = scaling.width_sweep(mup, digits, adam, 2, 50, widths=[8, 32], lr=lrs, seed=[0, 1])
    assert sweep.parametrization == "mup"
    assert sweep.train_loss.shape == (2, 2, 2) and sweep.val_loss.shape == (2, 2, 2)
    # one cell by hand: width 32, seed 1, rate 1e-2
    net = models.MLP(64, hidden=(32,), n_classes=10, activation="tanh", base_width=8)
    make = scaling.mup_optimizer(adam, net)
    _, h = training.fit(net, digits, make, 2, 50, lr=1e-2, seed=1, record="end")
    assert sweep.train_loss[1, 1, 1] == pytest.approx(h.train_loss[-1], rel=1e-12)
    # at the base width muP is the standard parametrization
    sp = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh")
    standard = scaling.width_sweep(sp, digits, adam, 2, 50, widths=[8], lr=lrs, seed=[0, 1])
    assert standard.parametrization == "sp"
    np.testing.assert_allclose(standard.train_loss[0], sweep.train_loss[0], rtol=1e-12)
    assert sweep.best(metric="val_loss").shape == (2,)
    assert sweep.best_per_seed().shape == (2, 2)
    np.testing.assert_array_equal(sweep.best_lr(), lrs[sweep.best()])


def test_width_sweep_checks_its_arguments(digits):
    with pytest.raises(ValueError, match="MLP"):
        scaling.width_sweep(models.SoftmaxRegression(64, 10), digits, adam, 1, 50, widths=[8], lr=[0.1])
    mlp = models.MLP(64, hidden=(8,), n_classes=10)
    with pytest.raises(ValueError, match="1-D"):
        scaling.width_sweep(mlp, digits, adam, 1, 50, widths=[8], lr=0.1)


def test_square_root_and_linear_rules():
    sizes = np.array([8, 32, 128])
    np.testing.assert_allclose(scaling.square_root_rule(1e-3, 8, sizes), [1e-3, 2e-3, 4e-3])
    np.testing.assert_allclose(batch_size.linear_scaling_rule(1e-3, 8, sizes), [1e-3, 4e-3, 16e-3])
    with pytest.raises(ValueError, match="batch_ref"):
        scaling.square_root_rule(1e-3, 0, 8)


def test_the_whole_sde_rule():
    lr, betas, eps = scaling.adam_sde_rule(1e-3, (0.9, 0.999), 1e-8, 64, 16)  # kappa = 1/4
    assert lr == pytest.approx(5e-4)
    assert betas == pytest.approx((0.975, 0.99975))
    assert eps == pytest.approx(2e-8)
    lr, betas, eps = scaling.adam_sde_rule(1e-3, (0.9, 0.999), 1e-8, 8, 8)
    assert (lr, *betas, eps) == pytest.approx((1e-3, 0.9, 0.999, 1e-8))
    with pytest.raises(ValueError, match="negative"):
        scaling.adam_sde_rule(1e-3, (0.9, 0.999), 1e-8, 4, 64)  # 16 * 0.1 > 1


def test_best_rates_and_the_fitted_exponent(digits):
    lrs = np.array([0.01, 0.1, 1.0])
    model = models.MLP(64, hidden=(8,), n_classes=10)
    _, h = batch_size.sweep_batch_sizes(model, digits, sgd, 2, [10, 40], lr=lrs, seed=[0, 1], record="end")
    best = scaling.best_rates(h, lrs)
    assert best.shape == (2, 2)
    last = h.final("train_loss")
    for i in range(2):
        for s in range(2):
            finite = np.where(np.isfinite(last[i, s]), last[i, s], np.inf)
            assert best[i, s] == lrs[np.argmin(finite)]
    with pytest.raises(ValueError, match="rates"):
        scaling.best_rates(h, lrs[:2])
    # an exact power law: the slope of every seed is the exponent
    sizes = np.array([4, 8, 16, 32])
    law = np.column_stack([0.01 * sizes**0.5, 0.02 * sizes**0.5, 0.01 * sizes**0.6])
    fit = scaling.rate_exponent(sizes, law)
    np.testing.assert_allclose(fit.slopes, [0.5, 0.5, 0.6])
    assert fit.slope == pytest.approx(1.6 / 3)
    assert fit.spread == pytest.approx(np.std([0.5, 0.5, 0.6], ddof=1))
    assert fit.stderr == pytest.approx(fit.spread / np.sqrt(3))
    np.testing.assert_allclose(scaling.rate_exponent(sizes, law[:, 0]).predict(sizes), law[:, 0])
    with pytest.raises(ValueError, match="one row per batch size"):
        scaling.rate_exponent(sizes, law[:3])


def test_refined_minimum_finds_the_vertex_between_grid_points():
    lrs = 10.0 ** np.arange(-3, 0.01, 0.5)
    # a loss that is an exact parabola in log-log with its minimum at 10 ** -1.6
    x = np.log10(lrs)
    losses = 10.0 ** ((x + 1.6) ** 2)
    assert scaling.refined_minimum(lrs, losses) == pytest.approx(10**-1.6, rel=1e-9)
    # moved continuously: two neighbours trading places shift it a little, not a grid step
    near = scaling.refined_minimum(lrs, 10.0 ** ((x + 1.75) ** 2))
    assert 10**-1.8 < near < 10**-1.7
    # at the edge of the grid, or next to a diverged run: the grid point itself
    assert scaling.refined_minimum(lrs, 10.0 ** ((x + 5) ** 2)) == pytest.approx(lrs[0])
    blocked = np.where(x > -1.4, np.nan, losses)
    assert scaling.refined_minimum(lrs, blocked) == pytest.approx(10**-1.5)
    # leading axes are kept
    both = np.stack([losses, 10.0 ** ((x + 0.9) ** 2)])
    np.testing.assert_allclose(scaling.refined_minimum(lrs, both), [10**-1.6, 10**-0.9], rtol=1e-9)
    with pytest.raises(ValueError, match="evenly spaced"):
        scaling.refined_minimum([0.1, 0.2, 1.0], [1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="last axis"):
        scaling.refined_minimum(lrs, losses[:-1])


def test_refined_best_rates_stay_between_the_grid_neighbours(digits):
    lrs = 10.0 ** np.arange(-2.5, 0.01, 0.5)
    model = models.MLP(64, hidden=(8,), n_classes=10)
    _, h = batch_size.sweep_batch_sizes(model, digits, sgd, 2, [10, 40], lr=lrs, seed=[0, 1], record="end")
    grid = scaling.best_rates(h, lrs)
    fine = scaling.best_rates(h, lrs, refine=True)
    assert fine.shape == grid.shape
    np.testing.assert_array_less(np.abs(np.log10(fine / grid)), 0.25 + 1e-12)
    sp = models.MLP(64, hidden=(8,), n_classes=10, activation="tanh")
    sweep = scaling.width_sweep(sp, digits, adam, 1, 50, widths=[8, 16], lr=10.0 ** np.arange(-3, 0.01, 0.5))
    fine = sweep.best_per_seed(refine=True)
    np.testing.assert_array_less(np.abs(np.log10(fine / sweep.best_per_seed())), 0.25 + 1e-12)

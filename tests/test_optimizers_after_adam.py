"""Adafactor, Muon and Lion: against their references (float64), sweeps, schedules, validation.

The trajectories come from ``tests/reference/make_after_adam_reference.py`` (``torch.optim``'s
Adafactor and Muon, ``lion_pytorch.Lion``); neither library is needed here.

Tolerances: Adafactor and Lion agree to ``1e-10`` (largest difference seen: 3e-12, at
``lr=1.0`` on Rosenbrock, or 4e-12 driven by ``lrcourse.schedules``, and 3e-15).
Muon is checked to ``1e-9``: with little momentum (0.3) its fixed-length steps bounce around
the minimum, the momentum there is a difference of nearly opposite gradients, and dividing it
by its norm turns their round-off into a relative error of the whole step, which grows about
twofold a step over the last ten (largest difference seen: 1.8e-10; the other cases agree to
1e-12). The reference runs torch's Newton-Schulz iteration in float64; torch's own bfloat16
one is compared separately, to within 3% of the step.
"""

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REFERENCE_GRADS,
    ablations,
    as_arrays,
    case_id,
    descend,
    kwargs_of,
    lrcourse_schedule,
    max_difference,
)

from lrcourse import models, objectives, schedules, training
from lrcourse.descent import run
from lrcourse.labs.layerwise import partition
from lrcourse.optimizers import adam, adamw, apply_updates, clipped
from lrcourse.optimizers.after_adam import adafactor, lion, muon, newton_schulz

DATA = json.loads((Path(__file__).parent / "data" / "after_adam_reference.json").read_text())
OPTIMIZERS = {"adafactor": adafactor, "muon": muon, "lion": lion}
ATOL = {"adafactor": 1e-10, "lion": 1e-10, "muon": 1e-9}
QUAD = objectives.quadratic(1.0, 10.0)


# ----------------------------------------------------------------- the objectives of the reference


def matrix_grad(W):
    m, n = W.shape[-2:]
    i, j = np.indices((m, n))
    C = 1.0 + (3 * i + 5 * j) % 7
    T = ((2 * i + j) % 5 - 2) / 2
    return C * (W - T) + 0.5 * W.sum(axis=-1, keepdims=True)


def matrix_start(shape):
    """A fixed starting matrix (or stack of them) with entries in [-1.25, 1.25]."""
    idx = np.indices(shape)
    return (sum((3 + 4 * a) * idx[a] for a in range(len(shape))) % 11 - 5) / 4


def matrices_grad(params):
    A, B = params["A"], params["B"]
    return {"A": matrix_grad(A) + 0.1 * B.sum(), "B": matrix_grad(B) + 0.1 * A.sum()}


GRADS = {
    **REFERENCE_GRADS,  # quadratic, rosenbrock, tree
    "matrix32": matrix_grad,
    "matrix24": matrix_grad,
    "stack": matrix_grad,
    "matrices": matrices_grad,
}


def with_momentum(name, kwargs, momentum):
    """``kwargs`` with the momentum a cyclic scheduler drives: Muon's ``momentum``, Lion's ``betas[0]``."""
    if name == "muon":
        return dict(kwargs, momentum=momentum)
    return dict(kwargs, betas=(momentum, kwargs.get("betas", (0.9, 0.99))[1]))


def build(case):
    """The optimizer of ``case``; a scheduled case replays the recorded rates (and momenta).

    The recorded rates are a plain function, without a base rate: Lion's decoupled weight
    decay is told the rate given to lion-pytorch's constructor.
    """
    kwargs = kwargs_of(case)
    if case.get("scheduler"):
        lrs, momenta = case["lrs"], case["momenta"]
        if kwargs.get("decoupled_weight_decay"):
            kwargs["initial_lr"] = kwargs["lr"]
        kwargs["lr"] = lambda t: lrs[t]
        if case["scheduler"][0] == "OneCycleLR":
            kwargs = with_momentum(case["optimizer"], kwargs, lambda t: momenta[t])
    return OPTIMIZERS[case["optimizer"]](**kwargs)


# ----------------------------------------------------------------- against the references


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_matches_reference(case):
    path = descend(build(case), GRADS[case["objective"]], as_arrays(case["x0"]), len(case["path"]) - 1)
    assert max_difference(path, case["path"]) <= ATOL[case["optimizer"]]


def test_reference_covers_every_option():
    cases = DATA["cases"]
    for name, make in OPTIMIZERS.items():
        defaults = {  # not the keyword-only sweep_axes and initial_lr, which torch does not have
            p.name: p.default for p in inspect.signature(make).parameters.values() if p.kind != p.KEYWORD_ONLY
        }
        given = [kwargs_of(c) for c in cases if c["optimizer"] == name]
        for option, default in defaults.items():
            values = [kw[option] for kw in given if option in kw]
            if isinstance(default, tuple):  # every component away from its default somewhere
                for i, d in enumerate(default):
                    assert any(v[i] != d for v in values), f"no case for {name}({option}[{i}]=...)"
            elif isinstance(default, bool):
                assert {True, False} <= set(values), f"{name}({option}=...) not run both ways"
            else:
                assert any(v != default for v in values), f"no case for {name}({option}=...)"
        assert any(c.get("scheduler") for c in cases if c["optimizer"] == name)
    adjust = {c["kwargs"]["adjust_lr_fn"] for c in cases if "adjust_lr_fn" in c["kwargs"]}
    assert adjust == {None, "original", "match_rms_adamw"}
    assert min(len(c["path"]) - 1 for c in cases) >= 40
    assert {"matrix32", "tree", "stack", "quadratic"} <= {
        c["objective"] for c in cases if c["optimizer"] == "adafactor"
    }
    # rho_k = min(lr, 1/sqrt(k)) takes its second branch (lr > 1/sqrt(2) from step 2 on)
    assert any(c["kwargs"].get("lr", 1e-2) > 0.5**0.5 for c in cases if c["optimizer"] == "adafactor")
    # Lion's decoupled weight decay under a warmup, whose first rate is not the constructor's
    assert any(
        c["kwargs"].get("decoupled_weight_decay") and c["lrs"][0] < c["kwargs"]["lr"]
        for c in cases
        if c["optimizer"] == "lion" and c.get("scheduler")
    )


def test_every_option_of_the_reference_matters():
    """Each option (each component of a tuple) put back to its default moves some path beyond ATOL."""
    tried, changed = set(), set()
    for case in DATA["cases"]:
        if case.get("scheduler"):
            continue
        name = case["optimizer"]
        for option, kwargs in ablations(OPTIMIZERS[name], kwargs_of(case)):
            tried.add((name, option))
            with np.errstate(all="ignore"):  # an ablated case may diverge
                path = descend(
                    OPTIMIZERS[name](**kwargs), GRADS[case["objective"]], as_arrays(case["x0"]), 60
                )
            if not max_difference(path, case["path"]) <= ATOL[name]:  # NaN counts as a change
                changed.add((name, option))
    assert tried == changed, f"options that move no path: {sorted(tried - changed)}"
    assert ("adafactor", "eps[0]") in tried


@pytest.mark.parametrize("case", [c for c in DATA["cases"] if c.get("scheduler")], ids=case_id)
def test_driven_by_lrcourse_schedule_matches_reference(case):
    sched = lrcourse_schedule(case)
    kwargs = dict(kwargs_of(case), lr=sched)
    if sched.momentum is not None:
        kwargs = with_momentum(case["optimizer"], kwargs, sched.momentum)
    opt = OPTIMIZERS[case["optimizer"]](**kwargs)
    path = descend(opt, GRADS[case["objective"]], as_arrays(case["x0"]), len(case["path"]) - 1)
    assert max_difference(path, case["path"]) <= ATOL[case["optimizer"]]


@pytest.mark.parametrize("case", DATA["bfloat16"], ids=case_id)
def test_muon_is_within_three_percent_of_torchs_bfloat16_step(case):
    params = as_arrays(case["x0"])
    ours = descend(muon(**kwargs_of(case)), GRADS[case["objective"]], params, 1)[1]
    torch_step = as_arrays(case["path"][1])
    for key in ours if isinstance(ours, dict) else [None]:
        mine, theirs, start = (x if key is None else x[key] for x in (ours, torch_step, params))
        size = np.max(np.abs(theirs - start))
        assert 1e-6 * size < np.max(np.abs(mine - theirs)) <= 0.03 * size  # bfloat16, not round-off


# ----------------------------------------------------------------- sweeps: run i is the run with value i


def swept_equals_single(make, swept_kwargs, start, grad_fn, steps=25, exact=True, **fixed):
    """Run ``make`` with array hyperparameters, then each member alone; compare."""
    sweep = np.broadcast_shapes(*(np.shape(v) for v in swept_kwargs.values()))
    params = np.broadcast_to(start, sweep + np.shape(start)).copy()
    path = descend(make(**swept_kwargs, **fixed), grad_fn, params, steps)
    for idx in np.ndindex(*sweep):
        member = {k: float(np.broadcast_to(v, sweep)[idx]) for k, v in swept_kwargs.items()}
        single = descend(make(**member, **fixed), grad_fn, np.array(start), steps)
        for p, q in zip(path, single, strict=True):
            if exact:
                np.testing.assert_array_equal(p[idx], q)
            else:
                np.testing.assert_allclose(p[idx], q, rtol=0, atol=1e-13)


def test_adafactor_sweep_equals_runs_one_at_a_time():
    start = matrix_start((3, 2))
    lrs = np.array([0.01, 0.05, 0.2])[:, None]
    swept_equals_single(
        adafactor, {"lr": lrs, "d": np.array([1.0, 1.2]), "weight_decay": 0.1 * lrs}, start, matrix_grad
    )
    # beta2_decay goes through numpy's pow of an array, which may differ from Python's in the last bit
    swept_equals_single(
        adafactor, {"beta2_decay": np.array([-0.5, -0.8])}, start, matrix_grad, exact=False, lr=0.05
    )


def test_adafactor_vector_sweep_on_a_landscape_is_not_factored():
    lrs = np.array([0.01, 0.05, 0.1])
    path = run(QUAD.grad, [1.5, 1.0], adafactor(lr=lrs), 30)
    for i, lr in enumerate(lrs):
        np.testing.assert_array_equal(path[:, i], run(QUAD.grad, [1.5, 1.0], adafactor(lr=lr), 30))


def test_muon_sweep_equals_runs_one_at_a_time():
    start = matrix_start((3, 2))
    sweep = {"lr": np.array([0.01, 0.05])[:, None], "momentum": np.array([0.3, 0.9, 0.95])}
    # Not asked to be bit for bit: the matrix products go to BLAS, which may sum in another
    # order for a stack of matrices than for one.
    swept_equals_single(muon, sweep, start, matrix_grad, exact=False)
    coefficients = {"a": np.array([3.4445, 1.5]), "b": np.array([-4.775, -0.5]), "c": np.array([2.0315, 0.0])}

    def make(a, b, c, **kwargs):
        return muon(ns_coefficients=(a, b, c), **kwargs)

    swept_equals_single(make, coefficients, matrix_start((2, 4)), matrix_grad, exact=False, lr=0.02)


def test_lion_sweep_equals_runs_one_at_a_time():
    lrs = np.array([0.001, 0.01, 0.1])[:, None]
    sweep = {"lr": lrs, "weight_decay": np.array([0.0, 0.5])}
    swept_equals_single(lion, sweep, np.array([1.5, 1.0]), QUAD.grad, steps=40)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)) + 0.5 * rng.normal(size=(60, 3)), axis=1)
    return X, y


def train(model, opt, params, X, y, steps=15):
    """Full-batch steps of ``opt`` on the model's loss; the parameters after each step."""
    return descend(opt, lambda p: model.loss_and_grad(p, X, y)[1], params, steps)


def test_parameters_with_sweep_axes_of_their_own_need_sweep_axes(blobs):
    X, y = blobs
    model = models.MLP(4, hidden=(6,), n_classes=3)
    singles = [model.init(seed) for seed in range(3)]
    # leading axes as model.init(seed, sweep=(3,)) gives them, but three different starts
    swept = {k: np.stack([p[k] for p in singles]) for k in singles[0]}
    path = train(model, adafactor(lr=0.05, sweep_axes=1), swept, X, y)
    for i, start in enumerate(singles):
        alone = train(model, adafactor(lr=0.05), start, X, y)
        for k in start:
            np.testing.assert_allclose(path[-1][k][i], alone[-1][k], rtol=0, atol=1e-13)
    # Without sweep_axes, W1 of shape (3, 4, 6) is one 3-D tensor (one RMS for the three runs)
    # and b1 of shape (3, 6) a factored matrix: the runs are no longer independent.
    coupled = train(model, adafactor(lr=0.05), swept, X, y)
    assert np.abs(coupled[-1]["W1"][2] - path[-1]["W1"][2]).max() > 1e-3
    state = adafactor(lr=0.05).init(swept)
    assert state["row_var"]["b1"].shape == (3, 1) and state["variance"]["b1"] is None

    starts = np.stack([matrix_start((3, 2)), -matrix_start((3, 2)), 2 * matrix_start((3, 2))])
    path = descend(muon(lr=0.02, sweep_axes=1), matrix_grad, starts, 20)
    for i, start in enumerate(starts):
        alone = descend(muon(lr=0.02), matrix_grad, start, 20)
        np.testing.assert_allclose(path[-1][i], alone[-1], rtol=0, atol=1e-13)


def test_sweep_axes_must_cover_the_array_hyperparameters():
    with pytest.raises(ValueError, match=r"sweep_axes must be None or an integer in \[2, inf\]"):
        adafactor(lr=np.ones((2, 3)), sweep_axes=1)
    # lr of shape (3,) on parameters (3, 5, 4, 2) with sweep_axes=2: 15 runs on 4x2 matrices
    params = np.random.default_rng(3).normal(size=(3, 5, 4, 2))
    lrs = np.array([0.01, 0.02, 0.03])
    swept = descend(muon(lr=lrs, sweep_axes=2), matrix_grad, params, 3)[-1]
    for i, j in np.ndindex(3, 5):
        alone = descend(muon(lr=lrs[i]), matrix_grad, params[i, j], 3)[-1]
        np.testing.assert_allclose(swept[i, j], alone, rtol=0, atol=1e-14)


def test_muon_refuses_what_is_not_a_matrix_and_says_what_to_do():
    with pytest.raises(ValueError, match=r"params\['b1'\] has shape \(6,\).*adamw"):
        muon().init({"W1": np.ones((4, 6)), "b1": np.ones(6)})
    with pytest.raises(ValueError, match=r"after its 0 sweep axes.*sweep_axes="):
        muon().init(np.ones((3, 4, 6)))
    muon(sweep_axes=1).init(np.ones((3, 4, 6)))  # three 4x6 matrices


def test_adafactor_in_clipped_keeps_the_members_of_a_max_norm_sweep_apart():
    max_norms = np.array([0.5, 5.0, 50.0])
    path = run(QUAD.grad, [1.5, 1.0], clipped(adafactor(lr=0.05), max_norms), 30)
    for i, m in enumerate(max_norms):
        np.testing.assert_array_equal(
            path[:, i], run(QUAD.grad, [1.5, 1.0], clipped(adafactor(lr=0.05), m), 30)
        )
    assert clipped(adafactor(lr=0.05), max_norms).inner.sweep_axes == 1
    starts = np.stack([matrix_start((3, 2)), -matrix_start((3, 2))])
    swept = descend(clipped(muon(lr=0.02), np.array([1.0, 30.0])), matrix_grad, starts, 10)
    for i, m in enumerate([1.0, 30.0]):
        alone = descend(clipped(muon(lr=0.02), m), matrix_grad, starts[i], 10)
        np.testing.assert_allclose(swept[-1][i], alone[-1], rtol=0, atol=1e-13)


def test_a_wrapper_refuses_a_sweep_axes_that_would_couple_its_members():
    with pytest.raises(ValueError, match=r"built with sweep_axes=0.*build it with sweep_axes=1"):
        clipped(adafactor(lr=0.05, sweep_axes=0), np.array([0.5, 5.0]))
    with pytest.raises(ValueError, match=r"partition \(group 'hidden'\).*sweep_axes=1"):
        partition({"hidden": muon(sweep_axes=0), "rest": adamw(lr=np.ones(2))}, {"hidden": "W1", "rest": "*"})
    # a number given by the user that covers the sweep is kept, and clipped takes it over
    opt = clipped(adafactor(lr=0.05, sweep_axes=1), 1.0)
    assert opt.sweep_axes == opt.inner.sweep_axes == 1
    with pytest.raises(ValueError, match=r"sweep_axes must be at least 1, the sweep_axes"):
        clipped(adafactor(lr=0.05, sweep_axes=1), 1.0, sweep_axes=0)


@pytest.mark.parametrize("shaped", ["adafactor", "muon"])
def test_shape_dependent_optimizer_beside_a_rate_sweep_in_partition(blobs, shaped):
    X, y = blobs
    model = models.MLP(4, hidden=(6,), n_classes=3)
    lrs = np.array([0.003, 0.01, 0.03])

    def make(lr):
        hidden = adafactor(lr=0.05) if shaped == "adafactor" else muon(lr=0.02)
        return partition({"hidden": hidden, "rest": adamw(lr=lr)}, {"hidden": ["W1"], "rest": "*"})

    params, history = training.fit(model, (X, y), make(lrs), 10)
    for i, lr in enumerate(lrs):
        alone, single = training.fit(model, (X, y), make(float(lr)), 10)
        np.testing.assert_allclose(history.train_loss[:, i], single.train_loss, rtol=0, atol=1e-13)
        np.testing.assert_allclose(params["W1"][i], alone["W1"], rtol=0, atol=1e-13)
    # clipped around the partition clips each member by its own norm, and passes the number on
    opt = clipped(make(lrs), 1.0)
    assert opt.sweep_axes == 1 and opt.inner.sweep_axes == 1


def test_muon_for_hidden_weights_and_adamw_for_the_rest_with_a_rate_sweep(blobs):
    X, y = blobs
    model = models.MLP(4, hidden=(8,), n_classes=3)
    lrs = np.array([0.005, 0.02])

    def make(lr):
        return partition(
            {"hidden": muon(lr=lr, weight_decay=0.0), "rest": adamw(lr=0.01)},
            {"hidden": ["W1"], "rest": "*"},
        )

    params, history = training.fit(model, (X, y), make(lrs), 20)
    for i, lr in enumerate(lrs):
        alone, single = training.fit(model, (X, y), make(float(lr)), 20)
        np.testing.assert_allclose(history.train_loss[:, i], single.train_loss, rtol=0, atol=1e-12)
        np.testing.assert_allclose(params["W1"][i], alone["W1"], rtol=0, atol=1e-12)
    assert (history.train_loss[-1] < history.train_loss[0]).all()


# ----------------------------------------------------------------- what a learner is taught


def test_lion_decoupled_decay_divides_by_the_base_rate_not_the_first_rate():
    # lion-pytorch: p *= 1 - lr_t * weight_decay / lr (the constructor's rate), whatever the warmup
    sched = schedules.warmup(schedules.cosine(0.01, T_max=50), warmup_steps=10)  # from 0
    opt = lion(lr=sched, weight_decay=0.5, decoupled_weight_decay=True)
    params = {"w": np.array([[0.5, -1.0], [1.0, 2.0], [-0.5, 0.3]]), "b": np.array([0.0, 2.0])}
    path = descend(opt, REFERENCE_GRADS["tree"], params, 40)
    by_hand = lion(lr=lambda t: sched(t), weight_decay=0.5, decoupled_weight_decay=True, initial_lr=0.01)
    for mine, theirs in zip(path, descend(by_hand, REFERENCE_GRADS["tree"], params, 40), strict=True):
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k])
    assert all(np.isfinite(path[-1][k]).all() and np.abs(path[-1][k]).max() < 3 for k in path[-1])
    one_cycle = schedules.one_cycle(max_lr=0.02, total_steps=40)  # no base rate: say it
    assert lion(lr=one_cycle, weight_decay=0.1, decoupled_weight_decay=True, initial_lr=0.01)
    assert lion(
        lr=schedules.wsd(0.01, total_steps=40, warmup_steps=5), weight_decay=0.1, decoupled_weight_decay=True
    )


def test_adafactor_rate_above_one_over_sqrt_k_is_capped():
    # rho_k = min(lr, 1/sqrt(k)): with lr >= 1 and no weight decay the rate no longer matters
    one, five = (run(QUAD.grad, [1.5, 1.0], adafactor(lr=lr), 30) for lr in (1.0, 5.0))
    np.testing.assert_array_equal(one, five)
    assert np.abs(one - run(QUAD.grad, [1.5, 1.0], adafactor(lr=0.5), 30)).max() > 1e-3


def test_lion_moves_every_entry_by_exactly_the_rate():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    opt = lion(lr=0.01, betas=(0.9, 0.99))
    state = opt.init(params)
    for _ in range(5):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        updates, state = opt.update(grads, state, params)
        for u in updates.values():
            np.testing.assert_array_equal(np.abs(u), 0.01)
        params = apply_updates(params, updates)
    decayed = lion(lr=0.01, weight_decay=0.5)
    updates, _ = decayed.update(grads, decayed.init(params), params)
    for k, u in updates.items():
        np.testing.assert_allclose(np.abs(u + 0.01 * 0.5 * params[k]), 0.01, rtol=1e-12)


@pytest.mark.parametrize("shape", [(3, 2), (2, 5), (4, 4), (2, 6, 3)])
def test_muon_update_has_singular_values_near_one_times_its_scale(shape):
    rng = np.random.default_rng(1)
    params = rng.normal(size=shape)
    grads = rng.normal(size=shape)
    rows, cols = shape[-2:]
    k = len(shape) - 2
    for adjust, scale in [
        (None, np.sqrt(max(1, rows / cols))),
        ("match_rms_adamw", 0.2 * np.sqrt(max(rows, cols))),
    ]:
        opt = muon(lr=0.1, weight_decay=0.0, adjust_lr_fn=adjust, sweep_axes=k)
        updates, _ = opt.update(grads, opt.init(params), params)
        sigma = np.linalg.svd(-updates / (0.1 * scale), compute_uv=False)
        assert 0.68 <= sigma.min() and sigma.max() <= 1.21
    # The classic cubic iteration, run long enough, gives the orthogonal factor U V^T itself.
    u, _, vt = np.linalg.svd(grads, full_matrices=False)
    np.testing.assert_allclose(newton_schulz(grads, (1.5, -0.5, 0.0), 40), u @ vt, rtol=0, atol=1e-9)


def test_adafactor_keeps_m_plus_n_numbers_for_an_m_by_n_matrix():
    params = {"W": np.ones((30, 20)), "b": np.ones(20), "T": np.ones((2, 30, 20))}

    def sizes(state):
        return {
            k: sum(
                np.size(state[s][k]) for s in ("row_var", "col_var", "variance") if state[s][k] is not None
            )
            for k in params
        }

    assert sizes(adafactor().init(params)) == {"W": 30 + 20, "b": 20, "T": 2 * (30 + 20)}
    swept = {k: np.stack([v] * 5) for k, v in params.items()}
    assert sizes(adafactor(lr=np.full(5, 0.01)).init(swept)) == {"W": 5 * 50, "b": 5 * 20, "T": 5 * 2 * 50}
    adam_state = adam().init(params)
    assert adam_state["exp_avg"]["W"].size + adam_state["exp_avg_sq"]["W"].size == 2 * 30 * 20


def test_adafactor_first_step_is_relative_to_the_parameters_size():
    # Step 1: beta2-hat = 0, so v = g^2 and U = sign(g); RMS(U) = 1 is not clipped.
    params = np.array([3.0, -4.0, 0.0, 1.0])
    opt = adafactor(lr=0.01)
    updates, _ = opt.update(np.array([2.0, -0.5, 1e-3, -7.0]), opt.init(params), params)
    rms = np.sqrt(np.mean(params**2))
    np.testing.assert_allclose(updates, -0.01 * rms * np.array([1.0, -1.0, 1.0, -1.0]), rtol=1e-12)


# ----------------------------------------------------------------- validation and purity


def test_updates_do_not_mutate_inputs():
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 2)), "V": rng.normal(size=(4, 4))}
    vector = {"W": params["W"], "b": rng.normal(size=2)}
    for opt, p in [
        (adafactor(lr=0.05, weight_decay=0.1), vector),
        (muon(lr=0.02, nesterov=False), params),
        (muon(lr=0.02), params),
        (lion(lr=0.01, weight_decay=0.1), vector),
    ]:
        grads = {k: rng.normal(size=v.shape) for k, v in p.items()}
        state = opt.init(p)
        for _ in range(2):  # the second step reads a state the first one wrote
            state = opt.update(grads, state, p)[1]
        before = [copy_tree(x) for x in (p, grads, state)]
        opt.update(grads, state, p)
        for old, new in zip(before, (p, grads, state), strict=True):
            assert_same_tree(old, new)


def copy_tree(tree):
    if isinstance(tree, dict):
        return {k: copy_tree(v) for k, v in tree.items()}
    return None if tree is None else np.array(tree)


def assert_same_tree(old, new):
    if isinstance(old, dict):
        for k in old:
            assert_same_tree(old[k], new[k])
    elif old is None:
        assert new is None
    else:
        np.testing.assert_array_equal(old, new)


BAD = [
    (lambda: adafactor(lr=-0.1), "lr must be in [0, inf)"),
    (lambda: adafactor(lr=lambda t: -1.0), "lr must be in [0, inf)"),
    (lambda: adafactor(beta2_decay=0.5), "beta2_decay must be in (-inf, 0]"),
    (lambda: adafactor(beta2_decay=-np.inf), "beta2_decay must be in (-inf, 0]"),
    (lambda: adafactor(eps=(-1e-30, 1e-3)), "eps[0] must be in [0, inf)"),
    (lambda: adafactor(eps=(None, -1e-3)), "eps[1] must be in [0, inf)"),
    (lambda: adafactor(eps=1e-3), "eps must be a pair (eps1 or None, eps2)"),
    (lambda: adafactor(d=0.5), "d must be in [1, inf)"),
    (lambda: adafactor(weight_decay=-0.1), "weight_decay must be in [0, inf)"),
    (lambda: adafactor(weight_decay=np.array([0.1, np.nan])), "weight_decay must not be NaN"),
    (lambda: adafactor(sweep_axes=-1), "sweep_axes must be None or an integer in [0, inf]"),
    (lambda: adafactor(sweep_axes=1.0), "sweep_axes must be None or an integer"),
    (lambda: muon(lr=-1.0), "lr must be in [0, inf)"),
    (lambda: muon(weight_decay=-0.1), "weight_decay must be in [0, inf)"),
    (lambda: muon(momentum=1.5), "momentum must be in [0, 1]"),
    (lambda: muon(momentum=np.array([0.9, -0.1])), "first bad element -0.1"),
    (lambda: muon(ns_coefficients=(3.0, -4.0)), "ns_coefficients must be three numbers"),
    (lambda: muon(ns_coefficients=(3.0, np.inf, 2.0)), "ns_coefficients[1] must be in (-inf, inf)"),
    (lambda: muon(ns_coefficients=(3.0, -4.0, "c")), "ns_coefficients[2] must be a number"),
    (lambda: muon(eps=-1e-7), "eps must be in [0, inf)"),
    (lambda: muon(ns_steps=100), "ns_steps must be an integer in [0, 99]"),
    (lambda: muon(ns_steps=2.5), "ns_steps must be an integer"),
    (lambda: muon(adjust_lr_fn="rms"), "adjust_lr_fn must be one of None, 'original', 'match_rms_adamw'"),
    (lambda: muon(sweep_axes="1"), "sweep_axes must be None or an integer"),
    (lambda: muon().init(np.ones(3)), "muon updates 2-D weight matrices only"),
    (lambda: lion(lr=-1e-4), "lr must be in [0, inf)"),
    (lambda: lion(betas=(1.5, 0.99)), "betas[0] must be in [0, 1]"),
    (lambda: lion(betas=(0.9, -0.1)), "betas[1] must be in [0, 1]"),
    (lambda: lion(betas=0.9), "betas must be a pair (beta1, beta2)"),
    (lambda: lion(weight_decay=-1.0), "weight_decay must be in [0, inf)"),
    (
        lambda: lion(lr=0.0, weight_decay=0.1, decoupled_weight_decay=True),
        "the rate weight_decay is divided by (lr's base rate) must be in (0, inf), got 0.0",
    ),
    (
        lambda: lion(lr=lambda t: 0.01, weight_decay=0.1, decoupled_weight_decay=True),
        "has no base rate (an lr parameter): give it as initial_lr=",
    ),
    (
        lambda: lion(lr=lambda t: 0.01, decoupled_weight_decay=True, initial_lr=0.0),
        "initial_lr must be in (0, inf)",
    ),
    (lambda: lion(decoupled_weight_decay=1), "decoupled_weight_decay must be True or False, got 1"),
    (lambda: muon(nesterov="yes"), "nesterov must be True or False, got 'yes'"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_repr_names_the_hyperparameters():
    assert repr(lion(lr=0.01)).startswith("lion(lr=0.01, beta1=0.9, beta2=0.99")
    assert "adjust_lr_fn='match_rms_adamw'" in repr(muon(adjust_lr_fn="match_rms_adamw"))
    assert "eps1=2.22" in repr(adafactor())

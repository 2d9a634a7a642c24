"""Gradient-norm clipping against ``torch.nn.utils.clip_grad_norm_`` (float64), and ``clipped``.

The reference data comes from ``tests/reference/make_clipping_reference.py``; torch is
not needed here.
"""

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from helpers import REFERENCE_GRADS, as_arrays, assert_tree_close, small_classification

from lrcourse import models, objectives, schedules, training
from lrcourse.descent import run
from lrcourse.optimizers import Optimizer, adam, adamw, apply_updates, check_constructor, sgd
from lrcourse.optimizers.clipping import clip_grad_norm, clipped
from lrcourse.optimizers.schedule_free import eval_params, sgd_schedule_free

DATA = json.loads((Path(__file__).parent / "data" / "clipping_reference.json").read_text())
QUAD = objectives.quadratic(1.0, 10.0)
ROSEN = objectives.rosenbrock()
MAKERS = {"sgd": sgd, "adam": adam, "adamw": adamw, "sgd_schedule_free": sgd_schedule_free}
RTOL = 1e-13  # one clip: the norms and the scaled gradients, relative (measured worst: 3e-16)
ATOL = 1e-10  # paths, as tests/test_optimizers_reference.py (measured worst: 9e-16)


# ----------------------------------------------------------------- against torch


@pytest.mark.parametrize(
    "case", DATA["clip"], ids=lambda c: f"{c['name']}-max_norm={c['max_norm']}-norm_type={c['norm_type']}"
)
def test_clip_grad_norm_matches_torch(case):
    grads = as_arrays(case["grads"])
    before = {k: v.copy() for k, v in grads.items()} if isinstance(grads, dict) else grads.copy()
    out, total = clip_grad_norm(grads, case["max_norm"], case["norm_type"])
    assert type(total) is float
    np.testing.assert_allclose(total, case["total_norm"], rtol=RTOL, atol=0, equal_nan=True)
    assert_tree_close(out, case["clipped"], rtol=RTOL, atol=0)
    assert_tree_close(grads, before, rtol=0, atol=0)  # not mutated


def test_reference_covers_every_norm_type_and_regime():
    cases = DATA["clip"]
    assert {c["norm_type"] for c in cases} == {2.0, 1.0, 3.0, 0.5, np.inf}
    finite = [c for c in cases if np.isfinite(c["total_norm"])]
    assert any(c["max_norm"] < c["total_norm"] for c in finite)  # clipped
    assert any(0 < c["total_norm"] < c["max_norm"] for c in finite)  # left alone
    assert any(np.isnan(c["total_norm"]) for c in cases) and any(np.isinf(c["total_norm"]) for c in cases)
    assert any(c["name"] == "overflow" for c in cases) and any(c["max_norm"] == 0 for c in cases)
    assert {r["optimizer"] for r in DATA["runs"]} == set(MAKERS)
    assert {r["norm_type"] for r in DATA["runs"]} >= {1.0, 2.0, 3.0, np.inf}
    assert DATA["meta"]["torch_version"].startswith("2.13")


@pytest.mark.parametrize("case", DATA["runs"], ids=lambda c: f"{c['optimizer']}-{c['objective']}")
def test_clipped_optimizer_matches_torch(case):
    opt = clipped(MAKERS[case["optimizer"]](**case["kwargs"]), case["max_norm"], case["norm_type"])
    params = as_arrays(case["x0"])
    grad_fn = REFERENCE_GRADS[case["objective"]]
    state = opt.init(params)
    for t in range(len(case["path"]) - 1):
        updates, state = opt.update(grad_fn(params), state, params)
        params = apply_updates(params, updates)
        assert_tree_close(params, case["path"][t + 1], rtol=0, atol=ATOL)
        np.testing.assert_allclose(state["total_norm"], case["norms"][t], rtol=1e-12, atol=0)


# ----------------------------------------------------------------- the rule


def test_clipping_keeps_the_direction_and_caps_the_length():
    g = {"w": np.array([[3.0, 0.0]]), "b": np.array([4.0])}
    out, total = clip_grad_norm(g, 1.0)
    assert total == 5.0
    np.testing.assert_allclose(out["w"], [[0.6, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(out["b"], [0.8], rtol=1e-6)
    same, _ = clip_grad_norm(g, 10.0)
    np.testing.assert_array_equal(same["w"], g["w"])  # shorter than max_norm: multiplied by 1
    _, largest = clip_grad_norm(g, 1.0, "inf")
    assert largest == 4.0


def test_non_finite_gradients_as_torch_and_without_warnings():
    with np.errstate(all="raise"):  # no floating-point warning may escape
        out, total = clip_grad_norm(np.array([np.inf, 1.0]), 1.0)
        assert total == np.inf
        np.testing.assert_array_equal(out, [np.nan, 0.0])
        out, total = clip_grad_norm({"a": np.array([np.nan]), "b": np.array([1.0])}, 1.0)
        assert np.isnan(total) and np.isnan(out["b"]).all()


def test_an_empty_tree_has_norm_zero():
    assert clip_grad_norm({}, 1.0) == ({}, 0.0)


# ----------------------------------------------------------------- sweeps


def test_each_member_of_a_max_norm_sweep_has_its_own_norm():
    rng = np.random.default_rng(0)
    g = {"w": rng.normal(size=(4, 3, 2)), "b": rng.normal(size=(4, 2)) * 5}
    max_norms = np.array([0.1, 1.0, 3.0, 100.0])
    out, total = clip_grad_norm(g, max_norms)
    assert total.shape == (4,)
    for i, m in enumerate(max_norms):
        one, one_total = clip_grad_norm({k: v[i] for k, v in g.items()}, m)
        assert total[i] == one_total
        for k in g:
            np.testing.assert_array_equal(out[k][i], one[k])


def test_parameters_with_sweep_axes_need_sweep_axes_given():
    g = np.array([[3.0, 4.0], [0.3, 0.4]])  # two starting points of a landscape
    out, total = clip_grad_norm(g, 1.0, sweep_axes=1)
    np.testing.assert_array_equal(total, [5.0, 0.5])
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    pooled, norm = clip_grad_norm(g, 1.0)  # without: one norm for both, as one tensor in torch
    assert norm == pytest.approx(np.sqrt(25.25))
    np.testing.assert_allclose(pooled[1], [0.3, 0.4] / np.sqrt(25.25), rtol=1e-6)


def test_a_two_axis_sweep_with_max_norm_on_the_first():
    g = np.arange(24.0).reshape(2, 3, 4)
    out, total = clip_grad_norm(g, np.array([1.0, 1e3]), sweep_axes=2)
    assert total.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one, norm = clip_grad_norm(g[i, j], [1.0, 1e3][i])
            assert total[i, j] == norm
            np.testing.assert_array_equal(out[i, j], one)


def test_clipped_sweeps_equal_runs_one_at_a_time():
    lrs, max_norms = np.array([0.001, 0.002, 0.0002]), np.array([1.0, 10.0, np.inf])
    swept = run(ROSEN.grad, [-1.5, 2.0], clipped(sgd(lr=lrs, momentum=0.9), max_norms), 40)
    assert swept.shape == (41, 3, 2) and np.isfinite(swept).all()
    for i in range(3):
        one = run(ROSEN.grad, [-1.5, 2.0], clipped(sgd(lr=lrs[i], momentum=0.9), max_norms[i]), 40)
        np.testing.assert_array_equal(swept[:, i], one)
    # max_norm=inf does not clip: the plain optimizer's path
    np.testing.assert_array_equal(swept[:, 2], run(ROSEN.grad, [-1.5, 2.0], sgd(lr=0.0002, momentum=0.9), 40))


def test_clipped_with_several_starting_points():
    starts = np.array([[-1.5, 2.0], [1.2, 1.2], [0.0, 0.0]])
    path = run(ROSEN.grad, starts, clipped(adam(lr=0.05), 5.0, sweep_axes=1), 30)
    for i, x0 in enumerate(starts):
        np.testing.assert_array_equal(path[:, i], run(ROSEN.grad, x0, clipped(adam(lr=0.05), 5.0), 30))


def test_max_norm_as_a_schedule():
    sched = schedules.step_decay(lr=10.0, step_size=5, gamma=0.1)  # 10, then 1 from step 5
    opt = clipped(sgd(lr=0.001), sched)
    params = np.array([-1.5, 2.0])
    state = opt.init(params)
    for t in range(10):
        g = ROSEN.grad(params)
        updates, state = opt.update(g, state, params)
        expected = -0.001 * g * min(sched(t) / (np.linalg.norm(g) + 1e-6), 1.0)
        np.testing.assert_allclose(updates, expected, rtol=1e-12)
        params = apply_updates(params, updates)
    assert state["step"] == 10


# ----------------------------------------------------------------- the wrapper


def test_clipped_is_an_optimizer_and_names_what_it_wraps():
    opt = clipped(adamw(lr=1e-3), max_norm=1.0)
    assert isinstance(opt, Optimizer)
    assert repr(opt) == f"clipped({adamw(lr=1e-3)!r}, max_norm=1.0, norm_type=2.0)"
    assert opt.hyperparams["lr"] == 1e-3 and opt.hyperparams["max_norm"] == 1.0
    assert clipped(sgd(lr=np.ones((1, 3))), np.ones((2, 1))).sweep_shape == (2, 3)
    build = check_constructor(clipped(partial(adam, betas=(0.8, 0.99)), max_norm=2.0, norm_type="inf"))
    built = build(lr=0.1)
    assert (
        repr(built).startswith("clipped(adam(lr=0.1, beta1=0.8") and built.hyperparams["norm_type"] == np.inf
    )


def test_clipped_records_its_sweep_axes_for_the_wrappers_around_it():
    # the global norm depends on which axes are sweep axes: clipped says how many it takes
    assert clipped(sgd(lr=0.1), 1.0).sweep_axes == 0
    assert clipped(sgd(lr=np.ones(3)), 1.0).sweep_axes == 1
    assert clipped(sgd(lr=0.1), 1.0).resweep(2).sweep_axes == 2
    assert clipped(sgd(lr=0.1), 1.0, sweep_axes=1).resweep is None  # fixed by the user


def test_the_state_and_eval_params_through_clipped():
    opt = clipped(sgd_schedule_free(lr=0.05), max_norm=1.0)
    params = np.array([1.5, 1.0])
    state = opt.init(params)
    assert np.isnan(state["total_norm"]) and set(state) == {"step", "total_norm", "inner"}
    grads = QUAD.grad(params)
    updates, new = opt.update(grads, state, params)
    assert new["total_norm"] == pytest.approx(np.linalg.norm(grads))
    params = apply_updates(params, updates)
    np.testing.assert_array_equal(eval_params(new, params), eval_params(new["inner"], params))
    np.testing.assert_array_equal(grads, QUAD.grad(np.array([1.5, 1.0])))  # not mutated
    assert state["step"] == 0 and np.isnan(state["total_norm"])


BAD = [
    (lambda: clip_grad_norm(np.ones(2), -1.0), "max_norm must be in [0, inf], got -1.0"),
    (lambda: clip_grad_norm(np.ones(2), np.nan), "max_norm must not be NaN"),
    (lambda: clip_grad_norm(np.ones(2), lambda t: 1.0), "clipped() takes schedules"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, 0), "norm_type must be one number in (0, inf]"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, -2.0), "got -2.0"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, "two"), "got 'two'"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, np.array([1.0, 2.0])), "norm_type must be one number"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, float("nan")), "norm_type must be one number"),
    (lambda: clip_grad_norm(np.ones((3, 2)), np.ones(3), sweep_axes=0), "sweep_axes must be at least 1"),
    (lambda: clip_grad_norm(np.ones(2), 1.0, sweep_axes=-1), "sweep_axes must be an integer in [0, inf]"),
    (lambda: clip_grad_norm(np.ones(2), np.ones(3)), "must line up with the leading axes"),
    (lambda: clip_grad_norm({"a": np.ones((3, 2)), "b": np.ones((2, 2))}, 1.0, sweep_axes=1), "same 1 sweep"),
    (lambda: clipped("adam", 1.0), "optimizer must be an Optimizer"),
    (lambda: clipped(sgd(lr=np.ones(3)), np.ones(2)), "must broadcast with the sweep shape (3,)"),
    (lambda: clipped(sgd(lr=np.ones(3)), np.ones((4, 1))), "puts sweep axes in front"),
    (lambda: clipped(sgd(lr=np.ones(3)), 1.0, sweep_axes=0), "sweep_axes must be at least 1"),
    (lambda: clipped(sgd(), lambda t: -1.0), "max_norm must be in [0, inf]"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


# ----------------------------------------------------------------- with the trainer


@pytest.fixture(scope="module")
def classification():
    return small_classification()


def test_fit_with_a_clipped_optimizer(classification):
    model = models.MLP(4, hidden=(8,), n_classes=3)
    X, y = classification.X_train, classification.y_train
    opt = clipped(adamw(lr=0.02), max_norm=0.3)
    params, history = training.fit(
        model,
        classification,
        opt,
        epochs=20,
        shuffle=False,
        watch=lambda state, params: state["total_norm"],
        record="end",
    )
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert (history.watched > 0.3).sum() >= 5  # the clipping acted
    np.testing.assert_array_equal(history.update_lr, 0.02)
    p = model.init(0)  # the same as full-batch steps by hand
    state = opt.init(p)
    for _ in range(20):
        _, grads = model.loss_and_grad(p, X, y)
        updates, state = opt.update(grads, state, p)
        p = apply_updates(p, updates)
    for k in p:
        np.testing.assert_allclose(params[k], p[k], rtol=0, atol=1e-12)


def test_fit_with_a_clipped_constructor_a_schedule_and_a_sweep(classification):
    model = models.MLP(4, hidden=(8,), n_classes=3)
    lr = schedules.cosine(lr=np.array([0.05, 0.2]), T_max=30)
    params, history = training.fit(
        model, classification, clipped(sgd, max_norm=0.5), epochs=5, batch_size=16, lr=lr, record="end"
    )
    assert params["W1"].shape == (2, 4, 8)
    one, _ = training.fit(
        model,
        classification,
        clipped(sgd, max_norm=0.5),
        epochs=5,
        batch_size=16,
        lr=schedules.cosine(lr=0.2, T_max=30),
        record="end",
    )
    np.testing.assert_allclose(params["W1"][1], one["W1"], rtol=0, atol=1e-12)

"""Schedule-free SGD and AdamW against the schedulefree package (float64), and their behaviour.

The reference data comes from ``tests/reference/make_schedule_free_reference.py``;
neither torch nor schedulefree is needed here.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REFERENCE_GRADS,
    ablations,
    as_arrays,
    assert_tree_close,
    case_id,
    descend,
    kwargs_of,
    lrcourse_schedule,
    max_difference,
    small_classification,
)

from lrcourse import models, objectives, schedules, training
from lrcourse.descent import run
from lrcourse.optimizers import apply_updates, sgd
from lrcourse.optimizers.schedule_free import adamw_schedule_free, eval_params, sgd_schedule_free

DATA = json.loads((Path(__file__).parent / "data" / "schedule_free_reference.json").read_text())
QUAD = objectives.quadratic(1.0, 10.0)
ROSEN = objectives.rosenbrock()
MAKERS = {"sgd": sgd_schedule_free, "adamw": adamw_schedule_free}
ATOL = 1e-10  # as tests/test_optimizers_reference.py; measured worst: 4e-15


def ramp_then_halve(t):
    """The LambdaLR factor of the reference script."""
    return min(t / 10, 1.0) * (0.5 if t >= 40 else 1.0)


def replay(case, opt):
    """Run ``opt`` as the reference did; yield (step, y, x, state) after each update."""
    params, grad_fn = as_arrays(case["x0"]), REFERENCE_GRADS[case["objective"]]
    state = opt.init(params)
    for t in range(len(case["path"]) - 1):
        updates, state = opt.update(grad_fn(params), state, params)
        params = apply_updates(params, updates)
        yield t, params, eval_params(state, params), state


def assert_close(actual, expected):
    assert_tree_close(actual, expected, rtol=0, atol=ATOL)


# ----------------------------------------------------------------- against schedulefree


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_matches_schedulefree(case):
    kwargs = kwargs_of(case)
    if case.get("scheduler"):
        lrs = case["lrs"]
        kwargs["lr"] = lambda t: lrs[t]
    opt = MAKERS[case["optimizer"]](**kwargs)
    params = as_arrays(case["x0"])
    np.testing.assert_equal(eval_params(opt.init(params), params), params)  # x = y before any step
    for t, y, x, state in replay(case, opt):
        assert_close(y, case["path"][t + 1])
        assert_close(x, case["x_path"][t + 1])
        assert_close(state["z"], case["z_path"][t + 1])
        assert state["step"] == case["k"][t] == t + 1
        for key in ("weight_sum", "lr_max", "scheduled_lr"):
            np.testing.assert_allclose(state[key], case[key][t], rtol=1e-14, atol=0, err_msg=key)
    assert_close(x, case["x_eval"])  # what optimizer.eval() made of the parameters


def schedule_of(case):
    """The rate of a scheduled case: the LambdaLR of the reference script, or lrcourse.schedules."""
    if case["scheduler"][0] == "LambdaLR":
        lr = case["kwargs"]["lr"]
        return lambda t: lr * ramp_then_halve(t)
    return lrcourse_schedule(case)


@pytest.mark.parametrize("case", [c for c in DATA["cases"] if c.get("scheduler")], ids=case_id)
def test_driven_by_lrcourse_schedule_matches_schedulefree(case):
    opt = MAKERS[case["optimizer"]](**dict(kwargs_of(case), lr=schedule_of(case)))
    for t, y, x, _ in replay(case, opt):
        assert_close(y, case["path"][t + 1])
        assert_close(x, case["x_path"][t + 1])


def test_reference_covers_every_option():
    seen = {(c["optimizer"], k) for c in DATA["cases"] for k in c["kwargs"]}
    options = ["lr", "weight_decay", "warmup_steps", "r", "weight_lr_power"]
    expected = {("sgd", o) for o in options + ["momentum"]} | {
        ("adamw", o) for o in options + ["betas", "eps"]
    }
    assert expected <= seen, expected - seen
    assert {c["objective"] for c in DATA["cases"]} == {"quadratic", "rosenbrock", "tree"}
    assert {c["optimizer"] for c in DATA["cases"] if c.get("scheduler")} == {"sgd", "adamw"}
    assert all(len(c["path"]) == len(c["x_path"]) >= 61 for c in DATA["cases"])
    # the other branch of torch.lerp (|1 - 1/beta| >= 0.5) and the ZeroDivisionError branch
    assert any(c["kwargs"].get("momentum") == 0.5 for c in DATA["cases"])
    assert any(c["kwargs"].get("betas", [0.9])[0] == 0.5 for c in DATA["cases"])
    assert any(c["weight_sum"][0] == 0 for c in DATA["cases"] if c["kwargs"]["lr"] > 0)
    assert (
        DATA["meta"]["torch_version"].startswith("2.13") and DATA["meta"]["schedulefree_version"] == "1.4.1"
    )


def test_every_option_of_the_reference_matters():
    """Each option (each component of betas) put back to its default moves some path beyond ATOL.

    ``weight_lr_power`` needs a rising rate: with a constant one ``lr_max ** p`` cancels.
    """
    tried, changed = set(), set()
    for case in DATA["cases"]:
        if case.get("scheduler"):
            continue
        name = case["optimizer"]
        for option, kwargs in ablations(MAKERS[name], kwargs_of(case)):
            tried.add((name, option))
            with np.errstate(all="ignore"):  # the default rate of SGD diverges on Rosenbrock
                path = descend(
                    MAKERS[name](**kwargs), REFERENCE_GRADS[case["objective"]], as_arrays(case["x0"]), 80
                )
            if not max_difference(path, case["path"]) <= ATOL:  # NaN counts as a change
                changed.add((name, option))
    assert tried == changed, f"options that move no path: {sorted(tried - changed)}"
    assert {("sgd", "weight_lr_power"), ("adamw", "weight_lr_power")} <= tried


# ----------------------------------------------------------------- the method


@pytest.mark.parametrize("make", [sgd_schedule_free, adamw_schedule_free])
def test_x_is_the_average_of_the_z_and_y_lies_between(make):
    # r = 0 and a constant rate: equal weights, x_k is the plain mean of z_1..z_k
    opt = make(lr=0.05)
    beta = 0.9
    params = np.array([1.5, 1.0])
    state = opt.init(params)
    zs = []
    for _ in range(40):
        updates, state = opt.update(QUAD.grad(params), state, params)
        params = apply_updates(params, updates)
        zs.append(state["z"])
        x = eval_params(state, params)
        np.testing.assert_allclose(x, np.mean(zs, axis=0), rtol=0, atol=1e-14)
        np.testing.assert_allclose(params, (1 - beta) * state["z"] + beta * x, rtol=0, atol=1e-15)


def test_warmup_and_weighting_of_the_average():
    # during a warmup lr_max grows, and the weights lr_max ** 2 favour the later z's
    opt = sgd_schedule_free(lr=0.1, warmup_steps=4, r=1.0)
    state = opt.init(np.zeros(1))
    for k in range(6):
        _, state = opt.update(np.ones(1), state, np.zeros(1))
        assert state["scheduled_lr"] == pytest.approx(0.1 * min(k + 1, 4) / 4)
    weights = [(k + 1) * (0.1 * min(k + 1, 4) / 4) ** 2 for k in range(6)]
    assert state["weight_sum"] == pytest.approx(sum(weights))
    assert state["lr_max"] == pytest.approx(0.1)


def test_lr_max_keeps_the_peak_when_a_schedule_lowers_the_rate():
    opt = sgd_schedule_free(lr=schedules.step_decay(lr=0.1, step_size=3, gamma=0.5))
    state = opt.init(np.zeros(1))
    for _ in range(7):
        _, state = opt.update(np.ones(1), state, np.zeros(1))
    assert state["scheduled_lr"] == 0.025 and state["lr_max"] == 0.1


def test_hyperparameters_as_schedules_equal_the_numbers():
    constant = schedules.constant
    runs = [
        (sgd_schedule_free(lr=0.05, weight_decay=0.1, r=0.5, weight_lr_power=1.0), None),
        (
            sgd_schedule_free(
                lr=constant(0.05), weight_decay=constant(0.1), r=constant(0.5), weight_lr_power=constant(1.0)
            ),
            None,
        ),
        (adamw_schedule_free(lr=0.05, betas=(0.9, 0.99), eps=1e-3, weight_decay=0.1, r=1.0), None),
        (
            adamw_schedule_free(
                lr=constant(0.05), betas=(0.9, constant(0.99)), eps=constant(1e-3), weight_decay=constant(0.1)
            ),
            None,
        ),
    ]
    a, b, c, d = (run(ROSEN.grad, [-1.5, 2.0], opt, 30) for opt, _ in runs)
    np.testing.assert_array_equal(a, b)
    d_numbers = run(
        ROSEN.grad,
        [-1.5, 2.0],
        adamw_schedule_free(lr=0.05, betas=(0.9, 0.99), eps=1e-3, weight_decay=0.1),
        30,
    )
    np.testing.assert_array_equal(d, d_numbers)
    assert not np.allclose(c, d)  # r=1.0 made a difference


def test_a_changing_weight_decay_schedule_is_read_at_each_step():
    # weight decay only from step 5: the first five steps equal those without any
    wd = lambda t: 0.0 if t < 5 else 0.5  # noqa: E731
    with_wd = run(QUAD.grad, [1.5, 1.0], sgd_schedule_free(lr=0.05, weight_decay=wd), 10)
    without = run(QUAD.grad, [1.5, 1.0], sgd_schedule_free(lr=0.05), 10)
    np.testing.assert_array_equal(with_wd[:6], without[:6])
    assert not np.allclose(with_wd[7:], without[7:])


# ----------------------------------------------------------------- sweeps

# The swept values meet +, -, *, / and sqrt: a member of the sweep is the run with its value
# alone bit for bit. weight_lr_power and betas[1] go through a power, which numpy computes
# for an array with other code than Python's pow for one number (see ulp.py): to round-off.
SWEEPS = [
    ("lr", lambda v: sgd_schedule_free(lr=v, warmup_steps=5), [0.01, 0.05, 0.1], 0.0),
    ("momentum", lambda v: sgd_schedule_free(lr=0.05, momentum=v), [0.3, 0.5, 0.9, 0.99], 0.0),
    ("weight_decay", lambda v: sgd_schedule_free(lr=0.05, weight_decay=v), [0.0, 0.1, 0.5], 0.0),
    ("warmup_steps", lambda v: sgd_schedule_free(lr=0.05, warmup_steps=v), [0, 3, 10], 0.0),
    ("r", lambda v: sgd_schedule_free(lr=0.05, r=v), [0.0, 0.5, 2.0], 0.0),
    ("lr", lambda v: adamw_schedule_free(lr=v, warmup_steps=5, r=1.0), [0.01, 0.05], 0.0),
    ("betas[0]", lambda v: adamw_schedule_free(lr=0.05, betas=(v, 0.999)), [0.5, 0.9], 0.0),
    ("eps", lambda v: adamw_schedule_free(lr=0.05, eps=v), [1e-8, 1e-2], 0.0),
    (
        "weight_lr_power",
        lambda v: adamw_schedule_free(lr=0.05, weight_lr_power=v, warmup_steps=4),
        [0, 1, 2],
        1e-14,
    ),
    ("betas[1]", lambda v: adamw_schedule_free(lr=0.05, betas=(0.9, v)), [0.9, 0.999], 1e-14),
]


@pytest.mark.parametrize("name, make, values, atol", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_sweep_equals_runs_one_at_a_time(name, make, values, atol):
    for objective in (QUAD, ROSEN):
        swept = run(objective.grad, [1.5, 1.0], make(np.array(values)), 40)
        assert swept.shape == (41, len(values), 2)
        for i, value in enumerate(values):
            single = run(objective.grad, [1.5, 1.0], make(value), 40)
            np.testing.assert_allclose(swept[:, i], single, rtol=0, atol=atol)


def test_two_swept_hyperparameters_and_eval_params_of_a_sweep():
    lrs, momenta = np.array([0.01, 0.05])[:, None], np.array([0.5, 0.9, 0.95])
    opt = sgd_schedule_free(lr=lrs, momentum=momenta, warmup_steps=np.array([0, 5, 9]))
    assert opt.sweep_shape == (2, 3)
    params = np.broadcast_to([1.5, 1.0], (2, 3, 2)).copy()
    state = opt.init(params)
    for _ in range(20):
        updates, state = opt.update(QUAD.grad(params), state, params)
        params = apply_updates(params, updates)
    x = eval_params(state, params)
    single = sgd_schedule_free(lr=0.05, momentum=0.95, warmup_steps=9)
    p1 = np.array([1.5, 1.0])
    s1 = single.init(p1)
    for _ in range(20):
        u, s1 = single.update(QUAD.grad(p1), s1, p1)
        p1 = apply_updates(p1, u)
    np.testing.assert_array_equal(params[1, 2], p1)
    np.testing.assert_array_equal(x[1, 2], eval_params(s1, p1))
    assert state["weight_sum"].shape == state["lr_max"].shape == (2, 3)


def test_parameters_with_their_own_sweep_axes():
    starts = np.array([[1.5, 1.0], [-1.0, 0.5], [0.2, -2.0]])
    path = run(QUAD.grad, starts, adamw_schedule_free(lr=0.05), 20)
    for i, x0 in enumerate(starts):
        np.testing.assert_array_equal(path[:, i], run(QUAD.grad, x0, adamw_schedule_free(lr=0.05), 20))


# ----------------------------------------------------------------- purity, input


@pytest.mark.parametrize(
    "opt", [sgd_schedule_free(lr=0.1, weight_decay=0.1), adamw_schedule_free(weight_decay=0.1)], ids=repr
)
def test_inputs_are_not_mutated(opt):
    p = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    g = {"w": np.ones((2, 2)), "b": np.ones(2)}
    state = opt.init(p)
    _, state = opt.update(g, state, p)
    copies = [{k: v.copy() for k, v in t.items()} for t in (p, g, state["z"])]
    if "exp_avg_sq" in state:
        copies.append({k: v.copy() for k, v in state["exp_avg_sq"].items()})
    book = (state["step"], state["weight_sum"], state["lr_max"])
    updates, new = opt.update(g, state, p)
    x = eval_params(new, apply_updates(p, updates))
    for before, after in zip(copies, (p, g, state["z"], state.get("exp_avg_sq")), strict=False):
        np.testing.assert_equal(after, before)
    assert (state["step"], state["weight_sum"], state["lr_max"]) == book
    assert new["step"] == 2 and x["w"] is not p["w"]


def test_eval_params_refuses_a_state_of_another_optimizer():
    params = np.array([1.5, 1.0])
    with pytest.raises(ValueError, match="needs the state of sgd_schedule_free"):
        eval_params(sgd(lr=0.1).init(params), params)


def test_repr_and_hyperparameters():
    opt = adamw_schedule_free(lr=np.ones(3) * 0.01, warmup_steps=10)
    assert repr(opt).startswith("adamw_schedule_free(lr=array(3,)")
    assert opt.sweep_shape == (3,)
    assert sgd_schedule_free().hyperparams == {
        "lr": 1.0,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    }
    defaults = adamw_schedule_free().hyperparams
    assert (defaults["lr"], defaults["beta1"], defaults["beta2"], defaults["eps"]) == (
        0.0025,
        0.9,
        0.999,
        1e-8,
    )


BAD = [
    (lambda: sgd_schedule_free(lr=-1.0), "lr must be in [0, inf), got -1.0"),
    (lambda: sgd_schedule_free(momentum=0.0), "momentum must be in (0, 1), got 0.0"),
    (lambda: sgd_schedule_free(momentum=1.0), "momentum must be in (0, 1), got 1.0"),
    (lambda: sgd_schedule_free(momentum=np.array([0.9, 1.2])), "first bad element 1.2"),
    (lambda: sgd_schedule_free(momentum=lambda t: 0.9), "momentum must be a number in (0, 1) or an array"),
    (lambda: sgd_schedule_free(weight_decay=-0.1), "weight_decay must be in [0, inf), got -0.1"),
    (lambda: sgd_schedule_free(warmup_steps=-1), "warmup_steps must be an integer in [0, inf], got -1"),
    (lambda: sgd_schedule_free(warmup_steps=2.5), "warmup_steps must be an integer >= 0 or an array"),
    (lambda: sgd_schedule_free(warmup_steps=True), "warmup_steps must be an integer"),
    (lambda: sgd_schedule_free(warmup_steps=np.array([3, -2])), "warmup_steps must be >= 0"),
    (lambda: sgd_schedule_free(r=-0.5), "r must be in [0, inf), got -0.5"),
    (lambda: sgd_schedule_free(weight_lr_power=float("nan")), "weight_lr_power must not be NaN"),
    (lambda: sgd_schedule_free(lr=lambda t: -0.1), "lr must be in [0, inf), got -0.1"),
    (lambda: adamw_schedule_free(betas=(0.0, 0.999)), "betas[0] must be in (0, 1), got 0.0"),
    (lambda: adamw_schedule_free(betas=(lambda t: 0.9, 0.999)), "betas[0] must be a number in (0, 1)"),
    (lambda: adamw_schedule_free(betas=(0.9, 1.0)), "betas[1] must be in [0, 1), got 1.0"),
    (lambda: adamw_schedule_free(betas=0.9), "betas must be a pair"),
    (lambda: adamw_schedule_free(eps=-1e-8), "eps must be in [0, inf)"),
    (lambda: adamw_schedule_free(r="fast"), "r must be a number"),
    (lambda: sgd_schedule_free(lr=np.ones(2), momentum=np.full(3, 0.9)), "must broadcast together"),
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


@pytest.mark.parametrize("make", [sgd_schedule_free, adamw_schedule_free])
def test_fit_trains_an_mlp_and_watch_reports_the_loss_at_x(make, classification):
    model = models.MLP(4, hidden=(8,), n_classes=3)
    X, y = classification.X_train, classification.y_train
    opt = make(lr=0.5 if make is sgd_schedule_free else 0.02, warmup_steps=5)

    def loss_at_x(state, params):
        return model.evaluate(eval_params(state, params), X, y)[0]

    params, history = training.fit(
        model, classification, opt, epochs=30, shuffle=False, watch=loss_at_x, record="end"
    )
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert history.watched.shape == (30,) and history.watched[-1] < 0.7 * history.train_loss[0]
    # fit's parameters are y: the same as a loop of full-batch updates by hand
    p = model.init(0)
    state = opt.init(p)
    for _ in range(30):
        _, grads = model.loss_and_grad(p, X, y)
        updates, state = opt.update(grads, state, p)
        p = apply_updates(p, updates)
    for k in p:
        np.testing.assert_allclose(params[k], p[k], rtol=0, atol=1e-12)
    assert history.watched[-1] == pytest.approx(loss_at_x(state, p), abs=1e-12)


def test_fit_with_a_constructor_and_a_swept_rate(classification):
    model = models.MLP(4, hidden=(8,), n_classes=3)
    lrs = np.array([0.01, 0.05])
    params, history = training.fit(
        model, classification, adamw_schedule_free, epochs=3, batch_size=16, lr=lrs, record="end"
    )
    assert params["W1"].shape == (2, 4, 8) and history.train_loss.shape == (2, 2)
    one, _ = training.fit(
        model, classification, adamw_schedule_free, epochs=3, batch_size=16, lr=0.05, record="end"
    )
    np.testing.assert_allclose(params["W1"][1], one["W1"], rtol=0, atol=1e-12)

"""Layer-wise learning rates: one optimizer per group of parameters."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from lrcourse import data, lr_finder, models, training
from lrcourse.labs import layerwise
from lrcourse.optimizers import adam, adamw, apply_updates, clipped, sgd


@pytest.fixture(scope="module")
def problem():
    X, y = data.load_digits()
    split, _ = data.standardize(data.train_val_test_split(X, y, seed=0))
    small = data.Split(split.X_train[:200], split.y_train[:200], split.X_val[:100], split.y_val[:100])
    return models.MLP(64, hidden=(16, 8), n_classes=10), small


def _steps(model, split, opt, params, n=6):
    """``n`` full-batch updates; the parameters after each."""
    state = opt.init(params)
    out = []
    for _ in range(n):
        _, grads = model.loss_and_grad(params, split.X_train, split.y_train)
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        out.append(params)
    return out


def test_partition_equals_separate_optimizers(problem):
    model, split = problem
    p0 = model.init(0)
    groups = {"early": ["W1", "b1"], "rest": "*"}
    opt = layerwise.partition({"early": adam(lr=1e-3), "rest": sgd(lr=0.1, momentum=0.9)}, groups)
    joined = _steps(model, split, opt, p0)
    # the same updates by hand: Adam on layer 1 alone, SGD with momentum on the rest alone
    a, s = adam(lr=1e-3), sgd(lr=0.1, momentum=0.9)
    early = {k: p0[k] for k in ("W1", "b1")}
    rest = {k: p0[k] for k in p0 if k not in early}
    sa, ss = a.init(early), s.init(rest)
    params = p0
    for after in joined:
        _, grads = model.loss_and_grad(params, split.X_train, split.y_train)
        ua, sa = a.update({k: grads[k] for k in early}, sa, {k: params[k] for k in early})
        us, ss = s.update({k: grads[k] for k in rest}, ss, {k: params[k] for k in rest})
        params = apply_updates(params, {**ua, **us})
        for k in params:
            np.testing.assert_array_equal(after[k], params[k])
    assert list(joined[-1]) == list(p0)  # the parameters keep their order


def test_a_rate_of_zero_freezes_a_group(problem):
    model, split = problem
    p0 = model.init(0)
    for make in (sgd, functools.partial(sgd, momentum=0.9), adam):
        opt = layerwise.partition(
            {"frozen": make(lr=0.0), "rest": make(lr=0.05)}, {"frozen": "*1", "rest": "*"}
        )
        last = _steps(model, split, opt, p0)[-1]
        np.testing.assert_array_equal(last["W1"], p0["W1"])
        np.testing.assert_array_equal(last["b1"], p0["b1"])
        assert not np.array_equal(last["W2"], p0["W2"])
    opt = layerwise.partition(
        {"frozen": layerwise.frozen(), "rest": sgd(lr=0.05)}, {"frozen": "*1", "rest": "*"}
    )
    last = _steps(model, split, opt, p0)[-1]
    np.testing.assert_array_equal(last["W1"], p0["W1"])


def test_scaled_with_factors_one_is_the_plain_optimizer(problem):
    model, split = problem
    make = layerwise.scaled(sgd, {"a": 1.0, "b": 1.0}, {"a": ["W1", "b1"], "b": "*"})
    _, h1 = training.fit(model, split, make, 3, 32, lr=0.1)
    _, h2 = training.fit(model, split, sgd, 3, 32, lr=0.1)
    np.testing.assert_array_equal(h1.val_loss, h2.val_loss)  # exact: lr * 1.0 is lr


def test_scaled_multiplies_a_schedule(problem):
    model, split = problem
    groups = layerwise.by_layer(model.init(0))
    factors = {"layer1": 0.1, "layer2": 0.5, "layer3": 1.0}
    make = layerwise.scaled(sgd, factors, groups, momentum=0.9)

    def schedule(t):
        return 0.2 / (1 + t)

    opt = make(lr=schedule)
    assert opt.hyperparams["lr"](4) == pytest.approx(0.2 / 5)  # the largest group rate
    rates = functools.partial
    p0 = model.init(0)
    joined = _steps(model, split, opt, p0, n=4)
    hand = layerwise.partition(
        {g: sgd(lr=rates(lambda t, m: m * schedule(t), m=m), momentum=0.9) for g, m in factors.items()},
        groups,
    )
    for a, b in zip(joined, _steps(model, split, hand, p0, n=4), strict=True):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-13)


def test_fit_records_the_largest_rate(problem):
    model, split = problem
    opt = layerwise.partition({"a": sgd(lr=0.01), "b": sgd(lr=0.2)}, {"a": "*1", "b": "*"})
    _, h = training.fit(model, split, opt, 2, 50)
    assert np.all(h.update_lr == 0.2)
    make = layerwise.scaled(sgd, {"a": 0.1, "b": 1.0}, {"a": "*1", "b": "*"})
    result = lr_finder.range_test(model, split, make, steps=20, batch_size=32)
    assert len(result.lrs) > 0


def test_sweeps_go_through(problem):
    model, split = problem
    lrs = np.array([0.01, 0.1, 1.0])
    make = layerwise.scaled(sgd, {"a": 0.0, "b": 1.0}, {"a": "*1", "b": "*"})
    opt = make(lr=lrs)
    assert opt.sweep_shape == (3,)
    p0 = model.init(0, sweep=3)
    last = _steps(model, split, opt, p0, n=2)[-1]
    np.testing.assert_array_equal(last["W1"], p0["W1"])
    assert not np.array_equal(last["W3"][1], p0["W3"][1])


def test_a_clipped_group_beside_a_rate_sweep_clips_each_member_by_its_own_norm(problem):
    # The partition's sweep gives every parameter the sweep axis; the clipped group must
    # take it for a sweep axis, not pool the members' gradients into one norm.
    model, split = problem
    lrs = np.array([1e-3, 1e-2, 1e-1])
    groups = {"first": ["W1", "b1"], "rest": "*"}

    def make(lr):
        return layerwise.partition({"first": clipped(sgd(lr=0.1), 0.05), "rest": adamw(lr=lr)}, groups)

    assert make(lrs).sweep_axes == 1 and make(0.1).sweep_axes == 0
    swept = _steps(model, split, make(lrs), model.init(0, sweep=3), n=4)[-1]
    for i, lr in enumerate(lrs):
        alone = _steps(model, split, make(float(lr)), model.init(0), n=4)[-1]
        for k in alone:
            np.testing.assert_allclose(swept[k][i], alone[k], rtol=0, atol=1e-14)


def test_a_group_built_with_another_sweep_axes_is_refused():
    opt = layerwise.partition(
        {"a": clipped(sgd(lr=0.1), 1.0, sweep_axes=0), "b": sgd(lr=0.1)}, {"a": "W1", "b": "*"}
    )
    assert opt.sweep_axes == 0
    with pytest.raises(
        ValueError, match=r"partition \(group 'a'\) gives the parameters 1 sweep axes.*sweep_axes=1"
    ):
        layerwise.partition(
            {"a": clipped(sgd(lr=0.1), 1.0, sweep_axes=0), "b": sgd(lr=np.ones(3))}, {"a": "W1", "b": "*"}
        )


def test_assign_and_by_layer():
    keys = ["W1", "b1", "W2", "b2", "W10"]
    assert layerwise.assign(keys, {"first": ["W1", "b1"], "rest": "*"}) == {
        "W1": "first",
        "b1": "first",
        "W2": "rest",
        "b2": "rest",
        "W10": "rest",
    }
    assert layerwise.assign(keys, lambda k: "w" if k.startswith("W") else "b")["b2"] == "b"
    assert layerwise.by_layer(keys) == {"layer1": ["W1", "b1"], "layer2": ["W2", "b2"], "layer10": ["W10"]}


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (lambda: layerwise.assign(["W1", "W2"], {"a": "W1"}), "matches no group"),
        (lambda: layerwise.assign(["W1"], {"a": "W1", "b": "*"}), "match no parameter"),
        (lambda: layerwise.assign(["W1"], {"a": 3}), "key pattern"),
        (lambda: layerwise.by_layer(["W1", "scale"]), "layer number"),
        (lambda: layerwise.partition({"a": sgd}, {"a": "*"}), "not the constructor"),
        (lambda: layerwise.partition({"a": sgd(lr=0.1)}, {"b": "*"}), "same groups"),
        (lambda: layerwise.scaled(sgd, {"a": -1.0}, {"a": "*"}), "factors"),
        (lambda: layerwise.layer_decay(0.1, 0.5, 0), "n_layers"),
    ],
)
def test_mistakes_are_explained(call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call()


def test_partition_needs_a_dict():
    opt = layerwise.partition({"a": sgd(lr=0.1)}, {"a": "*"})
    with pytest.raises(ValueError, match="dict"):
        opt.init(np.zeros(3))


def test_layer_decay():
    np.testing.assert_allclose(layerwise.layer_decay(0.1, 0.5, 3), [0.025, 0.05, 0.1])
    np.testing.assert_allclose(layerwise.layer_decay(0.3, 1.0, 2), [0.3, 0.3])
    np.testing.assert_allclose(layerwise.layer_decay(0.3, 0.0, 2), [0.0, 0.3])
    assert layerwise.layer_decay(0.2, 0.1, 1).tolist() == [0.2]

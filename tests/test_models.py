import numpy as np
import pytest
from helpers import numerical_grad

from lrcourse import models
from lrcourse.models import MLP, LinearRegression, LogisticRegression, SoftmaxRegression
from lrcourse.optimizers import apply_updates, sgd

RNG = np.random.default_rng(0)
X = RNG.normal(size=(9, 4))
Y_REG = RNG.normal(size=9)
Y_BIN = (RNG.random(9) > 0.5).astype(np.int64)
Y_CLS = RNG.integers(0, 3, size=9)

CASES = [
    (LinearRegression(4), Y_REG),
    (LinearRegression(4, l2=0.3), Y_REG),
    (LogisticRegression(4), Y_BIN),
    (LogisticRegression(4, l2=0.3), Y_BIN),
    (SoftmaxRegression(4, 3), Y_CLS),
    (SoftmaxRegression(4, 3, l2=0.3), Y_CLS),
    (MLP(4, hidden=(5,), n_classes=3), Y_CLS),
    (MLP(4, hidden=(5, 6), n_classes=3, activation="tanh", l2=0.2), Y_CLS),
    (MLP(4, hidden=(6,), activation="tanh"), Y_REG),
    (MLP(4, hidden=(5, 3), activation="relu", l2=0.1), Y_REG),
    (MLP(4, hidden=(5, 6), n_classes=3, activation="tanh", criterion="squared_error", l2=0.1), Y_CLS),
    (MLP(4, hidden=(6,), n_classes=3, base_width=3), Y_CLS),
]
IDS = [repr(m) for m, _ in CASES]


def _perturbed(model, seed=1, sweep=()):
    """Parameters away from the (often zero) start, so every gradient term matters."""
    rng = np.random.default_rng(seed)
    params = model.init(seed, sweep=sweep)
    return {k: v + 0.5 * rng.normal(size=np.shape(v)) for k, v in params.items()}


@pytest.mark.parametrize("model, y", CASES, ids=IDS)
def test_gradient_matches_finite_differences(model, y):
    params = _perturbed(model)
    loss, grads = model.loss_and_grad(params, X, y)
    numeric = numerical_grad(model, params, X, y)
    assert set(grads) == set(params)
    for key in params:
        assert grads[key].shape == np.shape(params[key])
        np.testing.assert_allclose(grads[key], numeric[key], rtol=1e-6, atol=1e-8, err_msg=key)
    assert loss == pytest.approx(model.loss(params, X, y))


@pytest.mark.parametrize("model, y", CASES, ids=IDS)
def test_sweep_axis_gives_one_independent_model_per_member(model, y):
    params = _perturbed(model, sweep=(3,))
    loss, grads = model.loss_and_grad(params, X, y)
    assert loss.shape == (3,)
    for s in range(3):
        member = {k: v[s] for k, v in params.items()}
        one_loss, one_grads = model.loss_and_grad(member, X, y)
        assert loss[s] == pytest.approx(one_loss)
        for key in params:
            np.testing.assert_allclose(grads[key][s], one_grads[key], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(model.predict(params, X)[s], model.predict(member, X), rtol=1e-12)


def test_init_repeats_the_same_start_across_the_sweep_and_is_seeded():
    model = MLP(4, hidden=(5,), n_classes=3)
    p = model.init(seed=2, sweep=(4,))
    assert p["W1"].shape == (4, 4, 5) and p["b2"].shape == (4, 3)
    np.testing.assert_array_equal(p["W1"][0], p["W1"][3])
    np.testing.assert_array_equal(model.init(seed=2)["W1"], p["W1"][0])
    assert not np.array_equal(model.init(seed=3)["W1"], p["W1"][0])
    p["W1"][0, 0, 0] += 1.0  # members are copies, not views of one array
    assert p["W1"][1, 0, 0] != p["W1"][0, 0, 0]


def test_mlp_initial_scales():
    relu = MLP(400, hidden=(300,), n_classes=10).init(0)
    tanh = MLP(400, hidden=(300,), n_classes=10, activation="tanh").init(0)
    assert relu["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh["W1"].std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    assert relu["W2"].std() == pytest.approx(np.sqrt(1 / 300), rel=0.05)
    assert np.all(relu["b1"] == 0)


def test_squared_error_of_a_classifier_is_the_distance_to_one_hot_targets():
    model = MLP(4, hidden=(5,), n_classes=3, criterion="squared_error")
    params = model.init(0)
    out = model.output(params, X)
    expected = np.mean(np.sum((out - np.eye(3)[Y_CLS]) ** 2, axis=1))
    assert model.loss(params, X, Y_CLS) == pytest.approx(expected, rel=1e-12)
    assert model.evaluate(params, X, Y_CLS)[1] == pytest.approx(np.mean(out.argmax(axis=1) == Y_CLS))


def test_mup_init_shrinks_only_the_output_layer():
    sp = MLP(64, hidden=(128, 128), n_classes=10, activation="tanh").init(3)
    mup = MLP(64, hidden=(128, 128), n_classes=10, activation="tanh", base_width=32).init(3)
    np.testing.assert_array_equal(mup["W1"], sp["W1"])
    np.testing.assert_array_equal(mup["W2"], sp["W2"])
    np.testing.assert_allclose(mup["W3"], sp["W3"] / 2.0, rtol=1e-15)  # sqrt(128 / 32) = 2
    at_base = MLP(64, hidden=(32,), n_classes=10, base_width=32)
    np.testing.assert_array_equal(at_base.init(0)["W2"], MLP(64, hidden=(32,), n_classes=10).init(0)["W2"])
    assert MLP(4, hidden=(8, 6), n_classes=3, base_width=(2, 3)).width_multipliers == (1.0, 4.0, 2.0, 1.0)
    assert MLP(4, hidden=(8, 6), n_classes=3).width_multipliers == (1.0, 1.0, 1.0, 1.0)


def test_n_params():
    assert LinearRegression(7).n_params == 8
    assert SoftmaxRegression(64, 10).n_params == 650
    assert MLP(64, hidden=(32, 16), n_classes=10).n_params == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10


def test_linear_regression_loss_is_mse_and_gd_reaches_least_squares():
    model = LinearRegression(4)
    params = model.init()
    assert model.loss(params, X, Y_REG) == pytest.approx(np.mean(Y_REG**2))
    opt = sgd(lr=0.1)
    state = opt.init(params)
    for _ in range(3000):
        _, grads = model.loss_and_grad(params, X, Y_REG)
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
    A = np.column_stack([X, np.ones(len(X))])
    coef = np.linalg.lstsq(A, Y_REG, rcond=None)[0]
    np.testing.assert_allclose(params["w"], coef[:4], atol=1e-8)
    assert params["b"] == pytest.approx(coef[4], abs=1e-8)


def test_logistic_regression_matches_textbook_cross_entropy():
    model = LogisticRegression(4)
    params = _perturbed(model)
    p = model.predict_proba(params, X)
    textbook = -np.mean(Y_BIN * np.log(p) + (1 - Y_BIN) * np.log(1 - p))
    assert model.loss(params, X, Y_BIN) == pytest.approx(textbook)
    np.testing.assert_array_equal(model.predict(params, X), (p > 0.5).astype(int))
    assert model.accuracy(params, X, Y_BIN) == pytest.approx(np.mean((p > 0.5) == Y_BIN))


def test_logistic_loss_is_stable_for_huge_logits():
    model = LogisticRegression(1)
    params = {"w": np.array([1e4]), "b": np.array(0.0)}
    Xbig = np.array([[1.0], [-1.0]])
    loss = model.loss(params, Xbig, np.array([0, 1]))  # both badly wrong: loss = 1e4
    assert loss == pytest.approx(1e4)
    loss, grads = model.loss_and_grad(params, Xbig, np.array([1, 0]))
    assert loss == pytest.approx(0.0, abs=1e-12) and np.isfinite(grads["w"]).all()


def test_softmax_regression_matches_textbook_cross_entropy():
    model = SoftmaxRegression(4, 3)
    params = _perturbed(model)
    P = model.predict_proba(params, X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    textbook = -np.mean(np.log(P[np.arange(9), Y_CLS]))
    assert model.loss(params, X, Y_CLS) == pytest.approx(textbook)
    np.testing.assert_array_equal(model.predict(params, X), P.argmax(axis=1))


def test_stable_softmax_and_logsumexp():
    z = np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), -np.inf]])
    np.testing.assert_allclose(models.logsumexp(z), [1000 + np.log(2), np.log(4.0)])
    np.testing.assert_allclose(models.softmax(z), [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]])
    np.testing.assert_allclose(models.log_softmax(z)[0, :2], np.log(0.5))
    np.testing.assert_allclose(models.sigmoid(np.array([-800.0, 0.0, 800.0])), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(models.logsumexp(z.T, axis=0), models.logsumexp(z))


def test_l2_penalty_is_half_lambda_squared_weights_not_biases():
    model = SoftmaxRegression(4, 3, l2=0.5)
    plain = SoftmaxRegression(4, 3)
    params = _perturbed(model)
    diff = model.loss(params, X, Y_CLS) - plain.loss(params, X, Y_CLS)
    assert diff == pytest.approx(0.25 * np.sum(params["W"] ** 2))
    mlp, mlp0 = MLP(4, (5,), 3, l2=0.5), MLP(4, (5,), 3)
    p = _perturbed(mlp)
    expected = 0.25 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert mlp.loss(p, X, Y_CLS) - mlp0.loss(p, X, Y_CLS) == pytest.approx(expected)


def test_mlp_learns_xor_which_logistic_regression_cannot():
    Xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    yx = np.array([0, 1, 1, 0])
    model = MLP(2, hidden=(8,), n_classes=2, activation="tanh")
    params = model.init(seed=0)
    opt = sgd(lr=0.5)
    state = opt.init(params)
    for _ in range(2000):
        _, grads = model.loss_and_grad(params, Xx, yx)
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
    assert model.accuracy(params, Xx, yx) == 1.0


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: MLP(4, activation="sigmoid"), "activation must be one of 'relu', 'tanh', got 'sigmoid'"),
        (lambda: MLP(4, hidden=()), "hidden"),
        (lambda: MLP(4, hidden=(0,)), "hidden"),
        (lambda: MLP(4, n_classes=1), "n_classes"),
        (lambda: MLP(4, n_classes=3, criterion="hinge"), "criterion must be one of"),
        (lambda: MLP(4, hidden=(8, 8), base_width=(2, 2, 2)), "one per hidden layer"),
        (lambda: MLP(4, hidden=(8,), base_width=0), "base_width"),
        (lambda: LinearRegression(0), "n_features"),
        (lambda: LogisticRegression(3, l2=-1.0), "l2"),
        (lambda: SoftmaxRegression(3, 1), "n_classes"),
        (lambda: LinearRegression(3).init(sweep=(0,)), "sweep"),
    ],
)
def test_bad_model_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_shape_mismatches_are_reported():
    model = SoftmaxRegression(4, 3)
    params = model.init()
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 4\), got shape \(9, 5\)"):
        model.loss(params, np.zeros((9, 5)), Y_CLS)
    with pytest.raises(ValueError, match=r"y must have shape \(9,\)"):
        model.loss_and_grad(params, X, Y_CLS[:5])
    with pytest.raises(ValueError, match="accuracy needs a classifier"):
        LinearRegression(4).accuracy(LinearRegression(4).init(), X, Y_REG)
    with pytest.raises(ValueError, match="predict_proba needs a classifier"):
        MLP(4).predict_proba(MLP(4).init(), X)


def test_validate_checks_labels_and_nan():
    model = SoftmaxRegression(4, 3)
    Xv, yv = model.validate(X, Y_CLS.astype(float))
    assert yv.dtype == np.int64
    with pytest.raises(ValueError, match=r"integer class labels in \[0, 2\]"):
        model.validate(X, np.full(9, 3))
    with pytest.raises(ValueError, match=r"integer class labels in \[0, 1\]"):
        LogisticRegression(4).validate(X, np.full(9, 0.5))
    bad = X.copy()
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        model.validate(bad, Y_CLS)
    with pytest.raises(ValueError, match="must have 4 features"):
        model.validate(np.zeros((9, 2)), Y_CLS)
    with pytest.raises(ValueError, match="y must be finite"):
        LinearRegression(4).validate(X, np.full(9, np.nan))


@pytest.mark.parametrize("model, y", CASES, ids=IDS)
def test_evaluate_is_loss_and_accuracy(model, y):
    params = _perturbed(model)
    loss, accuracy = model.evaluate(params, X, y)
    assert loss == pytest.approx(model.loss(params, X, y))
    if model.task == "classification":
        assert accuracy == model.accuracy(params, X, y)
    else:
        assert accuracy is None


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_evaluate_gives_the_numbers_of_loss_and_accuracy(kind):
    """evaluate computes the logits once; its numbers are those of loss and accuracy, bit for bit."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    if kind == "logistic":
        model, y = models.LogisticRegression(4, l2=0.1), rng.integers(0, 2, 50)
    else:
        model, y = models.SoftmaxRegression(4, 3, l2=0.1), rng.integers(0, 3, 50)
    params = {k: rng.normal(size=(5,) + v.shape) for k, v in model.init(0).items()}
    loss, accuracy = model.evaluate(params, X, y)
    np.testing.assert_array_equal(loss, model.loss(params, X, y))
    np.testing.assert_array_equal(accuracy, model.accuracy(params, X, y))

"""The chapter 11 checkers: clipping by global norm and one step of Lion."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import checks
from lrcourse.optimizers import clip_grad_norm, lion


def _run(check, answer, capsys, record=None):
    ok = check(answer, record=record)
    return ok, capsys.readouterr().out


def _said(out, hint):
    return hint in " ".join(out.split())


# ----------------------------------------------------------------- clipping by global norm


def good_clip(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads]


def good_clip_without_eps(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * min(1.0, max_norm / norm) for g in grads]


def test_the_reference_is_torchs_rule():
    grads = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])]
    ours, norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    for a, b in zip(ours, good_clip(grads, 1.0), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("answer", [good_clip, good_clip_without_eps])
def test_a_correct_clip_passes(answer, capsys):
    record = []
    ok, out = _run(checks.check_clip_by_global_norm, answer, capsys, record)
    assert ok and out.startswith("✔ clip_by_global_norm")
    assert record[0].passed


def _per_array(grads, c):
    return [g * min(1.0, c / np.linalg.norm(g)) for g in grads]


def _by_value(grads, c):
    return [np.clip(g, -c, c) for g in grads]


def _always(grads, c):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * c / norm for g in grads]


def _sum_norms(grads, c):
    total = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, c / total) for g in grads]


def _squared(grads, c):
    total = sum(np.sum(g**2) for g in grads)
    return [g * min(1.0, c / total) for g in grads]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (_per_array, "each array is clipped by its own norm"),
        (_by_value, "clip by value"),
        (_always, "must pass unchanged"),
        (_sum_norms, "not the sum of the arrays' norms"),
        (_squared, "not by its square"),
    ],
)
def test_each_mistake_gets_its_hint(answer, hint, capsys):
    ok, out = _run(checks.check_clip_by_global_norm, answer, capsys)
    assert not ok and out.startswith("✘")
    assert _said(out, hint), out


def test_stubs_and_shapes(capsys):
    def stub(grads, max_norm):
        raise NotImplementedError

    ok, out = _run(checks.check_clip_by_global_norm, stub, capsys)
    assert not ok and "not yet solved" in out
    ok, out = _run(checks.check_clip_by_global_norm, None, capsys)
    assert not ok and "not yet solved" in out
    ok, out = _run(checks.check_clip_by_global_norm, lambda g, c: None, capsys)
    assert not ok and "not yet solved" in out
    ok, out = _run(checks.check_clip_by_global_norm, lambda g, c: g[0], capsys)
    assert not ok and "shape" in out


def test_clipping_in_place_fails(capsys):
    def in_place(grads, max_norm):
        total = np.sqrt(sum(np.sum(g**2) for g in grads))
        for g in grads:
            g *= min(1.0, max_norm / total)
        return grads

    ok, out = _run(checks.check_clip_by_global_norm, in_place, capsys)
    assert not ok and _said(out, "changed in place"), out


# ----------------------------------------------------------------- Lion


def good_lion(theta, grad, m, lr, beta1, beta2, weight_decay):
    c = beta1 * m + (1 - beta1) * grad
    new_theta = theta * (1 - lr * weight_decay) - lr * np.sign(c)
    return new_theta, beta2 * m + (1 - beta2) * grad


def test_the_lion_reference_is_the_optimizers():
    rng = np.random.default_rng(3)
    theta, m0 = rng.normal(size=5), np.zeros(5)
    opt = lion(lr=0.01, betas=(0.9, 0.99), weight_decay=0.5)
    state = opt.init(theta)
    m = m0
    for _ in range(3):
        g = rng.normal(size=5)
        updates, state = opt.update(g, state, theta)
        expected, m = good_lion(theta, g, m, 0.01, 0.9, 0.99, 0.5)
        theta = theta + updates
        np.testing.assert_allclose(theta, expected, rtol=1e-13)


def test_a_correct_lion_step_passes(capsys):
    ok, out = _run(checks.check_lion_step, good_lion, capsys)
    assert ok and out.startswith("✔ lion_step")


def _new_m_first(theta, grad, m, lr, beta1, beta2, wd):
    m = beta2 * m + (1 - beta2) * grad
    return theta * (1 - lr * wd) - lr * np.sign(m), m


def _no_sign(theta, grad, m, lr, beta1, beta2, wd):
    c = beta1 * m + (1 - beta1) * grad
    return theta * (1 - lr * wd) - lr * c, beta2 * m + (1 - beta2) * grad


def _wd_no_lr(theta, grad, m, lr, beta1, beta2, wd):
    t, m2 = good_lion(theta, grad, m, lr, beta1, beta2, 0.0)
    return t - wd * theta, m2


def _m_beta1(theta, grad, m, lr, beta1, beta2, wd):
    t, _ = good_lion(theta, grad, m, lr, beta1, beta2, wd)
    return t, beta1 * m + (1 - beta1) * grad


def _uphill(theta, grad, m, lr, beta1, beta2, wd):
    c = beta1 * m + (1 - beta1) * grad
    return theta * (1 - lr * wd) + lr * np.sign(c), beta2 * m + (1 - beta2) * grad


@pytest.mark.parametrize(
    "answer, hint",
    [
        (_new_m_first, "with beta1 and the old m"),
        (_no_sign, "every entry moves by exactly lr"),
        (_wd_no_lr, "scaled by the rate"),
        (_m_beta1, "updated with beta2"),
        (_uphill, "step against the sign"),
    ],
)
def test_each_lion_mistake_gets_its_hint(answer, hint, capsys):
    ok, out = _run(checks.check_lion_step, answer, capsys)
    assert not ok and _said(out, hint), out


def test_lion_stub(capsys):
    def stub(theta, grad, m, lr, beta1, beta2, weight_decay):
        raise NotImplementedError

    ok, out = _run(checks.check_lion_step, stub, capsys)
    assert not ok and "not yet solved" in out

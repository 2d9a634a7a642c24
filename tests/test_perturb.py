"""The robustness probe: off by default, a tiny relative nudge of seeded starts when asked."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import _perturb, data, models, objectives, optimizers
from lrcourse.descent import run


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("LRCOURSE_PERTURB", raising=False)
    a = np.linspace(1.0, 2.0, 5)
    assert _perturb.perturbed(a) is a


def test_relative_size_fixed_pattern_and_labels_untouched(monkeypatch):
    monkeypatch.setenv("LRCOURSE_PERTURB", "1e-12")
    X, y = data.load_digits()
    monkeypatch.delenv("LRCOURSE_PERTURB")
    X0, y0 = data.load_digits()
    rel = np.abs(X - X0) / np.where(X0 == 0, 1, X0)
    assert 0 < rel.max() <= 1e-12
    assert (X[X0 == 0] == 0).all()  # relative: zeros stay zero
    assert (y == y0).all() and y.dtype == y0.dtype
    monkeypatch.setenv("LRCOURSE_PERTURB", "1e-12")
    assert (data.load_digits()[0] == X).all()  # the same nudge every time


def test_reaches_weights_data_and_starting_points(monkeypatch):
    mlp = models.MLP(4, hidden=(3,), n_classes=2)
    W0 = mlp.init(seed=0)["W1"]
    X0 = data.make_linear_regression(seed=0)[0]
    f = objectives.quadratic(1.0, 10.0)
    p0 = run(f.grad, [1.0, 2.0], optimizers.sgd(lr=0.0), steps=0)[0]
    monkeypatch.setenv("LRCOURSE_PERTURB", "1e-12")
    assert 0 < np.abs(mlp.init(seed=0)["W1"] / W0 - 1).max() <= 1e-12
    assert 0 < np.abs(data.make_linear_regression(seed=0)[0] / X0 - 1).max() <= 1e-12
    p = run(f.grad, [1.0, 2.0], optimizers.sgd(lr=0.0), steps=0)[0]
    assert 0 < np.abs(p / p0 - 1).max() <= 1e-12


@pytest.mark.parametrize("bad", ["big", "-1e-12", "0.5"])
def test_bad_setting_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("LRCOURSE_PERTURB", bad)
    with pytest.raises(ValueError, match="LRCOURSE_PERTURB"):
        _perturb.perturbed(np.ones(3))


def test_bad_seed_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LRCOURSE_PERTURB", "1e-12")
    monkeypatch.setenv("LRCOURSE_PERTURB_SEED", "-3")
    with pytest.raises(ValueError, match="LRCOURSE_PERTURB_SEED"):
        _perturb.perturbed(np.ones(3))

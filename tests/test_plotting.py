import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import make_blobs, make_moons  # noqa: E402

from lrcourse import data, lr_finder, models, plotting  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402
from lrcourse.training import fit  # noqa: E402

DIVERGED = plotting.STYLE["diverged"]["color"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def split():
    X, y, _ = data.make_linear_regression(n_samples=100, n_features=5, noise=0.5, seed=0)
    return data.standardize(data.train_val_test_split(X, y, test_fraction=0.0, seed=0))[0]


def _legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def _diverged_markers(ax):
    return [line for line in ax.get_lines() if line.get_label() == "diverged" and line.get_marker() == "x"]


def test_palette_is_the_okabe_ito_set_and_runs_cycle():
    assert len(plotting.PALETTE) == 8 and plotting.PALETTE["vermillion"] == "#D55E00"
    assert all(mcolors.is_color_like(c) for c in plotting.PALETTE.values())
    assert plotting.run_color(0) == plotting.run_color(8) != plotting.run_color(1)
    assert plotting.STYLE["train"]["color"] != plotting.STYLE["val"]["color"]


def test_loss_curves_per_update_and_per_epoch(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=0.05), epochs=5, batch_size=20)
    fig, (a, b) = plt.subplots(1, 2)
    plotting.plot_loss(h, ax=a, label="lr 0.05")
    assert a.get_yscale() == "log" and a.get_xlabel() == "update (step)"
    np.testing.assert_array_equal(a.get_lines()[0].get_ydata(), h.update_loss)
    plotting.plot_loss(h, per="epoch", log=False, ax=b)
    assert b.get_yscale() == "linear" and b.get_xlabel() == "epoch"
    np.testing.assert_array_equal(b.get_lines()[0].get_xdata(), np.arange(6))
    assert a.get_lines()[0].get_color() == plotting.STYLE["train"]["color"]
    assert _legend_texts(a) == ["lr 0.05"]


def test_loss_curve_marks_divergence_at_its_step(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=5.0), epochs=50, batch_size=16)
    assert h.diverged
    ax = plotting.plot_loss(h, label="lr 5")
    marker = _diverged_markers(ax)[0]
    assert marker.get_xdata()[0] == h.diverged_at
    assert "diverged" in _legend_texts(ax)
    ax2 = plotting.plot_loss(np.array([1.0, 2.0, np.inf]), diverged_at=2, ax=plt.figure().gca())
    m2 = _diverged_markers(ax2)[0]
    assert (m2.get_xdata()[0], m2.get_ydata()[0]) == (2, 2.0)


def test_lr_curves():
    schedule = 0.1 * 0.5 ** (np.arange(40) // 10)
    ax = plotting.plot_lr(schedule, log=True, label="step decay")
    assert ax.get_ylabel() == "learning rate" and ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), schedule)


def test_lr_curve_of_a_history_per_epoch(split):
    _, h = fit(models.LinearRegression(5), split, sgd, lr=lambda e: 0.1 / (1 + e), lr_step="epoch", epochs=4)
    ax = plotting.plot_lr(h, per="epoch")
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(line.get_ydata(), [0.1, 0.05, 0.1 / 3, 0.025])
    assert line.get_color() == plotting.STYLE["lr"]["color"]


def test_train_val_marks_best_and_stopped_epochs():
    X, y = data.make_polynomial_regression(n_samples=40, degree=12, seed=0)
    split = data.standardize(data.train_val_test_split(X, y, val_fraction=0.5, test_fraction=0.0, seed=0))[0]
    _, h = fit(models.LinearRegression(12), split, sgd(lr=0.05, momentum=0.9), epochs=500, patience=10)
    assert h.stopped_early
    ax = plotting.plot_train_val(h)
    texts = _legend_texts(ax)
    assert "training" in texts and "validation" in texts
    assert f"best epoch {h.best_epoch}" in texts
    assert f"stopped (early stopping) at epoch {h.epochs_run}" in texts
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines[f"best epoch {h.best_epoch}"].get_xdata()[0] == h.best_epoch
    assert lines["validation"].get_color() == plotting.STYLE["val"]["color"]


def test_train_val_accuracy_needs_a_classifier(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=0.05), epochs=2)
    ax = plotting.plot_train_val(h)
    assert not any(t.startswith("stopped") for t in _legend_texts(ax))
    with pytest.raises(ValueError, match="no accuracy"):
        plotting.plot_train_val(h, metric="accuracy")
    X, y = make_moons(n_samples=60, seed=0)
    moons = data.train_val_test_split(X, y, test_fraction=0.0)
    _, hc = fit(models.LogisticRegression(2), moons, sgd(lr=0.5), epochs=3)
    ax2 = plotting.plot_train_val(hc, metric="accuracy", ax=plt.figure().gca())
    assert ax2.get_ylabel() == "accuracy"


def test_range_test_plot_with_suggestions():
    X, y = make_blobs(n_samples=150, seed=0)
    r = lr_finder.range_test(
        models.SoftmaxRegression(2, 3), (X, y), start_lr=1e-4, end_lr=1e3, steps=60, batch_size=32
    )
    suggestions = r.suggestions()
    ax = plotting.plot_range_test(r, suggestions)
    assert ax.get_xscale() == "log"
    texts = _legend_texts(ax)
    assert texts[:2] == ["loss (per batch)", "smoothed loss"]
    assert ax.get_ylim()[1] == pytest.approx(1.25 * max(r.smoothed[0], r.initial_loss))
    assert any(t.startswith("steepest slope: ") for t in texts)
    assert any(t.startswith("minimum / 10: ") for t in texts)
    verticals = [line for line in ax.get_lines() if line.get_label().startswith("minimum / 10")]
    assert verticals[0].get_xdata()[0] == pytest.approx(suggestions[1].lr)


def test_bad_plot_arguments():
    with pytest.raises(ValueError, match="per must be one of 'update', 'epoch'"):
        plotting.plot_loss(np.ones(3), per="batch")
    with pytest.raises(ValueError, match="metric must be one of"):
        plotting.plot_train_val(None, metric="f1")

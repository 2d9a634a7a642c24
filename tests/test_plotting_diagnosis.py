import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrcourse import data, labs, models, plotting  # noqa: E402
from lrcourse.diagnosis import diagnose  # noqa: E402
from lrcourse.optimizers import sgd  # noqa: E402
from lrcourse.training import fit  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def split():
    X, y = data.make_polynomial_regression(n_samples=40, degree=5, noise=0.3, seed=0)
    return data.train_val_test_split(X, y, test_fraction=0.0, seed=0)


def test_plot_diagnosis_titles_the_verdict_and_marks_the_best_epoch(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=0.1), epochs=30)
    d = diagnose(h)
    notes = labs.epochs.evidence_lines(d, compact=True)
    ax = plotting.plot_diagnosis(h, d, notes=notes)
    assert ax.get_title() == d.verdict and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    best = int(np.argmin(h.val_loss))
    assert labels == ["training", "validation", f"lowest validation loss (epoch {best})"]
    assert [t.get_text() for t in ax.texts] == ["\n".join(notes)]
    train, val = ax.get_lines()[:2]
    np.testing.assert_array_equal(train.get_ydata(), h.train_loss)
    np.testing.assert_array_equal(val.get_ydata(), h.val_loss)


def test_plot_diagnosis_bare_and_diverged(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=5.0), epochs=30)
    assert h.diverged
    ax = plotting.plot_diagnosis(h, title="C", log=False)
    assert ax.get_title() == "C" and ax.get_yscale() == "linear" and not ax.texts
    assert any(line.get_marker() == "x" for line in ax.get_lines())
    _, ax2 = plt.subplots()
    plotting.plot_diagnosis(fit(models.LinearRegression(5), split.train, sgd(lr=0.1), epochs=5)[1], ax=ax2)
    assert ax2.get_title() == "" and len(ax2.get_lines()) == 1  # no validation data: training only


def test_notes_get_room_above_the_curves(split):
    _, h = fit(models.LinearRegression(5), split, sgd(lr=0.1), epochs=30)
    _, (bare, noted) = plt.subplots(1, 2)
    plotting.plot_diagnosis(h, ax=bare)
    plotting.plot_diagnosis(h, diagnose(h), notes=["one", "two"], ax=noted)
    (low, top), (low2, top2) = np.log10(bare.get_ylim()), np.log10(noted.get_ylim())
    assert low2 == pytest.approx(low)
    # two lines take 20 % of the height: the curves keep the lower 80 %
    assert (top2 - low) * 0.8 == pytest.approx(top - low)

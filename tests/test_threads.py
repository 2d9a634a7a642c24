"""numpy's BLAS on one thread for a block (threadpoolctl): set inside, restored after.

The Makefile runs the tests with ``OPENBLAS_NUM_THREADS=1``, where a limit of one
thread would change nothing; so every test first sets another count (two threads),
in this process or in a fresh one, and checks that the limit really moves it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from lrcourse import data, labs, models, training
from lrcourse.optimizers import sgd


def blas_threads():
    """The thread count of every BLAS library numpy has loaded, as threadpoolctl reads it."""
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """A block in which the BLAS runs on two threads (skipped if it cannot)."""
    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library loaded by numpy")
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != [2] * len(blas_threads()):
            pytest.skip(f"the BLAS here does not take two threads (it reports {blas_threads()})")
        yield


def test_the_limit_is_one_thread_inside_and_the_count_before_after(two_threads):
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas_threads() == [1]
        with threadpool_limits(limits=1, user_api="blas"):  # nested
            assert blas_threads() == [1]
        assert blas_threads() == [1]
    assert blas_threads() == [2]


def test_the_count_is_restored_after_an_exception(two_threads):
    with pytest.raises(RuntimeError), threadpool_limits(limits=1, user_api="blas"):
        assert blas_threads() == [1]
        raise RuntimeError("boom")
    assert blas_threads() == [2]


def test_products_on_two_threads_agree_with_those_on_one_to_round_off(two_threads):
    # Large enough for OpenBLAS to split the product over its threads. The two may add
    # in another order (here a few entries near zero differ in the last bits), so they
    # agree to the round-off bound of a dot product of length n: n * eps * (|A| @ |B|).
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(300, 400)), rng.normal(size=(400, 500))
    on_two = A @ B
    with threadpool_limits(limits=1, user_api="blas"):
        on_one = A @ B
    bound = A.shape[1] * np.finfo(float).eps * (np.abs(A) @ np.abs(B))
    assert np.all(np.abs(on_two - on_one) <= bound)


def test_a_recipe_step_runs_on_one_thread(two_threads):
    recipe = labs.tuning.Recipe()
    with recipe.step("1. baseline"):
        inside = blas_threads()
    assert inside == [1] and blas_threads() == [2]


@pytest.mark.parametrize("sweep", [False, True])
def test_fit_trains_on_one_thread_and_restores_the_count(two_threads, sweep):
    X, y, _ = data.make_linear_regression(n_samples=40, n_features=3, seed=0)
    model = models.LinearRegression(3)
    seen = []

    def loss_and_grad(params, X, y):
        seen.append(blas_threads())
        return models.LinearRegression.loss_and_grad(model, params, X, y)

    model.loss_and_grad = loss_and_grad
    training.fit(model, (X, y), sgd, 3, 10, lr=[0.01, 0.1] if sweep else 0.01)
    assert seen and all(s == [1] for s in seen)
    assert blas_threads() == [2]


CHILD = """
import json
import numpy
from threadpoolctl import threadpool_info, threadpool_limits
from lrcourse.labs import tuning

def count():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

out = {"before": count()}
with threadpool_limits(limits=1, user_api="blas"):
    out["inside"] = count()
out["after"] = count()
recipe = tuning.Recipe()
with recipe.step("a step"):
    out["step"] = count()
out["end"] = count()
print(json.dumps(out))
"""


def test_a_process_started_on_two_threads_is_limited_to_one_and_restored():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(proc.stdout)
    if not seen["before"]:
        pytest.skip("threadpoolctl finds no BLAS library loaded by numpy")
    if seen["before"] != [2]:
        pytest.skip(f"OPENBLAS_NUM_THREADS=2 gave {seen['before']} threads (not OpenBLAS, or one CPU)")
    assert seen == {"before": [2], "inside": [1], "after": [2], "step": [1], "end": [2]}


def test_an_explorer_redraws_on_one_thread_and_gives_the_count_back(two_threads):
    from lrcourse import widgets

    seen = []

    def draw(fig, state, x):
        seen.append(blas_threads())
        if not state:
            (state["line"],) = fig.subplots().plot([0, 1], [0, 0], animated=True)
        state["line"].set_ydata([0, x])

    explorer = widgets.Explorer(draw, [widgets.IntSlider("x", 0, 3, 0)])
    explorer.png(x=1)
    explorer.png(x=2)
    assert seen and all(counts == [1] * len(counts) for counts in seen)
    assert blas_threads() == [2]

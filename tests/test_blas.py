"""Single-threaded BLAS for a block: switched on inside, restored after, harmless without OpenBLAS."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse import _blas


def test_single_threaded_sets_and_restores_the_thread_count():
    if not _blas.available():
        pytest.skip("numpy's BLAS here is not a reachable OpenBLAS")
    before = _blas.num_threads()
    with _blas.single_threaded():
        assert _blas.num_threads() == [1] * len(before)
        with _blas.single_threaded():  # nested use is fine
            assert _blas.num_threads() == [1] * len(before)
        assert _blas.num_threads() == [1] * len(before)
    assert _blas.num_threads() == before


def test_restored_after_an_exception():
    before = _blas.num_threads()
    with pytest.raises(RuntimeError), _blas.single_threaded():
        raise RuntimeError("boom")
    assert _blas.num_threads() == before


def test_results_do_not_depend_on_it():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 256)), rng.normal(size=(256, 500))
    with _blas.single_threaded():
        inside = A @ B
    np.testing.assert_allclose(inside, A @ B, rtol=1e-12)


def test_without_openblas_the_block_just_runs(monkeypatch):
    monkeypatch.setitem(_blas._cache, "pairs", [])
    assert not _blas.available()
    assert _blas.num_threads() == []
    with _blas.single_threaded():
        value = 1 + 1
    assert value == 2


def test_library_paths_are_read_from_the_process_map():
    paths = _blas._loaded_openblas_paths()
    assert isinstance(paths, list)
    assert all("openblas" in p.lower() for p in paths)

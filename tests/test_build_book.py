"""scripts/build_book.py: jupyter-book build with parallel reading."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv", [["--jobs"], ["--jobs", "0"], ["--jobs", "two", "."]])
def test_bad_jobs_are_named(argv):
    with pytest.raises(ValueError, match="--jobs must be a whole number >= 1"):
        _script().main(argv)


def test_declared_safe_keeps_what_setup_returns():
    wrapped = _script()._declared_safe(lambda app: {"version": "1"})
    assert wrapped(None) == {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
    assert _script()._declared_safe(lambda app: None)(None)["parallel_read_safe"] is True


def test_the_build_command_looks_up_build_sphinx_when_it_runs():
    """The script replaces ``jupyter_book.sphinx.build_sphinx``; that reaches the build only
    while the command imports it inside its body (jupyter-book 1.x), not at module level."""
    import inspect

    import jupyter_book.cli.main as cli

    assert not hasattr(cli, "build_sphinx"), "jupyter-book imports build_sphinx at module level now"
    assert "from jupyter_book.sphinx import build_sphinx" in inspect.getsource(cli.build.callback)

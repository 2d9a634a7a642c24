"""The package works on every Python it declares: its unit tests under 3.10 to 3.13.

``make test-python-versions`` runs this file (``make test-compat`` does not); the
workflow runs it once per version, on a runner with that Python. Which versions:
``LRCOURSE_PYTHON_VERSIONS`` ("3.10 3.13"), and then a version that is not installed
fails; without it, every declared version except the one running the tests (whose unit
tests ``make unit`` runs), each skipped with a message when not installed. Interpreters
are found as described in compat.py.

For each version a venv gets the frozen pins of ``pins/unit-X.Y.txt`` (numpy,
matplotlib, ipywidgets, threadpoolctl, pytest, hypothesis and what they need) and a wheel of lrcourse
built from this working tree; then the package's unit tests run there, from outside the
repository so that the installed wheel is what they import. Left out: the browser and
compatibility checks themselves, tests marked ``slow``, and the tests of the book
(chapters, notebooks, table of contents), which need the book's tooling and run in the
main environment.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from compat import PINS, ROOT, VERSIONS, find_python, make_venv, pip_env, run, venv_python
from conftest import ARTIFACTS

NAMED = os.environ.get("LRCOURSE_PYTHON_VERSIONS", "").replace(",", " ").split()
SELECTED = NAMED or [v for v in VERSIONS if v != f"{sys.version_info[0]}.{sys.version_info[1]}"]

# What a package test may import; a test file importing anything else (the book's
# tooling: yaml, nbformat, the table of contents, helper scripts) tests the book.
PACKAGE_TEST_IMPORTS = {
    "lrcourse",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "threadpoolctl",
    "IPython",
    "pytest",
    "hypothesis",
}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def package_tests():
    """tests/test_*.py that test the package (not the book)."""
    allowed = PACKAGE_TEST_IMPORTS | set(sys.stdlib_module_names)
    return sorted(p for p in (ROOT / "tests").glob("test_*.py") if set(_imports(p)) <= allowed)


@pytest.mark.parametrize("version", SELECTED)
def test_unit_tests_pass(version, wheel, tmp_path):
    assert version in VERSIONS, f"LRCOURSE_PYTHON_VERSIONS names {version}; the package declares {VERSIONS}"
    python, how = find_python(version)
    if python is None:
        if NAMED:
            pytest.fail(f"Python {version} named in LRCOURSE_PYTHON_VERSIONS but not found: {how}")
        pytest.skip(f"Python {version} skipped: {how}")
    pins = PINS / f"unit-{version}.txt"
    assert pins.exists(), f"no {pins.relative_to(ROOT)}: run `python tests/compat/compat.py unit-{version}`"
    requirements = [
        line.split("==")[0] for line in pins.read_text().splitlines() if line and not line.startswith("#")
    ]
    venv = make_venv(python, f"unit-{version}", requirements, pins=pins)
    py = venv_python(venv)
    run([py, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", wheel], env=pip_env())
    tests = package_tests()
    assert tests, "no package tests found"
    proc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *map(str, tests)],
        cwd=tmp_path,
        env=pip_env(),
        capture_output=True,
        text=True,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"unit-{version}.log").write_text(proc.stdout + proc.stderr)
    where = run(
        [py, "-c", "import lrcourse; print(lrcourse.__file__)"], cwd=tmp_path, env=pip_env()
    ).stdout.strip()
    assert str(venv) in where, f"tests imported lrcourse from {where}"
    assert proc.returncode == 0, f"Python {version} ({how}):\n{proc.stdout[-6000:]}"

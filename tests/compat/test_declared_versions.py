"""The Pythons the package declares are the ones tested: pyproject.toml, compat.VERSIONS
and the workflow (``make unit`` on the default Python, the other versions in its
``python-versions`` matrix, each with frozen pins)."""

from __future__ import annotations

import tomllib
import yaml
from compat import PINS, ROOT, VERSIONS

WORKFLOW = ROOT / ".github" / "workflows" / "site.yml"


def test_declared_python_range_matches_the_tested_one():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == f">={VERSIONS[0]}", "requires-python and the tested versions disagree"
    declared = {c.rsplit(" :: ", 1)[-1] for c in meta.get("classifiers", []) if "Python :: 3." in c}
    if declared:  # classifiers, where given, must list exactly the tested versions
        assert declared == set(VERSIONS), declared


def _setup_python(job):
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    return str(step["with"]["python-version"]).split()


def test_the_workflow_tests_every_declared_python():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    default = _setup_python(jobs["test"])[-1]  # the last one is python3, which makes .venv
    matrix = [str(v) for v in jobs["python-versions"]["strategy"]["matrix"]["python-version"]]
    assert sorted([default, *matrix]) == sorted(VERSIONS), (default, matrix)
    missing = [v for v in matrix if not (PINS / f"unit-{v}.txt").exists()]
    assert not missing, f"no pins for {missing}: run `python tests/compat/compat.py unit-X.Y`"

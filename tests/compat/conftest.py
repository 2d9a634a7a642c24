"""Fixtures for the Colab, Binder and Python-version checks: the wheel, the interpreters
and a notebook runner."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # compat.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # toc.py

from compat import ROOT, build_wheel, find_python  # noqa: E402

ARTIFACTS = ROOT / "tests" / "artifacts" / "compat"


# The modules whose tests share one venv built for them (Binder's, nbgrader's, otter's):
# their tests go to one worker together, so the other worker builds the next venv or runs
# Colab chapters instead of waiting for the same build. They start first, in the order
# of TOGETHER (xdist's reordering of scopes by test count is turned off); each Colab
# chapter has a runtime of its own and goes to whichever worker is free.
TOGETHER = ("test_nbgrader.py", "test_otter.py", "test_binder.py")


def _module(nodeid):
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = _module(item.nodeid)
        return TOGETHER.index(name) if name in TOGETHER else len(TOGETHER)

    items.sort(key=rank)  # stable: each module keeps its own order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``-n`` and the default ``--dist load`` (make test-compat), the tests of each
    module in TOGETHER go to one worker. Other ``--dist`` modes are kept."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the order of TOGETHER

    class VenvTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _module(nodeid) if _module(nodeid) in TOGETHER else nodeid

    return VenvTogether(config, log)


def python_or_skip(version: str, check: str) -> str:
    """The interpreter for ``version``; when there is none, skip ``check`` with the reason,
    or fail when ``LRCOURSE_COMPAT_REQUIRE=1`` (CI, where a skip would hide a missing check)."""
    python, how = find_python(version)
    if python is None:
        message = f"{check} skipped: {how}"
        if os.environ.get("LRCOURSE_COMPAT_REQUIRE") == "1":
            pytest.fail(message.replace("skipped", "cannot run") + " (LRCOURSE_COMPAT_REQUIRE=1)")
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """lrcourse built from the working tree, as a wheel: once per run, shared by the
    pytest-xdist workers (their temporary folders have a common parent)."""
    shared = tmp_path_factory.getbasetemp().parent
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp()
    dist = shared / "lrcourse-wheel"
    with open(shared / "lrcourse-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = sorted(dist.glob("lrcourse-*.whl"))
        return built[0] if built else build_wheel(dist)


def execute_notebook(path, python, cwd, env, timeout=600):
    """Run a notebook (a path, or a notebook node, run in place) top to bottom in a kernel
    of ``python``; returns the executed notebook.

    The kernel gets exactly ``env`` (plus PATH and HOME), as a fresh Colab or Binder
    kernel would, not the variables of the test process.
    """
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels = Path(tempfile.mkdtemp(prefix="kernels-"))
    spec_dir = kernels / "lrcourse-compat"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "lrcourse compat",
                "language": "python",
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    km = KernelManager(kernel_name="lrcourse-compat", kernel_spec_manager=ksm)
    nb = nbformat.read(path, as_version=4) if isinstance(path, (str, Path)) else path
    client = NotebookClient(
        nb, km=km, timeout=timeout, kernel_name="lrcourse-compat", resources={"metadata": {"path": str(cwd)}}
    )
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    client.execute(env={**base, **env}, cwd=str(cwd))
    return nb


def widget_views(nb):
    """The widget views a notebook displayed, and the widget model versions it saved."""
    views = [
        out["data"]["application/vnd.jupyter.widget-view+json"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    state = (
        nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    )
    versions = {
        m.get("model_module_version")
        for m in state.values()
        if m.get("model_module") == "@jupyter-widgets/controls"
    }
    return views, versions

"""The outputs of the nbval run, reused by the book build instead of running the chapters again.

``make test`` runs every chapter under nbval (``make notebooks``) and then builds the
book, which would run them all again. As a pytest plugin (``-p scripts.reuse_outputs
--keep-outputs``), this module writes beside each notebook nbval ran, once all its cells
passed, what they printed and drew and the final state of its widgets:
``_build/nbval/book/.../page.ipynb.outputs.json``. Each file carries a stamp of
everything that decides those outputs (the package, the chapters, the pinned
requirements, the Python, the variables that change the numerics), taken as the run
started.

``scripts/build_book.py`` calls :func:`fill_cache`: when every chapter of the table of
contents has such a file and its stamp is the tree's stamp now, the notebooks go into an
empty Jupyter cache with those outputs and the build reads them from it
(``nb_execution_mode = "cache"``); otherwise it runs every notebook, as before. The
outputs are the ones nbval checked, so the site shows what was tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBVAL_DIR = ROOT / "_build" / "nbval"
SUFFIX = ".outputs.json"
STAMPED = (
    "lrcourse",
    "book",
    "_config.yml",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "constraints.txt",
)
ENVIRONMENT = ("LRCOURSE_", "NPY_", "OPENBLAS_", "OMP_", "MKL_", "MPL")  # prefixes of variables
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def stamp(root=ROOT):
    """A hash of what decides the chapters' outputs: the files in ``STAMPED`` under
    ``root`` (but dot-folders and caches), the Python, the installed packages and the
    environment variables whose names start with one of ``ENVIRONMENT``."""
    import sysconfig
    from importlib.metadata import distributions

    h = hashlib.sha256()
    h.update(f"{sys.version}|{platform.machine()}".encode())
    # the environment's packages, not whatever the working folder adds to sys.path
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions(path=site)})
    h.update("|".join(installed).encode())
    for name in sorted(os.environ):
        if name.startswith(ENVIRONMENT):
            h.update(f"|{name}={os.environ[name]}".encode())
    for top in STAMPED:
        path = root / top
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            rel = f.relative_to(root)
            if not f.exists() or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            h.update(f"|{rel.as_posix()}|".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def code_hash(nb):
    """A hash of the sources of the code cells of ``nb``, in order."""
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()


# ----------------------------------------------------------------- the pytest plugin


def pytest_addoption(parser):
    parser.addoption(
        "--keep-outputs",
        action="store_true",
        help="write each notebook's outputs beside it when all its cells pass (scripts/reuse_outputs.py)",
    )


def pytest_configure(config):
    if config.getoption("--keep-outputs"):
        config._reuse_outputs = {"stamp": stamp(), "notebooks": {}}


def _code_cells(nb):
    return sum(cell.cell_type == "code" for cell in nb.cells)


def pytest_runtest_makereport(item, call):
    kept = getattr(item.config, "_reuse_outputs", None)
    if kept is None or call.when != "call" or not hasattr(item, "test_outputs"):
        return
    notebook = item.parent
    run = kept["notebooks"].setdefault(notebook.path, {"outputs": {}, "failed": False})
    if call.excinfo is not None or item.test_outputs is None:
        run["failed"] = True
        return
    run["outputs"][item.cell_num] = [dict(out) for out in item.test_outputs]
    if item.cell_num == _code_cells(notebook.nb) - 1 and not run["failed"]:
        try:
            _write(notebook, run["outputs"], kept["stamp"])
        except Exception as error:  # keeping is an optimisation: the build will run the chapter
            print(f"reuse_outputs: kept nothing for {notebook.path}: {error!r}")


def _write(notebook, outputs, stamp_):
    """Write the outputs of ``notebook`` and its widgets' state beside it. If the kernel
    cannot give the state, or a widget captured output (nbval puts what an ``Output``
    widget captures in the cell, where the build's executor would not), write nothing:
    the build will then run the chapters."""
    target = Path(f"{notebook.path}{SUFFIX}")
    widgets = target.with_name(target.name + ".widgets")
    code = (
        "import json as _j, sys as _s\n"
        "_m = _s.modules.get('ipywidgets')\n"
        "_w = _m and _m.Widget.get_manager_state(drop_defaults=False)\n"
        f"with open({str(widgets)!r}, 'w') as _f:\n"
        "    _j.dump(_w, _f)\n"
    )
    kernel = notebook.kernel
    kernel.await_idle(kernel.execute_cell_input(code, allow_stdin=False), 60)
    if not widgets.exists():
        return
    state = json.loads(widgets.read_text())
    widgets.unlink()
    models = (state or {}).get("state") or {}
    if any(model.get("model_name") == "OutputModel" for model in models.values()):
        return
    record = {
        "stamp": stamp_,
        "code": code_hash(notebook.nb),
        "outputs": [outputs[i] for i in range(_code_cells(notebook.nb))],
        "widgets": state if models else None,
    }
    target.write_text(json.dumps(record))


# ----------------------------------------------------------------- the book build


def fill_cache(cache_dir, notebooks, root=ROOT, nbval_dir=NBVAL_DIR):
    """Empty the Jupyter cache at ``cache_dir``; if every page in ``notebooks`` (paths
    relative to ``root``) has outputs kept by the nbval run of the tree as it is now, put
    each notebook in the cache with them. Returns ``(True, "")``, or ``(False, why not)``."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    shutil.rmtree(cache_dir, ignore_errors=True)
    now = stamp(root)
    kept = {}
    for rel in notebooks:
        path = Path(nbval_dir) / f"{rel}{SUFFIX}"
        if not path.exists():
            return False, f"no outputs kept for {rel}"
        record = json.loads(path.read_text())
        nb = nbformat.read(root / rel, as_version=4)
        if record["stamp"] != now or record["code"] != code_hash(nb):
            return False, f"the outputs kept for {rel} are of another tree or environment"
        kept[rel] = (nb, record)
    cache = get_cache(str(cache_dir))
    for rel, (nb, record) in kept.items():
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        for count, (cell, outputs) in enumerate(zip(code, record["outputs"], strict=True), start=1):
            cell.outputs = [nbformat.from_dict(out) for out in outputs]
            cell.execution_count = count
        if record["widgets"]:
            nb.metadata["widgets"] = {WIDGET_STATE: record["widgets"]}
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(root / rel)), check_validity=False, overwrite=True)
    return True, ""

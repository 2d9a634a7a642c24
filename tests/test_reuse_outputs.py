"""scripts/reuse_outputs.py: the book build reuses the outputs of the nbval run."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("reuse_outputs", ROOT / "scripts" / "reuse_outputs.py")
reuse = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reuse)

CELLS = [
    "print('hello')",
    "import ipywidgets as w\nw.IntSlider(value=3)",
    "for i in range(3):\n    print(i)\n2 + 2",
]


def _tree(root):
    """A tiny repository: one chapter notebook, stored without outputs."""
    for top in ("lrcourse", "book"):
        (root / top).mkdir(parents=True)
    (root / "lrcourse" / "__init__.py").write_text("")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "book" / "page.ipynb")
    return root


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """Run the tiny chapter under nbval with the plugin, as ``make notebooks`` does."""
    root = _tree(tmp_path_factory.mktemp("repo"))
    copy = root / "_build" / "nbval" / "book" / "page.ipynb"
    copy.parent.mkdir(parents=True)
    shutil.copy(root / "book" / "page.ipynb", copy)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
    ]
    cmd += ["-p", "scripts.reuse_outputs", "--keep-outputs", "-o", "testpaths=", str(copy)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root, json.loads(Path(f"{copy}{reuse.SUFFIX}").read_text())


def test_the_plugin_keeps_every_cells_outputs_and_the_widgets(kept):
    _, record = kept
    # as a separate process computes it (this one's tests may have changed its state)
    code = "import sys; sys.path.insert(0, 'scripts'); import reuse_outputs; print(reuse_outputs.stamp())"
    again = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert record["stamp"] == again.stdout.strip()
    assert record["code"] == reuse.code_hash(nbformat.read(kept[0] / "book" / "page.ipynb", as_version=4))
    first, widget, last = record["outputs"]
    assert first == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    assert "application/vnd.jupyter.widget-view+json" in widget[0]["data"]
    model = widget[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert record["widgets"]["state"][model]["state"]["value"] == 3
    assert last[0]["text"] == "0\n1\n2\n"  # one stream, as nbval coalesces them
    assert last[1]["data"]["text/plain"] == "4"


def test_a_cache_filled_from_them_gives_the_notebook_its_outputs(kept, tmp_path):
    from jupyter_cache import get_cache

    root, record = kept
    record = {**record, "stamp": reuse.stamp(root)}  # as if the run had been of this tree
    nbval_dir = tmp_path / "nbval"
    (nbval_dir / "book").mkdir(parents=True)
    (nbval_dir / "book" / f"page.ipynb{reuse.SUFFIX}").write_text(json.dumps(record))
    cache_dir = tmp_path / "cache"
    assert reuse.fill_cache(cache_dir, ["book/page.ipynb"], root=root, nbval_dir=nbval_dir) == (True, "")

    source = nbformat.read(root / "book" / "page.ipynb", as_version=4)
    _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(source)
    assert [c.outputs for c in merged.cells] == [
        [nbformat.from_dict(o) for o in outs] for outs in record["outputs"]
    ]
    assert [c.execution_count for c in merged.cells] == [1, 2, 3]
    assert merged.metadata["widgets"][reuse.WIDGET_STATE] == record["widgets"]


def test_stale_or_missing_outputs_leave_an_empty_cache(kept, tmp_path):
    root, record = kept
    nbval_dir = tmp_path / "nbval"
    (nbval_dir / "book").mkdir(parents=True)
    kept_file = nbval_dir / "book" / f"page.ipynb{reuse.SUFFIX}"
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "old").write_text("from an earlier build")

    def fill(*pages):
        return reuse.fill_cache(cache_dir, list(pages), root=root, nbval_dir=nbval_dir)

    assert fill("book/page.ipynb") == (False, "no outputs kept for book/page.ipynb")
    assert not cache_dir.exists()

    kept_file.write_text(json.dumps({**record, "stamp": reuse.stamp(root)}))
    stale = (False, "the outputs kept for book/page.ipynb are of another tree or environment")
    (root / "lrcourse" / "new.py").write_text("x = 1\n")  # the package changed after the run
    try:
        assert fill("book/page.ipynb") == stale
    finally:
        (root / "lrcourse" / "new.py").unlink()
    (root / "book" / ".cache").mkdir(exist_ok=True)
    (root / "book" / ".cache" / "x").write_text("a tool's cache is not a source")
    assert fill("book/page.ipynb") == (True, "")
    assert fill("book/page.ipynb", "book/other.ipynb")[0] is False

    kept_file.write_text(json.dumps({**record, "stamp": reuse.stamp(root), "code": "0"}))
    assert fill("book/page.ipynb") == stale  # the run was of other code


def test_the_stamp_follows_the_numerics(monkeypatch):
    before = reuse.stamp()
    monkeypatch.setenv("LRCOURSE_PERTURB", "1e-12")
    assert reuse.stamp() != before

"""Expected outputs for nbval, kept out of the notebooks' outputs.

Notebooks are stored without outputs or execution counts. The key numbers a chapter
prints are still checked: a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``
keeps what it must print in its metadata, under ``lrcourse.expected_outputs`` (its
stdout text and the plain text of its result, nothing else).
Before nbval runs, :func:`prepare` writes copies of the notebooks with that text
restored as the cells' output, and nbval compares the fresh run against it.

    python tests/nbval_expected.py record book/01_gradient_descent/index.ipynb
        run the notebook and store what its NBVAL_CHECK_OUTPUT cells print
    python tests/nbval_expected.py strip book/*/*.ipynb
        move any stored output of those cells into the metadata; clear all outputs
    python tests/nbval_expected.py prepare _build/nbval
        write the copies nbval runs (``make notebooks`` does this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
KEY = "lrcourse"


def is_checked(cell):
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_OUTPUT)


def output_text(outputs):
    """The text a cell printed: its stdout streams and the plain text of its result."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "execute_result":
            parts.append(out.get("data", {}).get("text/plain", "") + "\n")
    return "".join(parts)


def text_outputs(outputs):
    """The text parts of ``outputs`` as small dicts: stdout streams and plain-text results."""
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            kept.append({"stdout": out.get("text", "")})
        elif out.get("output_type") == "execute_result" and "text/plain" in out.get("data", {}):
            kept.append({"result": out["data"]["text/plain"]})
    return kept


def strip(nb):
    """Move checked cells' text outputs into metadata; clear every output, count and widget state."""
    nb.metadata.pop("widgets", None)  # the live widgets' state, with new random ids every run
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell) and cell.get("outputs"):
            cell.metadata.setdefault(KEY, {})["expected_outputs"] = text_outputs(cell.outputs)
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)  # the timestamps nbclient records
    return nb


def inject(nb):
    """Give checked cells their expected text as output (and a count), for nbval."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        expected = cell.metadata.get(KEY, {}).get("expected_outputs")
        if is_checked(cell) and expected is not None:
            cell.execution_count = count
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=out["stdout"])
                if "stdout" in out
                else nbformat.v4.new_output(
                    "execute_result", data={"text/plain": out["result"]}, execution_count=count
                )
                for out in expected
            ]
    return nb


def record(path, timeout=300):
    """Execute ``path`` and store what its checked cells print; the file stays output-free."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    nbformat.write(strip(nb), path)


def prepare(out_dir, notebooks=None):
    """Write nbval's copies of ``notebooks`` (default: those in _toc.yml) under ``out_dir``."""
    from toc import toc_notebooks

    written = []
    for rel in notebooks or toc_notebooks():
        nb = inject(nbformat.read(ROOT / rel, as_version=4))
        target = Path(out_dir) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(str(target))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("record", "strip"):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="+")
    p = sub.add_parser("prepare")
    p.add_argument("out_dir")
    args = parser.parse_args(argv)
    if args.command == "record":
        for path in args.notebooks:
            record(path)
    elif args.command == "strip":
        for path in args.notebooks:
            nbformat.write(strip(nbformat.read(path, as_version=4)), path)
    else:
        print("\n".join(prepare(args.out_dir)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())

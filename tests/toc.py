"""The chapters listed in ``_toc.yml``.

Run as a script it prints the notebook paths, one per line, for ``make notebooks``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def toc_entries(node=None):
    """Every ``file:`` (and the root) of ``_toc.yml``, as paths without suffix."""
    import yaml

    if node is None:
        node = yaml.safe_load((ROOT / "_toc.yml").read_text())
        found = [node["root"]]
    else:
        found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                found += toc_entries(value)
    elif isinstance(node, list):
        for item in node:
            found += toc_entries(item)
    return found


def toc_notebooks():
    """The ``.ipynb`` files the book builds, relative to the repository root."""
    paths = []
    for entry in toc_entries():
        nb = ROOT / f"{entry}.ipynb"
        if nb.exists():
            paths.append(nb.relative_to(ROOT).as_posix())
    return paths


if __name__ == "__main__":
    print("\n".join(toc_notebooks()))

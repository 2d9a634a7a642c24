"""Write the learner edition of the book: ``learner/book/...``, one notebook per page.

    python scripts/learner_edition.py          # rewrite learner/ from book/
    python scripts/learner_edition.py --check  # exit 1 if learner/ is out of date (a test runs this)

The book's notebooks are the one source; ``lrcourse.assign.learner`` says what changes.
The edition is committed, because Colab and Binder open notebooks from the repository:
the website's launch buttons point at it (``repository.path_to_book`` in ``_config.yml``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from backmatter import slug  # noqa: E402
from toc import toc_notebooks  # noqa: E402

from lrcourse.assign.learner import EXERCISE_BLOCK, LABELLED_MATH, Context, learner_version  # noqa: E402

OUT = ROOT / "learner"
BOOK = ROOT / "book"


def pages():
    """The book's notebook pages in reading order, as paths relative to ``book/``."""
    return [Path(rel).relative_to("book").as_posix() for rel in toc_notebooks() if rel.startswith("book/")]


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def exercise_numbers(notebooks):
    """label -> number, counted over the book in reading order (as sphinx-exercise does).

    An exercise marked ``:nonumber:`` gets no number and does not count.
    """
    numbers, count = {}, 0
    for nb in notebooks.values():
        for block in EXERCISE_BLOCK.finditer(_markdown(nb)):
            if ":nonumber:" in block.group(0):
                continue
            count += 1
            label = re.search(r":label:\s*(\S+)", block.group(0))
            numbers[label.group(1) if label else f"unlabelled-{count}"] = count
    return numbers


def equation_numbers(notebooks):
    """label -> (page, number): labelled equations, numbered through the book as the website does."""
    numbers = {}
    for page, nb in notebooks.items():
        for match in LABELLED_MATH.finditer(_markdown(nb)):
            numbers[match.group("label")] = (page, len(numbers) + 1)
    return numbers


def figure_numbers(notebooks):
    """A figure's name -> its number: captioned figures counted through the book in reading order."""
    numbers = {}
    for nb in notebooks.values():
        for cell in nb.cells:
            figure = cell.metadata.get("mystnb", {}).get("figure", {})
            if cell.cell_type == "code" and figure.get("caption"):
                numbers[figure.get("name") or f"unnamed-{len(numbers) + 1}"] = len(numbers) + 1
    return numbers


def heading_cells(nb):
    """The website's anchor of each heading -> the id of the cell that holds it."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = re.sub(r"^```.*?^```", "", cell.source, flags=re.S | re.M)
            for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
                found.setdefault(slug(heading.strip()), cell.id)
    return found


def _authors(field):
    names = [n.strip() for n in re.split(r"\s+and\s+", field) if n.strip()]
    last = [n.split(",")[0].strip() if "," in n else n.split()[-1] for n in names]
    last = [re.sub(r"[{}]", "", n) for n in last]
    if "others" in last or len(last) > 2:
        return f"{last[0]} et al."
    return " and ".join(last)


def citations(bib_text):
    """key -> (authors as the text cites them, year), from ``references.bib``."""
    found = {}
    for entry in re.finditer(r"@\w+\{(?P<key>[^,\s]+),(?P<body>.*?)\n\}", bib_text, re.S):
        body = entry.group("body")
        author = re.search(r"\bauthor\s*=\s*\{(.*?)\},?\s*\n", body, re.S)
        year = re.search(r"\byear\s*=\s*\{?(\d{4})", body)
        who = _authors(author.group(1)) if author else entry.group("key")
        found[entry.group("key")] = (who, year.group(1) if year else "")
    return found


def repository_url():
    """The repository's address, from ``repository: url`` in ``_config.yml`` (one place for a fork)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/").removesuffix(".git")


def _point_bootstrap_at(nb, url):
    """The bootstrap installs the package from ``url`` (at the same tag or commit)."""
    first = nb.cells[0]
    first.source = re.sub(r'REPO = "git\+[^"@]+@', f'REPO = "git+{url}@', first.source, count=1)
    return nb


def edition(filled=False):
    """page -> its learner notebook (``filled``: with the reference answers in place)."""
    url = repository_url()
    notebooks = {page: nbformat.read(BOOK / page, as_version=4) for page in pages()}
    notebooks = {page: _point_bootstrap_at(nb, url) for page, nb in notebooks.items()}
    shared = {
        "exercises": exercise_numbers(notebooks),
        "equations": equation_numbers(notebooks),
        "citations": citations((ROOT / "references.bib").read_text(encoding="utf-8")),
        "headings": {page: heading_cells(nb) for page, nb in notebooks.items()},
        "figures": figure_numbers(notebooks),
    }
    return {
        page: learner_version(nb, Context(page=page, **shared), filled=filled)
        for page, nb in notebooks.items()
    }


def _text(nb):
    return nbformat.writes(nb) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if learner/ is out of date")
    args = parser.parse_args(argv)
    wanted = {OUT / "book" / page: _text(nb) for page, nb in edition().items()}
    present = set(OUT.glob("book/**/*.ipynb"))
    stale = sorted(p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text)
    extra = sorted(present - set(wanted))
    if args.check:
        for path in stale + extra:
            print(f"out of date: {path.relative_to(ROOT)}")
        if stale or extra:
            print("run: python scripts/learner_edition.py")
        return 1 if stale or extra else 0
    for path in extra:
        path.unlink()
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
    print(f"learner/: {len(wanted)} notebooks, {len(stale)} written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

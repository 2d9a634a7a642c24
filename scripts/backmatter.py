"""Generate the back-matter pages from the chapters, so they cannot drift.

    python scripts/backmatter.py          # rewrite book/glossary.md and book/syllabus.md
    python scripts/backmatter.py --check  # exit 1 if either is out of date (the tests do this)

- ``book/glossary.md`` collects the "Key terms" table of every chapter in ``_toc.yml``
  (English | 日本語 | Meaning) into one alphabetical table, each term linked to the
  chapters that teach it.
- ``book/syllabus.md`` ("Where is it taught") is built from ``book/syllabus_map.yml``: every
  syllabus item, in our words, with a link to the chapter section that teaches it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from toc import toc_notebooks  # noqa: E402

GLOSSARY = ROOT / "book" / "glossary.md"
SYLLABUS_PAGE = ROOT / "book" / "syllabus.md"
SYLLABUS_MAP = ROOT / "book" / "syllabus_map.yml"
ROW = re.compile(r"^\|(?P<cells>.+)\|\s*$")


def markdown_cells(path):
    nb = json.loads(Path(path).read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def chapter_index(path):
    """The opening page of the chapter ``path`` is a page of; the page itself outside chapters.

    A chapter is a folder ``book/NN_name/`` with ``NN >= 01``; the pages of ``book/00_*/``
    stand on their own.
    """
    path = Path(path)
    if re.match(r"\d\d_", path.parent.name) and path.parent.name[:2] != "00":
        return path.parent / "index.ipynb"
    return path


def chapter_title(path):
    """The title of the chapter ``path`` belongs to (the first heading of its opening page)."""
    for text in markdown_cells(ROOT / chapter_index(path)):
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return Path(path).parent.name


def short_title(title):
    """``6. Momentum and adaptive methods (...)`` -> ``Chapter 6``."""
    number = title.split(".", 1)[0]
    return f"Chapter {number}" if number.isdigit() else title


def headings(path):
    """Every markdown heading of the notebook (level 2 and below), without the #'s."""
    found = []
    for text in markdown_cells(path):
        in_fence = False
        for line in text.splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
            elif not in_fence and re.match(r"^#{2,6} ", line):
                found.append(line.lstrip("#").strip())
    return found


def key_terms(path):
    """The rows of the chapter's "Key terms" table as (english, japanese, meaning)."""
    rows = []
    for text in markdown_cells(path):
        if "## Key terms" not in text:
            continue
        section = text.split("## Key terms", 1)[1].split("\n## ", 1)[0]
        for line in section.splitlines():
            m = ROW.match(line.strip())
            if not m:
                continue
            cells = [c.strip() for c in m.group("cells").split("|")]
            if len(cells) != 3 or set(cells[0]) <= set("-: ") or cells[0].lower() == "english":
                continue
            rows.append(tuple(cells))
    return rows


def doc_of(rel):
    """``book/01_x/index.ipynb`` -> the docname seen from ``book/``: ``01_x/index``."""
    return Path(rel).relative_to("book").with_suffix("").as_posix()


def glossary_text():
    terms = {}
    for rel in toc_notebooks():
        if not rel.startswith("book/"):
            continue
        title = chapter_title(ROOT / rel)
        for english, japanese, meaning in key_terms(ROOT / rel):
            entry = terms.setdefault(
                english.lower(), {"english": english, "japanese": japanese, "meaning": meaning, "where": []}
            )
            index = chapter_index(rel).as_posix()  # link to the chapter, not the page
            if (doc_of(index), title) not in entry["where"]:
                entry["where"].append((doc_of(index), title))
    lines = [
        "# Glossary",
        "",
        "Every key term of the course with its Japanese equivalent, as the chapters define it.",
        "This page is generated from the chapters' *Key terms* tables by",
        "`scripts/backmatter.py`; a test keeps it in step with them.",
        "",
        "| Term | 日本語 | Meaning | Taught in |",
        "|---|---|---|---|",
    ]
    for key in sorted(terms):
        e = terms[key]
        where = ", ".join(f"[{short_title(title)}]({doc}.ipynb)" for doc, title in e["where"])
        lines.append(f"| **{e['english']}** | {e['japanese']} | {e['meaning']} | {where} |")
    return "\n".join(lines) + "\n"


def slug(heading):
    """The anchor MyST gives a heading (``myst_heading_anchors``, GitHub style).

    Only the text and inline code of the heading count (math and emphasis markers drop
    out), then: lower case, each space a hyphen, anything but word characters, CJK and
    hyphens removed.
    """
    text = re.sub(r"\$[^$]*\$", "", heading)
    text = re.sub(r"[`*]", "", text)
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", text.lower().replace(" ", "-"))


def places(item):
    """Where an item is taught: its main section, then any listed under ``also``."""
    return [item, *item.get("also", [])]


def page_of(place):
    """The page of the chapter folder that has the section's heading (``index.ipynb`` if none)."""
    folder = ROOT / "book" / place["chapter"]
    for page in [folder / "index.ipynb", *sorted(folder.glob("*.ipynb"))]:
        if page.exists() and place["section"] in headings(page):
            return page
    return folder / "index.ipynb"


def link(place):
    page = page_of(place)
    title = chapter_title(page) if page.exists() else place["chapter"]
    target = f"{place['chapter']}/{page.name}#{slug(place['section'])}"
    return f"[{short_title(title)}: {place['section']}]({target})"


def syllabus_entries():
    return yaml.safe_load(SYLLABUS_MAP.read_text())["items"]


def syllabus_text():
    entries = syllabus_entries()
    lines = [
        "# Where is it taught",
        "",
        "The course teaches every item of its syllabus. Each row names an item in a few words and",
        "links to the section that teaches it (and to further sections that take it up again). The map lives in `book/syllabus_map.yml`; this page",
        "is generated from it by `scripts/backmatter.py`, and a test checks that every linked",
        "section exists.",
        "",
    ]
    group = None
    for item in entries:
        if item["group"] != group:
            group = item["group"]
            lines += ["", f"## {group}", "", "| Item | What | Taught in |", "|---|---|---|"]
        links = "; ".join(link(place) for place in places(item))
        lines.append(f"| {item['id']} | {item['what']} | {links} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in ((GLOSSARY, glossary_text()), (SYLLABUS_PAGE, syllabus_text())):
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python scripts/backmatter.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

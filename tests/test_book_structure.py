"""Every chapter follows the conventions of book/CONVENTIONS.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from prose_numbers import _without_code_blocks
from toc import ROOT, toc_entries

BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]
CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
sys.path.insert(0, str(ROOT / "scripts"))
from backmatter import slug  # noqa: E402  (the anchor MyST gives a heading)


def _chapter_pages(folder):
    """The pages of one chapter folder in reading order: ``index`` first, then ``_toc.yml``'s."""
    order = {entry: i for i, entry in enumerate(toc_entries())}
    pages = [p for p in NOTEBOOKS if p.parent == folder]
    return sorted(pages, key=lambda p: order.get(p.relative_to(ROOT).with_suffix("").as_posix(), 1e9))


# A chapter is a folder book/NN_name/ (NN >= 1): index.ipynb opens it, further pages follow.
CHAPTERS = sorted(
    {p.parent for p in NOTEBOOKS if re.match(r"\d\d_", p.parent.name) and int(p.parent.name[:2]) >= 1}
)
CHAPTER_PAGES = [p for folder in CHAPTERS for p in _chapter_pages(folder)]


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _markdown(path):
    """The markdown of a notebook, or of every page of a chapter folder."""
    if path.is_dir():
        return "\n".join(_markdown(p) for p in _chapter_pages(path))
    return "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")


def _code_cells(path):
    """The code cells of a notebook, or of every page of a chapter folder."""
    if path.is_dir():
        return [c for p in _chapter_pages(path) for c in _code_cells(p)]
    return [c for c in _cells(path) if c["cell_type"] == "code"]


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks under book/"
    assert CHAPTERS, "no chapter folders (book/NN_name/index.ipynb with NN >= 1)"
    for folder in CHAPTERS:
        assert (folder / "index.ipynb").exists(), f"{folder.name} has no index.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_in_the_toc(path):
    entries = set(toc_entries())
    assert path.relative_to(ROOT).with_suffix("").as_posix() in entries, (
        f"{path.relative_to(ROOT)} is not listed in _toc.yml"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    """No outputs and no execution counts in any cell.

    What a ``# NBVAL_CHECK_OUTPUT`` cell must print is kept in its metadata
    (``lrcourse.expected_outputs``, see tests/nbval_expected.py), never as an output.
    """
    for i, cell in enumerate(_code_cells(path)):
        src = _source(cell)
        assert not cell.get("outputs"), f"code cell {i} is stored with outputs: {src[:60]!r}"
        assert cell.get("execution_count") is None, f"code cell {i} has an execution count"
        if src.startswith(CHECK_OUTPUT):
            expected = cell.get("metadata", {}).get("lrcourse", {}).get("expected_outputs")
            assert expected, (
                f"code cell {i}: {CHECK_OUTPUT} but no expected output in its metadata; "
                "run: python tests/nbval_expected.py record " + str(path.relative_to(ROOT))
            )
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    assert "widgets" not in metadata, "widget state stored: run python tests/nbval_expected.py strip"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_cell_is_the_bootstrap(path):
    first = _cells(path)[0]
    assert first["cell_type"] == "code"
    assert "remove-cell" in _tags(first)
    src = _source(first)
    assert '"google.colab" in sys.modules' in src
    assert "LRCOURSE_INSTALL_SOURCE" in src
    assert 'find_spec("lrcourse")' in src


def test_bootstrap_is_the_same_everywhere():
    sources = {_source(_cells(p)[0]) for p in NOTEBOOKS}
    assert len(sources) == 1, "the bootstrap cell differs between notebooks; copy it from CONVENTIONS.md"
    template = (BOOK / "CONVENTIONS.md").read_text(encoding="utf-8")
    assert sources.pop().strip() in template, "CONVENTIONS.md shows a different bootstrap cell"


def _run_bootstrap(monkeypatch, *, colab, installed, source=None):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if not installed:
        monkeypatch.setitem(sys.modules, "lrcourse", None)  # find_spec("lrcourse") is None
    if source is None:
        monkeypatch.delenv("LRCOURSE_INSTALL_SOURCE", raising=False)
    else:
        monkeypatch.setenv("LRCOURSE_INSTALL_SOURCE", source)
    exec(compile(_source(_cells(NOTEBOOKS[0])[0]), "bootstrap", "exec"), {})
    return calls


def test_bootstrap_does_nothing_outside_colab(monkeypatch):
    assert _run_bootstrap(monkeypatch, colab=False, installed=False) == []


def test_bootstrap_does_nothing_when_installed(monkeypatch):
    assert _run_bootstrap(monkeypatch, colab=True, installed=True) == []


def test_bootstrap_installs_a_pinned_version_in_colab(monkeypatch):
    (cmd,) = _run_bootstrap(monkeypatch, colab=True, installed=False)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert re.search(r"lrcourse @ git\+https://\S+@\S+$", cmd[-1]), (
        f"not pinned to a tag or commit: {cmd[-1]}"
    )


def test_bootstrap_honours_the_source_override(monkeypatch, tmp_path):
    (cmd,) = _run_bootstrap(monkeypatch, colab=True, installed=False, source=str(tmp_path))
    assert cmd[-1] == str(tmp_path)


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_has_the_required_parts(path):
    """Over all its pages, a chapter has every part CONVENTIONS.md asks for."""
    pages = _chapter_pages(path)
    opening, last = _markdown(pages[0]), _markdown(pages[-1])
    assert re.search(r"^#+ .*Learning objectives", opening, re.M), "no 'Learning objectives' on index"
    assert "**Prerequisites:**" in opening and "**Estimated time:**" in opening
    for heading in ("In PyTorch and Keras", "Summary", "Key terms", "What comes next"):
        assert re.search(rf"^#+ .*{heading}", last, re.M), f"no '{heading}' heading on the last page"
    text = _markdown(path)
    code = "\n".join(_source(c) for c in _code_cells(path))
    assert "Put to the test" in text
    assert re.search(r"widgets\.\w*explorer\w*\(", code), "no explorer from lrcourse.widgets"
    assert ".show()" in code and ".static(" in code and ".player(" in code
    n_exercises = len(re.findall(r"^```\{exercise(?:-start)?\}", text, re.M))
    assert n_exercises >= 3, f"only {n_exercises} exercise directives"
    assert "# BEGIN SOLUTION" in code and "# END SOLUTION" in code
    assert "checks.check_" in code, "no exercise checked by lrcourse.checks"
    assert "hide_solutions" not in text


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_pages_of_a_chapter_link_up(path):
    """A reader in plain Jupyter can find every page: the index lists them, each links on."""
    pages = _chapter_pages(path)
    opening = _markdown(pages[0])
    for page in pages[1:]:
        assert f"]({page.name})" in opening, f"index.ipynb does not link to {page.name}"
        first = next(c for c in _cells(page) if c["cell_type"] == "markdown")
        assert _source(first).startswith("# "), f"{page.name}: the first text is not a '# Title'"
    for page, following in zip(pages, pages[1:], strict=False):
        assert f"]({following.name})" in _markdown(page), f"{page.name} does not link to {following.name}"


# A page a reader can finish: at most this many words of prose (see CONVENTIONS.md).
PAGE_WORDS = 4000


def prose_words(markdown):
    """The words of prose in ``markdown``: no code, math, directive options or link targets.

    Fenced code goes (the fences of directives such as ``{exercise}`` stay prose, as in
    ``tests/prose_numbers.py``), then display and inline math, inline code, directive
    options, HTML and the targets of links.
    """
    text = _without_code_blocks(markdown)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$[^$\n]+?(?<!\\)\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"^:[\w-]+:.*$", " ", text, flags=re.M)
    text = re.sub(r"<!--.*?-->|<[^>\n]+>", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return len(re.findall(r"[A-Za-z0-9][\w'’.-]*", text))


def test_prose_words_counts_prose_only():
    md = "Two words.\n\n```python\nx = 1  # not counted\n```\n\n$$a + b$$ and `code` [link](#far-away-target)"
    assert prose_words(md) == 4
    boxes = "```{exercise} One\n:label: ex-a\n\nTwo three.\n```\n\nFour five six.\n\n```{solution} ex-a\nSeven.\n```"
    assert prose_words(boxes) == 6  # between the boxes counts; titles on fence lines do not


MARKDOWN_PAGES = [ROOT / f"{entry}.md" for entry in toc_entries() if (ROOT / f"{entry}.md").exists()]


@pytest.mark.parametrize("path", NOTEBOOKS + MARKDOWN_PAGES, ids=_ids(NOTEBOOKS + MARKDOWN_PAGES))
def test_page_budget(path):
    text = path.read_text(encoding="utf-8") if path.suffix == ".md" else _markdown(path)
    words = prose_words(text)
    assert words <= PAGE_WORDS, (
        f"{words} words of prose on one page (budget {PAGE_WORDS}): split the chapter into "
        "more pages or move reference material out (CONVENTIONS.md, 'Pages')"
    )


def _anchors(path):
    found = set()
    in_fence = False
    for line in _markdown(path).splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(r"^#{1,6} ", line):
            found.add(slug(line.lstrip("#").strip()))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_anchor_links_resolve(path):
    """``[text](#anchor)`` and ``[text](page.ipynb#anchor)`` point at a heading that exists."""
    text = re.sub(r"^```(?!\{)[^\n]*\n.*?^```", " ", _markdown(path), flags=re.S | re.M)
    for target, anchor in re.findall(r"\]\(([^)#\s]*\.(?:ipynb|md))?#([^)\s]+)\)", text):
        page = (path.parent / target).resolve() if target else path
        assert page.exists(), f"link to a missing page: {target}#{anchor}"
        if page.suffix == ".ipynb":
            assert anchor in _anchors(page), f"no heading with anchor #{anchor} in {target or path.name}"


@pytest.mark.parametrize("path", CHAPTER_PAGES, ids=_ids(CHAPTER_PAGES))
def test_solutions_are_dropdowns(path):
    text = _markdown(path)
    for match in re.finditer(r"^```\{solution(?:-start)?\}[^\n]*\n((?::[^\n]*\n)*)", text, re.M):
        assert ":class: dropdown" in match.group(1), (
            f"solution without ':class: dropdown': {match.group(0)!r}"
        )


@pytest.mark.parametrize("path", CHAPTER_PAGES, ids=_ids(CHAPTER_PAGES))
def test_solution_markers_pair_up(path):
    for i, cell in enumerate(_code_cells(path)):
        src = _source(cell)
        assert src.count("# BEGIN SOLUTION") == src.count("# END SOLUTION"), f"code cell {i}"


@pytest.mark.parametrize("path", CHAPTER_PAGES, ids=_ids(CHAPTER_PAGES))
def test_explorer_cells_ignore_their_output(path):
    for cell in _code_cells(path):
        src = _source(cell)
        if re.search(r"\.(show|static|player)\(", src) and "explorer" in src:
            assert "nbval-ignore-output" in _tags(cell), (
                f"explorer cell without nbval-ignore-output: {src[:60]!r}"
            )


def key_terms(path):
    """The rows of the 'Key terms' table: ``(english, japanese, meaning)``."""
    text = _markdown(path)
    match = re.search(r"^#+ Key terms\s*\n+((?:\|.*\|\s*\n?)+)", text, re.M)
    assert match, "no table under a 'Key terms' heading"
    lines = [line.strip() for line in match.group(1).strip().splitlines()]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["English", "日本語", "Meaning"], header
    assert re.fullmatch(r"\|(\s*:?-+:?\s*\|){3}", lines[1]), lines[1]
    rows = [tuple(c.strip() for c in line.strip("|").split("|")) for line in lines[2:]]
    return rows


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_key_terms_table_has_japanese(path):
    rows = key_terms(path)
    assert len(rows) >= 5
    for row in rows:
        assert len(row) == 3 and all(row), row
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", row[1]), f"no Japanese in {row}"


PAGE_WIDTH = 70  # characters of code the website shows without a scrollbar
BOX_WIDTH = 62  # the same inside an exercise or solution box


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_visible_code_fits_the_page(path):
    """Code shown on the website needs no horizontal scrollbar (see CONVENTIONS.md)."""
    inside = False  # between {exercise,solution}-start and -end
    for i, cell in enumerate(_cells(path)):
        src = _source(cell)
        if cell["cell_type"] == "markdown":
            for block in re.findall(r"```python\n(.*?)```", src, re.S):
                for line in block.splitlines():
                    assert len(line) <= PAGE_WIDTH, f"cell {i} (markdown): {line!r}"
            marks = re.findall(r"\{(?:exercise|solution)-(start|end)\}", src)
            if marks:
                inside = marks[-1] == "start"
            continue
        if "remove-cell" in _tags(cell):
            continue
        limit = BOX_WIDTH if inside else PAGE_WIDTH
        for line in src.splitlines():
            assert len(line) <= limit, f"cell {i}: {len(line)} > {limit} characters: {line!r}"


def test_conventions_exist():
    text = (BOOK / "CONVENTIONS.md").read_text(encoding="utf-8")
    for needle in ("remove-cell", "NBVAL_CHECK_OUTPUT", "# BEGIN SOLUTION", ":class: dropdown", "Key terms"):
        assert needle in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([str(Path(__file__))]))

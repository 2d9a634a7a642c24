"""The learner edition (learner/): plain Jupyter reads it, Run All runs no solution.

What a learner opens in Binder, Colab or their own JupyterLab is generated from the book by
``scripts/learner_edition.py``. These tests check that it is up to date, that no MyST is
left once nbconvert renders it as plain Markdown and that no solution is in its code path.
That each page runs to the end untouched (0 solved), and with every exercise solved once
the reference answers are put in, is checked in one run of the page under the Colab pins
(tests/compat/test_colab.py).
"""

from __future__ import annotations

import re
import sys

import nbformat
import pytest
from toc import ROOT

from lrcourse.assign import learner, notebooks

sys.path.insert(0, str(ROOT / "scripts"))

import learner_edition  # noqa: E402

PAGES = learner_edition.pages()
LEFTOVER_MYST = {
    "a directive": re.compile(r"^\s*(`{3,}|:{3,})\{[\w-]+\}", re.M),
    "a role": re.compile(r"\{[\w:-]+\}`"),
    "a directive option": re.compile(r"^:(label|class|name|nonumber):", re.M),
    "a label target": re.compile(r"^\([\w-]+\)=\s*$", re.M),
    "an equation label": re.compile(r"\$\$[ \t]*\([\w-]+\)"),
}


def test_edition_is_up_to_date():
    assert learner_edition.main(["--check"]) == 0, "run: python scripts/learner_edition.py"


@pytest.mark.parametrize("page", PAGES)
def test_plain_markdown_has_no_myst(page):
    from nbconvert import MarkdownExporter

    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    text, _ = MarkdownExporter().from_notebook_node(nb)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for what, pattern in LEFTOVER_MYST.items():
        for source in (text, prose):
            found = pattern.search(source)
            assert not found, f"{what} left: {found.group(0)!r}"


@pytest.mark.parametrize("page", PAGES)
def test_no_solution_in_the_code_path(page):
    book = notebooks.read(ROOT / "book" / page)
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    code = {line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()}
    leaked = set(notebooks.solution_lines(book)) & code
    assert not leaked, f"solution code a Run All would execute: {sorted(leaked)[:5]}"
    assert not {notebooks.BEGIN, notebooks.END} & code
    assert not any(".player(" in c.source for c in nb.cells if c.cell_type == "code")
    for cell in nb.cells:
        if cell.cell_type == "code" and {"hide-input", "remove-cell"} & set(cell.metadata.get("tags", [])):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
            assert cell.metadata.get("cellView") == "form" and cell.source.startswith("# @title ")


@pytest.mark.parametrize("page", PAGES)
def test_every_solution_is_there_to_open(page):
    """Each exercise with a solution on the website has one in a collapsed block."""
    book = notebooks.read(ROOT / "book" / page)
    solutions = len(re.findall(r"```\{solution(?:-start)?\}", _markdown(book)))
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    found = re.findall(r"<summary>Solution(?: to Exercise \d+)?</summary>", _markdown(nb))
    assert len(found) == solutions


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _graded(page):
    """A page with checked exercises: its learner edition ends with the summary of the checks."""
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    return nb.cells[-1].source == "checks.summary(progress)"


def test_pages_with_checks_sum_them_up():
    for page in PAGES:
        book = "\n".join(
            c.source for c in notebooks.read(ROOT / "book" / page).cells if c.cell_type == "code"
        )
        checked = re.search(r"^checks\.check_\w+\(", notebooks.strip_solution_code(book), re.M)
        assert bool(checked) == _graded(page), page


@pytest.mark.parametrize("page", PAGES)
def test_bootstrap_installs_from_the_configured_repository(page):
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    url = learner_edition.repository_url()
    assert f'REPO = "git+{url}@' in nb.cells[0].source


def test_markdown_conversion():
    ctx = learner.Context(
        exercises={"ex-a": 7},
        equations={"eq-x": ("01_a/index.ipynb", 2), "eq-y": ("02_b/p.ipynb", 1)},
        citations={"smith2017": ("Smith", "2017"), "lee2020": ("Lee et al.", "2020")},
        page="01_a/index.ipynb",
    )
    md = (
        "```{exercise} Guess\n:label: ex-a\n\nIs it $x$?\n```\n\n"
        "```{solution} ex-a\n:class: dropdown\n\nYes.\n```\n\n"
        "See {eq}`eq-x`, {eq}`eq-y`, {cite:t}`smith2017` and {cite:p}`smith2017,lee2020`.\n\n"
        "$$\na = b\n$$ (eq-x)\n"
    )
    out = learner.convert_markdown(md, ctx)
    assert "**Exercise 7: Guess**\n\nIs it $x$?" in out
    assert "<details>\n<summary>Solution to Exercise 7</summary>\n\nYes.\n\n</details>" in out
    assert "See (2), [(1)](../02_b/p.ipynb), Smith (2017) and (Smith, 2017; Lee et al., 2020)." in out
    assert "a = b \\tag{2}\n$$" in out


def test_check_calls_record_their_results():
    assert learner._record("checks.check_f(f)") == "checks.check_f(f, record=progress)"
    assert learner._record("checks.check_g()") == "checks.check_g(record=progress)"
    assert learner._record("checks.check_h(f, record=mine)") == "checks.check_h(f, record=mine)"
    commented = "checks.check_function(\n    f,\n    ref  # the reference\n)"
    assert learner._record(commented) == (
        "checks.check_function(\n    f,\n    ref,  # the reference\n    record=progress,\n)"
    )
    multi = "checks.check_function(\n    f,\n    ref\n)"
    assert learner._record(multi) == "checks.check_function(\n    f,\n    ref,\n    record=progress,\n)"


def test_links_to_the_book_files_that_are_not_pages():
    ctx = learner.Context(page="00_introduction/index.ipynb")
    md = "[kit](../instructors.md), [next](models_and_data.ipynb#x), [web](https://a.b/c.md)"
    out = learner.convert_markdown(md, ctx)
    assert (
        out == "[kit](../../../book/instructors.md), [next](models_and_data.ipynb#x), [web](https://a.b/c.md)"
    )


def test_citations_read_the_bibliography():
    bib = (
        "@article{a2019,\n  author = {Smith, Jo and Lee, Kim and Park, Al},\n  title = {T},\n"
        "  year = {2019}\n}\n@misc{b2020,\n  author = {Doe, Jane},\n  year = {2020}\n}\n"
    )
    assert learner_edition.citations(bib) == {"a2019": ("Smith et al.", "2019"), "b2020": ("Doe", "2020")}


@pytest.mark.parametrize("page", PAGES)
def test_links_to_headings_open_at_their_cell(page):
    """A link to a heading on another page names the heading's cell (JupyterLab's ``#cell-id=``)."""
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    for target, anchor in re.findall(r"\]\(([^)#\s]+\.ipynb)#([^)\s]+)\)", _markdown(nb)):
        assert anchor.startswith("cell-id="), f"{target}#{anchor}: not a cell id"
        other = nbformat.read((ROOT / "learner" / "book" / page).parent / target, as_version=4)
        cells = {c.id: c for c in other.cells}
        cell = cells.get(anchor.removeprefix("cell-id="))
        assert cell is not None and re.search(r"^#{1,6} ", cell.source, re.M), f"{target}#{anchor}"


@pytest.mark.parametrize("page", PAGES)
def test_only_the_live_explorer_runs(page):
    nb = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"\.(static|player)\(", code), "small multiples or a player in the code path"


def _cells(*sources):
    make = {"md": nbformat.v4.new_markdown_cell, "py": nbformat.v4.new_code_cell}
    return [make[kind](text) for kind, text in sources]


def test_a_section_says_what_it_takes_from_earlier_ones():
    cells = _cells(
        ("py", "import numpy as np\nsetup = 1"),
        ("md", "## 2.1 First"),
        ("py", "x = np.ones(3)\ndef f(lr):\n    return lr * x"),
        ("md", "## 2.2 Second"),
        ("py", "y = f(0.1) + setup\nz = [k for k in y]"),
        ("md", "## 2.3 Third"),
        ("py", "x = 2\nprint(x, y, z)"),
    )
    notes = [c.source for c in learner._with_section_needs(cells) if c.source.startswith("*This")]
    assert notes == [
        "*This section uses `f` from section 2.1: run those cells first (or Run All).*",
        "*This section uses `y` and `z` from section 2.2: run those cells first (or Run All).*",
    ]


def test_what_a_section_needs_follows_python_scopes():
    cells = _cells(
        ("md", "## 3.1 First"),
        ("py", "peak = 0.1\nn = 3\nX = 1"),
        ("md", "End of 3.1.\n\n## 3.2 Second\n\nIt starts here."),  # a heading mid-cell
        ("py", "def warm(peak, k):\n    return peak * k * X\nlast = [v for v in range(2)]"),
        ("md", "## 3.3 Third"),
        ("py", "n = n + 1\ndef g(X):\n    return X\nprint(X, peak, warm)"),
        ("md", "## 3.4 Fourth"),
        ("py", "d = {k: 1 for k in range(3)}\nfor k in d:\n    print(k)"),
        ("py", "e = [k for k in d]\nk = 2"),
    )
    out = learner._with_section_needs(cells)
    notes = {
        out[i - 1].source.splitlines()[-1]: c.source
        for i, c in enumerate(out)
        if c.source.startswith("*This")
    }
    assert notes == {
        "It starts here.": "*This section uses `X` from section 3.1: run those cells first (or Run All).*",
        "## 3.3 Third": (
            "*This section uses `X`, `n` and `peak` from section 3.1; `warm` from section 3.2: "
            "run those cells first (or Run All).*"
        ),
    }


def test_small_multiples_become_code_to_run_on_demand():
    nb = nbformat.v4.new_notebook()
    nb.cells = _cells(
        ("py", "from lrcourse import checks"),
        ("py", "e = widgets.descent_explorer()\ne.show()"),
        ("py", 'e.static([{"lr": 0.1}])'),
        ("py", 'e.player("lr")'),
    )
    out = learner.learner_version(nb, learner.Context())
    assert [c.cell_type for c in out.cells] == ["code", "code", "markdown", "markdown"]
    assert out.cells[2].source.endswith('```python\ne.static([{"lr": 0.1}])\n```')


def test_figures_get_their_number_and_caption():
    ctx = learner.Context(figures={"fig-a": 4})
    assert learner.convert_markdown("See {numref}`fig-a`.", ctx) == "See Fig. 4."
    assert learner.convert_markdown("{numref}`Figure %s <fig-a>` shows", ctx) == "Figure 4 shows"
    nb = nbformat.v4.new_notebook()
    nb.cells = _cells(("py", "plt.plot([1, 2])"))
    nb.cells[0].metadata["mystnb"] = {"figure": {"caption": "A line.", "name": "fig-a"}}
    out = learner.learner_version(nb, ctx)
    assert [c.source for c in out.cells][1] == "*Fig. 4* A line."


def test_every_caption_has_a_name():
    """The learner edition numbers figures by name (``mystnb.figure.name``)."""
    for page in PAGES:
        for cell in notebooks.read(ROOT / "book" / page).cells:
            figure = cell.metadata.get("mystnb", {}).get("figure", {})
            assert not figure.get("caption") or figure.get("name"), f"{page}: a caption without a name"


FILLED = learner_edition.edition(filled=True)


@pytest.mark.parametrize("page", PAGES)
def test_every_answer_needs_only_what_the_cells_before_it_define(page):
    """A reference answer runs where a learner writes it, so every name it reads must be
    defined by a cell above it on the page. (The Colab check runs the answers after the
    whole page; this keeps the order they are written in honest, without a second run.)"""
    untouched = nbformat.read(ROOT / "learner" / "book" / page, as_version=4)
    filled, defined, late = FILLED[page], set(), []
    for before, cell in zip(untouched.cells, filled.cells, strict=True):
        if cell.cell_type != "code":
            continue
        made, used = learner._names(cell.source)
        if cell.source != before.source and used - defined:
            late.append(f"{cell.source.splitlines()[0][:50]!r} reads {sorted(used - defined)}")
        defined |= made
    assert not late, f"{page}: answers that read names no cell above them defines: {late}"

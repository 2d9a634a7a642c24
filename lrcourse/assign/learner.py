r"""The learner edition of a book page: the notebook Binder, Colab and the download button open.

The book's notebooks are written for the website: MyST directives and roles, solutions in
dropdowns, and every explorer shown three times (live, small multiples, a kernel-free
player). Plain JupyterLab, Jupyter Notebook and Colab render none of the MyST, and Run
All would run every solution. :func:`learner_version` turns a page into a notebook that
reads cleanly there:

- an exercise becomes a bold line with its number (as the website numbers it) and title;
- a solution, its prose and its code, moves into a collapsed ``<details>`` block of a
  Markdown cell: Run All never runs it, the learner opens it on purpose, and the
  learner's cell keeps its stub (as in the student version);
- ``{cite}`` roles become "Author (year)", ``{eq}`` roles the equation's number, and a
  labelled equation shows its number with ``\tag``;
- the bootstrap and the plotting cells are collapsed (JupyterLab's
  ``jupyter.source_hidden``, Colab's form view with a ``# @title`` line);
- only the live explorer runs: the player (the website's stand-in for it) is dropped, and
  the small multiples become a note with their code, to run on demand;
- a section that uses names defined in earlier sections says so under its heading;
- the checks record their results in ``progress``, and the last cell sums them up.

:class:`Context` holds what a page needs from the rest of the book (exercise numbers,
equation numbers, citations); ``scripts/learner_edition.py`` builds it and writes the
edition to ``learner/``.
"""

from __future__ import annotations

import ast
import builtins
import copy
import posixpath
import re
import symtable
from dataclasses import dataclass, field

import nbformat

from lrcourse.assign.notebooks import (
    BEGIN,
    END,
    PLAYER,
    PLAYER_NOTE,
    SOLUTION_END,
    SOLUTION_START,
    STATIC,
    fenced_directive,
    option_label,
    small_multiples_note,
    solution_cells,
    strip_solution_code,
)

EXERCISE = re.compile(
    r"```\{exercise-start\}(?P<title>[^\n]*)\n(?P<options>(?::[^\n]*\n)*)```[ \t]*\n?", re.M
)
EXERCISE_END = re.compile(r"```\{exercise-end\}\s*\n```\n?", re.M)
DIRECTIVE = fenced_directive("exercise", "solution", "admonition")
ROLE = re.compile(r"\{(?P<role>cite|cite:p|cite:t|eq|numref)\}`(?P<target>[^`]*)`")
LABELLED_MATH = re.compile(r"\$\$(?P<math>.*?)\$\$[ \t]*\((?P<label>[\w-]+)\)", re.S)
EXERCISE_BLOCK = re.compile(r"```\{exercise(?:-start)?\}[^\n]*\n(?P<options>(?::[^\n]*\n)*)", re.M)
"""The opening of an exercise, plain or gated: its directive line and its options."""


@dataclass
class Context:
    """What one page needs from the whole book.

    ``exercises``: label -> number, counted over the book in reading order, as the
    website numbers them; ``equations``: label -> ``(page, number)``, numbered through
    the book as the website numbers them;
    ``citations``: bibliography key -> ``(authors, year)``; ``figures``: a figure's
    name -> its number, counted through the book; ``headings``: page ->
    {the website's anchor of a heading: the id of the cell that holds it};
    ``page``: this page's path relative to the book (``02_learning_rate/index.ipynb``),
    to tell its own equations.
    """

    exercises: dict = field(default_factory=dict)
    equations: dict = field(default_factory=dict)
    citations: dict = field(default_factory=dict)
    headings: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    page: str = ""


# ----------------------------------------------------------------- markdown


def _option(options, name):
    found = re.search(rf"^:{name}:\s*(.*)$", options, re.M)
    return found.group(1).strip() if found else ""


def _exercise_heading(title, options, ctx):
    label = _option(options, "label")
    number = ctx.exercises.get(label)
    name = f"Exercise {number}" if number else "Exercise"
    title = title.strip()
    return f"**{name}: {title}**" if title else f"**{name}**"


def details(summary, body):
    """A collapsed block: ``summary`` shows, ``body`` (Markdown) opens on a click."""
    return f"\n\n<details>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>\n\n"


def _solution_summary(label, ctx):
    number = ctx.exercises.get(label)
    return f"Solution to Exercise {number}" if number else "Solution"


def _directive(match, ctx):
    name, arg, options, body = (match.group(k) for k in ("name", "arg", "options", "body"))
    if name == "exercise":
        return f"{_exercise_heading(arg, options, ctx)}\n\n{body.strip()}\n"
    if name == "solution":
        return details(_solution_summary(arg.strip(), ctx), body)
    # an admonition: collapsed if it is a dropdown on the website, a quote otherwise
    if "dropdown" in _option(options, "class"):
        return details(f"<b>{arg.strip()}</b>", body)
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.strip().splitlines())
    return f"> **{arg.strip()}**\n>\n{quoted}\n"


def cite(keys, role, ctx):
    """``Smith (2017)`` for ``{cite:t}``, ``(Smith, 2017; Jones, 2019)`` for the others."""
    found = [ctx.citations.get(key.strip(), (key.strip(), "")) for key in keys.split(",")]
    if role == "cite:t":
        return "; ".join(f"{who} ({year})" for who, year in found)
    return "(" + "; ".join(f"{who}, {year}" for who, year in found) + ")"


def figure_reference(target, ctx):
    """``{numref}`fig-x``` -> "Fig. 3" (as the website says it); ``{numref}`Figure %s <fig-x>``` -> "Figure 3"."""
    custom = re.fullmatch(r"(?P<text>.*?)\s*<(?P<label>[^<>]+)>", target.strip(), re.S)
    label = custom.group("label") if custom else target.strip()
    number = ctx.figures.get(label)
    text = custom.group("text") if custom else "Fig. %s"
    return text.replace("%s", str(number)) if number else text.replace("%s", "").strip()


def _role(match, ctx):
    role, target = match.group("role"), match.group("target")
    if role == "numref":
        return figure_reference(target, ctx)
    if role != "eq":
        return cite(target, role, ctx)
    page, number = ctx.equations.get(target, (None, None))
    if number is None:
        return f"({target})"
    if page in (None, ctx.page):
        return f"({number})"
    name = page.rsplit("/", 1)[-1]
    here, there = ctx.page.split("/", 1)[0], page.split("/", 1)[0]
    link = name if here == there else f"../{page}"
    return f"[({number})]({link})"


def _tag(match, ctx):
    _, number = ctx.equations.get(match.group("label"), (None, None))
    tag = f" \\tag{{{number}}}" if number else ""
    return f"$${match.group('math').rstrip()}{tag}\n$$"


LINK = re.compile(r"\]\((?P<target>(?![a-z]+:|#)[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def _link(match, ctx):
    """A relative link to another page or to a file of the book (``../instructors.md``).

    Pages have their learner edition beside them; a heading on one is reached by the id
    of its cell (``#cell-id=...``, which JupyterLab scrolls to: its own heading anchors
    come from the rendered text, math included). Other files are reached in ``book/``.
    """
    target, anchor = match.group("target"), match.group("anchor") or ""
    if not ctx.page:
        return match.group(0)
    folder = posixpath.dirname(ctx.page)
    if target.endswith(".ipynb"):
        page = posixpath.normpath(posixpath.join(folder, target))
        cell = ctx.headings.get(page, {}).get(anchor[1:])
        return f"]({target}#cell-id={cell})" if anchor and cell else match.group(0)
    return f"]({posixpath.normpath(posixpath.join('../../../book', folder, target))}{anchor})"


def convert_markdown(text, ctx):
    """The Markdown of a cell with the book's MyST turned into plain Markdown."""
    text = LINK.sub(lambda m: _link(m, ctx), text)
    text = DIRECTIVE.sub(lambda m: _directive(m, ctx), text)
    text = EXERCISE.sub(lambda m: _exercise_heading(m.group("title"), m.group("options"), ctx) + "\n", text)
    text = EXERCISE_END.sub("", text)
    text = LABELLED_MATH.sub(lambda m: _tag(m, ctx), text)
    text = ROLE.sub(lambda m: _role(m, ctx), text)
    return text.strip()


# ----------------------------------------------------------------- code


def _solution_code(source):
    """The code of a solution cell as a learner reads it: no markers, no test comments."""
    lines = [line for line in source.splitlines() if line.strip() not in (BEGIN, END)]
    lines = [line for line in lines if not line.startswith("# NBVAL_")]
    return "\n".join(lines).strip()


def _record(source):
    """Every ``checks.check_...(...)`` call also records its result in ``progress``.

    Calls may span lines; a call that already passes ``record=`` is left alone.
    """
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    inserts = []  # (offset, text)
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE}
    for k in range(len(tokens) - 3):
        a, dot, name, paren = tokens[k : k + 4]
        if not (a.string == "checks" and dot.string == "." and name.string.startswith("check_")):
            continue
        if paren.string != "(":
            continue
        depth, args, j = 0, [], k + 3
        while j < len(tokens):
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(tokens[j].string, 0)
            if depth == 0:
                break
            args.append(tokens[j])
            j += 1
        if j == len(tokens) or any(t.string == "record" for t in args):
            continue
        closing = tokens[j]
        last = [t for t in args if t.type not in layout][-1]  # the "(" when there are no arguments
        at = starts[closing.start[0] - 1] + closing.start[1]
        after_last = starts[last.end[0] - 1] + last.end[1]
        if closing.start[0] > last.end[0]:  # one argument a line: a line of its own
            indent = re.match(r"\s*", source.splitlines()[last.end[0] - 1]).group(0)
            if last.string not in (",", "("):
                inserts.append((after_last, ","))
            line_start = starts[closing.start[0] - 1]
            inserts.append((line_start, f"{indent}record=progress,\n"))
        elif last.string == "(":
            inserts.append((at, "record=progress"))
        else:
            inserts.append((at, " record=progress" if last.string == "," else ", record=progress"))
    for offset, text in sorted(inserts, reverse=True):
        source = source[:offset] + text + source[offset:]
    return source


def _collapse(cell, title):
    """Collapse a code cell in JupyterLab (source hidden) and Colab (form view with a title)."""
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.metadata["cellView"] = "form"
    cell.source = f"# @title {title}\n{cell.source}"


def _code_cell(cell, filled):
    tags = set(cell.metadata.get("tags", []))
    source = cell.source
    if source.startswith("# NBVAL_"):
        source = source.split("\n", 1)[1] if "\n" in source else ""
    cell.source = _solution_code(source) if filled else strip_solution_code(source)
    cell.source = _record(cell.source)
    cell.outputs, cell.execution_count = [], None
    cell.metadata.pop("lrcourse", None)
    kept = [t for t in cell.metadata.get("tags", []) if not t.startswith("nbval")]
    if kept:
        cell.metadata["tags"] = kept
    else:
        cell.metadata.pop("tags", None)
    if "remove-cell" in tags:
        cell.source = re.sub(r"\A(#[^\n]*\n)+", "", cell.source)  # the title says it
        _collapse(cell, "Setup: in Colab this installs the course package")
    elif "hide-input" in tags:
        _collapse(cell, "Code for the figure (double-click to show)")
    return cell


# ----------------------------------------------------------------- the page


def _new_cell(kind, source, cell_id):
    """A new ``"markdown"`` or ``"code"`` cell with a fixed id (the edition is committed)."""
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    cell.id = re.sub(r"[^\w-]", "-", cell_id)[:64]
    return cell


def learner_version(nb, ctx, filled=False):
    """The learner edition of the page ``nb`` (see the module docstring).

    With ``filled``, each exercise's cell runs the reference answer after its stub
    (the tests run that version and expect every check to pass).
    """

    nb = copy.deepcopy(nb)
    answers = _answers(nb) if filled else {}
    learner_cells = _learner_cells(nb)
    out, solution, label = [], None, None  # solution: the parts of an open solution block
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = cell.source
            if solution is not None:
                end = SOLUTION_END.search(text)
                if not end:
                    solution.append(convert_markdown(text, ctx))
                    continue
                solution.append(convert_markdown(text[: end.start()], ctx))
                box = details(_solution_summary(label, ctx), "\n\n".join(solution))
                out.append(_new_cell("markdown", box.strip(), f"solution-{label}"))
                text, solution = text[end.end() :], None
            start = SOLUTION_START.search(text)
            while start:
                end = SOLUTION_END.search(text, start.end())
                body = text[start.end() : end.start()] if end else text[start.end() :]
                label = start.group("label")
                if end:
                    box = details(_solution_summary(label, ctx), convert_markdown(body, ctx))
                    text = text[: start.start()] + box + text[end.end() :]
                else:
                    solution, text = [convert_markdown(body, ctx)], text[: start.start()]
                start = SOLUTION_START.search(text, start.start() + 1) if end else None
            text = re.sub(r"\n{3,}", "\n\n", convert_markdown(text, ctx))
            if text:
                cell.source = text
                cell.metadata.pop("lrcourse", None)
                out.append(cell)
            continue
        if solution is not None:
            code = re.sub(r"\n{3,}", "\n\n", _record(_solution_code(cell.source)))
            if code:
                solution.append(f"```python\n{code}\n```")
            continue
        if PLAYER.search(cell.source):  # the website's stand-in for the live explorer
            out.append(_new_cell("markdown", PLAYER_NOTE, f"{cell.get('id', 'player')}-note"))
            continue
        caption = _caption(cell, ctx)
        if STATIC.search(cell.source):  # the website's small multiples: code to run on demand
            note = small_multiples_note(cell.source)
            if caption:  # the text cites the figure by its number
                note = f"{caption}\n\n{note}"
            out.append(_new_cell("markdown", note, f"{cell.get('id', 'static')}-note"))
            continue
        if filled and i in learner_cells and learner_cells[i] in answers:
            cell.source = f"{cell.source}\n\n{answers[learner_cells[i]]}"  # the last attempt counts
        out.append(_code_cell(cell, filled))
        if caption:  # the website's caption, under the figure
            out.append(_new_cell("markdown", caption, f"{cell.get('id', 'figure')}-caption"))
    if any("record=progress" in c.source for c in out if c.cell_type == "code"):
        imports = next(k for k, c in enumerate(out) if re.search(r"^from lrcourse import", c.source, re.M))
        tally = "progress = []  # your checked answers; the last cell sums them up"
        out.insert(imports + 1, _new_cell("code", tally, "progress"))
        out.append(_new_cell("markdown", "## Your progress on this page", "progress-heading"))
        out.append(_new_cell("code", "checks.summary(progress)", "progress-summary"))
    nb.cells = _with_section_needs(out)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("lrcourse", None)
    return nb


def _caption(cell, ctx):
    """The caption of the figure a cell draws (its ``mystnb`` metadata), numbered as on the website."""
    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    if not figure.get("caption"):
        return ""
    number = ctx.figures.get(figure.get("name"))
    name = f"Fig. {number}" if number else "Fig."
    return f"*{name}* {convert_markdown(figure['caption'], ctx)}"


def _learner_cells(nb):
    """cell index -> exercise label: the first code cell with a check after an exercise."""
    found, pending, in_solution = {}, None, False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for block in EXERCISE_BLOCK.finditer(cell.source):
                pending = option_label(block.group("options"))
            starts, ends = len(SOLUTION_START.findall(cell.source)), len(SOLUTION_END.findall(cell.source))
            if starts != ends:  # a solution block opens here, or one closes
                in_solution = starts > ends
        elif not in_solution and pending and BEGIN not in cell.source:
            if re.search(r"^checks\.check_\w+\(", cell.source, re.M):
                found[i], pending = pending, None
    return found


def _answers(nb):
    """label -> the reference answer: the code of the exercise's solution block."""
    found = {}
    for label, cell in solution_cells(nb):
        found.setdefault(label, _solution_code(cell.source))
    return found


# ----------------------------------------------------------------- order of sections

HEADING = re.compile(r"^## (?P<title>[^\n]+)$", re.M)
NUMBERED = re.compile(r"\A(?P<number>\d+\.\d+)\s")


def without_magics(source):
    """A code cell's source without its IPython ``%`` and ``!`` lines: plain Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _parse(source):
    """The syntax tree and symbol table of a code cell (``%`` and ``!`` lines dropped), or ``None``."""
    code = without_magics(source)
    try:
        return ast.parse(code), symtable.symtable(code, "<cell>", "exec")
    except SyntaxError:
        return None


def _shallow_names(node, kind):
    """The names ``node`` loads or stores (``kind``) in its own scope.

    The bodies of functions, classes and comprehensions are scopes of their own; of a
    comprehension, only the first iterable is evaluated here.
    """
    found, todo = set(), [node]
    while todo:
        item = todo.pop()
        if isinstance(item, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            todo.append(item.generators[0].iter)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, kind):
            found.add(item.id)
        elif item is node or not isinstance(
            item, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        ):
            todo.extend(ast.iter_child_nodes(item))
    return found


def _read_before_written(tree, name):
    """Whether the cell reads the top-level ``name`` before it first binds it (``n = n + 1``)."""
    for statement in tree.body:
        if isinstance(statement, ast.AugAssign) and _shallow_names(statement.target, ast.Store) == {name}:
            return True
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            if name in _shallow_names(statement.value, ast.Load):
                return True
        bound = _shallow_names(statement, ast.Store)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(statement.name)
        if isinstance(statement, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in statement.names)
        if name in bound:
            return False
        if name in _shallow_names(statement, ast.Load):
            return True
    return False


def _names(source):
    """``(defined, used)``: the top-level names a cell binds, and those it needs from before it.

    A name is needed when the cell reads it at the top level, or in a function or class
    that resolves it at the top level, without binding it first.
    """
    parsed = _parse(source)
    if parsed is None:
        return set(), set()
    tree, table = parsed
    top = {s.get_name(): s for s in table.get_symbols()}
    defined = {name for name, s in top.items() if s.is_assigned() or s.is_imported()}
    read = {name for name, s in top.items() if s.is_referenced()}
    todo = list(table.get_children())
    while todo:  # functions, classes, comprehensions: their reads of top-level names
        scope = todo.pop()
        todo.extend(scope.get_children())
        read |= {s.get_name() for s in scope.get_symbols() if s.is_referenced() and s.is_global()}
    used = {n for n in read if n not in defined or _read_before_written(tree, n)}
    return defined, used - set(dir(builtins))


def _section_name(title):
    number = NUMBERED.match(title)
    return f"section {number.group('number')}" if number else f"“{title.strip()}”"


def _section_key(name):
    number = re.search(r"(\d+)\.(\d+)", name)
    return (int(number.group(1)), int(number.group(2))) if number else (0, 0)


def _needs_note(needs):
    """``{section: [names]}`` -> the sentence under a heading."""
    parts = []
    for section, names in sorted(needs.items(), key=lambda item: _section_key(item[0])):
        listed = [f"`{n}`" for n in sorted(names)]
        listed = ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]
        parts.append(f"{listed} from {section}")
    said = "; ".join(parts)
    return f"*This section uses {said}: run those cells first (or Run All).*"


def _with_section_needs(cells):
    """Under each ``##`` heading, say which names the section takes from earlier sections.

    Names bound before the first numbered section (the imports and the page's setup) are
    not listed: they are there for every section.
    """
    out, where, section, numbered = [], {}, None, False
    pending = None  # (index in out of the heading, {section: names})
    for cell in cells:
        if cell.cell_type == "markdown":
            titles = HEADING.findall(re.sub(r"^```.*?^```", "", cell.source, flags=re.S | re.M))
            if titles:  # the cell's last heading opens the section its note goes under
                _add_note(out, pending)
                section = _section_name(titles[-1])
                numbered = numbered or any(NUMBERED.match(title) for title in titles)
                pending = (len(out), {})
            out.append(cell)
            continue
        defined, used = _names(cell.source)
        if pending is not None:
            for name in sorted(used):
                if name in where and where[name] not in (None, section):
                    pending[1].setdefault(where[name], set()).add(name)
        for name in defined:
            where[name] = section if numbered else None
        out.append(cell)
    _add_note(out, pending)
    return out


def _add_note(cells, pending):
    if pending and pending[1]:
        heading = cells[pending[0]]
        note = _new_cell("markdown", _needs_note(pending[1]), f"{heading.get('id', 'section')}-needs")
        cells.insert(pending[0] + 1, note)

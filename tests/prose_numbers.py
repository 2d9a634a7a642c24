"""Numbers in a chapter's prose must come from its checked outputs (or be declared as given).

A number the text quotes from an experiment ("RMSProp needs 297 steps", "93.6 % on the
validation set") must not drift from what the code prints. The chapters keep prose
plain (it reads the same in JupyterLab, Colab and on the website, where ``{glue}``
roles would show raw in the first two), and this check ties the two together:

every number in the prose of a markdown cell (decimals, percentages and integers of
two digits or more; not inside ``$...$`` math, code, links, labels or citations, and
not section, chapter, figure or equation numbers or years) must be

1. a rounding of a number printed by one of the chapter's ``# NBVAL_CHECK_OUTPUT``
   cells (their expected text, which ``make notebooks`` and ``make robustness``
   compare with fresh runs on several numerical environments): ``0.094`` matches a
   printed ``0.0943``, ``93.6 %`` a printed ``93.6%`` or ``0.936``; or
2. a literal in the chapter's code (a setting such as ``lr=1.5`` or ``epochs=30``); or
3. declared as *given* in the notebook's metadata, ``lrcourse.given_numbers``: a list
   of the numbers the prose states that no cell computes (a fact from a source, a
   default of PyTorch, arithmetic shown in the text), each as it appears in the prose.

So a change of code, data, seed or machine that moves a quoted result fails
``make unit`` until the prose says the new number.

    python tests/prose_numbers.py [book/NN_name/page.ipynb ...]
        lists every number that is not tied, with its context

A chapter's pages (the notebooks of its folder) count as one: a number on one page may
come from a checked cell of another.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import nbformat
from nbval_expected import KEY, ROOT, is_checked

_NUMBER = re.compile(
    r"(?<![\w.,/^_\\-])(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?P<pct>\s?%)?(?![\w]|\.\d|/\d|,\d{3})"
)
_OUTPUT_NUMBER = re.compile(r"(?<![\w.])-?(\d+(?:\.\d+)?(?:e[-+]?\d+)?)(\s?%)?", re.IGNORECASE)

_REMOVE = [
    (re.compile(r"^:[\w-]+:.*$", re.M), " "),  # directive options (:label:, :class:)
    (re.compile(r"\$\$.*?\$\$", re.S), " "),  # display math
    (re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$"), " "),  # inline math
    (re.compile(r"\{[\w:-]+\}`[^`]*`"), " "),  # roles: {eq}`...`, {cite}`...`
    (re.compile(r"`[^`\n]*`"), " "),  # inline code
    (re.compile(r"\]\([^)]*\)"), "]"),  # link targets
    (re.compile(r"^\([\w-]+\)=\s*$", re.M), " "),  # targets
    (re.compile(r"<[^>\n]+>"), " "),  # html tags
    (re.compile(r"^#+ .*$", re.M), " "),  # headings
    (
        re.compile(
            r"\b(?:[Ss]ections?|[Cc]hapters?|[Ff]igures?|[Ee]quations?|[Tt]ables?|[Pp]arts?|[Ss]teps? \d+ (?:to|and) |§|eq\.|Eq\.|M|G|L|S)\s?"
            r"\d+(?:\.\d+)*(?:\s*(?:[–-]|to|and|or)\s*\d+(?:\.\d+)*)*"
        ),
        " ",
    ),
    (re.compile(r"\b(?:19|20)\d\d[a-z]?\b"), " "),  # years
]


@dataclass(frozen=True)
class Number:
    text: str  # as written in the prose
    value: Decimal
    decimals: int
    percent: bool
    context: str


_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def _without_code_blocks(markdown):
    """Drop fenced code blocks and the fence lines of directives, keep the directives' text.

    ```` ```{exercise} ```` ... ```` ``` ```` is prose (an exercise, a solution), a
    fence with a language or none that is not closing a directive is code.
    """
    kept, directives, code = [], [], None
    for line in markdown.split("\n"):
        m = _FENCE.match(line.strip())
        if code is not None:
            if m and m.group(1) == code and not m.group(2).strip():
                code = None
            continue
        if m:
            fence, rest = m.group(1), m.group(2).strip()
            if rest.startswith("{"):
                directives.append(fence)
            elif not rest and directives and directives[-1] == fence:
                directives.pop()
            else:
                code = fence
            kept.append("")
            continue
        kept.append(line)
    return "\n".join(kept)


def prose(markdown):
    """The markdown of a cell with math, code, links, labels and references removed."""
    markdown = _without_code_blocks(markdown)
    for pattern, repl in _REMOVE:
        markdown = pattern.sub(repl, markdown)
    return markdown


def prose_numbers(markdown):
    """The numbers the prose of ``markdown`` states, as :class:`Number`."""
    text = prose(markdown)
    found = []
    for m in _NUMBER.finditer(text):
        whole = m.group("num").replace(",", "")
        frac = m.group("frac") or ""
        pct = bool(m.group("pct"))
        if not frac and not pct and int(whole) < 10:
            continue  # small counts ("3 exercises", "2 layers") are words, not results
        start, end = max(0, m.start() - 40), min(len(text), m.end() + 40)
        context = " ".join(text[start:end].split())
        found.append(
            Number(m.group(0).strip(), Decimal(whole + frac), len(frac) - 1 if frac else 0, pct, context)
        )
    return found


def checked_output_numbers(nb):
    """``(value, printed as percent)`` for every number the checked cells must print."""
    numbers = []
    for cell in nb.cells:
        if not is_checked(cell):
            continue
        for out in cell.get("metadata", {}).get(KEY, {}).get("expected_outputs", []):
            text = out.get("stdout", out.get("result", ""))
            for m in _OUTPUT_NUMBER.finditer(text.replace(",", "")):
                try:
                    numbers.append((Decimal(m.group(1)), bool(m.group(2))))
                except InvalidOperation:
                    pass
    return numbers


def code_literals(nb):
    """Every number literal in the chapter's visible code cells (settings).

    Comments, strings and the hidden plotting cells (``hide-input``, ``remove-cell``)
    do not count: a number there is not a setting the reader sees.
    """
    values = set()
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"hide-input", "remove-cell"} & set(tags):
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        except (tokenize.TokenError, SyntaxError):
            continue
        for tok in tokens:
            if tok.type == tokenize.NUMBER:
                try:
                    values.add(Decimal(tok.string.replace("_", "")))
                except InvalidOperation:  # complex or hexadecimal literals
                    pass
    return values


def _rounds_to(value, decimals, target):
    q = Decimal(1).scaleb(-decimals)
    return any(value.quantize(q, rounding=r) == target for r in (ROUND_HALF_UP, ROUND_HALF_EVEN))


def is_tied(number, outputs, literals, given):
    if number.text in given or number.text.replace(" ", "") in given:
        return True
    for value, printed_pct in outputs:
        if number.percent:
            as_pct = value if printed_pct else value * 100
            if _rounds_to(as_pct, number.decimals, number.value):
                return True
        elif not printed_pct and _rounds_to(value, number.decimals, number.value):
            return True
    return not number.percent and number.value in literals


def chapter_pages(path):
    """The notebooks of the chapter ``path`` belongs to: every page of its folder."""
    return sorted(Path(path).parent.glob("*.ipynb"))


def untied(path):
    """The prose numbers of notebook ``path`` that are neither printed, set in code, nor given.

    A chapter's pages share their numbers: a page may quote what another page of the same
    chapter prints (the summary on the last page quotes the whole chapter).
    """
    nb = nbformat.read(path, as_version=4)
    outputs, literals, given = [], set(), set()
    for page in chapter_pages(path):
        other = nbformat.read(page, as_version=4)
        outputs += checked_output_numbers(other)
        literals |= code_literals(other)
        given |= set(other.get("metadata", {}).get(KEY, {}).get("given_numbers", []))
    missing = []
    for i, cell in enumerate(nb.cells):
        if cell["cell_type"] != "markdown":
            continue
        for number in prose_numbers(cell.source):
            if not is_tied(number, outputs, literals, given):
                missing.append((i, number))
    return missing


def main(argv):
    paths = [Path(p) for p in argv] or sorted(ROOT.glob("book/[0-9][0-9]_*/*.ipynb"))
    total = 0
    for path in paths:
        found = untied(path)
        total += len(found)
        for i, number in found:
            print(f"{path} cell {i}: {number.text!r} in '{number.context}'")
    print(f"{total} numbers in the prose are not tied to a checked output, a code literal or given_numbers")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

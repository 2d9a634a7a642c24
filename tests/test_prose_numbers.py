"""Every number a chapter's prose quotes is printed by one of its checked cells (or declared given)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prose_numbers import Number, is_tied, prose_numbers, untied
from toc import ROOT

PAGES = sorted(ROOT.glob("book/[0-9][0-9]_*/*.ipynb"))


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(ROOT / "book").as_posix() for p in PAGES])
def test_prose_numbers_come_from_checked_outputs(path):
    missing = untied(path)
    lines = [f"cell {i}: {n.text!r} in '{n.context}'" for i, n in missing]
    assert not missing, (
        f"{path.relative_to(ROOT)}: numbers in the prose that no checked cell prints "
        "(print them in a # NBVAL_CHECK_OUTPUT cell, or list a number no cell computes in "
        "metadata lrcourse.given_numbers):\n" + "\n".join(lines)
    )


def _texts(markdown):
    return [n.text for n in prose_numbers(markdown)]


def test_what_counts_as_a_number_in_the_prose():
    md = (
        "## 4.2 Heading 0.5\n"
        "At a rate of 0.35 the loss is 93.6 % after 120 steps; 3 runs.\n"
        "See section 4.1, Chapter 2 and figure 3.2 (Smith 2017); $\\eta = 0.7$, `lr=0.9`,\n"
        "{eq}`eq-2` and [a link](https://example.org/1.25).\n"
        "```python\nx = 0.125\n```\n"
        "```{exercise} Predict 0.45\n:label: ex-a-1.5\n\nThe rate 0.55 here counts.\n```\n"
    )
    assert _texts(md) == ["0.35", "93.6 %", "120", "0.55"]


def _n(text, value, decimals, percent=False):
    return Number(text, Decimal(value), decimals, percent, "")


def test_a_prose_number_is_a_rounding_of_a_printed_one():
    printed = [(Decimal("0.0943"), False), (Decimal("93.6"), True), (Decimal("0.975"), False)]
    assert is_tied(_n("0.094", "0.094", 3), printed, set(), set())
    assert not is_tied(_n("0.095", "0.095", 3), printed, set(), set())  # drifted
    assert is_tied(_n("93.6 %", "93.6", 1, True), printed, set(), set())
    assert is_tied(_n("97.5 %", "97.5", 1, True), printed, set(), set())  # printed as a fraction
    assert not is_tied(_n("94 %", "94", 0, True), [(Decimal("93.6"), False)], set(), set())
    assert is_tied(_n("1.5", "1.5", 1), [], {Decimal("1.5")}, set())  # a setting in the code
    assert is_tied(_n("20 %", "20", 0, True), [], set(), {"20 %"})  # declared given


def test_a_solution_after_an_exercise_in_the_same_cell_is_prose():
    md = (
        "```{exercise} Guess\n:label: ex-g\n\nIs it 0.25?\n```\n\n"
        "```{solution} ex-g\n:class: dropdown\n\nNo, 0.75.\n```\n"
        "````markdown\n```{note}\n0.125\n```\n````\n"
        "```\n0.375 in a plain block\n```\nThen 0.625.\n"
    )
    assert _texts(md) == ["0.25", "0.75", "0.625"]

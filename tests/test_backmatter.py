"""The glossary and the syllabus map stay in step with the chapters."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import backmatter  # noqa: E402

# The course's syllabus item IDs (the map in book/syllabus_map.yml must cover each one).
SYLLABUS_IDS = (
    [f"G{i}" for i in range(1, 7)]
    + [f"L{i}" for i in range(1, 10)]
    + [f"B{i}" for i in range(1, 6)]
    + [f"E{i}" for i in range(1, 5)]
    + [f"S{i}" for i in range(1, 13)]
    + [f"A{i}" for i in range(1, 9)]
    + [f"X{i}" for i in range(1, 4)]
    + [f"M{i}" for i in range(1, 10)]  # chapters 9 to 11
)


def test_generated_pages_are_up_to_date():
    assert backmatter.main(["--check"]) == 0, "run: python scripts/backmatter.py"


def test_every_syllabus_item_is_mapped():
    mapped = {item["id"] for item in backmatter.syllabus_entries()}
    assert sorted(set(SYLLABUS_IDS) - mapped) == []


@pytest.mark.parametrize("item", backmatter.syllabus_entries(), ids=lambda item: item["id"])
def test_mapped_section_exists(item):
    for place in backmatter.places(item):
        path = backmatter.page_of(place)
        assert path.exists(), f"{item['id']}: no chapter {place['chapter']}"
        assert place["section"] in backmatter.headings(path), (
            f"{item['id']}: chapter {place['chapter']} has no heading {place['section']!r}"
        )
    assert item["what"].strip(), f"{item['id']}: describe the item in a few words"


def test_every_chapter_has_key_terms_with_japanese():
    chapters = {}  # folder -> the key terms of all its pages
    for rel in backmatter.toc_notebooks():
        if "/0" not in rel or rel.startswith("book/00_"):
            continue
        chapters.setdefault(Path(rel).parent.as_posix(), []).extend(backmatter.key_terms(ROOT / rel))
    assert chapters
    for rel, terms in chapters.items():
        assert len(terms) >= 5, f"{rel}: fewer than 5 key terms"
        for english, japanese, meaning in terms:
            assert japanese and meaning, f"{rel}: term {english!r} lacks Japanese or a meaning"
            assert any(ord(ch) > 0x3000 for ch in japanese), (
                f"{rel}: {english!r}: {japanese!r} is not Japanese"
            )


def test_slug_matches_myst_anchors():
    assert (
        backmatter.slug("Put to the test: the 1/sqrt(features) rule")
        == "put-to-the-test-the-1sqrtfeatures-rule"
    )
    assert backmatter.slug("Saddle points") == "saddle-points"

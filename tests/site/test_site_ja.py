"""Japanese text on the built site: marked ``lang="ja"`` and set in a Japanese font.

Every Japanese character in the text of a page (headings, prose, tables, captions, the
sidebar, the print-only title) must sit in an element whose closest ``[lang]`` is
``ja``; the page itself stays ``<html lang="en">``. Code and math are left out of the
check (they are not marked: a code listing is read as code). The ``<title>`` element
cannot hold markup and is outside ``<body>``, so it is not checked.
"""

from __future__ import annotations

import json

import pytest
from conftest import ARTIFACTS, site_pages, slug

PAGES = site_pages()

JAPANESE_TEXT = r"""() => {
  const japanese = /[\u2e80-\u2fdf\u3000-\u30ff\u31c0-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]/u;
  const skip = "script, style, template, noscript, pre, code, .math, mjx-container";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let marked = 0;
  const unmarked = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!japanese.test(node.textContent) || node.parentElement.closest(skip)) continue;
    const lang = node.parentElement.closest("[lang]");
    if (lang && lang.getAttribute("lang") === "ja") {
      marked += 1;
    } else {
      const where = node.parentElement.closest("[id], [class]");
      unmarked.push([node.textContent.trim().slice(0, 60), where ? (where.id || where.className) : ""]);
    }
  }
  const span = document.querySelector('span[lang="ja"]');
  return {
    root: document.documentElement.getAttribute("lang"),
    marked: marked,
    unmarked: unmarked,
    font: span ? getComputedStyle(span).fontFamily : null,
  };
}"""


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page_path", PAGES or ["-"])
def test_japanese_text_is_marked(shared_visit, page_path):
    page = shared_visit(page_path).page
    state = page.evaluate(JAPANESE_TEXT)
    (ARTIFACTS / "ja").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "ja" / f"{slug(page_path)}.json").write_text(json.dumps(state, indent=1, ensure_ascii=False))
    assert state["root"] == "en", f"{page_path}: <html lang={state['root']!r}>, expected 'en'"
    assert not state["unmarked"], f"{page_path}: Japanese text without lang=ja: {state['unmarked'][:10]}"
    if state["marked"]:
        assert "Hiragino Sans" in state["font"] and "Noto Sans CJK JP" in state["font"], state["font"]


def test_the_glossary_and_a_chapter_have_japanese_to_check():
    """The check above means something only where the pages hold Japanese terms."""
    for page_path in ("book/glossary.html", "book/02_learning_rate/index.html"):
        if page_path not in PAGES:
            pytest.skip(f"{page_path} not built")
    from conftest import SITE

    assert (SITE / "book/glossary.html").read_text(encoding="utf-8").count('lang="ja"') >= 100
    assert (SITE / "book/02_learning_rate/index.html").read_text(encoding="utf-8").count('lang="ja"') >= 10

"""Japanese text marked ``lang="ja"`` by ``scripts/sphinx_japanese.py``.

The rule that finds a run of Japanese text, the doctree pass (code, math and raw HTML
left alone; a second pass changes nothing), the ``{ja}`` role, and a one-page Sphinx
build: the heading, the navigation title and a table cell carry ``<span lang="ja">``,
the ``<title>`` stays plain text, and the CJK font stack is linked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from docutils import nodes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from sphinx_japanese import japanese, mark_japanese, split_japanese  # noqa: E402


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("the learning rate (学習率) scales", ["学習率"]),
        ("**saddle point** (鞍点, *anten*)", ["鞍点"]),
        ("Adam（アダム）", ["（アダム）"]),  # fullwidth parentheses are Japanese punctuation
        ("AdamW（アダムW）", ["（アダムW）"]),  # a Latin letter between Japanese characters
        ("エポック、過学習、未学習", ["エポック、過学習、未学習"]),  # the ideographic comma
        ("勾配降下法, 損失関数, 鞍点 and more", ["勾配降下法, 損失関数, 鞍点"]),
        ("未学習 or 学習不足", ["未学習", "学習不足"]),  # an English word splits the run
        ("ウォームアップ・ステップ", ["ウォームアップ・ステップ"]),  # middle dot, long vowel mark
        ("々 〜 ｶﾀｶﾅ", ["々 〜 ｶﾀｶﾅ"]),  # iteration mark, wave dash, halfwidth katakana
        ("L2正則化", ["正則化"]),
        ("no Japanese here, not even — or « »", []),
        ("Ελληνικά and русский", []),
    ],
)
def test_runs_of_japanese_text(text, runs):
    pieces = split_japanese(text)
    assert "".join(p for p, _ in pieces) == text
    assert [p for p, is_japanese in pieces if is_japanese] == runs


def _doc():
    doc = nodes.document(None, None)
    section = nodes.section()
    section += nodes.title("", "Learning rate (学習率)")
    para = nodes.paragraph()
    para += nodes.Text("a saddle point (鞍点) and ")
    para += nodes.literal("", "print('学習率')")
    para += nodes.math("", r"\text{学習率}")
    section += para
    section += nodes.literal_block("", "# 学習率\nlr = 0.1")
    section += nodes.raw("", "<b>学習率</b>", format="html")
    doc += section
    return doc


def test_mark_japanese_wraps_text_and_leaves_code_math_raw():
    doc = _doc()
    assert mark_japanese(doc) == 2
    marked = [node.astext() for node in doc.findall(japanese)]
    assert marked == ["学習率", "鞍点"]
    assert doc.astext().count("学習率") == 5  # the text itself is unchanged
    for kind in (nodes.literal, nodes.math, nodes.literal_block, nodes.raw):
        (node,) = doc.findall(kind)
        assert not list(node.findall(japanese))


def test_a_second_pass_changes_nothing():
    doc = _doc()
    mark_japanese(doc)
    before = doc.pformat()
    assert mark_japanese(doc) == 0
    assert doc.pformat() == before


def _build(tmp_path, source):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
        'extensions = ["myst_nb", "sphinx_japanese"]\nnb_execution_mode = "off"\n',
        encoding="utf-8",
    )
    (src / "index.md").write_text(source, encoding="utf-8")
    from sphinx.application import Sphinx

    out = tmp_path / "out"
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None, warning=None)
    app.build()
    return app, (out / "index.html").read_text(encoding="utf-8")


PAGE = """\
# Learning rate (学習率)

The **learning rate** (学習率) scales each step; `lr = 0.1  # 学習率` is code.
The role marks any text: {ja}`Adam法 with Latin`.

| English | 日本語 |
|---|---|
| saddle point | 鞍点 |
"""


def test_a_built_page(tmp_path):
    app, page = _build(tmp_path, PAGE)
    title = app.env.titles["index"]
    assert [n.astext() for n in title.findall(japanese)] == ["学習率"], "the navigation title"
    assert '<h1>Learning rate (<span lang="ja">学習率</span>)' in page
    assert "<title>Learning rate (学習率)" in page  # no markup inside <title>
    assert '(<span lang="ja">学習率</span>) scales' in page
    assert '<span lang="ja">Adam法 with Latin</span>' in page
    assert '<td><p><span lang="ja">鞍点</span></p></td>' in page
    code = page[page.index("<code") : page.index("</code>")]
    assert "学習率" in code and 'lang="ja"' not in code
    assert page.count('lang="ja"') == 5
    assert "_static/japanese.css" in page
    assert (tmp_path / "out" / "_static" / "japanese.css").exists()

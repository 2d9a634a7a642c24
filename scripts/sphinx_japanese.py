"""Sphinx extension: Japanese text is marked ``lang="ja"`` and set in a Japanese font.

The course writes the Japanese term beside every key term, in prose, tables, headings
and captions. Without a language tag a screen reader reads those terms with the page's
English voice, and a browser may draw them with a Chinese font. This extension

1. wraps every run of Japanese text of the doctree in ``<span lang="ja">``, so that no
   chapter has to mark its terms by hand. It works on the text nodes of the doctree:
   never inside code, math, raw HTML or comments. It runs twice: once while a page is
   read (so the titles that Sphinx copies into the sidebar, the breadcrumbs, the
   previous/next links and the page's table of contents carry the tag too) and once
   after references are resolved (text that extensions add late, such as a
   bibliography), and the print-only page title of sphinx-book-theme is marked as the
   page is written. Places it cannot reach: the ``<title>`` element and ``<meta>``
   descriptions (plain text, no markup allowed), the ``alt`` text of images, and the
   search results that the search page builds in the browser;
2. adds the role ``{ja}`` for explicit use (a term the automatic rule would not
   catch, or a whole phrase with Latin letters in it);
3. adds a CJK font stack for ``:lang(ja)`` to the theme's CSS (system fonts only,
   ``site/ja/japanese.css``).

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

ASSETS = Path(__file__).resolve().parents[1] / "site" / "ja"

# Characters that make a run of Japanese text (Unicode blocks):
JAPANESE_CHARS = (
    "\u2e80-\u2fdf"  # CJK Radicals Supplement, Kangxi Radicals
    "\u3000-\u303f"  # CJK Symbols and Punctuation: 、。「」『』〜 々 and the ideographic space
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana, with the middle dot ・ (U+30FB) and the long vowel mark ー (U+30FC)
    "\u31c0-\u31ef"  # CJK Strokes
    "\u31f0-\u31ff"  # Katakana Phonetic Extensions
    "\u3200-\u33ff"  # Enclosed CJK Letters and Months, CJK Compatibility
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\ufe30-\ufe4f"  # CJK Compatibility Forms
    "\uff00-\uffef"  # Halfwidth and Fullwidth Forms: （）、fullwidth digits, halfwidth katakana
    "\U0001b000-\U0001b16f"  # Kana Supplement, Kana Extended-A, Small Kana Extension
    "\U00020000-\U0003134f"  # CJK Unified Ideographs Extensions B to G, compatibility supplement
)
_J = f"[{JAPANESE_CHARS}]"
# A run: Japanese characters, bridged by Latin letters or digits written right between
# them (アダムW）) or by spaces, commas and slashes between two Japanese words
# (勾配降下法, 損失関数). "未学習 or 学習不足" stays two runs: "or" is English.
JAPANESE_RUN = re.compile(rf"{_J}+(?:(?:[A-Za-z0-9]+|[\s,/]+){_J}+)*")

# Text under these nodes is left alone: code, math, raw markup, and what is not shown.
SKIP = (
    nodes.FixedTextElement,  # literal_block, doctest_block, math_block
    nodes.literal,
    nodes.math,
    nodes.raw,
    nodes.comment,
    nodes.substitution_definition,
    nodes.system_message,
    nodes.target,
)


class japanese(nodes.inline):
    """Inline Japanese text: ``<span lang="ja">`` in HTML, plain text elsewhere.

    A subclass of ``inline``, so every other builder writes it as an ``inline``.
    """


def visit_japanese_html(self, node):
    self.body.append(self.starttag(node, "span", "", lang="ja"))


def depart_japanese_html(self, node):
    self.body.append("</span>")


def split_japanese(text):
    """``text`` cut into ``(piece, is_japanese)`` pairs, in order; no empty piece."""
    pieces, start = [], 0
    for match in JAPANESE_RUN.finditer(text):
        if match.start() > start:
            pieces.append((text[start : match.start()], False))
        pieces.append((match.group(), True))
        start = match.end()
    if start < len(text):
        pieces.append((text[start:], False))
    return pieces


def _skipped(node):
    parent = node.parent
    while parent is not None:
        if isinstance(parent, (japanese, *SKIP)):
            return True
        parent = parent.parent
    return False


def mark_japanese(doctree):
    """Wrap every run of Japanese text of ``doctree`` in a ``japanese`` node (in place).

    Returns the number of runs wrapped. Text already inside a ``japanese`` node (the
    role, or an earlier pass) is left as it is, so a second pass changes nothing.
    """
    wrapped = 0
    for text in list(doctree.findall(nodes.Text)):
        if not JAPANESE_RUN.search(text) or _skipped(text):
            continue
        replacement = []
        for piece, is_japanese in split_japanese(str(text)):
            if is_japanese:
                replacement.append(japanese(piece, piece))
                wrapped += 1
            else:
                replacement.append(nodes.Text(piece))
        text.parent.replace(text, replacement)
    return wrapped


class MarkJapanese(SphinxTransform):
    """While reading: before Sphinx copies the titles for the navigation.

    Sphinx emits ``doctree-read``, where it copies the titles, from a transform of
    priority 880; smart quotes run at 750.
    """

    default_priority = 860

    def apply(self, **kwargs):
        mark_japanese(self.document)


class MarkJapaneseLate(SphinxPostTransform):
    """After references are resolved: text that other extensions add late."""

    default_priority = 999

    def run(self, **kwargs):
        mark_japanese(self.document)


def _print_title(app, pagename, templatename, context, doctree):
    """The print-only page title of sphinx-book-theme (``{{ pagetitle }}``, plain text)."""
    title = context.get("pagetitle")
    if title and JAPANESE_RUN.search(title):
        context["pagetitle"] = "".join(
            f'<span lang="ja">{html.escape(piece)}</span>' if is_japanese else html.escape(piece)
            for piece, is_japanese in split_japanese(title)
        )


def ja_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{ja}`学習率``` : the text as Japanese (``lang="ja"``), whatever it contains."""
    return [japanese(rawtext, text)], []


def _add_assets(app, config):
    if str(ASSETS) not in config.html_static_path:
        config.html_static_path.append(str(ASSETS))


def setup(app):
    app.add_node(japanese, html=(visit_japanese_html, depart_japanese_html))
    app.add_role("ja", ja_role)
    app.add_transform(MarkJapanese)
    app.add_post_transform(MarkJapaneseLate)
    app.connect("config-inited", _add_assets)
    # after sphinx-book-theme has set the page title (priority 500)
    app.connect("html-page-context", _print_title, priority=600)
    app.add_css_file("japanese.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

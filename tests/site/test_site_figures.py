"""Figures on the built site: a numbered caption and real alt text, and references that resolve.

Every figure a chapter draws carries myst-nb metadata on its code cell
(``mystnb.figure.caption``/``name`` and ``mystnb.image.alt``), so the page shows it in a
``<figure>`` with a ``<figcaption>`` that starts with its number ("Fig. 3") and an
``alt`` written for a reader who cannot see it. Without that metadata the image's alt
is its file name, a SHA-256 hash, and it has no caption.

On every page, every ``<img>`` of the article (not the frames of a player, which have
their own text, and not a theme icon) must have such an alt and caption, and every
``{numref}`` link must resolve ("Fig. 3", not "Fig. ?" or the bare label). The numbers
must be those the learner edition writes under its figures
(``scripts/learner_edition.py::figure_numbers``).
"""

from __future__ import annotations

import re
import sys

import pytest
from conftest import ROOT, SITE, site_pages

PAGES = site_pages()

FIGURES = r"""() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("article");
  if (!article) return {article: false, images: [], refs: []};
  const skip = ".lrcourse-player, .theme-icon, [class*='fa-'], .headerlink";
  const images = [...article.querySelectorAll("img")]
    .filter((img) => !img.closest(skip))
    .map((img) => {
      const figure = img.closest("figure");
      const caption = figure && figure.querySelector("figcaption");
      return {
        src: (img.getAttribute("src") || "").slice(0, 80),
        alt: img.getAttribute("alt"),
        figure: figure ? figure.id : null,
        caption: caption ? caption.textContent.trim().replace(/\s+/g, " ") : null,
      };
    });
  const refs = [...article.querySelectorAll(".std-numref")].map((span) => {
    const link = span.closest("a");
    return {text: span.textContent.trim(), href: link ? link.getAttribute("href") : null};
  });
  return {article: true, images: images, refs: refs, text: article.innerText};
}"""

NUMBERED = re.compile(r"^Fig\. (\d+)\s*\S")
FILE_NAME = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|svg|gif|webp)$", re.I)
HASH = re.compile(r"\b[0-9a-f]{16,}\b", re.I)


def alt_problem(alt):
    """Why ``alt`` does not describe a figure (None when it does)."""
    if alt is None or not alt.strip():
        return "no alt text"
    if FILE_NAME.search(alt.strip()) or HASH.search(alt):
        return f"alt is a file name or hash: {alt[:60]!r}"
    if len(alt.split()) < 5:
        return f"alt too short to describe a figure: {alt!r}"
    return None


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page_path", PAGES or ["-"])
def test_figures_have_numbered_captions_and_alt_text(shared_visit, page_path):
    state = shared_visit(page_path).page.evaluate(FIGURES)
    if not state["article"]:  # search.html: no article, no figures
        assert page_path == "search.html", f"{page_path}: no <article>"
        return
    problems = []
    for img in state["images"]:
        where = f"{img['src']} (figure {img['figure']!r})"
        why = alt_problem(img["alt"])
        if why:
            problems.append(f"{where}: {why}")
        if img["caption"] is None:
            problems.append(f"{where}: not in a <figure> with a <figcaption>")
        elif not NUMBERED.match(img["caption"]):
            problems.append(f"{where}: caption does not start with 'Fig. N': {img['caption'][:60]!r}")
    for ref in state["refs"]:
        if not ref["href"] or not re.fullmatch(r"Fig\. \d+", ref["text"]):
            problems.append(f"unresolved figure reference: {ref}")
    if "Fig. ?" in state["text"]:
        problems.append("'Fig. ?' in the text")
    assert not problems, f"{page_path}:\n" + "\n".join(problems)


def _learner_figure_numbers():
    """Figure name -> its number in the learner edition."""
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))  # learner_edition imports backmatter from there
    import learner_edition as module

    notebooks = {page: nbformat.read(module.BOOK / page, as_version=4) for page in module.pages()}
    return module.figure_numbers(notebooks)


def _site_figure_numbers():
    """Figure id -> the number in its caption, on every page of the built site."""
    found = {}
    pattern = re.compile(
        r'<figure[^>]*\bid="(?P<id>[^"]+)"[^>]*>.*?<span class="caption-number">Fig\. (?P<n>\d+)',
        re.S,
    )
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        for m in pattern.finditer(html):
            found[m.group("id")] = int(m.group("n"))
    return found


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
def test_learner_edition_numbers_figures_as_the_site_does():
    """Sphinx numbers figures through the whole book (the toctree is not numbered), in reading
    order; the learner edition counts captioned figures the same way."""
    learner = _learner_figure_numbers()
    site = _site_figure_numbers()
    assert learner, "no captioned figure in the chapters"
    differ = {name: (n, site.get(name)) for name, n in learner.items() if site.get(name) != n}
    assert not differ, f"figure name: (learner edition, website): {differ}"
    assert set(site) == set(learner), f"numbered on the site only: {sorted(set(site) - set(learner))}"


def test_alt_text_rule():
    assert alt_problem(None) and alt_problem("") and alt_problem("  ")
    assert alt_problem("../../_images/65e6aecf443c54dd58766232c9876b3d825957004a0757.png")
    assert alt_problem("figure.png")
    assert alt_problem("a plot")
    assert alt_problem("Loss against step for five rates on a log scale.") is None

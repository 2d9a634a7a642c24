"""Sphinx extension: lighter pages on a first visit.

1. No ``fontawesome.js`` (1.5 MB). pydata-sphinx-theme 0.17.1 loads Font Awesome twice:
   a JavaScript bundle that swaps every ``<i class="fa-...">`` for an inline SVG, and the
   web fonts its CSS uses to draw the same icons. The site keeps the CSS and the fonts;
   a template (``site/weight/templates/layout.html``) leaves the script out
   (upstream pydata/pydata-sphinx-theme#2379, pull request #2494).
2. The search index only on the search page. The theme adds ``searchtools.js``,
   ``language_data.js`` and ``searchindex.js`` to every page for its search-as-you-type
   option, which is off here: the search box sends the reader to ``search.html``, which
   loads them itself (same template).
3. Math typeset at build time, no MathJax in the reader's browser. At the end of the
   build ``site/math/prerender.mjs`` (Node.js, npm ``mathjax-full``, the MathJax 3 the
   site used at run time) turns every formula into the SVG and MathML that MathJax's
   runtime would have put there, and takes MathJax's script tags out of the pages: no
   0.76 MB script to load and run before the math shows (Lighthouse's "total blocking
   time" on the phone preset was mostly that), no web fonts, and the glyph outlines
   only once a page (chapter 1: 177 formulas, 29 kB more of gzipped HTML). Sphinx
   still writes the tags (``mathjax_path`` in ``_config.yml`` names the vendored
   runtime without its context menu, ``scripts/vendor_site_assets.py``), so a build
   without this step would still typeset its math.
4. Font Awesome cut down to the icons the site shows, at the end of the build: the
   274 kB of ``fa-solid-900.woff2`` and ``fa-brands-400.woff2`` become a few kB of
   subsets, and the theme stylesheet loses the rules of the icons no page uses.
5. One stylesheet: the sixteen the theme and the extensions link (each a request) are
   joined at the end of the build into ``_static/weight/site.css``, with their
   ``@import``s inlined and their ``url()``s rebased (fifteen requests less), without
   sphinx-design's stylesheet while no page uses it (55 kB).
6. No ``design-tabs.js`` on pages without tabs, no ``sphinx-thebe.js`` while there is no
   Thebe button: two requests less.
7. Figures as lossless WebP: the chapters' figures (matplotlib's PNGs, which myst-nb
   saves under ``_images/`` by the SHA-256 of their bytes) are re-encoded at the end of
   the build, and the pages point at the WebP files: the same pixels in 2.6 MB instead
   of 6.3 MB for the 71 figures (chapter 1: 1.03 MB of PNG), at 100 dpi. Every browser
   in use reads WebP; the PNGs stay beside them. Since the figures are drawn at twice
   their size (``scripts/ipython_kernel_config.py``), each is loaded when it comes near
   the screen (``loading="lazy"``).

8. Sections laid out when they come near the screen (``content-visibility: auto`` in
   ``site/weight/static/weight/sections.css``): the first screen of a long chapter is
   shown without laying out the 10,000 elements below it, and the boxes that scroll are
   measured later, in idle time (``scripts/sphinx_a11y.py``, item 6).

9. Player frames in files of their own. A player (``lrcourse.widgets``) carries its
   frames in the notebook as base64 WebP, 60-120 kB of each chapter page that
   gzip cannot shrink and that the browser had to download before showing anything. At
   the end of the build its start frame becomes an image file and its other frames a
   script under ``_images/``, named by the hash of their bytes; the player loads the
   script when it comes near the screen or is touched.

10. Scripts that wait for the page. Sphinx, sphinx-book-theme, sphinx-copybutton and
    sphinx-togglebutton put six scripts in the page's head without ``defer``: the browser
    stopped reading the page until each had loaded and run, before it could show any
    text. They set themselves up when the document is ready, so they now load with
    ``defer`` (in the same order). ``documentation_options.js`` stays as it is: a script
    in the page sets a field of what it defines; and on the search page all stay, since
    ``searchtools.js`` runs at once and uses ``doctools.js``.
11. The stylesheet without the rules no page can use. Bootstrap and the theme bring
    5,200 selectors, two thirds of which name a class that appears in no page and no
    script of the site (Bootstrap's utilities, components the site does not have). At
    the end of the build a selector is dropped when it needs such a class outside any
    ``:not()``, ``:is()`` or attribute test; a rule goes when none of its selectors is
    left. The classes a script may add are every word of every script, so nothing a
    script sets is lost. Chapter 1's stylesheet: 70 kB gzipped before, 33 kB after.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[1] / "site" / "weight"


def configure(app, config):
    config.templates_path.append(str(ASSETS / "templates"))
    config.html_static_path.append(str(ASSETS / "static"))


def setup(app):
    app.connect("config-inited", configure)
    app.add_css_file(FA_CSS)
    app.add_css_file(SECTIONS_CSS)
    app.connect("build-finished", subset_icon_fonts)
    app.connect("build-finished", figures_as_webp)
    app.connect("build-finished", players_in_files)
    app.connect("build-finished", math_at_build_time)
    # after the icon fonts: the bundle takes the trimmed theme stylesheet and the subsets
    app.connect("build-finished", write_css_bundle, priority=900)
    # last, once every extension has added its stylesheets
    app.connect("html-page-context", bundle_css, priority=990)
    app.connect("html-page-context", drop_unused_scripts, priority=990)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- 4. Font Awesome: only the glyphs the pages use -------------------------------------

FA_FONTS = [  # (family, weight, the theme's font file under _static/)
    ("Font Awesome 6 Free", 900, "vendor/fontawesome/webfonts/fa-solid-900.ttf"),
    ("Font Awesome 6 Free", 400, "vendor/fontawesome/webfonts/fa-regular-400.ttf"),
    ("Font Awesome 6 Brands", 400, "vendor/fontawesome/webfonts/fa-brands-400.ttf"),
]
FA_CSS = "weight/fontawesome-subset.css"  # in site/weight/static/, rewritten at the end
SECTIONS_CSS = "weight/sections.css"  # in site/weight/static/
_FA_RULE = re.compile(r"((?:\.fa-[a-z0-9-]+:(?::)?before,?)+)\{content:\"\\([0-9a-f]{3,5})\"\}")
_FA_CLASS = re.compile(r"\bfa-[a-z0-9-]+")
_PUA = re.compile("[\ue000-\uf8ff]")
_PUA_ESCAPE = re.compile(r"\\(f[0-9a-f]{3})\b")


def _icon_names(static: Path, pages: list[Path]) -> set[str]:
    """The fa-* class names of the pages and of the scripts that make icons at run time."""
    scripts = [p for p in static.rglob("*.js") if p.name != "fontawesome.js" and "vendor" not in p.parts]
    names = set()
    for path in pages + scripts:
        names.update(_FA_CLASS.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def _icon_codepoints(static: Path, names: set[str]) -> set[int]:
    """The Font Awesome code points a page can show: those of the icon classes in use, and
    every icon character the stylesheets use directly."""
    theme_css = (static / "styles" / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    by_name = {}
    for selectors, code in _FA_RULE.findall(theme_css):
        for name in re.findall(r"\.(fa-[a-z0-9-]+)", selectors):
            by_name[name] = int(code, 16)
    codes = {by_name[n] for n in names if n in by_name}
    for css in static.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        codes.update(ord(c) for c in _PUA.findall(text))
        if css.name != "pydata-sphinx-theme.css":  # there: one rule per icon of the font
            codes.update(int(c, 16) for c in _PUA_ESCAPE.findall(text))
    return codes


def trim_icon_rules(static: Path, names: set[str]) -> int:
    """Drop the theme stylesheet's ``.fa-NAME:before`` rules of icons no page uses (about
    1,900 rules, 86 kB of its 397 kB); returns the bytes saved."""
    path = static / "styles" / "pydata-sphinx-theme.css"
    text = path.read_text(encoding="utf-8")

    def keep(match):
        used = set(re.findall(r"\.(fa-[a-z0-9-]+)", match.group(1))) & names
        return match.group(0) if used else ""

    trimmed = _FA_RULE.sub(keep, text)
    path.write_text(trimmed, encoding="utf-8")
    return len(text.encode()) - len(trimmed.encode())


def subset_icon_fonts(app, exception):
    """Subsets of the theme's icon fonts, declared after the theme's own @font-face rules
    with a unicode-range: the browser takes these for the icons they hold, and would
    fetch the full font only for an icon they do not (none today)."""
    if exception is not None or app.builder.format != "html":
        return
    from fontTools import subset
    from fontTools.ttLib import TTFont

    static = Path(app.outdir) / "_static"
    pages = sorted(Path(app.outdir).rglob("*.html"))
    names = _icon_names(static, pages)
    wanted = _icon_codepoints(static, names)
    trim_icon_rules(static, names)
    rules = []
    for family, weight, source in FA_FONTS:
        font = TTFont(static / source)
        codes = sorted(wanted & set(font.getBestCmap()))
        if not codes:
            continue
        options = subset.Options()
        options.flavor = "woff"  # zlib; woff2 would need brotli
        options.layout_features = []
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codes)
        subsetter.subset(font)
        font.flavor = "woff"
        data = io.BytesIO()
        font.save(data)
        # inline: a few kB each, and one request less
        src = "data:font/woff;base64," + base64.b64encode(data.getvalue()).decode("ascii")
        ranges = ",".join(f"U+{c:x}" for c in codes)
        rules.append(
            f'@font-face{{font-family:"{family}";font-style:normal;font-weight:{weight};'
            f'font-display:block;src:url({src}) format("woff");unicode-range:{ranges}}}'
        )
    (static / FA_CSS).write_text(
        "/* Made at build time by scripts/sphinx_weight.py: the icons of Font Awesome"
        " (SIL OFL 1.1) that the pages use. */\n" + "\n".join(rules) + "\n",
        encoding="utf-8",
    )


# --- 5. One stylesheet instead of sixteen -------------------------------------------------

# The theme links these two itself (webpack-macros.html), before the page's css_files.
THEME_CSS = ["_static/styles/theme.css", "_static/styles/pydata-sphinx-theme.css"]
BUNDLE = "_static/weight/site.css"
_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s]+)['"]?\s*\)?\s*;""")
_SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=[^*]*\*/")


def _local_css(context):
    """The page's stylesheets as paths under the output folder, or None if one of them
    cannot go into a shared bundle (another host, a media query, an inline style)."""
    files = list(THEME_CSS)
    for css in context.get("css_files") or []:
        name = getattr(css, "filename", css)
        attributes = getattr(css, "attributes", {}) or {}
        if not name or "://" in name or attributes.get("media", "all") != "all":
            return None
        files.append(name)
    return files


# A page's list of stylesheets -> the first page that has it. Sphinx writes the first page
# in the main process and, with parallel writing, the others in worker processes, so the
# main process knows the first page's list only: write_css_bundle reads the written pages
# for the rest.
_bundles = {}


# sphinx-design's stylesheet (55 kB) stays out of the bundle while no page uses its classes
DESIGN_CSS = "_static/sphinx-design.min.css"
_DESIGN_CLASS = re.compile(r'class="(?:[^"]*\s)?sd-')


def bundle_css(app, pagename, templatename, context, doctree):
    files = _local_css(context)
    if files is None:
        return
    _bundles.setdefault(tuple(files), pagename)
    if next(iter(_bundles)) == tuple(files):  # the stylesheets of the first page
        context["weight_css_bundle"] = BUNDLE


def _inline(outdir: Path, name: str, seen: set[str]) -> str:
    """A stylesheet with its @imports inlined and its url()s relative to the bundle."""
    path = (outdir / name).resolve()
    if str(path) in seen or not path.is_file():
        return ""
    seen.add(str(path))
    text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
    here = path.parent
    bundle_dir = (outdir / BUNDLE).parent

    def rebase(match):
        quote, url = match.groups()
        if url.startswith(("data:", "#", "/")) or "://" in url:
            return match.group(0)
        target = Path(os.path.normpath(here / url.split("?")[0].split("#")[0]))
        suffix = url[len(url.split("?")[0].split("#")[0]) :]
        return f"url({quote}{os.path.relpath(target, bundle_dir).replace(os.sep, '/')}{suffix}{quote})"

    def inline_import(match):
        target = os.path.relpath(os.path.normpath(here / match.group(1)), outdir)
        return _inline(outdir, target, seen)

    text = _IMPORT.sub(inline_import, text)
    return f"/* {name} */\n" + _URL.sub(rebase, text) + "\n"


def write_css_bundle(app, exception):
    if exception is not None or app.builder.format != "html" or not _bundles:
        return
    outdir = Path(app.outdir)
    pages = {  # the pages, not the theme's HTML fragments under _static/
        page: page.read_text(encoding="utf-8")
        for page in outdir.rglob("*.html")
        if page.relative_to(outdir).parts[0] != "_static"
    }
    unbundled = sorted(  # pages that link stylesheets, but not the bundle
        str(p.relative_to(outdir)) for p, html in pages.items() if ".css" in html and BUNDLE not in html
    )
    if unbundled:
        logger.warning(f"pages with other stylesheets ({', '.join(unbundled[:5])}): they are not bundled")
    design_used = any(_DESIGN_CLASS.search(html) for html in pages.values())
    files = [f for f in next(iter(_bundles)) if f != DESIGN_CSS or design_used]
    seen = set()
    text = "".join(_inline(outdir, name, seen) for name in files)
    used = _classes_in_use(outdir, pages)
    kept, dropped = _rules_that_can_match(text, used)
    (outdir / BUNDLE).write_text(kept, encoding="utf-8")
    logger.info(f"stylesheet: {dropped} selectors no page can use left out, {len(text) - len(kept)} bytes")


# --- 11. The stylesheet without the rules no page can use ---------------------------------

_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S)
_WORD = re.compile(r"[-_a-zA-Z][-_a-zA-Z0-9]*")
_CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][-_a-zA-Z0-9]*)")


def _classes_in_use(outdir: Path, pages: dict) -> set[str]:
    """Every class of every page, and every word of every script (a class it may add)."""
    used = set()
    for html in pages.values():
        for value in _CLASS_ATTRIBUTE.findall(html):
            used.update(value.split())
        for script in _SCRIPT.findall(html):
            used.update(_WORD.findall(script))
    for script in outdir.rglob("*.js"):
        if script.name != "searchindex.js":
            used.update(_WORD.findall(script.read_text(encoding="utf-8", errors="replace")))
    return used


def _selectors(prelude: str) -> list[str]:
    """The selectors of a rule's selector list (commas inside brackets do not split)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(prelude[start:i])
            start = i + 1
    out.append(prelude[start:])
    return [s.strip() for s in out if s.strip()]


def _can_match(selector: str, used: set[str]) -> bool:
    """False if ``selector`` needs a class that is not in ``used`` (outside any brackets)."""
    outside, depth = [], 0
    for ch in selector:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            outside.append(ch)
    return all(name in used for name in _CLASS_SELECTOR.findall("".join(outside)))


def _rules_that_can_match(css: str, used: set[str]) -> tuple[str, int]:
    """``css`` without the selectors that need a class not in ``used``; and how many went."""
    import tinycss2

    dropped = 0

    def keep(rules):
        nonlocal dropped
        out = []
        for rule in rules:
            if rule.type == "qualified-rule":
                selectors = _selectors(tinycss2.serialize(rule.prelude))
                matching = [s for s in selectors if _can_match(s, used)]
                dropped += len(selectors) - len(matching)
                if matching:
                    out.append(",".join(matching) + "{" + tinycss2.serialize(rule.content) + "}")
            elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports") and rule.content:
                inner = keep(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
                if inner:
                    out.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{''.join(inner)}}}")
            elif rule.type == "at-rule":  # @font-face, @keyframes, @charset, @layer, ...
                out.append(tinycss2.serialize([rule]))
            elif rule.type == "error":
                raise ValueError(f"the stylesheet bundle does not parse: {rule.message}")
        return out

    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return "\n".join(keep(rules)) + "\n", dropped


# --- 6. No scripts for features the page does not have -----------------------------------


def drop_unused_scripts(app, pagename, templatename, context, doctree):
    """sphinx-design's tab script where the page has no tabs; sphinx-thebe's script where
    there is no Thebe button (launch_buttons.thebe is off). One request each."""
    scripts = context.get("script_files")
    if not scripts:
        return
    body = context.get("body") or ""
    unused = set()
    if "sd-tab-set" not in body:
        unused.add("_static/design-tabs.js")
    launch = (app.config.html_theme_options or {}).get("launch_buttons") or {}
    if not launch.get("thebe"):
        unused.add("_static/sphinx-thebe.js")
    kept = [s for s in scripts if (getattr(s, "filename", s) or "") not in unused]
    # the search page's template adds searchtools.js, which runs at once and calls
    # doctools.js's _ready()
    if pagename != "search":
        kept = [_deferred(s) for s in kept]
    context["script_files"] = kept  # a new list: the builder restores its own after each page


# --- 10. Scripts that wait for the page ---------------------------------------------------

# Each sets itself up once the document is ready (DOMContentLoaded fires after deferred
# scripts have run); clipboard.min.js comes before copybutton.js, which uses it.
DEFERRED = {
    "_static/doctools.js",
    "_static/sphinx_highlight.js",
    "_static/clipboard.min.js",
    "_static/copybutton.js",
    "_static/scripts/sphinx-book-theme.js",
    "_static/togglebutton.js",
}


def _deferred(script):
    """``script`` with ``defer`` if it is one of DEFERRED, else as it is."""
    name = getattr(script, "filename", None)
    attributes = getattr(script, "attributes", None)
    if name not in DEFERRED or attributes is None or "defer" in attributes or "async" in attributes:
        return script
    return type(script)(name, priority=script.priority, **attributes, defer="defer")


# --- 7. Figures as lossless WebP --------------------------------------------------------

_FIGURE_SRC = re.compile(r'(<img\b[^>]*?\bsrc="[^"]*?_images/)([0-9a-f]{64})\.png"')


def _to_webp(png: Path) -> int:
    """Write ``png`` as lossless WebP beside it (once); returns the bytes it saves."""
    from PIL import Image

    webp = png.with_suffix(".webp")
    if not webp.exists():  # the name is the hash of the PNG's bytes: same name, same picture
        with Image.open(png) as image:
            out = io.BytesIO()
            # effort 2 of 6: within 0.1 % of effort 4's size, in less time
            image.save(out, format="webp", lossless=True, quality=80, method=2)
        part = webp.with_suffix(".webp.part")
        part.write_bytes(out.getvalue())
        os.replace(part, webp)  # a build stopped half-way leaves no half a file
    return png.stat().st_size - webp.stat().st_size


def figures_as_webp(app, exception):
    """Point every page's figures at WebP copies of their PNGs (encoded on all cores)."""
    if exception is not None or app.builder.format != "html":
        return
    from concurrent.futures import ThreadPoolExecutor

    out = Path(app.outdir)
    pages = {page: page.read_text(encoding="utf-8") for page in out.rglob("*.html")}
    names = sorted({m.group(2) for html in pages.values() for m in _FIGURE_SRC.finditer(html)})
    pngs = [out / "_images" / f"{name}.png" for name in names if (out / "_images" / f"{name}.png").exists()]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow encodes without the GIL
        saved = sum(pool.map(_to_webp, pngs))
    converted = {png.stem for png in pngs}

    def point(match):  # loaded when it comes near the screen
        if match.group(2) not in converted:
            return match.group(0)
        return f'{match.group(1)}{match.group(2)}.webp" loading="lazy" decoding="async"'

    for page, html in pages.items():
        new = _FIGURE_SRC.sub(point, html)
        if new != html:
            page.write_text(new, encoding="utf-8")
    logger.info(f"figures as WebP: {len(pngs)} figures, {saved / 1e6:.1f} MB less")


# --- 9. Player frames in files of their own ---------------------------------------------

_PLAYER = re.compile(r'<div id="(lrp-[0-9a-f]{10})" class="lrcourse-player".*?</script>\n</div>', re.S)
_PLAYER_BASE = re.compile(r'(<img class="lrcourse-player-base" )src="data:image/webp;base64,([^"]+)"')
_PLAYER_FRAMES = re.compile(r"var frames = (\[.*?\]);")


def _write_once(folder: Path, suffix: str, data: bytes) -> Path:
    """``data`` in ``folder`` under the SHA-256 of its bytes (written once)."""
    path = folder / f"{hashlib.sha256(data).hexdigest()}{suffix}"
    if not path.exists():
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        os.replace(part, path)
    return path


def player_frames_to_files(html: str, page: Path, images: Path) -> str:
    """``html`` with each player's frames in files under ``images`` (see 9. above)."""

    def link(path):
        return os.path.relpath(path, page.parent).replace(os.sep, "/")

    def move(match):
        block, uid = match.group(0), match.group(1)
        base = _PLAYER_BASE.search(block)
        frames = _PLAYER_FRAMES.search(block)
        if base is None or frames is None:  # already moved
            return block
        start = _write_once(images, ".webp", base64.b64decode(base.group(2)))
        script = f'(window.lrcoursePlayers = window.lrcoursePlayers || {{}})["{uid}"] = {frames.group(1)};\n'
        held = _write_once(images, ".js", script.encode("ascii"))
        block = block.replace(
            base.group(0), f'{base.group(1)}src="{link(start)}" loading="lazy" decoding="async"', 1
        )
        return block.replace(frames.group(0), f"var frames = {json.dumps(link(held))};", 1)

    return _PLAYER.sub(move, html)


def players_in_files(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    images = out / "_images"
    images.mkdir(exist_ok=True)
    moved = 0
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        if 'class="lrcourse-player"' not in html:
            continue
        new = player_frames_to_files(html, page, images)
        if new != html:
            moved += 1
            page.write_text(new, encoding="utf-8")
    logger.info(f"player frames in files: {moved} pages")


PRERENDER = Path(__file__).resolve().parents[1] / "site" / "math" / "prerender.mjs"


def math_at_build_time(app, exception):
    """Typeset the math of every page with ``site/math/prerender.mjs`` (see 3. above)."""
    if exception is not None or app.builder.format != "html":
        return
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the math is typeset at build time with Node.js: no `node` on the PATH")
    out = Path(app.outdir)
    pages = sorted(str(p) for p in out.rglob("*.html") if p.relative_to(out).parts[0] != "_static")
    done = subprocess.run([node, str(PRERENDER), *pages], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"typesetting the math failed:\n{done.stderr.strip()}")
    logger.info(done.stdout.strip())

"""Every page of the built site, opened in headless Chromium with the network cut off.

For each page: it loads with no console error, no failed request and no attempt to
reach another host; its math was typeset at build time (every formula an SVG with its
MathML, no TeX error, no raw TeX left, and no MathJax script to load);
every image loads and no figure is printed as text (``<Figure size ...>``); its launch
buttons open the page's notebook (while ``repository: url`` is the placeholder: no
launch or repository link at all, and a note on how to run the page instead); and each
kernel-free player changes its figure when its slider moves. A screenshot of every page
is saved in tests/artifacts/site/.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import ARTIFACTS, ROOT, SITE, WAIT_FOR_MATHJAX, site_pages, slug
from toc import toc_entries

sys.path.insert(0, str(ROOT / "scripts"))
from sphinx_launch import is_placeholder  # noqa: E402

PAGES = site_pages()

# Budgets for a first visit (nothing cached). The vendored JavaScript is shared by all
# pages and cached after the first one.
MAX_HTML_BYTES = 4_000_000
MAX_LOADED_BYTES = 16_000_000

MATH_STATE = r"""() => {
  const math = [...document.querySelectorAll("span.math, div.math")];
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\s][^$\n]*[\\^_][^$\n]*\$/;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest(skip)) continue;
    if (tex.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 100));
  }
  return {
    count: math.length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset: math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 80)),
    errors: [...document.querySelectorAll("mjx-merror, [data-mjx-error]")].map(e => e.getAttribute("data-mjx-error") || e.textContent),
    assistive: math.map(e => [e.textContent.slice(0, 60),
      !!e.querySelector("mjx-container svg[aria-hidden='true']") && !!e.querySelector("mjx-assistive-mml math")]),
    raw: raw,
  };
}"""

IMAGES = """async () => {
  const images = [...document.images];
  images.forEach(i => { i.loading = "eager"; });
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  return {
    count: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.currentSrc || i.src).slice(0, 120)),
  };
}"""

WEIGHT = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  return {
    html: nav ? nav.decodedBodySize : 0,
    resources: res.map(r => [r.name, r.decodedBodySize]),
  };
}"""


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _notebook_entry(page):
    """The _toc.yml entry a page was built from, if it is a notebook."""
    entry = page.removesuffix(".html")
    if entry in toc_entries() and (ROOT / f"{entry}.ipynb").exists():
        return entry
    return None


def expected_launch_links(entry):
    cfg = _config()
    repo = cfg["repository"]
    launch = cfg.get("launch_buttons", {})
    org_repo = urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    book = repo.get("path_to_book", "").strip("/")
    path = f"{book}/{entry}.ipynb" if book else f"{entry}.ipynb"
    ui = "lab/tree" if launch.get("notebook_interface") == "jupyterlab" else "tree"
    links = {}
    if launch.get("binderhub_url"):
        links["Binder"] = (
            f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{org_repo}/{repo['branch']}?urlpath={ui}/{path}"
        )
    if launch.get("colab_url"):
        links["Colab"] = f"{launch['colab_url'].rstrip('/')}/github/{org_repo}/blob/{repo['branch']}/{path}"
    return links, path


def check_launch(page, expected):
    """The launch buttons of a notebook page, or, for the placeholder repository, none."""
    problems = []
    repo_url = _config()["repository"]["url"]
    bases = {label: url.split("/v2/")[0].split("/github/")[0] for label, url in expected.items()}
    if is_placeholder(repo_url):
        # no link may lead to the placeholder repository or launch from it (sphinx_launch.py)
        prefixes = [repo_url.rstrip("/"), *bases.values()]
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        leads = [h for h in hrefs if h.startswith(tuple(prefixes))]
        if leads:
            problems.append(f"links to the placeholder repository or its launchers: {leads[:5]}")
        note = page.locator(".lrcourse-run-note")
        if note.count() != 1 or "make lab" not in note.inner_text():
            problems.append("no note on how to run the page (the launch buttons are hidden)")
        return problems
    for label, url in expected.items():
        hrefs = page.eval_on_selector_all(f'a[href^="{bases[label]}"]', "els => els.map(e => e.href)")
        if url not in hrefs:
            problems.append(f"{label} button: expected {url}, found {hrefs}")
    return problems


def explorers_in(entry):
    """How many live explorers (widget views) the executed notebook of a page shows."""
    executed = SITE.parent / "jupyter_execute" / f"{entry}.ipynb"
    assert executed.exists(), f"no executed notebook at {executed}"
    nb = json.loads(executed.read_text(encoding="utf-8"))
    return sum(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )


def check_players(visit_, name):
    """Move each player's slider (pointer and keyboard) and play it; the figure must change."""
    page = visit_.page
    players = page.locator(".lrcourse-player")
    problems = []
    if players.count():
        # Sections are laid out as they come near the screen (content-visibility: auto,
        # scripts/sphinx_weight.py); one laid out while a player is measured moves the
        # player under the pointer. Here every section is laid out at once.
        page.add_style_tag(content=".bd-article section { content-visibility: visible !important; }")
    for i in range(players.count()):
        player = players.nth(i)
        player.scroll_into_view_if_needed()
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out
        img, slider, label = (
            player.locator("img.lrcourse-player-overlay"),  # each frame, over the start frame
            player.locator("input[type=range]"),
            player.locator(".lrcourse-player-value"),
        )
        frames = int(slider.get_attribute("max")) + 1
        start, src0, label0 = int(slider.input_value()), img.get_attribute("src"), label.text_content()
        player.screenshot(path=ARTIFACTS / f"{name}-player{i + 1}-before.png")
        # a click on the track, far from the current frame
        box = slider.bounding_box()
        x = 0.1 if start > frames / 2 else 0.9
        # (Playwright finds the slider where it is at the moment of the click)
        slider.click(position={"x": x * box["width"], "y": box["height"] / 2})
        moved = int(slider.input_value())
        try:  # the frames come the first time the player is near the screen or touched
            img.evaluate(
                "(i, s) => new Promise(r => { const t = setInterval(() => { if (i.src !== s) "
                "{ clearInterval(t); r(); } }, 20); setTimeout(() => { clearInterval(t); r(); }, 5000); })",
                src0,
            )
        except Exception:
            pass
        src1, label1 = img.get_attribute("src"), label.text_content()
        player.screenshot(path=ARTIFACTS / f"{name}-player{i + 1}-after.png")
        if moved == start or src1 == src0 or label1 == label0:
            problems.append(f"player {i + 1}: a click on the slider left frame {start} ({label0!r}) in place")
        # every frame, one key press at a time
        slider.focus()
        slider.press("Home")
        seen = []
        for k in range(frames):
            if int(slider.input_value()) != k:
                problems.append(f"player {i + 1}: the arrow key did not reach frame {k}")
                break
            width = img.evaluate("i => i.decode().then(() => i.naturalWidth, () => 0)")
            if not width:
                problems.append(f"player {i + 1}: frame {k} is not a valid image")
            seen.append(img.get_attribute("src"))
            slider.press("ArrowRight")
        if len(set(seen)) < max(2, frames // 2):
            problems.append(f"player {i + 1}: only {len(set(seen))} different pictures in {frames} frames")
        # the play button advances the frames, and pauses
        slider.press("Home")
        button = player.locator("button")
        button.click()
        try:
            page.wait_for_function("s => +s.value > 0", arg=slider.element_handle(), timeout=5000)
        except Exception:
            problems.append(f"player {i + 1}: Play did not advance the frames")
        button.click()
        if "Play" not in button.inner_text():
            problems.append(f"player {i + 1}: the button does not offer Play again after a pause")
    return players.count(), problems


@pytest.mark.skipif(not PAGES, reason="no built site (make book)")
@pytest.mark.parametrize("page_path", PAGES or ["-"])
def test_page(shared_visit, page_path):
    # the last of the checks that share the page (conftest.CHECK_ORDER): it moves the players
    v = shared_visit(page_path)
    page, name, problems = v.page, slug(page_path), []

    if page.evaluate(WAIT_FOR_MATHJAX):  # (true only where MathJax's runtime started)
        problems.append("MathJax's runtime was loaded: the math should be typeset at build time")
    math = page.evaluate(MATH_STATE)
    silent = [tex for tex, ok in math["assistive"] if not ok]
    if silent:
        problems.append(f"{len(silent)} formulas without MathML for screen readers: {silent[:3]}")
    if math["untypeset"]:
        problems.append(f"formulas not typeset: {math['untypeset'][:5]}")
    if math["errors"]:
        problems.append(f"TeX errors: {math['errors'][:5]}")
    if math["raw"]:
        problems.append(f"raw TeX in the text: {math['raw'][:5]}")

    images = page.evaluate(IMAGES)
    if images["broken"]:
        problems.append(f"images that do not load: {images['broken']}")
    # A figure that reached the page as its repr instead of a picture.
    reprs = page.evaluate(
        "() => [...document.querySelectorAll('.output pre, .cell_output pre')]"
        ".map(e => e.textContent.trim()).filter(t => /^<(Figure|matplotlib)[^>]*>$/.test(t))"
    )
    if reprs:
        problems.append(f"figures printed as text, not drawn: {reprs[:3]}")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")

    weight = page.evaluate(WEIGHT)
    loaded = weight["html"] + sum(b for _, b in weight["resources"])
    if weight["html"] > MAX_HTML_BYTES:
        problems.append(f"HTML of {weight['html'] / 1e6:.1f} MB (budget {MAX_HTML_BYTES / 1e6:.0f} MB)")
    if loaded > MAX_LOADED_BYTES:
        problems.append(
            f"{loaded / 1e6:.1f} MB loaded on a first visit (budget {MAX_LOADED_BYTES / 1e6:.0f} MB)"
        )
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    entry = _notebook_entry(page_path)
    if entry is not None:
        expected, repo_path = expected_launch_links(entry)
        problems += check_launch(page, expected)
        if not (ROOT / repo_path).exists():
            problems.append(f"launch buttons point at {repo_path}, which is not in the repository")
        download = page.eval_on_selector_all('a[href$=".ipynb"]', "els => els.map(e => e.href)")
        local = [u for u in download if urlsplit(u).netloc == v.host]
        if not local:
            problems.append("no download link to the page's notebook")
        for u in local:
            r = page.request.get(u)
            if not r.ok or "cells" not in r.json():
                problems.append(f"download link {u} does not give a notebook (HTTP {r.status})")
            elif entry.startswith("book/") and any(
                "```{" in "".join(c["source"]) for c in r.json()["cells"] if c["cell_type"] == "markdown"
            ):
                problems.append(f"download link {u} gives the website's notebook, not the learner edition")
        n_players, player_problems = check_players(v, name)
        problems += player_problems
        n_explorers = explorers_in(entry)
        if n_players < n_explorers:
            problems.append(f"{n_explorers} explorers but {n_players} kernel-free players")
    else:
        n_players = n_explorers = 0

    problems += [f"console: {e}" for e in v.errors]
    problems += [f"failed request: {u}" for u in v.failed if not any(u.startswith(b) for b in v.blocked)]
    problems += [f"request to another host: {u}" for u in v.blocked]

    resources = sorted(weight["resources"], key=lambda r: -r[1])
    record = {
        "page": page_path,
        "html_bytes": weight["html"],
        "loaded_bytes": loaded,
        "requests": 1 + len(resources),
        "largest": resources[:8],
        "formulas": math["count"],
        "images": images["count"],
        "players": n_players,
        "explorers": n_explorers,
        "console_warnings": v.warnings,
        "problems": problems,
    }
    (ARTIFACTS / "pages" / f"{name}.json").write_text(json.dumps(record, indent=1))
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_no_page_shows_a_test_marker():
    """``# NBVAL_CHECK_OUTPUT`` is for nbval, not the reader (scripts/sphinx_test_markers.py)."""
    shown = [page for page in PAGES if "NBVAL_" in (SITE / page).read_text(encoding="utf-8")]
    assert PAGES and not shown, shown


def test_every_toc_page_was_built():
    built = set(PAGES)
    missing = [e for e in toc_entries() if f"{e}.html" not in built]
    assert not missing, f"pages of _toc.yml missing from {SITE}: {missing}"


def test_no_page_names_a_script_or_style_on_another_host():
    """Static check of the HTML: every script, stylesheet, font and image is local."""
    offenders = {}
    pattern = re.compile(
        r'<(?:script|img|iframe|source|link)\b[^>]*?\b(?:src|href)="(https?:)?//([^/"]+)', re.I
    )
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        for tag in re.finditer(r"<(?:script|img|iframe|source|link)\b[^>]*>", html, re.I):
            text = tag.group(0)
            if text.lower().startswith("<link") and not re.search(
                r'rel="(stylesheet|preload|icon|modulepreload|prefetch)"', text
            ):
                continue
            m = pattern.match(text)
            if m:
                offenders.setdefault(page, []).append(text[:140])
    assert not offenders, json.dumps(offenders, indent=1)


def test_vendored_assets_carry_their_licences():
    vendor = SITE / "_static" / "vendor"
    notice = (vendor / "LICENSES.txt").read_text()
    for name in ("mathjax", "requirejs", "html-manager"):
        assert f"vendor/{name}/" in notice
    assert (vendor / "mathjax" / "LICENSE").exists()
    assert "@license RequireJS" in (vendor / "requirejs" / "require.js").read_text()[:300]
    assert Path(vendor / "html-manager" / "embed.js.LICENSE.txt").exists()


def test_widget_manager_only_where_a_widget_is_shown():
    """RequireJS and the HTML manager (a few MB) load only on pages with a widget view."""
    wrong = []
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        shows = '<script type="application/vnd.jupyter.widget-view+json">' in html
        loads = "vendor/html-manager/embed-amd.js" in html
        if shows != loads:
            wrong.append(
                f"{page}: widget view {'yes' if shows else 'no'}, manager loaded {'yes' if loads else 'no'}"
            )
    assert not wrong, "\n".join(wrong)

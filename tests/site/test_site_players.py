"""The kernel-free players on the built site: accessible, and Play stops at the end.

For every player on every page, in headless Chromium: a caption says what it sweeps;
the first and last values are shown at the ends of the slider; a screen reader hears
the value (``aria-valuetext``, "0.067"), not the slider position ("2"), after every key
press; Play stops at the last frame and, pressed there, starts again from the first.
At 390 px the slider and the button are at least 44 px high and the slider spans the
player. In the theme's dark mode the controls are drawn dark with light text.
Screenshots at 390 px and in dark mode go to tests/artifacts/site/players/.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import ARTIFACTS, SITE, site_pages, slug
from playwright.sync_api import TimeoutError as PlaywrightTimeout

PLAYER_PAGES = [p for p in site_pages() if 'class="lrcourse-player"' in (SITE / p).read_text("utf-8")]
PHONE = {"width": 390, "height": 844}
SHOTS = ARTIFACTS / "players"

STATE = """(root) => {
  const r = root.querySelector("input[type=range]");
  const box = (el) => { const b = el.getBoundingClientRect(); return {w: b.width, h: b.height}; };
  const end = (cls) => root.querySelector(cls);
  return {
    value: +r.value, max: +r.max, valuetext: r.getAttribute("aria-valuetext"),
    label: root.querySelector(".lrcourse-player-value").textContent,
    caption: document.getElementById(root.getAttribute("aria-labelledby")).textContent,
    min: end(".lrcourse-player-min").textContent, maxText: end(".lrcourse-player-max").textContent,
    minBox: box(end(".lrcourse-player-min")), maxBox: box(end(".lrcourse-player-max")),
    range: box(r), button: box(root.querySelector("button")),
    player: box(root.querySelector(".lrcourse-player-controls")),
    button_text: root.querySelector("button").textContent,
  };
}"""


def test_some_pages_have_players():
    assert len(PLAYER_PAGES) >= 8, PLAYER_PAGES


def _players(page):
    players = page.locator(".lrcourse-player")
    assert players.count() >= 1
    return [players.nth(i) for i in range(players.count())]


@pytest.mark.parametrize("page_path", PLAYER_PAGES)
def test_value_text_labels_and_play(visit, page_path):
    page = visit(page_path).page
    problems = []
    for n, player in enumerate(_players(page), 1):
        player.scroll_into_view_if_needed()
        slider, button = player.locator("input[type=range]"), player.locator("button")
        s = player.evaluate(STATE)
        if " from " not in s["caption"] and " at " not in s["caption"]:
            problems.append(f"player {n}: the caption {s['caption']!r} does not say what is swept")
        if min(s["minBox"]["w"], s["maxBox"]["w"]) <= 0:
            problems.append(f"player {n}: the min/max labels are not shown")
        slider.focus()
        slider.press("Home")
        first = player.evaluate(STATE)
        if first["valuetext"] != first["min"] or not first["label"].endswith(first["min"]):
            problems.append(
                f"player {n}: at the start aria-valuetext is {first['valuetext']!r}, min {first['min']!r}"
            )
        for _ in range(s["max"]):
            slider.press("ArrowRight")
            now = player.evaluate(STATE)
            if not now["valuetext"] or not now["label"].endswith(now["valuetext"]):
                problems.append(f"player {n}: aria-valuetext {now['valuetext']!r} != label {now['label']!r}")
                break
        if now["valuetext"] != now["maxText"]:
            problems.append(
                f"player {n}: at the end aria-valuetext is {now['valuetext']!r}, max {now['maxText']!r}"
            )
        # Play two frames before the end: it reaches the last frame and stops there
        slider.press("End")
        slider.press("ArrowLeft")
        slider.press("ArrowLeft")
        button.click()
        handle = slider.element_handle()
        page.wait_for_function("s => +s.value == +s.max", arg=handle, timeout=5000)
        # it stops there: the button turns back to Play, the slider still at the end
        # (no fixed wait: a busy machine may run the player's interval late)
        try:
            page.wait_for_function(
                "b => b.textContent.includes('Play')", arg=button.element_handle(), timeout=5000
            )
        except PlaywrightTimeout:
            pass  # reported below
        end = player.evaluate(STATE)
        if end["value"] != end["max"] or "Play" not in end["button_text"]:
            problems.append(
                f"player {n}: Play did not stop at the last frame ({end['value']}, {end['button_text']!r})"
            )
        # Play at the end starts again from the first frame
        button.click()
        page.wait_for_function("s => +s.value < +s.max", arg=handle, timeout=3000)
        button.click()  # pause
        if "Play" not in player.evaluate(STATE)["button_text"]:
            problems.append(f"player {n}: no Play after a pause")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page_path", PLAYER_PAGES)
def test_phone_targets_and_dark_mode(browser, site_url, page_path):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page = context.new_page()
        page.goto(site_url + page_path, wait_until="networkidle")
        problems = []
        players = _players(page)
        for n, player in enumerate(players, 1):
            player.scroll_into_view_if_needed()
            s = player.evaluate(STATE)
            if s["range"]["h"] < 44 or s["button"]["h"] < 44:
                problems.append(
                    f"player {n}: touch targets {s['range']['h']:.0f} px (slider), "
                    f"{s['button']['h']:.0f} px (button) high at 390 px"
                )
            if s["range"]["w"] < 0.7 * s["player"]["w"]:
                problems.append(
                    f"player {n}: the slider is {s['range']['w']:.0f} px of {s['player']['w']:.0f} px"
                )
            player.screenshot(path=SHOTS / f"{slug(page_path)}-{n}-phone.png")
        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        for n, player in enumerate(players, 1):
            look = player.locator(".lrcourse-player-controls").evaluate(
                """el => { const c = getComputedStyle(el);
                  let a = el, bg = "rgba(0, 0, 0, 0)";
                  while (a && bg === "rgba(0, 0, 0, 0)") { bg = getComputedStyle(a).backgroundColor; a = a.parentElement; }
                  return {scheme: c.colorScheme, color: c.color, background: bg}; }"""
            )
            rgb = [int(v) for v in look["color"].strip("rgba()").split(",")[:3]]
            back = [int(v) for v in look["background"].strip("rgba()").split(",")[:3]]
            if "dark" not in look["scheme"] or sum(rgb) < 3 * 150 or sum(back) > 3 * 100:
                problems.append(f"player {n}: in dark mode the controls are {look}")
            player.screenshot(path=SHOTS / f"{slug(page_path)}-{n}-dark.png")
        assert not problems, "\n".join(problems)
    finally:
        context.close()


PLAYER_BLOCK = re.compile(r'<div id="(lrp-[0-9a-f]{10})" class="lrcourse-player".*?</script>\n</div>', re.S)


def test_frames_are_files_not_page_text():
    """Each player's start frame is an image file and its other frames a script, both under
    _images/ (scripts/sphinx_weight.py, 9): no base64 in the page."""
    problems, players = [], 0
    for page_path in PLAYER_PAGES:
        html = (SITE / page_path).read_text("utf-8")
        for match in PLAYER_BLOCK.finditer(html):
            players += 1
            block, uid = match.group(0), match.group(1)
            if re.search(r"[A-Za-z0-9+/=]{200,}", block):
                problems.append(f"{page_path} {uid}: base64 left in the page")
                continue
            start = re.search(r'lrcourse-player-base" src="([^"]+\.webp)"', block)
            held = re.search(r'var frames = "([^"]+\.js)";', block)
            if not (start and held):
                problems.append(f"{page_path} {uid}: no frame files named")
                continue
            script = (SITE / page_path).parent.joinpath(held.group(1)).resolve()
            if (
                not (SITE / page_path).parent.joinpath(start.group(1)).resolve().exists()
                or not script.exists()
            ):
                problems.append(f"{page_path} {uid}: a frame file is missing")
                continue
            listed = json.loads(re.search(r" = (\[.*\]);\n$", script.read_text("ascii")).group(1))
            frames = int(re.search(r'type="range" min="0" max="(\d+)"', block).group(1)) + 1
            if f'["{uid}"]' not in script.read_text("ascii") or len(listed) != frames:
                problems.append(f"{page_path} {uid}: the script holds {len(listed)} frames, not {frames}")
    assert players >= 8 and not problems, "\n".join(problems) or f"{players} players"

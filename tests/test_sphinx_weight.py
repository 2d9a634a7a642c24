"""The build steps of scripts/sphinx_weight.py that rewrite what the reader downloads."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def weight():
    sys.path.insert(0, str(ROOT / "scripts"))  # it imports its neighbours
    try:
        spec = importlib.util.spec_from_file_location("sphinx_weight", ROOT / "scripts" / "sphinx_weight.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return module


def test_selectors_split_at_top_level_commas_only(weight):
    assert weight._selectors("a, .x:not(.y, .z) b ,[data-a='1,2']") == [
        "a",
        ".x:not(.y, .z) b",
        "[data-a='1,2']",
    ]


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (".used", True),
        (".unused", False),
        ("div.used > .unused:hover", False),
        ("div.used:not(.unused)", True),  # a class inside :not() is never required
        (":is(.unused, .used) p", True),
        ("[class*=unused]", True),
        ("html[data-theme=dark] .used::before", True),
        ("p", True),
    ],
)
def test_a_selector_can_match_unless_it_needs_an_unused_class(weight, selector, matches):
    assert weight._can_match(selector, {"used"}) is matches


def test_rules_that_cannot_match_are_dropped_inside_media_too(weight):
    css = (
        "@font-face{font-family:X;src:url(x.woff2)}"
        ".used,.unused{color:red}"
        ".unused{color:blue}"
        "@media (min-width:960px){.unused{margin:0}.used{margin:1px}}"
        "@media print{.unused{display:none}}"
        "@keyframes spin{from{transform:rotate(0)}to{transform:rotate(1turn)}}"
    )
    kept, dropped = weight._rules_that_can_match(css, {"used"})
    assert dropped == 4
    assert ".used{color:red}" in kept and "color:blue" not in kept
    assert "@media (min-width:960px){.used{margin:1px}}" in kept
    assert "@media print" not in kept  # nothing left in it
    assert "@font-face" in kept and "@keyframes spin" in kept


def test_only_the_listed_scripts_are_deferred(weight):
    from sphinx.builders.html._assets import _JavaScript

    doctools = weight._deferred(_JavaScript("_static/doctools.js", priority=200))
    options = weight._deferred(_JavaScript("_static/documentation_options.js", priority=200))
    kept = weight._deferred(_JavaScript("_static/doctools.js", priority=200, defer="defer"))
    assert doctools.attributes == {"defer": "defer"} and doctools.priority == 200
    assert options.attributes == {}
    assert kept.attributes == {"defer": "defer"}


def test_player_frames_move_to_files(weight, tmp_path):
    frame = base64.b64encode(b"RIFF....WEBPVP8L start").decode()
    other = base64.b64encode(b"RIFF....WEBPVP8L other").decode()
    frames = json.dumps([None, other, 1])
    html = (
        '<p>before</p><div id="lrp-0123456789" class="lrcourse-player" role="group">\n'
        f'<img class="lrcourse-player-base" src="data:image/webp;base64,{frame}" alt="x" width="4" height="3">\n'
        "<script>\n(function () {\n"
        f"  var frames = {frames};\n"
        '  var start = "data:image/webp;base64," + frames[1];\n'
        "})();\n</script>\n</div><p>after</p>"
    )
    page = tmp_path / "book" / "ch" / "page.html"
    images = tmp_path / "_images"
    page.parent.mkdir(parents=True)
    images.mkdir()
    new = weight.player_frames_to_files(html, page, images)
    assert frame not in new and other not in new
    assert 'src="../../_images/' in new and 'loading="lazy"' in new
    script = next(images.glob("*.js")).read_text()
    assert '["lrp-0123456789"]' in script and json.loads(script.rsplit(" = ", 1)[1].rstrip(";\n")) == [
        None,
        other,
        1,
    ]
    assert next(images.glob("*.webp")).read_bytes() == base64.b64decode(frame)
    assert weight.player_frames_to_files(new, page, images) == new  # a second build changes nothing

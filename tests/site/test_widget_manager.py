"""The widgets HTML manager the site serves itself renders a saved widget state offline.

No chapter page shows a live widget on the website today (the explorers become a note
and a kernel-free player), so this builds a page of its own: the widget state of an
ipywidgets 8 slider linked in JavaScript to a text box (``jslink``, no kernel needed),
loaded with the site's RequireJS and HTML manager exactly as myst-nb writes them. It is
served from the same origin as the site, with every other host blocked.
"""

from __future__ import annotations

import json

import pytest
from conftest import ARTIFACTS, SITE

TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>widget manager</title>
{scripts}
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
</head><body>
<p>A slider and a box linked in the browser:</p>
<script type="application/vnd.jupyter.widget-view+json">{view}</script>
</body></html>
"""


def _widget_page():
    import ipywidgets as w
    from ipywidgets.embed import embed_data

    slider = w.IntSlider(value=3, min=0, max=10, description="steps")
    box = w.IntText(value=3, description="copy")
    w.jslink((slider, "value"), (box, "value"))
    ui = w.VBox([slider, box])
    data = embed_data(views=[ui])
    scripts = "\n".join(
        f'<script src="_static/{path}"></script>'
        for path in (
            "vendor/requirejs/require.js",
            "vendor/html-manager/require-paths.js",
            "vendor/html-manager/embed-amd.js",
        )
    )
    return TEMPLATE.format(
        scripts=scripts,
        state=json.dumps(data["manager_state"]),
        view=json.dumps(data["view_specs"][0]),
    )


@pytest.mark.skipif(not (SITE / "_static" / "vendor").is_dir(), reason="no built site (make book)")
def test_saved_widgets_render_and_link_without_a_kernel(browser, site_url):
    from conftest import Visit

    html = _widget_page()
    v = Visit(browser, site_url, "__widget-manager-test.html")
    try:
        # the last route registered is asked first
        v.context.route(
            "**/__widget-manager-test.html", lambda route: route.fulfill(body=html, content_type="text/html")
        )
        v.open()
        page = v.page
        page.wait_for_selector(".widget-slider", timeout=15000)
        box = page.locator(".widget-text input")
        assert box.input_value() == "3"
        box.fill("7")
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.widget-readout').textContent.trim() === '7'", timeout=5000
        )
        page.screenshot(path=ARTIFACTS / "widget-manager.png")
        assert not v.blocked, f"requests to other hosts: {v.blocked}"
        assert not v.failed, f"failed requests: {v.failed}"
        assert not v.errors, f"console errors: {v.errors}"
    finally:
        v.close()

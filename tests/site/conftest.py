"""The built website in a real browser: fixtures and the size report.

The site (``_build/html``, or ``$LRCOURSE_SITE``) is served on 127.0.0.1 by a thread
of the test process and opened in headless Chromium (``$CHROMIUM``, default
``chromium`` on the PATH) through Playwright, with every request to another host
blocked and recorded. Playwright's own browser downloads are never used.

Artifacts (git-ignored) go to ``tests/artifacts/site/``: a screenshot per page, the
players before and after a slider move, one JSON file per page (console, requests,
weight) and ``report.md`` with the site size and the heaviest page.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # toc.py, browser.py

from browser import CHROMIUM_ARGS, find_chromium  # noqa: E402

SITE = Path(os.environ.get("LRCOURSE_SITE", ROOT / "_build" / "html")).resolve()
# $LRCOURSE_SITE_ARTIFACTS: another folder, so two runs on one checkout keep their own files
ARTIFACTS = Path(os.environ.get("LRCOURSE_SITE_ARTIFACTS", ROOT / "tests" / "artifacts" / "site")).resolve()
VIEWPORT = {"width": 1280, "height": 900}

# Await MathJax's typesetting (it runs after the page has loaded); false without MathJax.
WAIT_FOR_MATHJAX = """async () => {
  if (!window.MathJax || !MathJax.startup) return false;
  await MathJax.startup.promise;
  return true;
}"""


def site_pages():
    """Every HTML page of the built site, as paths relative to its root."""
    if not SITE.is_dir():
        return []
    skip = ("_static", "_sources", "_images")
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if p.relative_to(SITE).parts[0] not in skip
    )


def slug(page):
    return page.removesuffix(".html").replace("/", "__")


def chromium_executable():
    path = find_chromium()
    if path is None:
        name = os.environ.get("CHROMIUM", "chromium")
        pytest.fail(
            f"no Chromium at {name!r}: `make test-site` installs Debian's chromium, or set CHROMIUM=/path/to/chrome"
        )
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site in {SITE}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong."""

    def __init__(self, browser, site_url, page_path):
        self.url = site_url + page_path
        self.host = urlsplit(site_url).netloc
        self.blocked, self.failed, self.errors, self.warnings = [], [], [], []
        self.context = browser.new_context(
            viewport=VIEWPORT, service_workers="block", reduced_motion="reduce"
        )
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})")
        )

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).netloc == self.host:
            route.continue_()
        else:  # anything off localhost: refuse it and remember the attempt
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _console(self, message):
        text = f"{message.type}: {message.text}"
        if message.type == "error":
            self.errors.append(text)
        elif message.type == "warning":
            self.warnings.append(text)

    def open(self):
        response = self.page.goto(self.url, wait_until="networkidle")
        assert response is not None and response.ok, f"{self.url}: {response and response.status}"
        return self

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, site_url):
    opened = []

    def _visit(page_path):
        v = Visit(browser, site_url, page_path)
        opened.append(v)
        return v.open()

    yield _visit
    for v in opened:
        v.close()


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # once, before any xdist worker starts
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        (ARTIFACTS / "pages").mkdir(parents=True)


def _human(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def pytest_terminal_summary(terminalreporter):
    """Site size and page weights, from the per-page files the page tests wrote."""
    if (ARTIFACTS / "weight").is_dir():  # test_site_weight.py: a first visit, by resource type
        from test_site_weight import weight_table

        (ARTIFACTS / "weight.md").write_text(
            "# First visit of each chapter page (cache disabled): bytes / requests by type\n\n"
            + weight_table(ARTIFACTS / "weight")
        )
    records = sorted((ARTIFACTS / "pages").glob("*.json"))
    if not records or not SITE.is_dir():
        return
    pages = [json.loads(p.read_text()) for p in records]
    files = [p for p in SITE.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    vendor = sum(p.stat().st_size for p in (SITE / "_static" / "vendor").rglob("*") if p.is_file())
    pages.sort(key=lambda r: r["loaded_bytes"], reverse=True)
    heaviest = pages[0]
    lines = [
        "# Site size and page weight",
        "",
        f"Built site: {_human(total)} in {len(files)} files ({_human(vendor)} of it in _static/vendor/).",
        f"Heaviest page: {heaviest['page']}: {_human(heaviest['loaded_bytes'])} loaded on a first visit "
        f"(HTML {_human(heaviest['html_bytes'])}, {heaviest['requests']} requests).",
        "",
        "| page | HTML | loaded on a first visit | requests | largest files loaded |",
        "|---|---|---|---|---|",
    ]
    for r in pages:
        top = ", ".join(f"{Path(urlsplit(u).path).name} {_human(b)}" for u, b in r["largest"][:3])
        lines.append(
            f"| {r['page']} | {_human(r['html_bytes'])} | {_human(r['loaded_bytes'])} | {r['requests']} | {top} |"
        )
    report = "\n".join(lines) + "\n"
    (ARTIFACTS / "report.md").write_text(report)
    terminalreporter.write_sep("-", "site size")
    terminalreporter.write_line(lines[2])
    terminalreporter.write_line(lines[3])
    terminalreporter.write_line(
        f"(every page: {os.path.relpath(ARTIFACTS / 'report.md', ROOT)}; screenshots beside it)"
    )

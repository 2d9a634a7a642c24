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

import contextlib
import fcntl
import functools
import http.server
import json
import os
import re
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
    """One page opened in a fresh browser context, with everything that went wrong.

    The browser cache is off (a first visit), and every request that finished is kept
    in ``finished`` (the weight tests count them). ``phone=True``: a touch screen and a
    mobile viewport, as on a phone.
    """

    def __init__(self, browser, site_url, page_path, viewport=VIEWPORT, phone=False):
        self.path = page_path
        self.url = site_url + page_path
        self.host = urlsplit(site_url).netloc
        self.blocked, self.failed, self.errors, self.warnings, self.finished = [], [], [], [], []
        self.context = browser.new_context(
            viewport=viewport,
            has_touch=phone,
            is_mobile=phone,
            service_workers="block",
            reduced_motion="reduce",
        )
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        self.page.on("requestfinished", lambda request: self.finished.append(request))
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
    """A page in a browser context of its own, closed after the test (for checks that click)."""
    opened = []

    def _visit(page_path, **kwargs):
        v = Visit(browser, site_url, page_path, **kwargs)
        opened.append(v)
        return v.open()

    yield _visit
    for v in opened:
        v.close()


# The checks that only read a page (console, math, figures, Japanese, axe, weight, width)
# share one visit of it: opening a chapter page and waiting for its math costs more than
# most checks. Each worker keeps the page it opened last, one on a desktop and one on a
# phone; the tests of one page are put side by side (pytest_collection_modifyitems) and
# sent to one worker (pytest_xdist_make_scheduler).
_SHARED = {}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 780}  # the narrowest phone a page must fit


@pytest.fixture(scope="session")
def _shared_visits(browser):
    yield _SHARED
    for v in _SHARED.values():
        v.close()
    _SHARED.clear()


@pytest.fixture
def shared_visit(_shared_visits, browser, site_url):
    """``shared_visit(page)``: the page, opened once for all the read-only checks of this worker.

    On a desktop (1280 px) or, with ``phone=True``, on a 360 px phone with touch. A
    check may scroll, take screenshots or inject a script, but not click, type or (on
    the desktop) resize: a check that does uses ``visit``, or comes last among the
    checks of its page in CHECK_ORDER (``test_page`` moves the players).
    """

    def _open(page_path, phone=False):
        kind = "phone" if phone else "desktop"
        v = _shared_visits.get(kind)
        if v is not None and v.path == page_path:
            return v
        if v is not None:
            v.close()
            del _shared_visits[kind]
        v = Visit(browser, site_url, page_path, viewport=NARROW if phone else VIEWPORT, phone=phone)
        try:
            v.open()
        except BaseException:
            v.close()
            raise
        _shared_visits[kind] = v
        return v

    return _open


# The order of the checks of one page: the ones that change the page least come first.
CHECK_ORDER = (
    "test_site_figures.py",
    "test_site_ja.py",
    "test_site_weight.py",
    "test_site_audit.py",
    "test_site_phone.py",  # the phone visit
    "test_site_players.py",  # a visit of its own
    "test_site_pages.py",  # last: it moves the players of the desktop visit
)


PAGE_IN_ID = re.compile(r"\[([^\]]*?\.html)")


def _page_of(nodeid):
    """The page a test checks, from its id (``test_page[book/x.html]``), or None."""
    found = PAGE_IN_ID.search(nodeid)
    return found.group(1) if found else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The tests of one page side by side, in CHECK_ORDER; the others first."""

    def key(pair):
        index, item = pair
        page = _page_of(item.nodeid)
        module = item.path.name
        rank = CHECK_ORDER.index(module) if module in CHECK_ORDER else len(CHECK_ORDER)
        return (page is not None, page or "", rank, index)

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]


def pytest_xdist_make_scheduler(config, log):
    """xdist sends all the tests of one page to the same worker, in the order above.

    (``--dist loadgroup`` would do it with marks, but xdist 3.8 tags the tests through
    an attribute that pytest 9.2 no longer reads.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByPage(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _page_of(nodeid) or nodeid

    return ByPage(config, log)


# The machine, shared by the tests of all workers; a Lighthouse run that measures
# performance takes it alone (test_site_audit.py). File locks, as xdist workers are
# processes: every test holds "machine" shared; a run that wants it alone first takes
# "queue", which every test passes through before it starts, so that no new test starts
# while it waits for the running ones to end (flock alone would let the shared holders
# take turns forever).
_locks = {}


def _lock(name):
    if name not in _locks:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        _locks[name] = open(ARTIFACTS / f"{name}.lock", "a")  # noqa: SIM115 (held for the session)
    return _locks[name]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Each test (its fixtures' setup and teardown too) holds the machine shared."""
    fcntl.flock(_lock("queue"), fcntl.LOCK_EX)
    fcntl.flock(_lock("machine"), fcntl.LOCK_SH)
    fcntl.flock(_lock("queue"), fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(_lock("machine"), fcntl.LOCK_UN)


@contextlib.contextmanager
def machine_to_myself():
    """Hold the machine alone: the other workers finish their current test and wait.

    The caller's own shared hold is let go first, so two workers asking at once take turns
    rather than wait for each other."""
    fcntl.flock(_lock("machine"), fcntl.LOCK_UN)
    fcntl.flock(_lock("queue"), fcntl.LOCK_EX)
    try:
        fcntl.flock(_lock("machine"), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(_lock("machine"), fcntl.LOCK_SH)
        fcntl.flock(_lock("queue"), fcntl.LOCK_UN)


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

"""Explorer latency where the learner sees it: a real JupyterLab in headless Chromium.

    python benchmarks/lab_latency.py                # every explorer, twice
    python benchmarks/lab_latency.py --runs 1 --only ch06

``benchmarks/report.py`` times ``Explorer.latency()`` inside the kernel (update and
encode a frame). A learner waits longer: key press -> comm message -> the kernel
recomputes and renders -> PNG over the websocket -> image decoded and painted. This
script measures that whole path:

1. it starts ``jupyter lab`` (this venv's) on a free localhost port with a random token,
   in a temporary root holding one small notebook per explorer: the chapter's import
   cell, the statements the explorer cell needs from earlier cells, and the cell of
   the book that builds and ``.show()``s the explorer;
2. it opens each notebook in Chromium (``$CHROMIUM``, default ``chromium`` on the PATH)
   through Playwright, runs all cells and waits for the kernel to go idle;
3. for each slider it focuses the handle and presses ArrowRight / ArrowLeft (turning
   back at the ends), 3 warm-up moves then 20 timed ones; for each dropdown it picks
   the other options in turn (3 warm-up, 8 timed switches);
4. each move is timed in the page: from ``performance.now()`` in a capturing keydown
   listener (or just before the dropdown's ``change`` is dispatched) to the moment the
   explorer's ``<img>`` has a new ``src`` (a MutationObserver), that image is decoded
   (``img.decode()``) and the next frame is about to be painted
   (``requestAnimationFrame``). Beside the p50 and p95 of that, the table shows the p50 of
   the time to the new ``src``; ``benchmarks/report.py`` times the kernel's part alone.
   A move that leaves the picture as it was (a small step of ``min_delta``, say) sends
   no new image: after 3 s without one it counts as "unchanged" and is not timed.

A page that fails leaves a screenshot in ``tests/artifacts/lab/``. Budgets on the
course's 2-core reference machine: slider p95 under 60 ms, a dropdown
that switches the scene p95 under 150 ms. Exit status 1 when one is missed. Numbers
only: the tests never assert wall-clock times.

A last row, "floor (no redraw)", times a plain ipywidgets slider that swaps two frames
of chapter 1's explorer drawn in advance: the same messages, server and browser, with a
kernel that does nothing. No explorer can be faster; the gap between an explorer's row
and the floor is what its redraw costs the learner.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM_ARGS, find_chromium  # noqa: E402

ARTIFACTS = ROOT / "tests" / "artifacts" / "lab"  # a screenshot when a page fails

SLIDER_P95_BUDGET_MS = 60.0
DROPDOWN_P95_BUDGET_MS = 150.0
SLIDER_MOVES = 20
DROPDOWN_SWITCHES = 8
WARMUP = 3
MOVE_TIMEOUT_MS = 10_000
QUIET_MS = 3_000  # no new image this long after a move: the picture did not change
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in front

# (label, notebook of the book, the explorer factory its cell calls)
EXPLORERS = [
    ("ch01 descent", "book/01_gradient_descent/index.ipynb", "descent_explorer"),
    ("ch02 stability", "book/02_learning_rate/index.ipynb", "stability_explorer"),
    ("ch03 batch size", "book/03_batch_size/index.ipynb", "batch_size_explorer"),
    ("ch04 capacity", "book/04_epochs_and_fitting/reading_curves.ipynb", "capacity_explorer"),
    ("ch05 schedule designer", "book/05_schedules/index.ipynb", "schedule_explorer"),
    ("ch06 optimizer race", "book/06_momentum_adaptive/rmsprop_adam.ipynb", "optimizer_race_explorer"),
    ("ch07 early stopping", "book/07_early_stopping/with_schedules.ipynb", "stopping_explorer"),
    ("ch08 tuning dashboard", "book/08_tuning_recipe/checking_the_recipe.ipynb", "recipe_explorer"),
    ("ch09 WSD branches", "book/09_warmup_and_wsd/wsd.ipynb", "wsd_branch_explorer"),
    ("ch11 clipping", "book/11_clipping_and_after_adam/index.ipynb", "clipping_explorer"),
]

# The floor: what JupyterLab, the widget messages and the browser cost on their own. Chapter
# 1's explorer draws two of its frames once; then a plain ipywidgets slider swaps between
# them, so a move costs the kernel nothing. The explorers cannot be faster than this row.
FLOOR = "floor (no redraw)"
FLOOR_CELL = """\
import ipywidgets

_frames = [himmelblau_explorer.png(), himmelblau_explorer.png(lr=0.05)]
_image = ipywidgets.Image(value=_frames[0], format="png")
_slider = ipywidgets.IntSlider(value=0, min=0, max=30, description="frame")
_slider.observe(lambda change: setattr(_image, "value", _frames[change["new"] % 2]), names="value")
ipywidgets.VBox([_slider, _image])
"""


def floor_notebook():
    """Chapter 1's explorer cell, showing the floor's slider and image instead of the explorer."""
    nb = small_notebook(ROOT / EXPLORERS[0][1], EXPLORERS[0][2])
    last = nb.cells[-1]
    if not last.source.rstrip().endswith("himmelblau_explorer.show()"):
        raise ValueError("chapter 1's explorer cell changed: update FLOOR_CELL")
    last.source = last.source.rstrip().removesuffix("himmelblau_explorer.show()") + FLOOR_CELL
    return nb


# Installed once per page. ``arm(img)`` watches the explorer's <img>: ``done`` gives the
# milliseconds from the start stamp to a decoded, about-to-be-painted new image and to its
# new src.
PAGE_JS = """
([timeoutMs, quietMs]) => {
  if (window.__lab) return;
  const lab = {t0: null};
  window.addEventListener('keydown', () => {
    if (lab.waiting && lab.t0 === null) lab.t0 = performance.now();
  }, true);
  lab.arm = (img) => {
    lab.t0 = null;
    lab.waiting = true;
    const old = img.getAttribute('src');
    lab.done = new Promise((resolve) => {
      const timer = setTimeout(() => { obs.disconnect(); resolve(null); }, timeoutMs);
      // a move that leaves the picture as it was sends no image: "same" once quietMs have
      // passed and the kernel is idle again (a slow kernel is waited for, up to timeoutMs)
      let quiet = null;
      const settle = () => {
        if (img.getAttribute('src') !== old) return;
        if (document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="busy"]')) {
          quiet = setTimeout(settle, 200);
          return;
        }
        obs.disconnect(); clearTimeout(timer); resolve('same');
      };
      quiet = setTimeout(settle, quietMs);
      const obs = new MutationObserver(async () => {
        if (img.getAttribute('src') === old || lab.t0 === null) return;
        const src = performance.now();
        obs.disconnect();
        clearTimeout(timer);
        clearTimeout(quiet);
        try { await img.decode(); } catch (err) { resolve(null); return; }
        requestAnimationFrame(() => {
          lab.waiting = false;
          resolve([performance.now() - lab.t0, src - lab.t0]);
        });
      });
      obs.observe(img, {attributes: true, attributeFilter: ['src']});
    });
  };
  window.__lab = lab;
}
"""


# ----------------------------------------------------------------- notebooks


def _loaded_names(tree):
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - stored - set(dir(builtins))


def _bound_names(node):
    """The names a top-level statement binds: assigned, defined or imported."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _parse(source):
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines)), "\n".join(lines)
    except SyntaxError:
        return None, ""


def small_notebook(notebook, factory):
    """The cells that build ``factory``'s explorer in ``notebook``, as a new notebook.

    The chapter's import cell, then the top-level statements of earlier cells that
    the explorer cell needs, in the book's order, then the explorer cell itself. The
    statements are found backwards from the explorer cell: one is kept when it binds
    (assigns, defines, imports) a name that a kept statement after it reads, and
    then the names it reads are needed in turn.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    pattern = re.compile(rf"^\w+ = widgets\.{factory}\(", re.M)
    where = next((i for i, s in enumerate(code) if pattern.search(s) and ".show()" in s), None)
    if where is None:
        raise ValueError(f"no cell of {notebook} builds and shows widgets.{factory}(...)")
    first = next(i for i, s in enumerate(code) if re.search(r"^from lrcourse import", s, re.M))
    known = _bound_names_of(code[first])
    statements = []  # (node, source) of every top-level statement between the two
    for source in code[first + 1 : where]:
        tree, text = _parse(source)
        if tree is not None:
            statements += [(node, ast.get_source_segment(text, node)) for node in tree.body]
    needed = _loaded_names(_parse(code[where])[0]) - known
    setup = []
    for node, source in reversed(statements):
        bound = _bound_names(node)
        if not bound & needed:
            continue
        setup.insert(0, source)
        if not isinstance(node, ast.AugAssign):
            needed -= bound
        needed |= _loaded_names(node) - known
    cells = [code[first]] + (["\n".join(setup)] if setup else []) + [code[where]]
    out = nbformat.v4.new_notebook()
    out.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out.cells = [nbformat.v4.new_code_cell(s) for s in cells]
    return out


def _bound_names_of(source):
    tree, _ = _parse(source)
    return set().union(*(_bound_names(node) for node in tree.body)) if tree else set()


# ----------------------------------------------------------------- server


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root, state, token, log, nagle=False):
    """``jupyter lab`` serving ``root``, its settings and runtime files in ``state``.

    With the course's server settings (``scripts/jupyter_server_config.py``, as ``make lab``
    and Binder use them), unless ``nagle``: then with jupyter_server's defaults.
    """
    port = _free_port()
    quiet = state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    quiet.parent.mkdir(parents=True)
    quiet.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
    )
    cmd = [
        str(ROOT / ".venv" / "bin" / "jupyter"),
        "lab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if not nagle:
        cmd.append(f"--config={ROOT / 'scripts' / 'jupyter_server_config.py'}")
    if os.geteuid() == 0:  # containers often run as root
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("jupyter lab did not answer within 60 s")


def stop_lab(proc):
    if proc.poll() is None:
        proc.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------- browser


def _stats(samples):
    t = np.asarray(samples, dtype=float)
    if t.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    return {
        "p50": float(np.percentile(t, 50)),
        "p95": float(np.percentile(t, 95)),
        "max": float(t.max()),
        "n": int(t.size),
    }


def _wait_idle(page, cells, timeout_ms=120_000):
    """Every cell has run and the kernel says idle."""
    page.wait_for_function(
        """([nb, cells]) => {
          const prompts = [...document.querySelectorAll(nb + ' .jp-InputPrompt')];
          const busy = prompts.some(p => p.textContent.includes('*'));
          const ran = prompts.filter(p => /\\[\\d+\\]/.test(p.textContent)).length >= cells;
          const ind = document.querySelector(nb + ' .jp-Notebook-ExecutionIndicator');
          const idle = !ind || ind.getAttribute('data-status') === 'idle';
          return ran && !busy && idle;
        }""",
        arg=[NOTEBOOK, cells],
        timeout=timeout_ms,
    )


def _run_all(page):
    """Run every cell, as a learner does with Shift+Enter, once the kernel has connected."""
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.textContent"
        " + document.querySelector('#jp-main-statusbar')?.textContent)",
        timeout=60_000,
    )
    cells = page.locator(f"{NOTEBOOK} .jp-Cell")
    n = cells.count()
    for _ in range(5):  # a run asked for before the kernel is ready is dropped: ask again
        cells.first.locator(".jp-InputPrompt").click()
        for i in range(n):  # command mode: run the cell, select the next (no new cell)
            page.keyboard.press("Shift+Enter" if i < n - 1 else "Control+Enter")
        try:
            page.wait_for_function(
                "(nb) => [...document.querySelectorAll(nb + ' .jp-InputPrompt')]"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                arg=NOTEBOOK,
                timeout=5_000,
            )
            return
        except Exception:  # noqa: BLE001 - nothing ran yet
            page.keyboard.press("Escape")
    raise RuntimeError("the notebook's cells never started running")


def _one_move(page, img, act):
    """[ms to the painted image, ms to its new src], ``"same"`` (no new image) or ``None`` (lost)."""
    page.evaluate("(img) => window.__lab.arm(img)", img)
    act()
    return page.evaluate("() => window.__lab.done")


def _slider_moves(page, slider, img, n):
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    key = "ArrowRight"
    times = []
    for _ in range(n):
        now, low, high = (
            float(handle.get_attribute(a) or 0) for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax")
        )
        span = high - low
        if key == "ArrowRight" and now >= high - 1e-9 * max(span, 1):
            key = "ArrowLeft"
        elif key == "ArrowLeft" and now <= low + 1e-9 * max(span, 1):
            key = "ArrowRight"
        times.append(_one_move(page, img, lambda k=key: handle.press(k)))
    return times


def _dropdown_moves(page, dropdown, img, n):
    select = dropdown.locator("select")
    count = select.locator("option").count()
    times = []
    for _ in range(n):
        start = select.evaluate("s => s.selectedIndex")
        nxt = (start + 1) % count
        act = lambda i=nxt: select.evaluate(  # noqa: E731
            """(s, i) => {
              window.__lab.t0 = performance.now();
              s.selectedIndex = i;
              s.dispatchEvent(new Event('change', {bubbles: true}));
            }""",
            i,
        )
        times.append(_one_move(page, img, act))
    return times


def measure_notebook(browser, url, token, name):
    """{control: stats} for the explorer shown by notebook ``name``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, service_workers="block")
    host = url.split("//", 1)[1]
    context.route(
        "**/*",
        lambda route: route.continue_() if host in route.request.url.split("/")[2] else route.abort(),
    )
    page = context.new_page()
    try:
        workspace = f"w{time.monotonic_ns()}"  # a fresh workspace: no tab of a former run
        page.goto(
            f"{url}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}", wait_until="domcontentloaded"
        )
        page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=60_000)
        _run_all(page)
        img = page.wait_for_selector(f"{NOTEBOOK} .jp-OutputArea-output img.widget-image", timeout=120_000)
        _wait_idle(page, page.locator(f"{NOTEBOOK} .jp-Cell").count())
        page.evaluate(PAGE_JS, [MOVE_TIMEOUT_MS, QUIET_MS])
        box = page.locator(f"{NOTEBOOK} .jp-OutputArea-output .widget-vbox").filter(
            has=page.locator("img.widget-image")
        )
        results = {}
        for kind, selector, moves, n in (
            ("slider", ".widget-slider", _slider_moves, SLIDER_MOVES),
            ("dropdown", ".widget-dropdown", _dropdown_moves, DROPDOWN_SWITCHES),
        ):
            controls = box.last.locator(selector)
            for i in range(controls.count()):
                control = controls.nth(i)
                label = control.locator(".widget-label").first.inner_text().strip() or f"{kind} {i}"
                moves(page, control, img, WARMUP)
                times = moves(page, control, img, n)
                ok = [t for t in times if t is not None and t != "same"]
                stats = _stats([t[0] for t in ok])
                stats["src_p50"] = _stats([t[1] for t in ok])["p50"]  # up to the new src
                same = times.count("same")
                results[f"{label} ({kind})"] = dict(
                    stats, kind=kind, same=same, lost=len(times) - len(ok) - same
                )
        return results
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"failed-{Path(name).stem}.png")
        raise
    finally:
        context.close()


def measure(runs=2, only=None, log=None, nagle=False):
    """{explorer label: [{control: stats}, ... one per run]}; raises RuntimeError if it cannot run."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium (set CHROMIUM=/path/to/chromium)")
    chosen = [e for e in EXPLORERS if not only or any(o in e[0] for o in only)]
    import nbformat

    with tempfile.TemporaryDirectory(prefix="lab-latency-") as tmp:
        root = Path(tmp) / "notebooks"
        root.mkdir()
        names = {}
        for label, notebook, factory in chosen:
            name = re.sub(r"\W+", "_", label) + ".ipynb"
            nbformat.write(small_notebook(ROOT / notebook, factory), root / name)
            names[label] = name
        if not only or any(o in FLOOR for o in only):
            nbformat.write(floor_notebook(), root / "floor.ipynb")
            names[FLOOR] = "floor.ipynb"
        token = secrets.token_hex(16)
        log = log or subprocess.DEVNULL
        proc, url = start_lab(root, Path(tmp), token, log, nagle=nagle)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
                try:
                    out = {}
                    for label in names:
                        out[label] = []
                        for run in range(runs):
                            print(f"  {label}, run {run + 1} ...", flush=True)
                            out[label].append(measure_notebook(browser, url, token, names[label]))
                            _shutdown_kernels(url, token)
                    return out
                finally:
                    browser.close()
        finally:
            stop_lab(proc)


def _shutdown_kernels(url, token):
    """A fresh kernel for the next run, and no idle kernel eating the shared cores."""
    headers = {"Authorization": f"token {token}"}
    req = urllib.request.Request(f"{url}/api/sessions", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{url}/api/sessions/{s['id']}", headers=headers, method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


# ----------------------------------------------------------------- report


def budget_ok(results):
    for label, runs in results.items():
        if label == FLOOR:  # not an explorer: it shows what the budget leaves them
            continue
        for run in runs:
            for s in run.values():
                budget = SLIDER_P95_BUDGET_MS if s["kind"] == "slider" else DROPDOWN_P95_BUDGET_MS
                if s["lost"] or not s["p95"] < budget:
                    return False
    return True


def _ms(x):
    return "-" if np.isnan(x) else f"{x:.0f}"


def table(results):
    """Markdown rows: one per explorer and control, the runs side by side."""
    runs = max((len(r) for r in results.values()), default=0)
    head = "| explorer | control | " + " | ".join(f"run {i + 1}: p50 / p95 (src), ms" for i in range(runs))
    lines = [head + " | budget p95 |", "|---|---|" + "---:|" * runs + "---:|"]
    for label, per_run in results.items():
        for control in per_run[0]:
            cells = []
            for run in per_run:
                s = run.get(control)
                lost = f", {s['lost']} lost" if s and s["lost"] else ""
                lost += f", {s['same']} unchanged" if s and s.get("same") else ""
                cells.append(f"{_ms(s['p50'])} / {_ms(s['p95'])} ({_ms(s['src_p50'])}){lost}" if s else "-")
            budget = (
                SLIDER_P95_BUDGET_MS if per_run[0][control]["kind"] == "slider" else DROPDOWN_P95_BUDGET_MS
            )
            budget = "(none)" if label == FLOOR else f"< {budget:g}"
            lines.append(f"| {label} | {control} | " + " | ".join(cells) + f" | {budget} |")
    return lines


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2, help="runs per explorer, each in a fresh kernel")
    parser.add_argument("--only", nargs="*", help="explorers whose label contains one of these words")
    parser.add_argument(
        "--nagle", action="store_true", help="jupyter_server's defaults, without the course's server settings"
    )
    args = parser.parse_args()
    log = sys.stderr if os.environ.get("LAB_LOG") else None
    results = measure(args.runs, args.only, log=log, nagle=args.nagle)
    print("\n".join(table(results)))
    ok = budget_ok(results)
    print("Every budget met." if ok else "At least one budget is missed.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

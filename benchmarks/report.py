"""Measure the course's performance budget and write ``benchmarks/REPORT.md``.

    python benchmarks/report.py                 # notebooks, explorers, sweeps
    python benchmarks/report.py --all           # + build/test times and install size
    python benchmarks/report.py --torch         # + the PyTorch comparisons (needs torch)
    python benchmarks/report.py --no-lab        # without the explorers in JupyterLab

``make bench`` runs it with ``--all --torch`` (the PyTorch part is skipped, with a note,
when torch is not installed: ``pip install torch==2.13.0``). Each figure is the median of
repeated runs. The script exits with status 1 when a budget is missed, so the team sees
it; tests never assert wall-clock times.

Budgets:
1. each page (notebook) executes headless in under 30 s, all together under 2 minutes;
2. every explorer redraws (update + PNG) with p95 under 100 ms (aim: 50 ms);
3. the 1000-rate x 200-step Adam sweep under 20 ms and 100x faster than a torch.optim loop;
   the range test and a training run beside their PyTorch equivalents;
4. (reported, no budget) book build from clean and warm, and ``make test``;
5. (reported, no budget) the size of a fresh runtime install from ``requirements.txt``;
6. the autograder grades 100 generated submissions of chapter 1 in under 10 minutes, each
   with the right score (``benchmarks/bench_grading.py``);
7. the explorers in a real JupyterLab, key press to painted image (``benchmarks/lab_latency.py``,
   needs Chromium): slider p95 under 60 ms, a scene-switching dropdown p95 under 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

NOTEBOOK_BUDGET_S = 30.0
NOTEBOOKS_TOTAL_BUDGET_S = 120.0
EXPLORER_P95_BUDGET_MS = 100.0
EXPLORER_AIM_MS = 50.0

# Appended to each executed notebook: time every explorer the chapter built, one control
# at a time over its own grid of values, the others at their defaults. Slider moves and
# dropdown switches are timed apart: a slider redraws the curves over a fixed scene, a
# dropdown that swaps the scene (another landscape, another data set) redraws it all.
LATENCY_CELL = """
import json as _json
from lrcourse.widgets import Dropdown as _Dropdown
from lrcourse.widgets import Explorer as _Explorer
_found = {}
for _name, _obj in list(globals().items()):
    if isinstance(_obj, _Explorer) and not _name.startswith("_"):
        _moves = {"sliders": [], "switches": []}
        for _cname, _control in _obj.controls.items():
            _kind = "switches" if isinstance(_control, _Dropdown) else "sliders"
            _moves[_kind] += [{_cname: _v} for _v in _control.grid(8)]
        _found[_name] = {
            _kind: _obj.latency(_values, warmup=2)
            for _kind, _values in _moves.items()
            if _values
        }
print("LATENCY_JSON" + _json.dumps(_found))
"""


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "system": f"{platform.system()} {platform.release()}",
        "date": date.today().isoformat(),
    }


def execute_notebook(path, timeout=300):
    """Execute ``path`` headless; return (seconds in cells, latency dict of its explorers)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(LATENCY_CELL))
    env = dict(os.environ, MPLBACKEND="Agg")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    old = os.environ.copy()
    os.environ.update(env)
    try:
        start = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(old)
    latency_cell = nb.cells[-1]
    text = "".join(o.get("text", "") for o in latency_cell.outputs if o.get("output_type") == "stream")
    latencies = json.loads(text.split("LATENCY_JSON", 1)[1]) if "LATENCY_JSON" in text else {}
    cell_seconds = 0.0
    for cell in nb.cells[:-1]:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            cell_seconds += _seconds(timing["shell.execute_reply"]) - _seconds(timing["iopub.execute_input"])
    return cell_seconds or wall, wall, latencies


def _seconds(stamp):
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def bench_notebooks(repeats):
    from toc import toc_notebooks

    rows, explorers = [], {}
    for rel in toc_notebooks():
        runs = [execute_notebook(ROOT / rel) for _ in range(repeats)]
        cells = float(np.median([r[0] for r in runs]))
        wall = float(np.median([r[1] for r in runs]))
        rows.append({"notebook": rel, "cells_s": cells, "wall_s": wall})
        for name, stats in runs[-1][2].items():
            explorers[f"{rel} :: {name}"] = stats
        print(f"  {rel}: {cells:.1f} s in cells, {wall:.1f} s with kernel start", flush=True)
    return rows, explorers


def bench_sweeps(with_torch):
    import bench_core
    import bench_training
    from timing import median_ms

    from lrcourse import objectives
    from lrcourse.descent import run
    from lrcourse.optimizers import adam

    f = objectives.rosenbrock()
    opt = adam(lr=bench_core.RATES)
    sweep_ms = median_ms(lambda: run(f.grad, bench_core.START, opt, bench_core.STEPS), 21)
    single_ms = median_ms(lambda: run(f.grad, bench_core.START, adam(lr=0.01), bench_core.STEPS), 21)
    out = {"single_ms": single_ms, "sweep_ms": sweep_ms}
    fit_ms, range_ms = bench_training.measure(repeats=7)
    out.update(fit_ms=fit_ms, parallel_range_ms=range_ms)
    if not with_torch:
        return out
    try:
        import torch_equivalents
    except ImportError as exc:
        out["torch_note"] = f"torch not installed ({exc}); pip install torch==2.13.0"
        return out
    out["torch"] = torch_equivalents.compare()
    return out


def timed(cmd, cwd, env=None):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, shell=True, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def bench_build_and_test():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "course"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        venv = ROOT / ".venv"
        env = None
        if venv.exists():  # reuse the installed tools; measure the build, not pip
            (clone / ".venv").symlink_to(venv)
            # A stamp newer than the clone's files: make must not reinstall (that would
            # point the shared venv's editable install at the clone, deleted afterwards).
            (venv / ".installed").touch()
            env = dict(os.environ, PYTHONPATH=str(clone))  # the clone's lrcourse, not ours
        out["book_clean_s"], out["book_clean_rc"] = timed("make book", clone, env)
        out["book_warm_s"], out["book_warm_rc"] = timed("make book", clone, env)
        out["test_s"], out["test_rc"] = timed("make test", clone, env)
    return out


def bench_install():
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = venv / "bin" / "pip"
        start = time.perf_counter()
        proc = subprocess.run(
            [str(pip), "install", "-q", "-r", "requirements.txt", "-c", "constraints.txt"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        site = next(venv.glob("lib/python*/site-packages"))
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())
        biggest = sorted(
            (
                (sum(f.stat().st_size for f in d.rglob("*") if f.is_file()), d.name)
                for d in site.iterdir()
                if d.is_dir()
            ),
            reverse=True,
        )[:5]
    return {
        "rc": proc.returncode,
        "seconds": seconds,
        "mb": size / 1e6,
        "biggest": [(n, s / 1e6) for s, n in biggest],
    }


def verdict(ok):
    return "met" if ok else "**MISSED**"


def bench_lab(runs=2):
    """Explorers in JupyterLab, ``runs`` times each; a note instead when it cannot run."""
    import lab_latency

    try:
        return {"results": lab_latency.measure(runs=runs)}
    except Exception as exc:  # no Chromium, no Playwright, a server that would not start
        return {"note": f"{type(exc).__name__}: {exc}"}


def write_report(info, notebooks, explorers, sweeps, build, install, grading=None, lab=None):
    lines = [
        "# Performance report",
        "",
        "Written by `make bench` (`python benchmarks/report.py --all --torch`). Timings are medians of "
        "repeated runs, except the notebooks (one execution each; `--repeats N` takes a median).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; {info['system']}; Python {info['python']}, "
        f"numpy {info['numpy']}; measured {info['date']}.",
        "",
    ]
    ok = True
    if notebooks is not None:
        total = sum(r["cells_s"] for r in notebooks)
        worst = max((r["cells_s"] for r in notebooks), default=0.0)
        nb_ok = worst < NOTEBOOK_BUDGET_S and total < NOTEBOOKS_TOTAL_BUDGET_S
        ok &= nb_ok
        lines += [
            "## 1. Notebook execution",
            "",
            f"Budget: each page under {NOTEBOOK_BUDGET_S:g} s, all together under "
            f"{NOTEBOOKS_TOTAL_BUDGET_S:g} s (time spent in cells; the kernel start is shown apart). "
            f"**{verdict(nb_ok)}**",
            "",
            "| notebook | cells (s) | with kernel start (s) |",
            "|---|---:|---:|",
        ]
        lines += [f"| `{r['notebook']}` | {r['cells_s']:.1f} | {r['wall_s']:.1f} |" for r in notebooks]
        lines += [f"| **total** | **{total:.1f}** | {sum(r['wall_s'] for r in notebooks):.1f} |", ""]
    if explorers is not None:
        sliders = {name: s["sliders"] for name, s in explorers.items() if "sliders" in s}
        worst = max((s["p95"] for s in sliders.values()), default=0.0)
        ex_ok = worst < EXPLORER_P95_BUDGET_MS
        ok &= ex_ok
        lines += [
            "## 2. Explorer latency",
            "",
            f"Time from a slider change to a finished redraw (update + render to PNG), over each "
            f"slider's grid of values. Budget: p95 under {EXPLORER_P95_BUDGET_MS:g} ms (aim "
            f"{EXPLORER_AIM_MS:g} ms). **{verdict(ex_ok)}** Worst p95: {worst:.1f} ms.",
            "",
            "A dropdown that swaps the whole scene (another landscape or data set) redraws the "
            "figure from scratch, axes and labels included; those switches are timed apart "
            "(no budget; a full redraw of these figures costs 60-160 ms).",
            "",
            "| explorer | p50 (ms) | p95 (ms) | max (ms) | moves | dropdown switch p50 / max (ms) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, s in sorted(explorers.items()):
            sl, sw = s.get("sliders"), s.get("switches")
            row = f"| `{name}` | " + (
                f"{sl['p50']:.1f} | {sl['p95']:.1f} | {sl['max']:.1f} | {sl['n']} |"
                if sl
                else "- | - | - | 0 |"
            )
            row += f" {sw['p50']:.0f} / {sw['max']:.0f} |" if sw else " - |"
            lines.append(row)
        lines.append("")
    if sweeps is not None:
        sw_ok = sweeps["sweep_ms"] < 20.0
        lines += [
            "## 3. Sweeps and training",
            "",
            "| what | lrcourse (ms) | budget |",
            "|---|---:|---|",
            f"| Adam, 1 run x 200 steps, Rosenbrock | {sweeps['single_ms']:.2f} | |",
            f"| Adam, 1000 rates x 200 steps, one call | {sweeps['sweep_ms']:.2f} | < 20 ms: {verdict(sw_ok)} |",
            f"| MLP 64-64-10, Adam, 20 epochs at batch 32 on digits | {sweeps['fit_ms']:.0f} | < 1000 ms |",
            f"| parallel range test, 50 rates x 3 epochs, logistic regression | {sweeps['parallel_range_ms']:.0f} | < 1000 ms |",
            "",
        ]
        ok &= sw_ok and sweeps["fit_ms"] < 1000 and sweeps["parallel_range_ms"] < 1000
        if "torch" in sweeps:
            lines += [
                "Beside what a PyTorch user writes (torch.optim on CPU, float64, same data, same starting "
                "weights and batch order; the numbers are checked to agree):",
                "",
                "| what | lrcourse (ms) | PyTorch (ms) | speed-up | same numbers |",
                "|---|---:|---:|---:|---|",
            ]
            for row in sweeps["torch"]:
                lines.append(
                    f"| {row['what']} | {row['ours_ms']:.1f} | {row['torch_ms']:.0f} | "
                    f"{row['torch_ms'] / row['ours_ms']:.0f}x | {'yes' if row['same'] else '**NO**'} |"
                )
                ok &= row["same"]
            first = sweeps["torch"][0]
            ok &= first["torch_ms"] / first["ours_ms"] >= 100
            lines.append("")
        elif "torch_note" in sweeps:
            lines += [f"PyTorch comparison skipped: {sweeps['torch_note']}.", ""]
    if build is not None:
        lines += [
            "## 4. Build and test",
            "",
            "On a fresh clone (reusing the installed tools, so pip is not timed):",
            "",
            "| command | seconds | exit |",
            "|---|---:|---:|",
            f"| `make book` from clean | {build['book_clean_s']:.0f} | {build['book_clean_rc']} |",
            f"| `make book` again (warm cache) | {build['book_warm_s']:.0f} | {build['book_warm_rc']} |",
            f"| `make test` | {build['test_s']:.0f} | {build['test_rc']} |",
            "",
        ]
        ok &= build["book_clean_rc"] == 0 and build["test_rc"] == 0
    if install is not None:
        lines += [
            "## 5. Install size",
            "",
            f"A fresh venv with `pip install -r requirements.txt` (what Binder installs): "
            f"**{install['mb']:.0f} MB** in site-packages, {install['seconds']:.0f} s (exit {install['rc']}). "
            "Largest packages: " + ", ".join(f"{n} {s:.0f} MB" for n, s in install["biggest"]) + ".",
            "",
        ]
    if grading is not None:
        gr_ok = not grading["wrong"] and grading["seconds"] < 600
        ok &= gr_ok
        lines += [
            "## 6. Grading a class",
            "",
            f"`python -m lrcourse.assign grade` on {grading['students']} generated submissions of chapter 1 "
            "(70 % solved, 15 % half-solved, 9 % untouched, 4 % crashing, 2 % looping forever, each loop "
            f"stopped by the 10 s call limit), each in its own sandbox ({grading.get('isolation', '?')}), "
            f"{grading['jobs']} in parallel: **{grading['seconds']:.0f} s** "
            f"({grading['seconds'] / grading['students']:.1f} s per submission). Budget: under 10 minutes, "
            f"every score right. **{verdict(gr_ok)}**"
            + (f" Wrong scores: {grading['wrong']}." if grading["wrong"] else ""),
            "",
        ]
    if lab is not None:
        import lab_latency

        lines += [
            "## 7. Explorers in JupyterLab (end to end)",
            "",
            "What a learner waits for (`benchmarks/lab_latency.py`): JupyterLab and headless Chromium "
            "on this machine, one small notebook per explorer (the chapter's imports and its explorer "
            "cell), a fresh kernel per run. Each move is timed in the page, from the key press on the "
            "focused slider (or the dropdown's change) to the explorer's new image decoded and about "
            "to be painted (`img.decode()`, then `requestAnimationFrame`); in brackets, the p50 of the "
            "time until the new image's src is set (the kernel's part alone is section 2). "
            f"{lab_latency.SLIDER_MOVES} slider moves and "
            f"{lab_latency.DROPDOWN_SWITCHES} dropdown switches after {lab_latency.WARMUP} warm-up "
            f"ones. Budgets: slider p95 under {lab_latency.SLIDER_P95_BUDGET_MS:g} ms, dropdown p95 "
            f"under {lab_latency.DROPDOWN_P95_BUDGET_MS:g} ms. The last row, "
            f'"{lab_latency.FLOOR}", is a plain slider swapping two frames drawn in advance: the '
            "same stack with a kernel that does nothing, the fastest any explorer can be.",
            "",
        ]
        if "results" in lab:
            lab_ok = lab_latency.budget_ok(lab["results"])
            ok &= lab_ok
            lines += [f"Budgets {verdict(lab_ok)}.", "", *lab_latency.table(lab["results"]), ""]
        else:
            lines += [f"Not measured: {lab['note']}.", ""]
    lines += [
        "## Verdict",
        "",
        "Every budget met." if ok else "**At least one budget is missed** (see above).",
        "",
    ]
    (ROOT / "benchmarks" / "REPORT.md").write_text("\n".join(lines))
    return ok


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--all", action="store_true", help="also time build/test, measure the install and time the grader"
    )
    parser.add_argument("--torch", action="store_true", help="also compare with PyTorch (needs torch)")
    parser.add_argument("--repeats", type=int, default=1, help="executions of each notebook (median)")
    parser.add_argument(
        "--no-lab", action="store_true", help="skip the explorers in JupyterLab (Chromium, a few minutes)"
    )
    args = parser.parse_args()

    info = machine()
    print("notebooks and explorers ...", flush=True)
    notebooks, explorers = bench_notebooks(args.repeats)
    print("sweeps ...", flush=True)
    sweeps = bench_sweeps(args.torch)
    lab = None
    if not args.no_lab:
        print("explorers in JupyterLab ...", flush=True)
        lab = bench_lab()
    build = install = grading = None
    if args.all:
        print("build and test (several minutes) ...", flush=True)
        build = bench_build_and_test()
        print("install size ...", flush=True)
        install = bench_install() if shutil.which("git") else None
        print("grading a class ...", flush=True)
        import bench_grading

        grading = bench_grading.measure()
    ok = write_report(info, notebooks, explorers, sweeps, build, install, grading, lab)
    print((ROOT / "benchmarks" / "REPORT.md").read_text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

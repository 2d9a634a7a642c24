"""Tricks a student might play on the autograder, each graded by the real command line.

A class hands in chapter 1's two-exercise sheet. Every trick below starts from a
submission that solves ``gradient_step`` and not ``gradient_descent`` (1 point of 2):
a trick that works would get 2, or would change a classmate's score, or would stop the
batch. Each must get exactly 1, every honest score must be as deserved, and the batch
must end. The sandbox's file-system tricks need bubblewrap (``make test`` installs it
where it can); without it they are skipped, with the reason.
"""

from __future__ import annotations

import copy
import csv
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from lrcourse.assign import notebooks, sandbox

ROOT = Path(__file__).resolve().parent.parent
CH1 = ROOT / "book" / "01_gradient_descent" / "index.ipynb"
SHEET = {"ex-gradient-step", "ex-gradient-descent"}
CELL_S, CALL_S, TOTAL_S = 4, 3, 30
ISOLATED = sandbox.bubblewrap_works()
needs_sandbox = pytest.mark.skipif(not ISOLATED, reason="bubblewrap is missing or not allowed here")


def _tricks(folder, out):
    """{student: source of a cell added after the answers}; ``folder``: the submissions."""
    key, victim = folder / "key.ipynb", folder / "victim.ipynb"
    return {
        # 1. the checkers, patched in the student's process
        "patch_checker": "checks.check_gradient_descent = lambda *args, **kwargs: True",
        # 2. the checker's own reference, imported, or read from its file
        "import_reference": (
            "from lrcourse.checks.gradient_descent import _ref_gradient_descent as gradient_descent"
        ),
        "read_reference": (
            "import lrcourse, pathlib\n"
            "source = (pathlib.Path(lrcourse.__file__).parent / 'checks' / 'gradient_descent.py').read_text()\n"
            "scope = {}\n"
            "exec(source, scope)\n"
            "gradient_descent = scope['_ref_gradient_descent']"
        ),
        # 3. print, patched so that a failure reads as a pass
        "patch_print": (
            "import builtins\n"
            "_print = builtins.print\n"
            "builtins.print = lambda *a, **k: _print(*[str(x).replace('✘', '✔') for x in a], **k)"
        ),
        # 4. a verdict printed, then a BaseException to stop the check
        "forge_verdict": (
            "class Stop(BaseException):\n"
            "    pass\n\n"
            "def gradient_descent(grad, x0, lr, steps):\n"
            "    print('✔ gradient_descent: correct on all 8 checks')\n"
            "    raise Stop"
        ),
        # 5. the answer key's solutions, found with a relative glob or by its full path
        "steal_key": (
            "import glob, json\n"
            f"paths = glob.glob('../**/*.ipynb', recursive=True) + [{str(key)!r}]\n"
            "for path in paths:\n"
            "    try:\n"
            "        cells = json.load(open(path))['cells']\n"
            "    except OSError:\n"
            "        continue\n"
            "    for cell in cells:\n"
            "        if 'def gradient_descent' in ''.join(cell['source']) and 'NotImplementedError' not in ''.join(cell['source']):\n"
            "            exec(''.join(cell['source']))"
        ),
        # 6. a classmate's function, from the submissions folder
        "copy_classmate": (
            "import json\n"
            f"for cell in json.load(open({str(folder / 'honest.ipynb')!r}))['cells']:\n"
            "    if 'def gradient_descent' in ''.join(cell['source']):\n"
            "        exec(''.join(cell['source']))"
        ),
        # 7. a package that shadows the course's, for those graded later
        "shadow_package": (
            "import os\n"
            f"for where in ('.', {str(folder)!r}):\n"
            "    os.makedirs(os.path.join(where, 'lrcourse'), exist_ok=True)\n"
            "    open(os.path.join(where, 'lrcourse', '__init__.py'), 'w').write('raise SystemExit')"
        ),
        # 8. a classmate's notebook, overwritten
        "overwrite_victim": f"open({str(victim)!r}, 'w').write('{{}}')",
        # 9. a detached process that rewrites the reports after the grader has exited
        "rewrite_reports": (
            "import subprocess, sys\n"
            f"target = {str(out / 'totals.csv')!r}\n"
            'script = f\'import time; time.sleep(4); open({target!r}, "w").write("forged")\'\n'
            "subprocess.Popen([sys.executable, '-c', script], start_new_session=True)"
        ),
        # 10. a loop that swallows every interrupt: only the total limit stops it
        "endless": (
            "while True:\n"
            "    try:\n"
            "        while True:\n"
            "            pass\n"
            "    except BaseException:\n"
            "        pass"
        ),
        # 11. bool, replaced for everyone in the process
        "patch_bool": "import builtins\nbuiltins.bool = lambda *args: True",
        # 12. 3 GB of memory
        "allocate": "hog = bytearray(3 * 2**30)",
        # 13. the network
        "network": (
            "import socket\n"
            "socket.create_connection(('pypi.org', 443), timeout=3).close()\n"
            "gradient_descent = lambda grad, x0, lr, steps: None"
        ),
    }


def _write(nb, path):
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once per test run, even when pytest-xdist spreads these tests over
    several workers: the first worker grades, the others read its results."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # common to the workers of this run
    with open(shared / "grading-attacks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "grading-attacks.json"
        if not saved.exists():
            result = _grade_the_class(shared / "grading-attacks")
            saved.write_text(json.dumps(result))
        result = json.loads(saved.read_text())
    result["scores"] = {tuple(k.split("|")): v for k, v in result["scores"].items()}
    return result


def _grade_the_class(base):
    base.mkdir()
    folder, out = base / "submissions", base / "grades"
    folder.mkdir()
    source = notebooks.read(CH1)
    sheet = notebooks.student_version(source, keep=SHEET)
    reference = _write(sheet, base / "sheet.ipynb")
    _write(notebooks.select(source, SHEET, with_solutions=True), folder / "key.ipynb")  # left by mistake
    partial = copy.deepcopy(sheet)
    for cell in partial.cells:
        if "def gradient_step" in cell.source:
            cell.source = cell.source.replace("raise NotImplementedError", "return x - lr * grad")
    honest = copy.deepcopy(partial)
    for cell in honest.cells:
        if "def gradient_descent" in cell.source:
            cell.source = (
                "def gradient_descent(grad, x0, lr, steps):\n"
                "    path = [np.array(x0, dtype=float)]\n"
                "    for _ in range(steps):\n"
                "        path.append(path[-1] - lr * grad(path[-1]))\n"
                "    return np.array(path)\n"
            )
    _write(honest, folder / "honest.ipynb")
    _write(partial, folder / "victim.ipynb")
    _write(sheet, folder / "untouched.ipynb")
    tricks = _tricks(folder, out)
    for name, trick in tricks.items():
        nb = copy.deepcopy(partial)
        nb.cells.append(nbformat.v4.new_code_cell(trick))
        _write(nb, folder / f"{name}.ipynb")
    victim_before = (folder / "victim.ipynb").read_bytes()
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrcourse.assign",
            "grade",
            str(folder),
            "--reference",
            str(reference),
            "-o",
            str(out),
            "--jobs",
            "2",
            "--cell-timeout",
            str(CELL_S),
            "--call-timeout",
            str(CALL_S),
            "--total-timeout",
            str(TOTAL_S),
        ],
        cwd=folder,  # where a careless instructor runs it
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard, not a speed test
    )
    seconds = time.monotonic() - start
    time.sleep(5)  # long enough for a detached process to rewrite the reports
    totals = {r["student"]: float(r["points"]) for r in csv.DictReader(open(out / "totals.csv"))}
    scores = {f"{r['student']}|{r['exercise']}": r for r in json.loads((out / "scores.json").read_text())}
    return {
        "returncode": done.returncode,
        "stderr": done.stderr[-2000:],
        "seconds": seconds,
        "totals": totals,
        "scores": scores,
        "tricks": sorted(tricks),
        "victim_intact": (folder / "victim.ipynb").read_bytes() == victim_before,
        "shadow_written": (folder / "lrcourse").exists(),
    }


def test_the_batch_ends_and_reports_every_student(graded):
    assert graded["returncode"] == 0, graded["stderr"]
    expected = {"honest", "victim", "untouched", "key", *graded["tricks"]}
    assert set(graded["totals"]) == expected


def test_honest_scores_are_as_deserved(graded):
    totals = graded["totals"]
    assert totals["honest"] == 2 and totals["key"] == 2
    assert totals["victim"] == 1 and totals["untouched"] == 0


TRICKS_IN_PROCESS = ["patch_checker", "patch_print", "forge_verdict", "patch_bool", "endless", "allocate"]
TRICKS_ON_FILES = [
    "import_reference",
    "read_reference",
    "steal_key",
    "copy_classmate",
    "shadow_package",
    "overwrite_victim",
    "rewrite_reports",
    "network",
]


@pytest.mark.parametrize("trick", TRICKS_IN_PROCESS)
def test_a_trick_in_the_process_gains_nothing(graded, trick):
    deserved = 0 if trick == "endless" else 1  # stopped before its checks: nothing is graded
    assert graded["totals"][trick] == deserved, graded["scores"][(trick, "ex-gradient-descent")]


@needs_sandbox
@pytest.mark.parametrize("trick", TRICKS_ON_FILES)
def test_a_trick_outside_the_process_gains_nothing(graded, trick):
    assert graded["totals"][trick] == 1, graded["scores"][(trick, "ex-gradient-descent")]


@needs_sandbox
def test_no_submission_touches_another_or_the_folder(graded):
    assert graded["victim_intact"]
    assert not graded["shadow_written"]


def test_a_loop_that_ignores_interrupts_is_killed(graded):
    reason = graded["scores"][("endless", "ex-gradient-descent")]["reason"]
    assert f"limit of {CELL_S:g} s" in reason and "ignored the interrupt" in reason, reason


@needs_sandbox
def test_no_network(graded):
    reason = graded["scores"][("network", "ex-gradient-descent")]["reason"]
    assert "a cell you added raised" in reason, reason


def test_a_memory_hog_is_refused_and_the_rest_graded(graded):
    assert graded["scores"][("allocate", "ex-gradient-step")]["points"] == 1
    assert "MemoryError" in graded["scores"][("allocate", "ex-gradient-descent")]["reason"]

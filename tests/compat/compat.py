"""Helpers for the Colab and Binder checks (``make test-compat``) and the Python-version
checks (``make test-python-versions``).

- Interpreters: ``$LRCOURSE_PYTHON_3_12`` (a path), else ``python3.12`` on the PATH,
  else the newest 3.12.x that ``pyenv`` knows. A missing one is skipped, with a message.
- Virtual environments live in a cache (``$LRCOURSE_COMPAT_CACHE``, default
  ``~/.cache/lrcourse-compat``), one per interpreter and set of pins, and are reused
  while their pins do not change; ``LRCOURSE_COMPAT_FRESH=1`` rebuilds them (once per
  run, whichever worker comes first). uv (a dev requirement) builds them, pip where uv is
  missing; packages come from the installer's own cache when it has them.
- Pins: ``pins/*.txt`` beside this file, frozen with ``python tests/compat/compat.py``
  (for each interpreter found, and for Colab's stack), so every run installs the
  same versions.

Run as a script, it refreezes the pins:
``python tests/compat/compat.py [unit-3.10 ... | colab]``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PINS = HERE / "pins"
VERSIONS = ("3.10", "3.11", "3.12", "3.13")

# What the package's unit tests need (and nothing of the book's tooling).
UNIT_REQUIREMENTS = ["numpy", "matplotlib", "ipywidgets", "threadpoolctl", "pytest", "hypothesis"]

# Google Colab's runtime as the course meets it: Python 3.12, ipywidgets 7.7.1 with the
# IPython 7 / ipykernel 6 stack, and threadpoolctl (there for scikit-learn). Versions read
# from `pip freeze` in a Colab notebook.
COLAB_PYTHON = "3.12"
COLAB_REQUIREMENTS = [
    "ipykernel==6.17.1",
    "ipython==7.34.0",
    "ipywidgets==7.7.1",
    "jupyter-client==6.1.12",
    "matplotlib==3.10.0",
    "numpy==2.0.2",
    "threadpoolctl==3.7.0",
    "tornado==6.4.2",
    "traitlets==5.7.1",
]

# nbgrader, as an instructor installs it beside the course (not a dependency of the course),
# with what the course's pages need to run under it.
TOOL_PYTHON = "3.11"  # for the instructors' tools below
NBGRADER_REQUIREMENTS = ["nbgrader==0.9.6", "numpy", "matplotlib", "ipywidgets", "threadpoolctl"]
OTTER_REQUIREMENTS = [
    "otter-grader==7.0.0",
    "ipykernel",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "threadpoolctl",
]

# This test run: the same in every pytest-xdist worker of one run, new in the next run.
RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lrcourse-compat"
    path = Path(os.environ.get("LRCOURSE_COMPAT_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> tuple[str | None, str]:
    """(path, how it was found) of a Python ``version`` ("3.12"), or (None, why not)."""
    var = "LRCOURSE_PYTHON_" + version.replace(".", "_")
    if os.environ.get(var):
        path = os.environ[var]
        found = _version_of(path)
        if found and found.startswith(version + "."):
            return path, f"${var}"
        return None, f"${var}={path} is not a working Python {version}"
    on_path = shutil.which(f"python{version}")
    if on_path and (_version_of(on_path) or "").startswith(version + "."):
        return on_path, "PATH"
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        names = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True).stdout.split()
        matches = [n for n in names if re.fullmatch(rf"{re.escape(version)}\.\d+", n)]
        matches.sort(key=lambda n: int(n.rsplit(".", 1)[1]))
        if matches:
            path = str(Path(root) / "versions" / matches[-1] / "bin" / "python")
            if _version_of(path):
                return path, f"pyenv {matches[-1]}"
    return (
        None,
        f"no Python {version}: set {var}, put python{version} on the PATH, or `pyenv install {version}`",
    )


def run(cmd, **kw):
    """Run a command; on failure, raise with its output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    proc = subprocess.run([str(c) for c in cmd], **kw)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def pip_env():
    """The environment for pip and uv: the course's own pins only (no machine-wide
    find-links, no uv settings from the environment)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_FIND_LINKS", "PYTHONPATH", "VIRTUAL_ENV", "UV_"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def make_venv(python: str, name: str, requirements: list[str], pins: Path | None = None, fresh=False) -> Path:
    """A venv with ``requirements`` (constrained by ``pins``), cached by content."""
    key_src = json.dumps([_version_of(python), requirements, pins.read_text() if pins else ""])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:12]
    venv = cache_dir() / f"{name}-{key}"
    ok = venv / ".complete"
    # one builder at a time (two test runs, or two workers of one run, may want the same venv)
    with open(cache_dir() / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = ok.read_text() if ok.exists() and venv_python(venv).exists() else None
        if done is not None and not (fresh or os.environ.get("LRCOURSE_COMPAT_FRESH") == "1"):
            return venv
        if done == RUN:  # fresh, but already rebuilt in this run (by another worker)
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        constraints = ["-c", pins] if pins is not None else []
        uv = shutil.which("uv", path=str(Path(sys.executable).parent))
        if uv:
            # uv installs the same pinned versions about ten times as fast as pip (a fresh
            # nbgrader venv: 3.5 s against 28 s). The venv gets the pip that venv would
            # give it (the interpreter's ensurepip version), not the newest one; uv reads
            # no configuration file, uses this interpreter and downloads none.
            pip = run([python, "-c", "import ensurepip; print(ensurepip.version())"]).stdout.strip()
            uv_flags = [
                "--quiet",
                "--no-config",
                "--python-preference",
                "only-system",
                "--no-python-downloads",
            ]
            run([uv, "venv", *uv_flags, "--python", python, venv], env=pip_env())
            cmd = [
                uv,
                "pip",
                "install",
                *uv_flags,
                "--python",
                venv_python(venv),
                f"pip=={pip}",
                *requirements,
            ]
        else:
            run([python, "-m", "venv", venv])
            # --no-compile: a kernel compiles the few modules it imports, not all at install
            cmd = [venv_python(venv), "-m", "pip", "install", "--quiet", "--no-compile", *requirements]
        run([*cmd, *constraints], env=pip_env())
        ok.write_text(RUN)
    return venv


def build_wheel(dest: Path) -> Path:
    """A wheel of lrcourse from the working tree (built from a copy: no build/ in the repo)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy(ROOT / name, src / name)
        shutil.copytree(
            ROOT / "lrcourse", src / "lrcourse", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        dest.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dest, src], env=pip_env())
    (wheel,) = sorted(dest.glob("lrcourse-*.whl"))
    return wheel


def freeze(profile: str) -> Path:
    """Resolve a profile (``unit-3.12``, ``colab``, ``nbgrader`` or ``otter``) in a scratch venv and write its pins."""
    if profile == "colab":
        version, requirements = COLAB_PYTHON, COLAB_REQUIREMENTS
    elif profile == "nbgrader":
        version, requirements = TOOL_PYTHON, NBGRADER_REQUIREMENTS
    elif profile == "otter":
        version, requirements = TOOL_PYTHON, OTTER_REQUIREMENTS
    else:
        version, requirements = profile.removeprefix("unit-"), UNIT_REQUIREMENTS
    python, how = find_python(version)
    if python is None:
        raise SystemExit(how)
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        run([python, "-m", "venv", venv])
        run([venv_python(venv), "-m", "pip", "install", "--quiet", *requirements], env=pip_env())
        frozen = run([venv_python(venv), "-m", "pip", "freeze", "--all"]).stdout.split()
    frozen = [line for line in frozen if line.split("==")[0].lower() not in ("pip", "setuptools", "wheel")]
    PINS.mkdir(exist_ok=True)
    out = PINS / f"{profile}.txt"
    header = f"# Frozen by `python tests/compat/compat.py {profile}` (Python {_version_of(python)}): {' '.join(requirements)}\n"
    out.write_text(header + "\n".join(sorted(frozen, key=str.lower)) + "\n")
    return out


def tool_runtime(profile: str, python: str, wheel: Path, where: Path) -> tuple[Path, dict]:
    """A fresh venv for an instructor's tool (``nbgrader``, ``otter``): it sees the tool's
    cached, pinned venv through a .pth file and gets lrcourse from ``wheel``. Returns its
    Python and an environment whose PATH finds the tool's commands."""
    pins = PINS / f"{profile}.txt"
    requirements = [
        line.split("==")[0] for line in pins.read_text().splitlines() if line and not line.startswith("#")
    ]
    stack = make_venv(python, profile, requirements, pins=pins)
    run([python, "-m", "venv", where])
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = run([venv_python(where), "-c", purelib]).stdout.strip()
    (Path(site) / f"{profile}-stack.pth").write_text(
        run([venv_python(stack), "-c", purelib]).stdout.strip() + "\n"
    )
    run([venv_python(where), "-m", "pip", "install", "--quiet", "--no-deps", wheel], env=pip_env())
    path = os.pathsep.join([str(where / "bin"), str(stack / "bin"), os.environ.get("PATH", "")])
    return venv_python(where), dict(os.environ, PATH=path)


if __name__ == "__main__":
    profiles = sys.argv[1:] or [f"unit-{v}" for v in VERSIONS] + ["colab", "nbgrader", "otter"]
    for p in profiles:
        try:
            print(freeze(p))
        except SystemExit as exc:
            print(f"{p}: skipped ({exc})")

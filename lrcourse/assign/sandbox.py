"""Where a student's code runs when it is graded: a sandbox of its own, per submission.

With ``isolation="bubblewrap"`` (Linux, the ``bwrap`` command: Debian/Ubuntu package
``bubblewrap``) each submission's code runs in new namespaces:

- **files**: it sees the Python installation, the system libraries and the course
  package, read-only, and one empty temporary folder of its own; not the submissions
  folder, the answer keys, the course sources, the grader's reports or the home folder.
  The checker modules are hidden, except the inputs they hand to learner code
  (:mod:`lrcourse.checks.inputs`): a stub stands in for :mod:`lrcourse.checks`;
- **network**: none (a loopback device only);
- **processes**: its own process tree, killed as a whole when the grader stops it or
  exits (no process it starts outlives it);
- **limits**: address space (``memory_mb``), CPU seconds, file size, no core files.

With ``isolation="none"`` (any other platform) the same limits apply and the code runs
in an empty temporary folder, but it can read any file the grader can, including the
checker modules, and a process it detaches can outlive it: use it only for submissions
you trust. ``"auto"`` picks bubblewrap when it works here.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import site
import subprocess
import sys
from pathlib import Path

import lrcourse

ISOLATIONS = ("auto", "bubblewrap", "none")
PACKAGE = Path(lrcourse.__file__).resolve().parent
CHECKS = PACKAGE / "checks"
FILE_LIMIT = 256 * 2**20  # bytes a submission may write to one file
TMP_LIMIT = 64 * 2**20  # bytes of the sandbox's /tmp (memory that the address-space limit does not count)

STUB_CHECKS = '''"""The checkers are not here: the grader runs them in its own process."""

from lrcourse.checks.inputs import PLATEAU_METRICS  # noqa: F401  (data an exercise reads)


def _not_here(*args, **kwargs):
    return None


def __getattr__(name):
    if name.startswith("check_") or name in ("summary", "save_results"):
        return _not_here
    raise AttributeError(f"module 'lrcourse.checks' has no attribute {name!r}")
'''
"""The ``lrcourse.checks`` a sandbox sees: every checker is a function that does nothing."""

SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc")


def _python_dirs():
    """The folders the interpreter and its packages live in (never the current folder)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    user = site.getusersitepackages()
    if isinstance(user, str):
        dirs.add(user)
    dirs.add(str(PACKAGE))
    return sorted(d for d in {str(Path(d).resolve()) for d in dirs} if Path(d).is_dir())


def bubblewrap_command(argv, workdir, stub=None):
    """``argv`` run by ``bwrap`` in ``workdir``, the only writable folder it sees.

    ``stub``: a file to show as ``lrcourse/checks/__init__.py`` (the checker modules are
    then hidden, all but ``inputs.py``); ``None`` leaves the package as it is.
    """
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    # /tmp first: the folders bound below may lie under it (a clone in /tmp, say)
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_LIMIT), "--tmpfs", "/tmp"]
    for d in SYSTEM:
        cmd += ["--ro-bind-try", d, d]
    for d in _python_dirs():
        cmd += ["--ro-bind", d, d]
    if stub is not None:
        cmd += ["--size", str(2**20), "--tmpfs", str(CHECKS)]
        cmd += ["--ro-bind", str(stub), str(CHECKS / "__init__.py")]
        cmd += ["--ro-bind", str(CHECKS / "inputs.py"), str(CHECKS / "inputs.py")]
    cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return cmd + ["--", *argv]


@functools.cache
def bubblewrap_works():
    """Whether ``bwrap`` is installed and may create namespaces here (containers may forbid it)."""
    if shutil.which("bwrap") is None:
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:  # as a submission will have it
        try:
            done = subprocess.run(
                bubblewrap_command([sys.executable, "-I", "-c", "import lrcourse.checks.inputs"], workdir),
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0


def resolve(isolation):
    """``"bubblewrap"`` or ``"none"`` for ``isolation``; a ``ValueError`` if it cannot be had."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
    if isolation == "auto":
        return "bubblewrap" if bubblewrap_works() else "none"
    if isolation == "bubblewrap" and not bubblewrap_works():
        raise ValueError(
            "isolation='bubblewrap' needs the bwrap command and permission to create namespaces "
            "(Debian/Ubuntu: apt-get install bubblewrap); use isolation='none' only for trusted submissions"
        )
    return isolation


def environment(workdir):
    """The only environment variables a submission's process sees."""
    home = Path(workdir)
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "IPYTHONDIR": str(home / ".ipython"),
        "TMPDIR": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _prepare(workdir):
    """Matplotlib's font list, copied in: a fresh folder would otherwise rebuild it (about a second)."""
    import matplotlib

    target = Path(workdir) / ".matplotlib"
    target.mkdir(exist_ok=True)
    for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy(cached, target / cached.name)


def spawn(argv, workdir, *, isolation, memory_mb, cpu_seconds, stub=None):
    """Start ``argv`` in the sandbox, its stdin and stdout piped to the caller, stderr discarded.

    ``isolation`` is ``"bubblewrap"`` or ``"none"`` (see :func:`resolve`). The process leads
    a session of its own; :func:`stop` kills it and everything it started.
    """
    _prepare(workdir)
    memory = int(memory_mb) * 2**20
    cpu = max(1, int(cpu_seconds))

    def limits():  # in the child, before exec: inherited by everything it starts
        import resource

        for kind, value in (
            (resource.RLIMIT_AS, (memory, memory)),
            (resource.RLIMIT_CPU, (cpu, cpu + 5)),
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT)),
        ):
            try:
                resource.setrlimit(kind, value)
            except (ValueError, OSError):  # macOS has no address-space limit, say
                pass

    cmd = bubblewrap_command(argv, workdir, stub) if isolation == "bubblewrap" else list(argv)
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        env=environment(workdir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=limits,  # noqa: PLW1509  (no threads start in between)
        start_new_session=True,
    )


def stop(proc):
    """Kill ``proc``'s whole process group (with bubblewrap: its whole process tree) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass

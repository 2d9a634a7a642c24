"""The sandbox side of grading: ``python -I -m lrcourse.assign.answers``.

Started by :mod:`lrcourse.assign.grade` in a sandbox (:mod:`lrcourse.assign.sandbox`),
it talks to the grader over its stdin and stdout (:mod:`lrcourse.assign.wire`); the code
it runs prints into ``/dev/null``. That code could still reach the channel and write
messages of its own, so the grader trusts nothing it reads here beyond its format.

1. It reads the job: the cells to run (the handed-out notebook's own cells, the
   student's answer cells and the cells the student added) and, per check, the
   expression of the student's answer (``gradient_step``, say).
2. It runs the cells in an IPython shell, one message per cell (an error, if any), each
   stopped after ``cell_timeout`` seconds.
3. It says what each answer is: a function, a value (sent along), a stub or missing.
4. It calls the student's functions on the inputs the grader sends, one call per
   message, each stopped after ``call_timeout`` seconds, and sends back the result and
   the array arguments as the call left them (a function that changes its input in
   place is caught by the checker). A result that is itself a function (a schedule,
   say) stays here; the grader gets its number and calls it like the others.

The verdicts are reached in the grader's process, by the checkers, with references
this process cannot import: whatever the student's code changes here, it can only
change the values it returns.
"""

from __future__ import annotations

import os
import signal
import sys

# Bound here, before any student code runs: a cell that replaces builtins.bool (say)
# does not change them for this module.
from builtins import callable, eval, isinstance, len, str, type  # noqa: A004, UP029

import numpy as np

from lrcourse.assign import wire


class Timeout(BaseException):
    """A cell or a call ran out of time (a ``BaseException``, as ``KeyboardInterrupt`` is)."""


def _alarm(seconds):
    def ring(signum, frame):
        raise Timeout(f"longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))


def _quiet():
    signal.setitimer(signal.ITIMER_REAL, 0)


class Channel:
    def __init__(self):
        self.inp = os.fdopen(os.dup(0), "rb", buffering=0)
        self.out = os.fdopen(os.dup(1), "wb", buffering=0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # the student's code reads nothing and prints into the void
            os.dup2(null, fd)

    def read(self):
        head = self._exactly(4)
        return wire.from_grader(self._exactly(int.from_bytes(head, "big")))

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.inp.read(n - len(data))
            if not chunk:
                raise EOFError("the grader closed the channel")
            data += chunk
        return data

    def send(self, obj):
        try:
            self.out.write(wire.to_grader(obj))
        except TypeError as exc:
            self.out.write(wire.to_grader({"unreadable": str(exc)}))


def _error(exc):
    return [type(exc).__name__, str(exc)[:500]]


def run_cell(shell, source, timeout):
    """``None``, or ``[type, message]`` of the error that ended the cell."""
    try:
        _alarm(timeout)
        result = shell.run_cell(source, store_history=False)
    except BaseException as exc:  # noqa: BLE001  (a Timeout that escaped IPython, say)
        return _error(exc)
    finally:
        _quiet()
    failure = result.error_before_exec or result.error_in_exec
    return None if failure is None else _error(failure)


def describe(value):
    """What an answer is, for the grader: its kind, and the value itself when it is data."""
    if value is None or value is Ellipsis:
        return {"kind": "stub", "value": None if value is None else "..."}
    if callable(value) and not isinstance(value, (np.ndarray, type)):
        return {"kind": "function"}
    try:
        wire.to_grader(value)
    except TypeError as exc:
        return {"kind": "unreadable", "type": str(exc)}
    return {"kind": "value", "value": value}


def _shell():
    """An IPython shell without a front end: ``%matplotlib inline`` and the like do nothing."""
    from IPython.core.interactiveshell import InteractiveShell

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):
            pass

    return Shell.instance()


def main():
    channel = Channel()
    job = channel.read()
    shell = _shell()
    for i, source in enumerate(job["cells"]):
        channel.send({"cell": i, "error": run_cell(shell, source, job["cell_timeout"])})
    answers = []
    for expression in job["answers"]:
        try:
            _alarm(job["call_timeout"])
            value = eval(expression, shell.user_ns)  # noqa: S307  (the student's own name)
            answers.append(describe(value))
        except BaseException as exc:  # noqa: BLE001
            answers.append({"kind": "missing", "error": _error(exc)})
            value = None
        finally:
            _quiet()
        answers[-1]["_object"] = value
    functions = [a.pop("_object") for a in answers]
    channel.send({"answers": answers})
    while True:
        try:
            message = channel.read()
        except EOFError:
            return
        if message[0] != "call":
            return
        _, index, args, kwargs = message
        try:
            _alarm(job["call_timeout"])
            result = functions[index](*args, **kwargs)
        except Timeout as exc:
            _quiet()
            channel.send({"timeout": str(exc)})
            continue
        except BaseException as exc:  # noqa: BLE001  (SystemExit and KeyboardInterrupt too)
            _quiet()
            channel.send({"raised": _error(exc)})
            continue
        _quiet()
        after = [a if isinstance(a, np.ndarray) else None for a in args]
        kw_after = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
        if callable(result) and not isinstance(result, (np.ndarray, type)):
            functions.append(result)
            channel.send({"function": len(functions) - 1, "args": after, "kwargs": kw_after})
        else:
            channel.send({"result": result, "args": after, "kwargs": kw_after})


if __name__ == "__main__":
    sys.exit(main())

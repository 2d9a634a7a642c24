"""The checker machinery: run a learner's function against a reference, explain, report.

See :mod:`lrcourse.checks` for how exercises use it.
"""

from __future__ import annotations

import copy
import json
import textwrap
from dataclasses import dataclass, field

import numpy as np

# ----------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: the exercise ``name``, ``passed`` and the message printed.

    Every checker returns one. It is true when the check passed, so ``if check(...)``,
    ``assert check(...)`` and ``bool(check(...))`` read as before. In a notebook it shows
    nothing: the checker has already printed the message, and a checker call on the
    last line of a cell adds no ``Out[n]`` line under it.
    """

    name: str
    passed: bool
    message: str = field(default="", repr=False)

    def __bool__(self):
        return self.passed

    def _ipython_display_(self):
        """Show nothing: IPython calls this instead of printing the result as ``Out[n]``."""


def report(name, run, quiet, record):
    """Run one check and hand its outcome to the learner: the one place every checker ends.

    :func:`check_function` ends here, and so does a checker written by hand (one that
    checks a prediction rather than a function, as in :mod:`lrcourse.checks.epochs`).

    ``run()`` returns ``(passed, message)``; if it raises, that is a bug in the checker,
    said as such (a checker never raises). The message is printed unless ``quiet``,
    and the :class:`CheckResult` is returned and appended to ``record`` if one is given.
    """
    try:
        passed, message = run()
    except Exception as exc:  # a bug in the checker: say so, never raise
        passed = False
        message = format_message(f"✘ {name}: the checker itself failed ({type(exc).__name__}: {exc}).")
    if not quiet:
        print(message)
    result = CheckResult(name, bool(passed), message)
    if record is not None:
        record.append(result)
    return result


def summary(results):
    """Print one line per exercise of ``results`` (its last attempt) and the number solved.

    ``results`` is the list the checkers were given as ``record``. Returns ``{name: passed}``.
    """
    last = {r.name: r.passed for r in results}  # the last attempt wins
    for name, ok in last.items():
        print(f"{'✔' if ok else '✘'} {name}")
    print(f"{sum(last.values())} of {len(last)} exercises solved")
    return last


def save_results(results, path):
    """Write ``results`` to ``path`` as JSON: ``[{"name": ..., "passed": ...}, ...]``, every attempt."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump([{"name": r.name, "passed": r.passed} for r in results], fh, indent=1)


# ----------------------------------------------------------------- formatting


def _show(value, limit=300):
    """A short, readable rendering of an input or output."""
    if callable(value) and not isinstance(value, np.ndarray):
        doc = (getattr(value, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else getattr(value, "__name__", "a function")
    if isinstance(value, np.ndarray) or isinstance(value, (float, np.floating)):
        text = np.array2string(np.asarray(value), precision=6, suppress_small=True, threshold=20)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_args(args, kwargs, names=None):
    parts = []
    for i, a in enumerate(args):
        label = names[i] if names and i < len(names) else f"argument {i + 1}"
        parts.append(f"  {label} = {_show(a)}")
    for k, v in kwargs.items():
        parts.append(f"  {k} = {_show(v)}")
    return "\n".join(parts)


def is_stub(value):
    """Whether ``value`` is what an unsolved exercise holds: ``None`` or ``...``."""
    return value is None or value is Ellipsis


@dataclass(frozen=True)
class Case:
    """One input: positional ``args``, keyword ``kwargs`` and an optional ``label``."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""


def _as_case(case):
    if isinstance(case, Case):
        return case
    if isinstance(case, dict):
        return Case((), dict(case))
    if isinstance(case, tuple):
        return Case(case)
    return Case((case,))


class _Fail(Exception):
    """A failed comparison; the message is what the learner reads."""


# ----------------------------------------------------------------- the generic checker


def check_function(
    learner_fn,
    reference_fn,
    cases,
    *,
    name=None,
    random_case=None,
    n_random=5,
    seed=0,
    rtol=1e-6,
    atol=1e-9,
    arg_names=None,
    mistakes=(),
    hint="",
    compare=None,
    quiet=False,
    record=None,
):
    """Compare ``learner_fn`` with ``reference_fn``; print a specific message, return the result.

    The result is a :class:`CheckResult`, true when the learner's function is correct.

    Parameters
    ----------
    cases : list
        Fixed inputs: each a tuple of positional arguments, a dict of keyword
        arguments, a single argument, or a :class:`Case`.
    random_case : callable, optional
        ``random_case(rng)`` returns one more input; called ``n_random`` times with
        ``numpy.random.default_rng(seed)``, so the inputs are the same every run.
    rtol, atol : float
        Tolerances for ``numpy.allclose``.
    arg_names : list of str, optional
        Names of the positional arguments, used in messages.
    mistakes : list of ``(wrong_fn, message)``
        Known wrong answers: when the learner's output matches ``wrong_fn``'s on a
        failing input, ``message`` is shown as the hint (e.g. "you stepped uphill").
    hint : str
        A general hint added to a wrong-value message when no mistake matches.
    compare : callable, optional
        ``compare(got, expected)`` returning ``None`` if acceptable or a message;
        replaces the default shape and value comparison.
    quiet : bool
        Do not print (the message is still in the :class:`CheckResult` given to ``record``).
    record : list, optional
        A list the caller keeps; the :class:`CheckResult` of this check is appended to it
        (see :func:`summary`). Without it nothing is kept: the return value is the result.
    """
    name = name or getattr(reference_fn, "__name__", "exercise")

    def run():
        if is_stub(learner_fn):
            return False, format_message(
                f"○ {name}: not yet solved.",
                "There is no function to check yet: define it, then run the cell again.",
            )
        if not callable(learner_fn):
            return False, format_message(
                f"✘ {name}: expected a function, got {type(learner_fn).__name__} {_show(learner_fn, 60)}.",
                "Pass the function itself, without calling it (no parentheses).",
            )
        inputs = [_as_case(c) for c in cases]
        if random_case is not None:
            rng = np.random.default_rng(seed)
            inputs += [_as_case(random_case(rng)) for _ in range(int(n_random))]
        for i, case in enumerate(inputs):
            shown = _describe_args(case.args, case.kwargs, arg_names)
            expected = reference_fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
            got, failure = _call(learner_fn, args, kwargs, name, shown)
            if failure:
                return False, failure
            changed = _changed_inputs(case, args, kwargs, arg_names)
            if changed:
                return False, format_message(
                    f"✘ {name} changed its input {changed} in place, on the input",
                    shown,
                    "Hint: build and return a new array (e.g. `x - lr * grad`) instead of updating "
                    "the argument with `-=` or item assignment.",
                )
            try:
                problem = (
                    compare(got, expected)
                    if compare is not None
                    else compare_values(got, expected, rtol, atol)
                )
            except Exception as exc:
                problem = f"its result could not be compared ({type(exc).__name__}: {exc})"
            if problem:
                label = f" ({case.label})" if case.label else ""
                extra = _match_mistake(mistakes, case, got, rtol, atol) or hint
                return False, format_message(
                    f"✘ {name}: {problem}",
                    f"on input {i + 1}{label}:",
                    f"{shown}\nexpected: {_show(expected)}\ngot:      {_show(got)}",
                    *([f"Hint: {extra}"] if extra else []),
                )
        n_rand = len(inputs) - len(cases)
        detail = f"{len(cases)} fixed" + (f" and {n_rand} random" if n_rand else "") + " inputs"
        return True, format_message(f"✔ {name}: correct on all {len(inputs)} checks ({detail}).")

    return report(name, run, quiet, record)


def _call(learner_fn, args, kwargs, name, shown):
    """``(learner_fn(*args, **kwargs), None)``, or ``(None, message)`` for a stub or a crash."""
    try:
        got = learner_fn(*args, **kwargs)
    except NotImplementedError:
        return None, format_message(
            f"○ {name}: not yet solved.",
            "The function still raises NotImplementedError: replace that line with your code "
            "and run the cell again.",
        )
    except Exception as exc:
        return None, format_message(
            f"✘ {name} raised {type(exc).__name__}: {exc}",
            "on the input",
            shown,
            "Hint: run your function on this input in a new cell to see where it fails.",
        )
    if is_stub(got):
        what = "None" if got is None else "... (Ellipsis)"
        return None, format_message(
            f"○ {name}: not yet solved.",
            f"The function returned {what}. Write its body and make sure it ends with a `return` statement.",
        )
    return got, None


WIDTH = 58


def wrap(text, indent="  ", first=""):
    """Fill ``text`` to :data:`WIDTH` columns: the first line starts with ``first``, the others
    with ``indent`` (so that messages fit a page). Words are never split."""
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def format_message(head, *body):
    """The text a checker prints: a headline, then one line or block per part of ``body``.

    The headline and every one-line part are wrapped with :func:`wrap`; a part that is
    indented or spans several lines (an input, an expected and a got value) is kept as
    it is.
    """
    lines = [wrap(head)]
    for part in body:
        lines.append(part if "\n" in part or part.startswith("  ") else wrap(part, indent=""))
    return "\n".join(lines)


def _changed_inputs(case, args, kwargs, arg_names):
    for i, (before, after) in enumerate(zip(case.args, args, strict=True)):
        if isinstance(before, np.ndarray) and not _same(before, after):
            return f"`{arg_names[i]}`" if arg_names and i < len(arg_names) else f"number {i + 1}"
    for k, before in case.kwargs.items():
        if isinstance(before, np.ndarray) and not _same(before, kwargs[k]):
            return f"`{k}`"
    return None


def _same(a, b):
    # A tiny tolerance: adding h and subtracting it again may leave one ulp behind.
    return (
        isinstance(b, np.ndarray)
        and a.shape == b.shape
        and np.allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)
    )


def compare_values(got, expected, rtol, atol):
    """``None`` if ``got`` matches ``expected``, else a sentence saying what differs.

    ``got`` must be a number or an array of numbers of the shape of ``expected``,
    finite where ``expected`` is, and equal to it within ``rtol`` and ``atol``
    (:func:`numpy.allclose`, NaN equal to NaN). The default comparison of
    :func:`check_function`.
    """
    exp = np.asarray(expected)
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"returned {type(got).__name__}, which is not a number or an array of numbers"
    if arr.shape != exp.shape:
        return f"wrong shape: expected shape {exp.shape}, got shape {arr.shape}"
    if not np.isfinite(arr).all() and np.isfinite(exp).all():
        return "the result holds NaN or infinity where a finite number was expected"
    if not np.allclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True):
        err = np.max(np.abs(arr - exp))
        return f"wrong values (largest difference {err:.3g})"
    return None


def _match_mistake(mistakes, case, got, rtol, atol):
    for wrong_fn, message in mistakes:
        try:
            wrong = wrong_fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            if compare_values(got, wrong, rtol, atol) is None:
                return message
        except Exception:
            continue
    return None

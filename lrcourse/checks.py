"""Self-checking code exercises.

A checker runs the learner's function against a reference on fixed inputs and on
seeded random inputs, prints one specific message (what is wrong, on which
input, and a hint) and returns ``True`` or ``False``. It never raises: a stub
that still raises ``NotImplementedError`` or returns ``None``/``...`` gets a
"not yet solved" message, a crash gets the exception's type and message.

Generic::

    check_function(my_fn, reference_fn, cases=[(x, y), ...], name="my_fn",
                   random_case=lambda rng: (rng.normal(size=3),), mistakes=[(wrong_fn, "hint")])

Named checkers for the chapters (each wraps :func:`check_function`):

- chapter 1: :func:`check_gradient_step`, :func:`check_numerical_gradient`,
  :func:`check_gradient_descent`.

Every result is recorded as ``(name, passed)``: :func:`results` lists them,
:func:`save_results` writes them as JSON, and if the environment variable
``LRCOURSE_RESULTS`` names a file, each result is also appended to it as one
JSON line, so a grader can run a notebook and collect the outcome.
"""

from __future__ import annotations

import copy
import json
import os
import textwrap
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Case",
    "CheckResult",
    "check_function",
    "check_gradient_step",
    "check_numerical_gradient",
    "check_gradient_descent",
    "results",
    "reset_results",
    "save_results",
    "summary",
]

RESULTS_ENV = "LRCOURSE_RESULTS"


# ----------------------------------------------------------------- recording


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: the exercise ``name``, ``passed`` and the message printed."""

    name: str
    passed: bool
    message: str = field(default="", repr=False)


_RESULTS: list[CheckResult] = []


def _record(name, passed, message):
    result = CheckResult(name, bool(passed), message)
    _RESULTS.append(result)
    path = os.environ.get(RESULTS_ENV)
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"name": name, "passed": bool(passed)}) + "\n")
        except OSError as exc:  # recording must never break the exercise
            print(f"(could not record the result in {path}: {exc})")
    return result


def results():
    """Every check run so far in this session, as a list of ``(name, passed)`` pairs."""
    return [(r.name, r.passed) for r in _RESULTS]


def reset_results():
    """Forget the recorded results."""
    _RESULTS.clear()


def save_results(path):
    """Write the recorded results to ``path`` as JSON: ``[{"name": ..., "passed": ...}, ...]``."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump([{"name": n, "passed": p} for n, p in results()], fh, indent=1)


def summary():
    """Print one line per exercise (its last attempt) and the number solved."""
    last = {}
    for r in _RESULTS:
        last[r.name] = r.passed
    for name, ok in last.items():
        print(f"{'✔' if ok else '✘'} {name}")
    print(f"{sum(last.values())} of {len(last)} exercises solved")
    return last


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


def _is_stub_value(value):
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
):
    """Compare ``learner_fn`` with ``reference_fn``; print a specific message, return True/False.

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
        Do not print (the message is still recorded and returned in :func:`results`).
    """
    name = name or getattr(reference_fn, "__name__", "exercise")
    try:
        ok, message = _run_checks(
            learner_fn,
            reference_fn,
            cases,
            name,
            random_case,
            n_random,
            seed,
            rtol,
            atol,
            arg_names,
            mistakes,
            hint,
            compare,
        )
    except Exception as exc:  # a bug in the checker itself: say so, never raise
        ok, message = False, _message(f"✘ {name}: the checker itself failed ({type(exc).__name__}: {exc}).")
    if not quiet:
        print(message)
    _record(name, ok, message)
    return ok


WIDTH = 58


def _wrap(text, indent="  "):
    """Fill ``text`` to :data:`WIDTH` columns, continuation lines indented (messages fit a page)."""
    return textwrap.fill(
        text, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def _message(head, *body):
    """A wrapped headline, then paragraphs (wrapped) or blocks (kept as they are: indented or multi-line)."""
    lines = [_wrap(head)]
    for part in body:
        lines.append(part if "\n" in part or part.startswith("  ") else _wrap(part, indent=""))
    return "\n".join(lines)


def _run_checks(
    learner_fn,
    reference_fn,
    cases,
    name,
    random_case,
    n_random,
    seed,
    rtol,
    atol,
    arg_names,
    mistakes,
    hint,
    compare,
):
    if learner_fn is None or learner_fn is Ellipsis:
        return False, _message(
            f"○ {name}: not yet solved.",
            "There is no function to check yet: define it in the cell above, then run this check.",
        )
    if not callable(learner_fn):
        return False, _message(
            f"✘ {name}: expected a function, got {type(learner_fn).__name__} {_show(learner_fn, 60)}.",
            "Pass the function itself, without calling it (no parentheses).",
        )
    all_cases = [_as_case(c) for c in cases]
    if random_case is not None:
        rng = np.random.default_rng(seed)
        for _ in range(int(n_random)):
            all_cases.append(_as_case(random_case(rng)))

    for i, case in enumerate(all_cases):
        shown = _describe_args(case.args, case.kwargs, arg_names)
        expected = reference_fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        try:
            got = learner_fn(*args, **kwargs)
        except NotImplementedError:
            return False, _message(
                f"○ {name}: not yet solved.",
                "The function still raises NotImplementedError: replace that line with your code, "
                "run the cell, then run this check again.",
            )
        except Exception as exc:
            return False, _message(
                f"✘ {name} raised {type(exc).__name__}: {exc}",
                "on the input",
                shown,
                "Hint: run your function on this input in a new cell to see where it fails.",
            )
        if _is_stub_value(got):
            what = "None" if got is None else "... (Ellipsis)"
            return False, _message(
                f"○ {name}: not yet solved.",
                f"The function returned {what}. Write its body and make sure it ends with a "
                "`return` statement.",
            )
        changed = _changed_inputs(case, args, kwargs, arg_names)
        if changed:
            return False, _message(
                f"✘ {name} changed its input {changed} in place, on the input",
                shown,
                "Hint: build and return a new array (e.g. `x - lr * grad`) instead of updating "
                "the argument with `-=` or item assignment.",
            )
        try:
            problem = compare(got, expected) if compare is not None else _compare(got, expected, rtol, atol)
        except Exception as exc:
            problem = f"its result could not be compared ({type(exc).__name__}: {exc})"
        if problem:
            label = f" ({case.label})" if case.label else ""
            extra = _match_mistake(mistakes, case, got, rtol, atol) or hint
            return False, _message(
                f"✘ {name}: {problem}",
                f"on input {i + 1}{label}:",
                f"{shown}\nexpected: {_show(expected)}\ngot:      {_show(got)}",
                *([f"Hint: {extra}"] if extra else []),
            )
    n = len(all_cases)
    n_rand = n - len(cases)
    detail = f"{len(cases)} fixed" + (f" and {n_rand} random" if n_rand else "") + " inputs"
    return True, _message(f"✔ {name}: correct on all {n} checks ({detail}).")


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


def _compare(got, expected, rtol, atol):
    """``None`` if ``got`` matches ``expected``, else a sentence saying what differs."""
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
            if _compare(got, wrong, rtol, atol) is None:
                return message
        except Exception:
            continue
    return None


# ----------------------------------------------------------------- chapter 1


def _ref_gradient_step(x, grad, lr):
    return np.asarray(x, dtype=np.float64) - lr * np.asarray(grad, dtype=np.float64)


def check_gradient_step(gradient_step, quiet=False):
    """Chapter 1: ``gradient_step(x, grad, lr)`` returns :math:`x - \\eta\\,\\nabla f(x)`."""
    cases = [
        Case((np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1), label="a 2-D point"),
        Case((np.array([3.0]), np.array([2.0]), 0.25), label="a 1-D point"),
        Case((np.array([0.0, 0.0, 0.0]), np.array([1.0, 2.0, 3.0]), 1.0), label="lr = 1"),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 5))
        return (rng.normal(size=d), rng.normal(size=d), float(rng.uniform(0.001, 1.0)))

    mistakes = [
        (lambda x, g, lr: x + lr * g, "you stepped uphill: go *against* the gradient, x - lr * grad."),
        (lambda x, g, lr: x - g, "the step ignores the learning rate: multiply the gradient by lr."),
        (lambda x, g, lr: -lr * g, "you returned only the step; add it to the current point x."),
        (lambda x, g, lr: x - g / lr, "divide by lr? The step is lr times the gradient."),
    ]
    return check_function(
        gradient_step,
        _ref_gradient_step,
        cases,
        name="gradient_step",
        random_case=random_case,
        arg_names=["x", "grad", "lr"],
        mistakes=mistakes,
        hint="the update is x_new = x - lr * grad, elementwise.",
        quiet=quiet,
    )


def _central_difference(f, x, h=1e-5):
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _forward_difference(f, x, h=1e-5):
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x)) / h
    return g


def _bowl(x):
    """f(x) = sum of x_i^2 / 2 (a round bowl)"""
    return 0.5 * float(np.sum(x**2))


def _banana(x):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock)"""
    return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)


def _wavy(x):
    """f(x) = sum of sin(x_i) + x_1 * x_2 * ... (a wavy surface)"""
    return float(np.sum(np.sin(x)) + np.prod(x))


def check_numerical_gradient(numerical_gradient, quiet=False):
    """Chapter 1: ``numerical_gradient(f, x, h=1e-5)`` by central differences, shape of ``x``."""
    cases = [
        Case((_bowl, np.array([1.0, -2.0])), {"h": 1e-5}, label="round bowl"),
        Case((_banana, np.array([-1.0, 1.5])), {"h": 1e-5}, label="Rosenbrock"),
        Case((_wavy, np.array([0.3, -0.7, 1.1])), {"h": 1e-5}, label="3 coordinates"),
    ]

    def random_case(rng):
        d = int(rng.integers(1, 5))
        return Case((_wavy, rng.normal(size=d)), {"h": 1e-5})

    mistakes = [
        (
            _forward_difference,
            "this is the forward difference (f(x+h) - f(x)) / h; use the central difference "
            "(f(x + h e_i) - f(x - h e_i)) / (2h), which is far more accurate.",
        ),
        (
            lambda f, x, h=1e-5: 2 * _central_difference(f, x, h),
            "twice too large: the central difference divides by 2h, not h.",
        ),
        (
            lambda f, x, h=1e-5: 0.5 * _central_difference(f, x, h),
            "half the right value: divide by 2h, not 4h.",
        ),
        (
            lambda f, x, h=1e-5: np.full_like(np.asarray(x, float), (f(x + h) - f(x - h)) / (2 * h)),
            "you moved every coordinate at once; perturb one coordinate at a time "
            "(add h to x[i] only) to get the i-th partial derivative.",
        ),
        (
            lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / (2 * h),
            "you returned a single number (a slope along the diagonal). The gradient has one entry "
            "per coordinate: perturb one coordinate at a time (add h to x[i] only).",
        ),
    ]
    return check_function(
        numerical_gradient,
        _central_difference,
        cases,
        name="numerical_gradient",
        random_case=random_case,
        arg_names=["f", "x"],
        rtol=1e-6,
        atol=1e-7,
        mistakes=mistakes,
        hint="for each coordinate i, (f(x + h e_i) - f(x - h e_i)) / (2h), where e_i is 1 at i and 0 elsewhere.",
        quiet=quiet,
    )


def _ref_gradient_descent(grad, x0, lr, steps):
    x = np.array(x0, dtype=np.float64)
    path = [x.copy()]
    for _ in range(steps):
        x = x - lr * np.asarray(grad(x), dtype=np.float64)
        path.append(x.copy())
    return np.array(path)


def _grad_bowl(x):
    """the gradient of a bowl, (x, 10 y)"""
    return np.array([1.0, 10.0]) * x


def _grad_valleys(x):
    """the gradient of two_valleys, x^3 - x^2 - 2x"""
    return x**3 - x**2 - 2 * x


def check_gradient_descent(gradient_descent, quiet=False):
    """Chapter 1: ``gradient_descent(grad, x0, lr, steps)`` returns the path, shape ``(steps + 1, d)``."""
    cases = [
        Case((_grad_bowl, np.array([1.5, 1.0]), 0.05, 10), label="a bowl"),
        Case((_grad_valleys, np.array([-1.8]), 0.1, 8), label="two valleys"),
        Case((_grad_bowl, np.array([1.0, -1.0]), 0.1, 0), label="zero steps"),
    ]

    def random_case(rng):
        return (_grad_bowl, rng.normal(size=2), float(rng.uniform(0.01, 0.15)), int(rng.integers(1, 15)))

    def one_short(grad, x0, lr, steps):
        return _ref_gradient_descent(grad, x0, lr, steps)[1:]

    def all_last(grad, x0, lr, steps):
        path = _ref_gradient_descent(grad, x0, lr, steps)
        return np.repeat(path[-1:], len(path), axis=0)

    def uphill(grad, x0, lr, steps):
        return _ref_gradient_descent(lambda x: -np.asarray(grad(x)), x0, lr, steps)

    def compare(got, expected):
        arr = np.asarray(got, dtype=np.float64)
        exp = np.asarray(expected)
        if arr.shape == exp.shape[1:] and exp.shape[0] > 1:
            return (
                f"wrong shape: expected the whole path, shape {exp.shape} (steps + 1 rows), "
                f"got one point of shape {arr.shape}"
            )
        if arr.shape == (exp.shape[0] - 1,) + exp.shape[1:]:
            return (
                f"wrong shape: expected {exp.shape}, got {arr.shape}: one row short. "
                "The path starts with x0 itself, then one row per step"
            )
        return _compare(got, expected, 1e-9, 1e-12)

    mistakes = [
        (
            all_last,
            "every row equals the last point: you appended the same array each time and then "
            "changed it in place. Append a copy (path.append(x.copy())) or use x = x - lr * g.",
        ),
        (uphill, "the path climbs: each step goes against the gradient, x - lr * grad(x)."),
        (one_short, "the first row must be the starting point x0."),
    ]
    return check_function(
        gradient_descent,
        _ref_gradient_descent,
        cases,
        name="gradient_descent",
        random_case=random_case,
        arg_names=["grad", "x0", "lr", "steps"],
        compare=compare,
        mistakes=mistakes,
        hint="start the path with x0, then repeat steps times: x = x - lr * grad(x); path.append(x).",
        quiet=quiet,
    )

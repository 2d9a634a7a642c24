"""Exercise checkers: right answers pass, typical wrong answers get a specific hint, nothing raises."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrcourse import checks

# ----------------------------------------------------------------- learner answers


def step_ok(x, grad, lr):
    return x - lr * grad


def step_uphill(x, grad, lr):
    return x + lr * grad


def step_no_lr(x, grad, lr):
    return x - grad


def step_in_place(x, grad, lr):
    x -= lr * grad
    return x


def step_wrong_shape(x, grad, lr):
    return np.atleast_2d(x - lr * grad)


def numgrad_ok(f, x, h=1e-5):
    g = np.zeros_like(x, dtype=float)
    for i in range(x.size):
        e = np.zeros_like(x, dtype=float)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def numgrad_forward(f, x, h=1e-5):
    g = np.zeros_like(x, dtype=float)
    for i in range(x.size):
        e = np.zeros_like(x, dtype=float)
        e[i] = h
        g[i] = (f(x + e) - f(x)) / h
    return g


def numgrad_no_half(f, x, h=1e-5):
    return 2 * numgrad_ok(f, x, h)


def numgrad_scalar(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def gd_ok(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)


def gd_aliased(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(steps):
        x -= lr * grad(x)
        path.append(x)
    return np.array(path)


def gd_no_start(grad, x0, lr, steps):
    return gd_ok(grad, x0, lr, steps)[1:]


def gd_final_only(grad, x0, lr, steps):
    return gd_ok(grad, x0, lr, steps)[-1]


def gd_uphill(grad, x0, lr, steps):
    return gd_ok(lambda x: -grad(x), x0, lr, steps)


def stub_raises(*args, **kwargs):
    raise NotImplementedError


def stub_none(*args, **kwargs):
    pass


def stub_ellipsis(*args, **kwargs):
    return ...


def crashes(*args, **kwargs):
    return undefined_name  # noqa: F821


CHECKERS = {
    "gradient_step": (checks.check_gradient_step, step_ok),
    "numerical_gradient": (checks.check_numerical_gradient, numgrad_ok),
    "gradient_descent": (checks.check_gradient_descent, gd_ok),
}

WRONG = [
    ("gradient_step", step_uphill, "uphill"),
    ("gradient_step", step_no_lr, "learning rate"),
    ("gradient_step", step_in_place, "in place"),
    ("gradient_step", step_wrong_shape, "wrong shape"),
    ("numerical_gradient", numgrad_forward, "forward difference"),
    ("numerical_gradient", numgrad_no_half, "2h"),
    ("numerical_gradient", numgrad_scalar, "one coordinate at a time"),
    ("gradient_descent", gd_aliased, "copy"),
    ("gradient_descent", gd_no_start, "one row short"),
    ("gradient_descent", gd_final_only, "whole path"),
    ("gradient_descent", gd_uphill, "against the gradient"),
]


# ----------------------------------------------------------------- tests


@pytest.mark.parametrize("name", CHECKERS)
def test_correct_answer_passes(name, capsys):
    checker, answer = CHECKERS[name]
    record = []
    assert checker(answer, record=record).passed is True
    out = capsys.readouterr().out
    assert out.startswith("✔") and name in out
    assert record == [checks.CheckResult(name, True, out.rstrip("\n"))]  # what was printed


@pytest.mark.parametrize(("name", "answer", "phrase"), WRONG, ids=[f"{w[0]}-{w[1].__name__}" for w in WRONG])
def test_typical_mistakes_fail_with_a_specific_message(name, answer, phrase, capsys):
    checker, _ = CHECKERS[name]
    assert checker(answer).passed is False
    out = capsys.readouterr().out
    assert out.startswith("✘")
    assert phrase in " ".join(out.split()), out
    assert "input" in out  # says on which input it went wrong


def test_wrong_values_show_input_expected_and_got(capsys):
    assert checks.check_gradient_step(step_uphill).passed is False
    out = capsys.readouterr().out
    for word in ("x = ", "grad = ", "lr = ", "expected:", "got:", "Hint:"):
        assert word in out


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("stub", [stub_raises, stub_none, stub_ellipsis, None, ...])
def test_stubs_are_not_yet_solved(name, stub, capsys):
    checker, _ = CHECKERS[name]
    record = []
    assert checker(stub, record=record).passed is False
    out = capsys.readouterr().out
    assert out.startswith("○") and "not yet solved" in out
    assert record == [checks.CheckResult(name, False, out.rstrip("\n"))]


@pytest.mark.parametrize("name", CHECKERS)
def test_exceptions_are_reported_not_raised(name, capsys):
    checker, _ = CHECKERS[name]
    assert checker(crashes).passed is False
    out = capsys.readouterr().out
    assert "NameError" in out and "undefined_name" in out


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("junk", [3, "text", [1, 2], lambda: 1, lambda *a: "abc", lambda *a: [[1, 2], [3]]])
def test_checkers_never_raise(name, junk, capsys):
    checker, _ = CHECKERS[name]
    assert checker(junk).passed is False
    assert capsys.readouterr().out.strip()


def test_check_function_generic(capsys):
    def ref(a, b=1.0):
        return np.asarray(a) * b

    ok = checks.check_function(
        lambda a, b=1.0: np.asarray(a) * b,
        ref,
        cases=[(np.ones(3),), {"a": np.arange(2.0), "b": 3.0}, checks.Case((2.0,), {"b": 0.5}, "scalar")],
        random_case=lambda rng: (rng.normal(size=4), float(rng.uniform())),
        name="scale",
    )
    assert ok.passed is True
    assert "3 fixed and 5 random" in " ".join(capsys.readouterr().out.split())
    bad = checks.check_function(
        lambda a, b=1.0: np.asarray(a) + b, ref, cases=[(np.ones(3),)], name="scale", hint="multiply"
    )
    assert bad.passed is False
    assert "Hint: multiply" in capsys.readouterr().out


def test_messages_fit_a_page(capsys):
    for checker, answer in [
        (checks.check_gradient_step, step_uphill),
        (checks.check_numerical_gradient, stub_raises),
    ]:
        checker(answer)
    out = capsys.readouterr().out
    prose = [line for line in out.splitlines() if not line.startswith(" ") and "expected" not in line]
    assert max(len(line) for line in prose) <= checks.WIDTH


def test_random_inputs_are_seeded():
    seen = []

    def ref(x):
        seen.append(float(x))
        return x

    for _ in range(2):
        checks.check_function(lambda x: x, ref, cases=[], random_case=lambda rng: (rng.normal(),), quiet=True)
    assert seen[:5] == seen[5:]


def test_a_buggy_reference_is_reported_not_raised(capsys):
    def ref(x):
        raise RuntimeError("boom")

    assert checks.check_function(lambda x: x, ref, cases=[(1.0,)], name="broken").passed is False
    assert "checker itself failed" in capsys.readouterr().out


def test_a_record_keeps_every_attempt_and_the_summary_the_last(tmp_path, capsys):
    record = []
    checks.check_gradient_step(stub_raises, record=record)
    checks.check_gradient_step(step_ok, record=record)
    checks.check_numerical_gradient(numgrad_forward, record=record, quiet=True)
    assert [(r.name, r.passed) for r in record] == [
        ("gradient_step", False),
        ("gradient_step", True),
        ("numerical_gradient", False),
    ]
    assert "forward difference" in record[2].message  # kept although not printed
    out = tmp_path / "results.json"
    checks.save_results(record, out)
    assert json.loads(out.read_text()) == [
        {"name": "gradient_step", "passed": False},
        {"name": "gradient_step", "passed": True},
        {"name": "numerical_gradient", "passed": False},
    ]
    capsys.readouterr()
    assert checks.summary(record) == {"gradient_step": True, "numerical_gradient": False}
    assert capsys.readouterr().out == "✔ gradient_step\n✘ numerical_gradient\n1 of 2 exercises solved\n"


def test_checks_keep_nothing_between_calls():
    """No hidden state: the same call gives the same result, and a record holds only its own checks."""
    first, second = [], []
    assert checks.check_gradient_step(step_uphill, quiet=True, record=first).passed is False
    assert checks.check_gradient_step(step_ok, quiet=True).passed is True  # kept nowhere
    assert checks.check_gradient_step(step_uphill, quiet=True, record=second).passed is False
    assert first == second and len(first) == 1


def _call_with_stub(checker, **options):
    """Call any public checker on an unsolved answer (the curve quiz gets no curves)."""
    if checker is checks.check_function:
        return checker(stub_raises, np.sum, [(np.ones(2),)], name="generic", **options)
    if checker is checks.check_curve_labels:
        return checker(..., [], **options)
    if checker is checks.check_plateau_drops:  # a prediction, not a function
        return checker(..., **options)
    return checker(stub_raises, **options)


PUBLIC_CHECKERS = [getattr(checks, n) for n in sorted(dir(checks)) if n.startswith("check_")]


@pytest.mark.parametrize("checker", PUBLIC_CHECKERS, ids=lambda c: c.__name__)
def test_every_checker_returns_its_result_and_records_it_where_asked(checker, capsys):
    assert _call_with_stub(checker).passed is False
    printed = capsys.readouterr().out.rstrip("\n")
    assert "not yet solved" in printed
    record = []
    result = _call_with_stub(checker, quiet=True, record=record)
    assert result.passed is False and not result
    assert capsys.readouterr().out == ""
    assert len(record) == 1 and record[0] is result and result.message == printed


def test_a_buggy_checker_is_reported_in_the_record_too(capsys):
    record = []

    def ref(x):
        raise RuntimeError("boom")

    assert (
        checks.check_function(lambda x: x, ref, cases=[(1.0,)], name="broken", record=record).passed is False
    )
    assert record == [checks.CheckResult("broken", False, capsys.readouterr().out.rstrip("\n"))]
    assert "checker itself failed" in record[0].message


def test_a_result_is_true_when_passed_and_shows_no_out_line(capsys):
    from IPython.core.formatters import DisplayFormatter

    passed = checks.check_gradient_step(lambda x, grad, lr: x - lr * grad)
    failed = checks.check_gradient_step(lambda x, grad, lr: x + lr * grad)
    assert isinstance(passed, checks.CheckResult) and passed.passed is True
    assert bool(passed) is True and bool(failed) is False
    assert bool(checks.CheckResult("x", True)) and not checks.CheckResult("x", False)
    # The message is printed once; in a notebook the result adds no ``Out[n]`` after it.
    assert capsys.readouterr().out.count("gradient_step") == 2
    for result in (passed, failed):
        data, metadata = DisplayFormatter().format(result)
        assert data == {} and metadata == {}

"""Checkers for the chapter on epochs, overfitting and underfitting.

- :func:`check_is_overfitting`: ``is_overfitting(train_loss, val_loss, tol=0.1)``, the
  overfitting check of :func:`~lrcourse.diagnosis.diagnose`.
- :func:`check_curve_labels`: the learner's labels for the curves of
  :func:`lrcourse.labs.epochs.curve_quiz`, compared with
  :func:`~lrcourse.diagnosis.diagnose`; every wrong label is explained with the
  numbers the rule decided on.
"""

from __future__ import annotations

import numpy as np

from lrcourse.checks.core import Case, check_function, format_message, is_stub, report, wrap
from lrcourse.labs.epochs import evidence_lines

__all__ = ["check_curve_labels", "check_is_overfitting"]


# ----------------------------------------------------------------- the overfitting check


def _ref_is_overfitting(train_loss, val_loss, tol=0.1):
    T = np.asarray(train_loss, dtype=np.float64)
    V = np.asarray(val_loss, dtype=np.float64)
    best = int(np.argmin(V))
    return bool(V[-1] > (1 + tol) * V[best] and T[-1] < T[best])


def _curve(*points, n=9):
    """A curve over ``n`` epochs, piecewise linear through ``(fraction of the run, value)`` points
    (rounded to 3 digits, so that a message shows it on one line)."""
    values = np.interp(np.linspace(0.0, 1.0, n), [p[0] for p in points], [p[1] for p in points])
    return np.round(values, 3)


def _compare_verdict(got, expected):
    """``None`` if ``got`` is the expected True/False, else what is wrong."""
    if np.ndim(got) != 0:
        return f"returned an array of shape {np.shape(got)}; expected a single True or False"
    try:
        value = bool(got)
    except (TypeError, ValueError):
        return f"returned {type(got).__name__}; expected True or False"
    return None if value == expected else f"returned {value}, expected {expected}"


def _relative_to_start(train_loss, val_loss, tol=0.1):
    T, V = np.asarray(train_loss), np.asarray(val_loss)
    return bool(V[-1] > (1 + tol) * V[0] and T[-1] < T[int(np.argmin(V))])


def _largest_rise(train_loss, val_loss, tol=0.1):
    T, V = np.asarray(train_loss), np.asarray(val_loss)
    return bool(V.max() > (1 + tol) * V.min() and T[-1] < T[int(np.argmin(V))])


def _fixed_tolerance(train_loss, val_loss, tol=0.1):
    return _ref_is_overfitting(train_loss, val_loss, 0.1)


def _absolute_tolerance(train_loss, val_loss, tol=0.1):
    T, V = np.asarray(train_loss), np.asarray(val_loss)
    return bool(V[-1] - V.min() > tol and T[-1] < T[int(np.argmin(V))])


def _no_tolerance(train_loss, val_loss, tol=0.1):
    T, V = np.asarray(train_loss), np.asarray(val_loss)
    return bool(V[-1] > V.min() and T[-1] < T[int(np.argmin(V))])


def _training_against_start(train_loss, val_loss, tol=0.1):
    T, V = np.asarray(train_loss), np.asarray(val_loss)
    return bool(V[-1] > (1 + tol) * V.min() and T[-1] < T[0])


def _validation_only(train_loss, val_loss, tol=0.1):
    V = np.asarray(val_loss)
    return bool(V[-1] > (1 + tol) * V.min())


# In this order, each mistake gets its own hint on the first case it fails (a test checks it).
MISTAKES = [
    (
        _absolute_tolerance,
        "tol is relative: the validation loss must end above (1 + tol) times its minimum, not "
        "tol above it (losses of 0.05 or of 5 need the same 10 %).",
    ),
    (
        _relative_to_start,
        "compare the final validation loss with its *lowest* value, not with its first one: "
        "overfitting is a rise after the best epoch.",
    ),
    (_fixed_tolerance, "use the argument tol instead of a fixed 0.1."),
    (
        _no_tolerance,
        "any rise above the minimum counts here; allow the tolerance: the final validation loss "
        "must exceed (1 + tol) times the minimum.",
    ),
    (
        _largest_rise,
        "look at where the validation curve *ends*: a bump in the middle that comes back down "
        "is not overfitting.",
    ),
    (
        _training_against_start,
        "compare the final training loss with its value at the epoch of the lowest validation "
        "loss, not with its first value.",
    ),
    (
        _validation_only,
        "also check the training loss: overfitting needs it to end below its value at the "
        "epoch of the lowest validation loss; a rising validation loss alone is not enough.",
    ),
]
"""Typical wrong versions of the overfitting check and the hint each one gets."""


def _overfitting_cases():
    falling = _curve((0, 1.0), (0.3, 0.3), (1, 0.1))
    return [
        Case((falling, _curve((0, 1.0), (0.25, 0.5), (1, 0.8))), label="a classic overfitting curve"),
        Case((falling, _curve((0, 1.0), (0.5, 0.45), (1, 0.4))), label="both curves settle"),
        Case(
            (falling, _curve((0, 1.0), (0.375, 0.5), (0.625, 0.7), (1, 0.5))),
            label="a bump that comes back down",
        ),
        Case((falling, _curve((0, 1.0), (0.5, 0.5), (1, 0.525))), label="a rise of 5 %"),
        Case((falling / 10, _curve((0, 0.1), (0.3, 0.05), (1, 0.08))), label="small losses"),
        Case((falling * 10, _curve((0, 8.0), (0.5, 5.0), (1, 5.3))), label="large losses"),
        Case(
            (_curve((0, 1.0), (0.25, 0.5), (1, 1.2)), _curve((0, 1.0), (0.25, 0.5), (1, 0.9))),
            label="the training loss ends above its start",
        ),
        Case(
            (_curve((0, 1.0), (0.25, 0.2), (1, 0.3)), _curve((0, 1.0), (0.25, 0.5), (1, 0.75))),
            label="the training loss rises after the best epoch",
        ),
        Case((falling, _curve((0, 0.6), (0.5, 0.5), (1, 0.6))), {"tol": 0.3}, label="tol = 0.3"),
        Case((falling, _curve((0, 1.0), (1, 1.3))), label="the validation loss rises from the start"),
    ]


def _random_overfitting_case(rng):
    """A U-shaped validation curve and a falling (or, sometimes, rising) training curve."""
    n = int(rng.integers(8, 16))
    tol = float(rng.choice([0.05, 0.1, 0.2]))
    while True:  # keep clear of the threshold, where round-off would decide
        bottom, low = float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 2.0))
        rise = float(rng.uniform(0.0, 0.5))
        if abs(rise - tol) > 0.02:
            break
    val = _curve((0, low * 3), (bottom, low), (1, low * (1 + rise)), n=n)
    end = 0.1 if rng.random() < 0.8 else 0.5
    train = _curve((0, 1.0), (bottom, 0.3), (1, end), n=n)
    return Case((train, val), {"tol": tol})


def check_is_overfitting(is_overfitting, quiet=False, record=None):
    r"""Chapter 4: ``is_overfitting(train_loss, val_loss, tol=0.1)``, the overfitting check of ``diagnose``.

    ``True`` when the validation loss ends more than ``tol`` above its minimum,
    :math:`V_E > (1 + \text{tol}) \min_e V_e`, while the training loss ended below its
    value at that epoch, :math:`T_E < T_{e^*}`.
    """
    return check_function(
        is_overfitting,
        _ref_is_overfitting,
        _overfitting_cases(),
        name="is_overfitting",
        random_case=_random_overfitting_case,
        arg_names=["train_loss", "val_loss"],
        mistakes=MISTAKES,
        hint="two conditions, both read at the epoch of the lowest validation loss: how far "
        "the validation loss ends above it (relative to tol), and where the training loss "
        "ends compared with its value at that epoch.",
        compare=_compare_verdict,
        quiet=quiet,
        record=record,
    )


# ----------------------------------------------------------------- reading curves

_SYNONYMS = {
    "good fit": "good fit",
    "good": "good fit",
    "good generalisation": "good fit",
    "good generalization": "good fit",
    "fit": "good fit",
    "ok": "good fit",
    "適切な汎化": "good fit",
    "overfitting": "overfitting",
    "overfit": "overfitting",
    "overfitted": "overfitting",
    "過学習": "overfitting",
    "過適合": "overfitting",
    "underfitting": "underfitting",
    "underfit": "underfitting",
    "underfitted": "underfitting",
    "未学習": "underfitting",
    "学習不足": "underfitting",
    "過少適合": "underfitting",
    "unstable": "unstable",
    "unstable learning": "unstable",
    "不安定": "unstable",
    "不安定な学習": "unstable",
    "diverged": "diverged",
    "divergence": "diverged",
    "diverging": "diverged",
    "発散": "diverged",
}

_LOOK_AT = {
    "diverged": "the curve stops early, at a huge loss: training was aborted.",
    "unstable": "count the epochs in which the training loss goes up: here it jumps often.",
    "overfitting": "after its lowest point the validation curve climbs back, while the training "
    "curve keeps falling.",
    "underfitting": "the curves are still going down steeply in the last epochs: training stopped too soon.",
    "good fit": "both curves have levelled off, without jumps and without the validation loss turning up.",
}


def _normalise(label):
    if not isinstance(label, str):
        return None
    key = " ".join(label.strip().lower().replace("_", " ").replace("-", " ").split())
    return _SYNONYMS.get(key)


def check_curve_labels(labels, curves, quiet=False, record=None):
    """Chapter 4: one label per curve of :func:`~lrcourse.labs.epochs.curve_quiz`.

    ``labels`` is a dict ``{"A": "overfitting", ...}`` (or a list in the order of the
    curves) using ``"good fit"``, ``"overfitting"``, ``"underfitting"``, ``"unstable"``
    or ``"diverged"`` (Japanese terms such as 過学習 work too). Each label is compared
    with :func:`~lrcourse.diagnosis.diagnose`; a wrong one is explained with the
    numbers the rule decided on and the setting of that run.
    """
    return report("curve_labels", lambda: _check_labels(labels, curves), quiet, record)


def _check_labels(labels, curves):
    name = "curve_labels"
    letters = [c.letter for c in curves]
    allowed = "'good fit', 'overfitting', 'underfitting', 'unstable' or 'diverged'"
    if is_stub(labels):
        return False, format_message(f"○ {name}: not yet solved.", f"Give one label per curve ({allowed}).")
    if isinstance(labels, (list, tuple)):
        if len(labels) != len(curves):
            return False, format_message(
                f"✘ {name}: expected {len(curves)} labels, one per curve {', '.join(letters)}, "
                f"got {len(labels)}."
            )
        labels = dict(zip(letters, labels, strict=True))
    if not isinstance(labels, dict):
        return False, format_message(
            f"✘ {name}: expected a dict such as {{'A': 'overfitting', ...}}, got {type(labels).__name__}."
        )
    labels = {str(k).strip().upper(): v for k, v in labels.items()}
    if all(is_stub(v) or v == "" for v in labels.values()):
        return False, format_message(
            f"○ {name}: not yet solved.",
            f"Replace each ... by a label ({allowed}), then run the cell again.",
        )
    missing = [x for x in letters if x not in labels or is_stub(labels[x]) or labels[x] == ""]
    if missing:
        return False, format_message(
            f"✘ {name}: no label yet for curve {', '.join(missing)}.", f"Use {allowed}."
        )
    unknown = [x for x in letters if _normalise(labels[x]) is None]
    if unknown:
        shown = ", ".join(f"{x}: {labels[x]!r}" for x in unknown)
        return False, format_message(f"✘ {name}: unknown label ({shown}).", f"Use {allowed}.")

    wrong = []
    for curve in curves:
        said = _normalise(labels[curve.letter])
        d = curve.diagnosis
        if said != d.verdict:
            wrong.append((curve, said, d))
    if not wrong:
        runs = [_block(f"{c.letter}: {c.diagnosis.verdict}, {c.setting}.") for c in curves]
        return True, format_message(
            f"✔ {name}: all {len(curves)} curves labelled as diagnose() labels them. The runs were:",
            "\n".join(runs),
        )
    parts = []
    for curve, said, d in wrong:
        lines = [_block(f"Curve {curve.letter}: you said {said}; diagnose says {d.verdict}.", "", "  ")]
        lines += [_block(f"- {line}.", "  ", "    ") for line in evidence_lines(d)]
        lines.append(_block(f"Hint: {_LOOK_AT[d.verdict]}", "  ", "    "))
        lines.append(_block(f"(The run: {curve.setting}.)", "  ", "    "))
        parts.append("\n".join(lines))
    right = len(curves) - len(wrong)
    return False, format_message(f"✘ {name}: {right} of {len(curves)} right.", *parts)


def _block(text, first="  ", rest="     "):
    """``text`` filled to the checkers' width, with its own first-line and continuation indents."""
    return wrap(text, indent=rest, first=first)

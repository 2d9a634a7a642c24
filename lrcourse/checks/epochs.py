"""Checkers for the chapter on epochs, overfitting and underfitting.

- :func:`check_total_updates`: ``total_updates(n, batch_size, epochs, drop_last=False)``,
  the number of parameter updates after ``epochs`` epochs.
- :func:`check_curve_labels`: the learner's labels for the curves of
  :func:`lrcourse.generalization.curve_quiz`, compared with
  :func:`~lrcourse.diagnosis.diagnose`; every wrong label is explained with the
  numbers the rule decided on.
"""

from __future__ import annotations

import math
import textwrap

from lrcourse.checks import core as _checks
from lrcourse.checks.core import Case, _message, _record, check_function
from lrcourse.generalization import evidence_lines
from lrcourse.training import updates_per_epoch

__all__ = ["check_curve_labels", "check_total_updates"]


# ----------------------------------------------------------------- updates after some epochs


def _ref_total_updates(n, batch_size, epochs, drop_last=False):
    return epochs * updates_per_epoch(n, batch_size, drop_last)


def _ignores_drop_last(n, batch_size, epochs, drop_last=False):
    return epochs * math.ceil(n / batch_size)


def _no_rounding(n, batch_size, epochs, drop_last=False):
    return epochs * n / batch_size


def _rounds_down(n, batch_size, epochs, drop_last=False):
    return epochs * (n // batch_size)


def _rounds_once(n, batch_size, epochs, drop_last=False):
    return math.ceil(epochs * n / batch_size)


def _one_epoch(n, batch_size, epochs, drop_last=False):
    return updates_per_epoch(n, batch_size, drop_last)


def _examples_seen(n, batch_size, epochs, drop_last=False):
    return epochs * n


MISTAKES = [
    (
        _ignores_drop_last,
        "with drop_last=True the last, smaller batch is skipped: round n / batch_size down.",
    ),
    (
        _no_rounding,
        "n / batch_size is not a whole number here. The last, smaller batch still makes an update: "
        "round up with math.ceil (down only with drop_last=True).",
    ),
    (
        _rounds_down,
        "you rounded down, which drops the last, smaller batch; that is drop_last=True. By default "
        "it still makes an update: math.ceil(n / batch_size).",
    ),
    (
        _rounds_once,
        "you rounded once over all epochs. Every epoch ends with its own smaller batch: "
        "epochs * math.ceil(n / batch_size).",
    ),
    (_one_epoch, "that is the number of updates in one epoch; multiply by the number of epochs."),
    (_examples_seen, "that counts examples seen, not updates: one update uses a whole batch."),
]
"""Typical wrong answers of ``total_updates`` and the hint each one gets."""


def check_total_updates(total_updates, quiet=False):
    """Chapter 4: ``total_updates(n, batch_size, epochs, drop_last=False)`` = epochs × ⌈n/B⌉ (⌊n/B⌋ with drop_last)."""
    cases = [
        Case((1000, 100, 10), label="1,000 examples, 10 epochs"),
        Case((1000, 1000, 10), label="full batch"),
        Case((1000, 32, 10), label="a last, smaller batch"),
        Case((1000, 32, 10), {"drop_last": True}, label="drop_last=True"),
        Case((1079, 32, 30), label="the digits run"),
        Case((7, 1, 3), label="one example per update"),
    ]

    def random_case(rng):
        n = int(rng.integers(1, 3000))
        return Case(
            (n, int(rng.integers(1, n + 1)), int(rng.integers(1, 60))),
            {"drop_last": bool(rng.integers(0, 2))},
        )

    mistakes = MISTAKES
    return check_function(
        total_updates,
        _ref_total_updates,
        cases,
        name="total_updates",
        random_case=random_case,
        arg_names=["n", "batch_size", "epochs"],
        mistakes=mistakes,
        hint="updates per epoch = ceil(n / batch_size) (floor with drop_last), times the epochs.",
        quiet=quiet,
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


def check_curve_labels(labels, curves, quiet=False):
    """Chapter 4: one label per curve of :func:`~lrcourse.generalization.curve_quiz`.

    ``labels`` is a dict ``{"A": "overfitting", ...}`` (or a list in the order of the
    curves) using ``"good fit"``, ``"overfitting"``, ``"underfitting"``, ``"unstable"``
    or ``"diverged"`` (Japanese terms such as 過学習 work too). Each label is compared
    with :func:`~lrcourse.diagnosis.diagnose`; a wrong one is explained with the
    numbers the rule decided on and the setting of that run.
    """
    name = "curve_labels"
    try:
        ok, message = _check_labels(labels, curves)
    except Exception as exc:  # never raise on a learner's answer
        ok, message = False, _message(f"✘ {name}: the checker itself failed ({type(exc).__name__}: {exc}).")
    if not quiet:
        print(message)
    _record(name, ok, message)
    return ok


def _check_labels(labels, curves):
    name = "curve_labels"
    letters = [c.letter for c in curves]
    allowed = "'good fit', 'overfitting', 'underfitting', 'unstable' or 'diverged'"
    if labels is None or labels is Ellipsis:
        return False, _message(f"○ {name}: not yet solved.", f"Give one label per curve ({allowed}).")
    if isinstance(labels, (list, tuple)):
        if len(labels) != len(curves):
            return False, _message(
                f"✘ {name}: expected {len(curves)} labels, one per curve {', '.join(letters)}, "
                f"got {len(labels)}."
            )
        labels = dict(zip(letters, labels, strict=True))
    if not isinstance(labels, dict):
        return False, _message(
            f"✘ {name}: expected a dict such as {{'A': 'overfitting', ...}}, got {type(labels).__name__}."
        )
    labels = {str(k).strip().upper(): v for k, v in labels.items()}
    if all(v is None or v is Ellipsis or v == "" for v in labels.values()):
        return False, _message(
            f"○ {name}: not yet solved.",
            f"Replace each ... by a label ({allowed}), then run this check again.",
        )
    missing = [x for x in letters if x not in labels or labels[x] is Ellipsis or labels[x] in (None, "")]
    if missing:
        return False, _message(f"✘ {name}: no label yet for curve {', '.join(missing)}.", f"Use {allowed}.")
    unknown = [x for x in letters if _normalise(labels[x]) is None]
    if unknown:
        shown = ", ".join(f"{x}: {labels[x]!r}" for x in unknown)
        return False, _message(f"✘ {name}: unknown label ({shown}).", f"Use {allowed}.")

    wrong = []
    for curve in curves:
        said = _normalise(labels[curve.letter])
        d = curve.diagnosis
        if said != d.verdict:
            wrong.append((curve, said, d))
    if not wrong:
        runs = [_block(f"{c.letter}: {c.diagnosis.verdict}, {c.setting}.") for c in curves]
        return True, _message(
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
    return False, _message(f"✘ {name}: {right} of {len(curves)} right.", *parts)


def _block(text, first="  ", rest="     "):
    """``text`` filled to the checkers' width, with its own first-line and continuation indents."""
    return textwrap.fill(
        text,
        _checks.WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )

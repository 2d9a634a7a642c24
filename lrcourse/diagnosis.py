r"""Name the state of a training run from its curves: the rule behind "what went wrong?".

:func:`diagnose` reads the per-epoch losses of a :class:`~lrcourse.training.History`
and returns a :class:`Diagnosis`: a verdict (one of :data:`VERDICTS`), the
sentence that justifies it and the numbers it was decided on. The rule is a
short list of checks with explicit thresholds, so a learner can recompute it by
hand; it is a heuristic, not a theorem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrcourse import _validate as check

VERDICTS = ("diverged", "unstable", "overfitting", "underfitting", "good fit")


@dataclass(frozen=True)
class Diagnosis:
    """A verdict (one of :data:`VERDICTS`), the reason in words, and the evidence (named numbers)."""

    verdict: str
    reason: str
    evidence: dict = field(default_factory=dict)

    def __str__(self):
        lines = [f"{self.verdict}: {self.reason}"]
        for key, value in self.evidence.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"  {key} = {shown}")
        return "\n".join(lines)


def diagnose(
    history,
    *,
    rise_tol=0.05,
    unstable_fraction=0.2,
    unstable_ratio=2.0,
    overfit_tol=0.1,
    min_progress=0.1,
    still_improving=0.1,
    tail=0.2,
):
    r"""Name the state of a run (diverged, unstable, overfitting, underfitting, good fit).

    Write :math:`T_e` and :math:`V_e` for the training and validation losses after
    epoch :math:`e = 0, \dots, E` (:math:`e=0`: before training). The checks run in
    this order and the first that holds gives the verdict:

    1. **diverged**: the run stopped on a non-finite or exploding loss
       (``history.diverged``).
    2. **unstable**: the training loss goes up and down. Either at least
       ``unstable_fraction`` (20 %) of the :math:`E` epochs *raised* it by more than
       ``rise_tol`` (5 %), :math:`T_e > 1.05\, T_{e-1}`; or it ended more than
       ``unstable_ratio`` (2) times above its best, :math:`T_E > 2 \min_e T_e`.
    3. **overfitting** (needs validation data): the validation loss ended more
       than ``overfit_tol`` (10 %) above its minimum, :math:`V_E > 1.1 \min_e V_e`,
       while the training loss kept falling after that minimum,
       :math:`T_E < T_{e^*}` with :math:`e^* = \arg\min_e V_e`.
    4. **underfitting**: training removed less than ``min_progress`` (10 %) of the
       initial loss, :math:`T_E > 0.9\, T_0`; or the monitored loss :math:`M`
       (:math:`V`, or :math:`T` without validation data) was still falling at the
       end: the last ``tail`` (20 %, at least one) of the epochs brought more than
       ``still_improving`` (10 %) of its whole decrease,
       :math:`M_{E-k} - M_E > 0.1\,(M_0 - M_E) > 0`, :math:`k = \max(1, \operatorname{round}(0.2 E))`.
       (A curve that has levelled off brings almost nothing at the end; a straight
       line brings 20 %.) More epochs or a larger learning rate would still help.
    5. **good fit**: none of the above.

    Returns a :class:`Diagnosis` with ``.verdict``, ``.reason`` and ``.evidence``.
    """
    for name, value in (
        ("rise_tol", rise_tol),
        ("overfit_tol", overfit_tol),
        ("still_improving", still_improving),
    ):
        check.check_nonnegative(name, value)
    check.check_range("unstable_fraction", unstable_fraction, 0.0, 1.0, low_open=True)
    check.check_range("unstable_ratio", unstable_ratio, 1.0, low_open=True)
    check.check_range("min_progress", min_progress, 0.0, 1.0)
    check.check_range("tail", tail, 0.0, 1.0, low_open=True)

    T = np.asarray(history.train_loss, dtype=np.float64)
    V = None if history.val_loss is None else np.asarray(history.val_loss, dtype=np.float64)
    E = len(T) - 1
    evidence = {"epochs": E, "initial_train_loss": float(T[0])}
    if history.diverged:
        evidence.update(diverged_at_update=int(history.diverged_at))
        return Diagnosis(
            "diverged",
            f"training stopped at update {history.diverged_at}: {history.divergence_reason}",
            evidence,
        )
    if E < 1:
        return Diagnosis("underfitting", "no epoch was completed", evidence)
    evidence.update(_evidence(history, T, V, rise_tol, tail))
    best, k = evidence.get("best_val_epoch"), evidence["recent_epochs"]

    if evidence["train_rise_fraction"] >= unstable_fraction:
        return Diagnosis(
            "unstable",
            f"the training loss rose by more than {rise_tol:.0%} in "
            f"{round(evidence['train_rise_fraction'] * E)} of {E} epochs",
            evidence,
        )
    if evidence["final_over_min_train"] > unstable_ratio:
        return Diagnosis(
            "unstable",
            f"the training loss ended {evidence['final_over_min_train']:.3g} times above its best",
            evidence,
        )
    if V is not None and evidence["val_rise"] > overfit_tol and T[-1] < T[best]:
        return Diagnosis(
            "overfitting",
            f"the validation loss is {evidence['val_rise']:.0%} above its minimum "
            f"at epoch {best} while the training loss kept falling",
            evidence,
        )
    if evidence["train_progress"] < min_progress:
        return Diagnosis(
            "underfitting",
            f"training removed only {evidence['train_progress']:.0%} of the initial loss",
            evidence,
        )
    if evidence["recent_share_of_improvement"] > still_improving:
        which = "training" if V is None else "validation"
        return Diagnosis(
            "underfitting",
            f"the {which} loss was still falling: the last {k} of {E} epochs brought "
            f"{evidence['recent_share_of_improvement']:.0%} of its decrease",
            evidence,
        )
    return Diagnosis(
        "good fit", "the losses have settled without diverging, oscillating or overfitting", evidence
    )


def _evidence(history, T, V, rise_tol, tail):
    """The numbers :func:`diagnose` decides on, from the training (and validation) losses ``T`` (``V``)."""
    E = len(T) - 1
    rises = T[1:] > (1 + rise_tol) * T[:-1]
    evidence = {
        "final_train_loss": float(T[-1]),
        "min_train_loss": float(T.min()),
        "train_rise_fraction": float(rises.mean()),
        "final_over_min_train": float(T[-1] / T.min()) if T.min() > 0 else 1.0,
    }
    if V is not None:
        best = int(np.argmin(V))
        evidence.update(
            final_val_loss=float(V[-1]),
            min_val_loss=float(V[best]),
            best_val_epoch=best,
            val_rise=float(V[-1] / V[best] - 1) if V[best] > 0 else 0.0,
            train_loss_at_best_val=float(T[best]),
        )
    k = max(1, round(tail * E))
    M = T if V is None else V
    total_drop, recent_drop = M[0] - M[-1], M[-1 - k] - M[-1]
    evidence.update(
        train_progress=float(1 - T[-1] / T[0]) if T[0] > 0 else 0.0,
        recent_share_of_improvement=float(recent_drop / total_drop) if total_drop > 0 else 0.0,
        recent_epochs=k,
    )
    for key in ("train_accuracy", "val_accuracy"):
        values = getattr(history, key, None)
        if values is not None and len(values):
            evidence[f"final_{key}"] = float(values[-1])
    return evidence

"""Judge calibration per protocol and judge group: ECE, Brier score, AUROC, reliability bins.

Accuracy says how often a judge is right; calibration says whether its probabilities mean what
they say, which matters when verdicts become soft labels. Rules (stated in the report, see
:data:`CALIBRATION_RULES`):

- a verdict's confidence is the probability on the answer it favoured, and it counts as
  correct by the report's tie rule (a tie, P(correct) = 0.5, is not correct, or half);
- ECE: 10 equal-width confidence bins over [0, 1], ``sum(n_bin / n * |accuracy - confidence|)``;
- Brier: mean of (1 - P(correct))^2, the binary Brier score on two-answer questions;
- AUROC: micro-averaged one-vs-rest over (verdict, answer) pairs, scored by the probability the
  verdict put on that answer, positive when the answer is correct: the chance that a correct
  answer gets more probability than a wrong one (ties count half); 0.5 is chance.
"""

from __future__ import annotations

from dataclasses import dataclass

from oversight.metrics import (
    TieRule,
    auroc,
    brier_score,
    correctness,
    expected_calibration_error,
    reliability_bins,
)
from oversight.report.context import ReportContext, Verdict, group_verdicts

N_BINS = 10

CALIBRATION_RULES = (
    "confidence: the probability on the answer a verdict favoured; correct by the tie rule "
    "above. ECE: 10 equal-width confidence bins, sum of n_bin / n x |accuracy - confidence|. "
    "Brier: mean of (1 - P(correct))^2. AUROC: over (verdict, answer) pairs, scored by the "
    "verdict's probability on the answer, positive when it is the correct one (micro one-vs-rest; "
    "ties count half; 0.5 is chance). Group verdicts as in the accuracy table."
)


@dataclass(frozen=True)
class CalibrationRow:
    """How well one group's probabilities on one protocol match how often it was right."""

    protocol: str
    group: str
    verdicts: int
    ece: float
    brier: float
    auroc: float


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin of a reliability diagram."""

    group: str
    low: float
    high: float
    verdicts: int
    confidence: float
    """Mean confidence in the bin."""
    accuracy: float


def calibration(verdicts: list[Verdict], ties: TieRule = "incorrect") -> tuple[float, ...]:
    """(ECE, Brier, AUROC) of ``verdicts``."""
    conf = [v.confidence for v in verdicts]
    correct = correctness([v.p_correct for v in verdicts], ties)
    scores = [p for v in verdicts for p in v.probs]
    labels = [int(k == v.correct_index) for v in verdicts for k in range(len(v.probs))]
    return (
        expected_calibration_error(conf, correct.tolist(), N_BINS),
        brier_score([v.p_correct for v in verdicts], [1.0] * len(verdicts)),
        auroc(scores, labels),
    )


def calibration_rows(ctx: ReportContext) -> list[CalibrationRow]:
    """One row per protocol and group, in the accuracy table's order."""
    rows: list[CalibrationRow] = []
    for group in ctx.groups:
        verdicts = group_verdicts(ctx, group)
        for protocol in sorted({v.protocol for v in verdicts}):
            mine = [v for v in verdicts if v.protocol == protocol]
            ece, brier, area = calibration(mine, ctx.ties)
            rows.append(CalibrationRow(protocol, group.label, len(mine), ece, brier, area))
    return sorted(rows, key=lambda r: r.protocol)


def reliability(ctx: ReportContext) -> list[ReliabilityBin]:
    """Reliability bins per group, all protocols pooled."""
    out: list[ReliabilityBin] = []
    for group in ctx.groups:
        verdicts = group_verdicts(ctx, group)
        correct = correctness([v.p_correct for v in verdicts], ctx.ties)
        for b, n, conf, acc in reliability_bins(
            [v.confidence for v in verdicts], correct.tolist(), N_BINS
        ):
            out.append(ReliabilityBin(group.label, b / N_BINS, (b + 1) / N_BINS, n, conf, acc))
    return out

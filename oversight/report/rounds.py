"""Judges' belief in the correct answer after each round, where judges reported one.

Human judges of the NYU debates (Michael et al. 2023) gave a probability before the first
speech and after every round (``Judgment.after_round``); the curve of mean P(correct) over
rounds, debate against consultancy, is how that paper shows debate helping. Rules (see
:data:`ROUND_RULES`): the x axis is the number of speech rounds read (0: before any speech);
each point averages the beliefs given at that point, per verdict for human groups and as the
members' mean per debate for model groups, so debates that ended earlier drop out of later
points (each point says how many verdicts it holds). Final verdicts are not on the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oversight.metrics import accuracy, bootstrap_ci, correctness
from oversight.report.context import ReportContext, group_verdicts, round_codes, rounds_read

ROUND_RULES = (
    "x: speech rounds the judge had read (0: before any speech). Each point is the mean "
    "P(correct) of the beliefs reported at that point (human groups: each judge's own; model "
    "groups: members' mean per debate), 95% bootstrap CI over questions; debates that ended "
    "earlier are absent from later points, so later points hold fewer verdicts. Final "
    "verdicts are not included."
)


@dataclass(frozen=True)
class RoundPoint:
    """Mean belief in the correct answer of one group on one protocol after some rounds."""

    protocol: str
    group: str
    rounds_read: int
    verdicts: int
    debates: int
    p_correct: float
    ci_low: float
    ci_high: float
    accuracy: float
    """Share of those beliefs with P(correct) > 0.5 (ties by the report's rule)."""


def round_points(ctx: ReportContext) -> list[RoundPoint]:
    """Every (protocol, group, rounds read) point with at least one belief."""
    points: list[RoundPoint] = []
    for group in ctx.groups:
        for code in round_codes(ctx, group):
            verdicts = group_verdicts(ctx, group, after_round=code)
            for protocol in sorted({v.protocol for v in verdicts}):
                mine = [v for v in verdicts if v.protocol == protocol]
                p = [v.p_correct for v in mine]
                lo, hi = bootstrap_ci(p, [v.question_id for v in mine])
                points.append(
                    RoundPoint(
                        protocol=protocol,
                        group=group.label,
                        rounds_read=rounds_read(code),
                        verdicts=len(mine),
                        debates=len({v.debate_id for v in mine}),
                        p_correct=float(np.mean(p)),
                        ci_low=lo,
                        ci_high=hi,
                        accuracy=accuracy(correctness(p, ctx.ties)),
                    )
                )
    return sorted(points, key=lambda r: (r.protocol, r.group, r.rounds_read))

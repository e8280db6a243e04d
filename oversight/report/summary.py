"""Per-protocol judge accuracy, debater win rates and judge confidence for one experiment.

Rules, stated with every table (see :data:`RULES`): a verdict is correct when it puts more
than 0.5 on the correct answer; exactly 0.5 is a tie, counted as not correct by default
(Michael et al. 2023) or as half correct (``ties="half"``), and every row says how many
verdicts were ties. Intervals are 95% percentile bootstraps that resample whole questions.
A debater wins when the deciding group's verdict puts more than 0.5 on its answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from oversight.metrics import TieRule, accuracy, bootstrap_ci, correctness, is_tie
from oversight.report.choices import (
    MAJORITY,
    MAJORITY_RULE,
    PICK_RULE,
    majority_samples,
    pick_rows,
)
from oversight.report.context import load_context
from oversight.report.groups import (
    EXPERIMENT_ENSEMBLE,
    JudgeGroup,
)
from oversight.store import Debate, JudgeKind, Judgment, Question, Store
from oversight.store.judges import FINAL_VERDICT

ENSEMBLE = EXPERIMENT_ENSEMBLE

RULES: dict[str, str] = {
    "correct": "a verdict is correct when P(correct) > 0.5",
    "ties": "P(correct) exactly 0.5 is a tie: {ties}",
    "interval": "95% percentile bootstrap over questions (2000 resamples, seed 0)",
    "ensemble": "a model group's verdict is its members' mean probability per debate; "
    "a human group counts each judge's verdict on its own",
    "wins": "a side wins when the deciding group puts more than 0.5 on its answer",
    "picks": PICK_RULE,
    "majority": MAJORITY_RULE,
}
TIE_WORDS: dict[str, str] = {"incorrect": "counted as not correct", "half": "counted as half"}


class Sample(NamedTuple):
    """One verdict as a row counts it."""

    question_id: str
    p_correct: float
    confidence: float
    """Probability on the answer the verdict favoured."""


@dataclass(frozen=True)
class JudgeRow:
    """Accuracy of one judge, or one group of judges, on one protocol."""

    protocol: str
    judge: str
    debates: int
    questions: int
    accuracy: float
    ci_low: float
    ci_high: float
    confidence: float
    """Mean probability the verdicts put on the answer they favoured."""
    verdicts: int = 0
    """Verdicts counted (one per debate for a judge or a model group's mean; one per judge
    and debate for a human group)."""
    ties: int = 0
    """Verdicts with P(correct) exactly 0.5."""
    group: str | None = None
    """The group's label on a group's row and on its members' rows."""
    kind: str | None = None
    """The group's judge kind."""
    is_group: bool = False


@dataclass(frozen=True)
class WinRow:
    """How often the side arguing a given kind of answer won the judges over."""

    protocol: str
    speaker: str
    argued: str
    """``correct`` or ``incorrect``."""
    debates: int
    win_rate: float
    ties: int = 0
    """Debates whose deciding verdict put exactly 0.5 on this side."""


def _final(judgments: Sequence[Judgment]) -> list[Judgment]:
    return [j for j in judgments if j.after_round == FINAL_VERDICT]


def _by_debate(judgments: Sequence[Judgment]) -> dict[str, list[Judgment]]:
    out: dict[str, list[Judgment]] = defaultdict(list)
    for j in _final(judgments):
        out[j.debate_id].append(j)
    return out


def _sample(question_id: str, probs: Sequence[float], correct: int) -> Sample:
    return Sample(question_id, float(probs[correct]), float(max(probs)))


def _row(
    protocol: str, judge: str, samples: list[Sample], debates: int, ties: TieRule, **extra: Any
) -> JudgeRow:
    qids = [s.question_id for s in samples]
    p = [s.p_correct for s in samples]
    corr = correctness(p, ties)
    lo, hi = bootstrap_ci(corr, qids)
    return JudgeRow(
        protocol=protocol,
        judge=judge,
        debates=debates,
        questions=len(set(qids)),
        accuracy=accuracy(corr),
        ci_low=lo,
        ci_high=hi,
        confidence=float(np.mean([s.confidence for s in samples])),
        verdicts=len(samples),
        ties=int(is_tie(p).sum()),
        **extra,
    )


def member_rows(
    debates: Sequence[Debate],
    questions: dict[str, Question],
    judgments: Sequence[Judgment],
    names: dict[str, str] | None = None,
    *,
    ties: TieRule = "incorrect",
    **extra: Any,
) -> list[JudgeRow]:
    """One row per protocol and judge: each judge's own final verdicts."""
    names = names or {}
    by_debate = _by_debate(judgments)
    samples: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for d in debates:
        correct = questions[d.question_id].correct_index
        for j in by_debate.get(d.id, []):
            samples[(d.protocol, names.get(j.judge_id, j.judge_id))].append(
                _sample(d.question_id, j.probs, correct)
            )
    return [
        _row(protocol, judge, items, len(items), ties, **extra)
        for (protocol, judge), items in sorted(samples.items())
    ]


def group_rows(
    debates: Sequence[Debate],
    questions: dict[str, Question],
    judgments: Sequence[Judgment],
    group: JudgeGroup,
    *,
    ties: TieRule = "incorrect",
) -> list[JudgeRow]:
    """One row per protocol for ``group``: its mean verdict per debate, or (human groups)
    each member's verdict on its own."""
    by_debate = _by_debate([j for j in judgments if j.judge_id in group.judge_ids])
    samples: dict[str, list[Sample]] = defaultdict(list)
    judged: dict[str, int] = defaultdict(int)
    for d in debates:
        js = by_debate.get(d.id, [])
        if not js:
            continue
        correct = questions[d.question_id].correct_index
        judged[d.protocol] += 1
        if group.per_verdict:
            samples[d.protocol] += [_sample(d.question_id, j.probs, correct) for j in js]
        else:
            mean = np.mean([j.probs for j in js], axis=0)
            samples[d.protocol].append(_sample(d.question_id, mean.tolist(), correct))
    return [
        _row(
            p,
            group.label,
            items,
            judged[p],
            ties,
            group=group.label,
            kind=group.kind.value,
            is_group=True,
        )
        for p, items in sorted(samples.items())
    ]


def judge_rows(
    debates: list[Debate],
    questions: dict[str, Question],
    judgments: list[Judgment],
    names: dict[str, str] | None = None,
    *,
    ties: TieRule = "incorrect",
) -> list[JudgeRow]:
    """Rows for one flat set of model judges: each judge, then their mean (``ensemble (mean)``)."""

    group = JudgeGroup(
        ENSEMBLE,
        JudgeKind.PROMPTED,
        frozenset(j.judge_id for j in judgments),
        per_verdict=False,
        collapsed=False,
    )
    rows = member_rows(debates, questions, judgments, names, ties=ties)
    rows += [
        JudgeRow(**{**asdict(r), "group": None, "kind": None, "is_group": False})
        for r in group_rows(debates, questions, judgments, group, ties=ties)
    ]
    return sorted(rows, key=lambda r: (r.protocol, r.judge == ENSEMBLE, r.judge))


def win_rows(
    debates: Sequence[Debate],
    questions: dict[str, Question],
    judgments: Sequence[Judgment],
    *,
    ties: TieRule = "incorrect",
) -> list[WinRow]:
    """Win rate per protocol, speaker slot and side argued, by the mean verdict of
    ``judgments`` per debate (pass the deciding group's judgments only)."""
    by_debate = _by_debate(judgments)
    wins: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    tied: dict[tuple[str, str, str], int] = defaultdict(int)
    for d in debates:
        js = by_debate.get(d.id, [])
        if not js or not d.assignment:
            continue
        mean = np.mean([j.probs for j in js], axis=0)
        correct = questions[d.question_id].correct_index
        for speaker, choice in d.assignment.items():
            side = "correct" if choice == correct else "incorrect"
            won = float(correctness([float(mean[choice])], ties)[0])
            for key in ((d.protocol, speaker, side), (d.protocol, "any", side)):
                wins[key].append(won)
                tied[key] += int(mean[choice] == 0.5)
    return [
        WinRow(
            protocol=p,
            speaker=s,
            argued=a,
            debates=len(v),
            win_rate=float(np.mean(v)),
            ties=tied[(p, s, a)],
        )
        for (p, s, a), v in sorted(wins.items())
    ]


def grouped_judge_rows(
    debates: list[Debate],
    questions: dict[str, Question],
    judgments: list[Judgment],
    groups: list[JudgeGroup],
    names: dict[str, str] | None = None,
    *,
    per_judge: bool = False,
    ties: TieRule = "incorrect",
) -> list[JudgeRow]:
    """Per protocol: each group's members (unless collapsed) and then the group's row."""
    keyed: list[tuple[str, int, int, str, JudgeRow]] = []
    for rank, group in enumerate(groups):
        members = [j for j in judgments if j.judge_id in group.judge_ids]
        if per_judge or not group.collapsed:
            for r in member_rows(
                debates,
                questions,
                members,
                names,
                ties=ties,
                group=group.label,
                kind=group.kind.value,
            ):
                keyed.append((r.protocol, rank, 0, r.judge, r))
        for r in group_rows(debates, questions, members, group, ties=ties):
            keyed.append((r.protocol, rank, 1, r.judge, r))
        if group.kind == JudgeKind.AGENT:
            for r in majority_rows(debates, questions, members, group, ties=ties):
                keyed.append((r.protocol, rank, 2, r.judge, r))
    return [r for *_, r in sorted(keyed, key=lambda k: k[:4])]


def majority_rows(
    debates: Sequence[Debate],
    questions: dict[str, Question],
    judgments: Sequence[Judgment],
    group: JudgeGroup,
    *,
    ties: TieRule = "incorrect",
) -> list[JudgeRow]:
    """One row per protocol: the agents' majority vote per debate
    (:data:`oversight.report.choices.MAJORITY_RULE`; a tied vote follows the tie rule)."""
    return [
        _row(
            protocol,
            MAJORITY,
            [Sample(q, outcome, share) for q, outcome, share in items],
            len(items),
            ties,
            group=group.label,
            kind=group.kind.value,
            is_group=True,
        )
        for protocol, items in sorted(
            majority_samples(debates, questions, judgments, group).items()
        )
    ]


def experiment_summary(
    store: Store,
    name: str,
    *,
    per_judge: bool = False,
    same_debates: bool = False,
    wins_by: str | None = None,
    ties: TieRule = "incorrect",
) -> dict[str, Any]:
    """Everything ``oversight report`` shows, as plain data (also its ``--json`` output).

    Judges are grouped by kind and ensemble (see :mod:`oversight.report.groups`): one row per
    group, so prompted, trained and human judges stand side by side and never mix.
    ``per_judge`` adds the rows of collapsed groups' members; ``same_debates`` keeps only
    debates every group judged; ``wins_by`` names the group whose verdicts decide win rates.
    """
    ctx = load_context(store, name, same_debates=same_debates, wins_by=wins_by, ties=ties)
    groups, judgments, questions, deciding = ctx.groups, ctx.judgments, ctx.questions, ctx.deciding
    judged = ctx.debates
    decisive = [j for j in judgments if deciding is not None and j.judge_id in deciding.judge_ids]
    rules = {**RULES, "ties": RULES["ties"].format(ties=TIE_WORDS[ties])}
    return {
        "experiment": name,
        "debates": ctx.status,
        "rules": rules,
        "tie_rule": ties,
        "groups": [
            {
                "label": g.label,
                "kind": g.kind.value,
                "judges": sorted(g.judge_ids),
                "per_verdict": g.per_verdict,
            }
            for g in groups
        ],
        "judges": [
            asdict(r)
            for r in grouped_judge_rows(
                judged, questions, judgments, groups, ctx.names, per_judge=per_judge, ties=ties
            )
        ],
        "wins_judged_by": deciding.label if deciding else None,
        "wins": [asdict(r) for r in win_rows(judged, questions, decisive, ties=ties)],
        "picks": [asdict(r) for r in pick_rows(judged, questions, judgments, deciding, ties=ties)],
    }

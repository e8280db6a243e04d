"""What a written report reads from the Store, loaded once, and each group's verdicts.

Every section of ``report.md``, every plot and the transcript page count verdicts by the
rules of the terminal report (:mod:`oversight.report.summary`): a model group's verdict on a
debate is its members' mean probability per answer; a human group's verdicts are each
judge's own. :func:`group_verdicts` is that rule, for final verdicts and for the beliefs
judges reported after each round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oversight.metrics import TieRule
from oversight.report.groups import (
    JudgeGroup,
    common_debates,
    deciding_group,
    judge_groups,
    judge_names,
)
from oversight.store import Debate, Experiment, JudgeEnsemble, Judgment, Question, Store
from oversight.store.judges import BEFORE_FIRST_ROUND, FINAL_VERDICT


@dataclass(frozen=True)
class Verdict:
    """One verdict as the report counts it: a group's mean, or one judge's own."""

    debate_id: str
    question_id: str
    protocol: str
    probs: tuple[float, ...]
    """Probability per answer, in the question's choice order."""
    correct_index: int
    judge_id: str | None = None
    """The judge, for a verdict counted on its own (a human's); None for a group's mean."""

    @property
    def p_correct(self) -> float:
        return self.probs[self.correct_index]

    @property
    def confidence(self) -> float:
        """Probability on the answer the verdict favoured."""
        return max(self.probs)


@dataclass(frozen=True)
class ReportContext:
    """An experiment's debates, questions, judgments and judge groups."""

    experiment: Experiment
    debates: list[Debate]
    """The debates counted (with ``same_debates``: only those every group judged)."""
    status: dict[str, int]
    """Every debate of the experiment by status."""
    questions: dict[str, Question]
    judgments: list[Judgment]
    groups: list[JudgeGroup]
    names: dict[str, str]
    """Display name per judge id."""
    deciding: JudgeGroup | None
    """The group whose verdicts decide win rates and the page's correct / fooled filter."""
    ties: TieRule


def load_context(
    store: Store,
    name: str,
    *,
    same_debates: bool = False,
    wins_by: str | None = None,
    ties: TieRule = "incorrect",
) -> ReportContext:
    """Read one experiment; unknown names raise :class:`~oversight.store.StoreError` and
    unknown ``wins_by`` groups :class:`~oversight.report.groups.UnknownGroupError`."""
    exp = store.require_experiment(name)
    assert exp.id is not None
    debates = store.debates(exp.id)
    qids = {d.question_id for d in debates}
    questions = {q.id: q for q in store.all(Question) if q.id in qids}
    judgments = store.judgments([d.id for d in debates])
    ensembles = store.all(
        JudgeEnsemble, JudgeEnsemble.experiment_id == exp.id, order_by=JudgeEnsemble.id
    )
    groups = judge_groups(judgments, ensembles)
    status: dict[str, int] = defaultdict(int)
    for d in debates:
        status[d.status] += 1
    return ReportContext(
        experiment=exp,
        debates=common_debates(debates, judgments, groups) if same_debates else debates,
        status=dict(status),
        questions=questions,
        judgments=judgments,
        groups=groups,
        names=judge_names(judgments),
        deciding=deciding_group(groups, wins_by),
        ties=ties,
    )


def rounds_read(after_round: int) -> int:
    """Speech rounds a judge had read when it gave a belief: 0 before the first speech."""
    return 0 if after_round == BEFORE_FIRST_ROUND else after_round + 1


def group_verdicts(
    ctx: ReportContext,
    group: JudgeGroup,
    after_round: int = FINAL_VERDICT,
    debates: Sequence[Debate] | None = None,
) -> list[Verdict]:
    """``group``'s verdicts at ``after_round`` (default: final), in debate order."""
    by_debate: dict[str, list[Judgment]] = defaultdict(list)
    for j in ctx.judgments:
        if j.after_round == after_round and j.judge_id in group.judge_ids:
            by_debate[j.debate_id].append(j)
    out: list[Verdict] = []
    for d in ctx.debates if debates is None else debates:
        js = sorted(by_debate.get(d.id, []), key=lambda j: j.judge_id)
        if not js:
            continue
        correct = ctx.questions[d.question_id].correct_index
        if group.per_verdict:
            out += [
                Verdict(d.id, d.question_id, d.protocol, tuple(j.probs), correct, j.judge_id)
                for j in js
            ]
        else:
            mean = np.mean([j.probs for j in js], axis=0)
            out.append(
                Verdict(d.id, d.question_id, d.protocol, tuple(float(p) for p in mean), correct)
            )
    return out


def round_codes(ctx: ReportContext, group: JudgeGroup) -> list[int]:
    """The ``after_round`` codes of ``group``'s beliefs before the end, in reading order."""
    codes = {
        j.after_round
        for j in ctx.judgments
        if j.judge_id in group.judge_ids and j.after_round != FINAL_VERDICT
    }
    return sorted(codes, key=rounds_read)

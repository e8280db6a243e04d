"""Judge groups for reports: whose verdicts are averaged together, and on which debates.

An experiment's debates can carry verdicts from several sources: the experiment's own judge
ensemble, ensembles replayed later (each recorded under its ``--as`` name), and, for imported
transcripts, human judges (live, and offline ones who read the finished transcript). Averaging
all of them into one "ensemble" would mix people and models, so the report shows one
ensemble row per group, next to each other, per protocol:

- ``ensemble (mean)``: the model judges that belong to no named replay (the experiment's own);
- ``ensemble NAME``: the judges replayed together as ``NAME``;
- ``human``: live human judges, and ``human (offline)``: offline ones. A debate has one live
  judge, so the group row is the human accuracy; the rows per person are many and small, so
  they are shown only on request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from oversight.store import Debate, JudgeEnsemble, Judgment
from oversight.store.judges import FINAL_VERDICT, is_live_human, is_offline_human

EXPERIMENT_ENSEMBLE = "ensemble (mean)"
HUMAN = "human"
HUMAN_OFFLINE = "human (offline)"

GroupKind = Literal["experiment", "ensemble", "human", "human-offline"]


@dataclass(frozen=True)
class JudgeGroup:
    """Judges whose verdicts are averaged into one row."""

    label: str
    """The row's name in the report."""
    kind: GroupKind
    judge_ids: frozenset[str]
    collapsed: bool
    """Show only the group's row unless rows per judge are asked for."""


def judge_groups(
    judgments: Sequence[Judgment], ensembles: Sequence[JudgeEnsemble]
) -> list[JudgeGroup]:
    """The groups of the judges that gave final verdicts, in report order.

    A judge in a named ensemble belongs to that ensemble (to each, if replayed in several);
    model judges in none make up the experiment's own ensemble.
    """
    ids = {j.judge_id for j in judgments if j.after_round == FINAL_VERDICT}
    live = frozenset(i for i in ids if is_live_human(i))
    offline = frozenset(i for i in ids if is_offline_human(i))
    named = [
        JudgeGroup(f"ensemble {e.name}", "ensemble", frozenset(e.judge_ids) & ids, False)
        for e in ensembles
    ]
    claimed = frozenset().union(*(g.judge_ids for g in named))
    rest = frozenset(ids - live - offline - claimed)
    groups = [JudgeGroup(EXPERIMENT_ENSEMBLE, "experiment", rest, False)] if rest else []
    groups += [g for g in named if g.judge_ids]
    if live:
        groups.append(JudgeGroup(HUMAN, "human", live, True))
    if offline:
        groups.append(JudgeGroup(HUMAN_OFFLINE, "human-offline", offline, True))
    return groups


def primary_group(groups: Sequence[JudgeGroup]) -> JudgeGroup | None:
    """The group whose verdicts decide who won: the experiment's own judges, else the live
    humans (in imported human debates), else the first replayed ensemble."""
    for kind in ("experiment", "human", "ensemble", "human-offline"):
        for g in groups:
            if g.kind == kind:
                return g
    return None


def common_debates(
    debates: Sequence[Debate], judgments: Sequence[Judgment], groups: Sequence[JudgeGroup]
) -> list[Debate]:
    """The debates on which every group that judged the protocol gave a verdict.

    Comparing groups on exactly the same debates removes the difference in what they judged
    (e.g. a replay that has only got halfway) from the difference in their accuracy.
    """
    judged_by: dict[str, set[int]] = defaultdict(set)
    for j in judgments:
        if j.after_round != FINAL_VERDICT:
            continue
        for k, g in enumerate(groups):
            if j.judge_id in g.judge_ids:
                judged_by[j.debate_id].add(k)
    present: dict[str, set[int]] = defaultdict(set)
    for d in debates:
        present[d.protocol] |= judged_by[d.id]
    return [d for d in debates if judged_by[d.id] and judged_by[d.id] == present[d.protocol]]

"""Judge groups for reports: whose verdicts are counted together, and on which debates.

An experiment's debates can carry verdicts of several kinds of judge (the ``kind`` stored on
every Judgment): prompted model judges (the experiment's own ensemble and ensembles replayed
later, each recorded under its name), trained classifier judges (the weak ensembles of a
weak-to-strong pipeline, each recorded under its name) and, for imported transcripts, human
judges (live, and offline ones who read the finished transcript). Counting them together would
mix people and models, or a weak classifier with the prompted judges, so the report shows one
row per group, side by side, per protocol:

- ``ensemble (mean)``: the experiment's own prompted judges (its recorded ensemble; in stores
  written before ensembles were recorded, the prompted judges of no named replay);
- ``ensemble NAME``: the prompted judges replayed together as ``NAME``;
- ``trained NAME``: the trained judges of one weak ensemble;
- ``agents (mean)``: the answers of cooperative agents (Du et al. 2023), whose mean
  probability is that protocol's answer;
- ``human (live)`` and ``human (offline)``: human judges. Their rows count each verdict on
  its own (one per judge and debate), never an average over judges.

A model group's row averages its members' probabilities per debate (the ensemble's verdict);
a human group's row counts every verdict. Rows per member are shown for model groups, and for
human groups only on request (they are many and small).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from oversight.store import Debate, JudgeEnsemble, JudgeKind, Judgment
from oversight.store.judges import EXPERIMENT_ENSEMBLE_NAME, FINAL_VERDICT

EXPERIMENT_ENSEMBLE = "ensemble (mean)"
HUMAN = "human (live)"
HUMAN_OFFLINE = "human (offline)"
TRAINED = "trained (mean)"
"""Trained judges recorded in no ensemble (stores written before weak ensembles were)."""
AGENTS = "agents (mean)"
"""The speakers' own answers (cooperative agents): the protocol's answer is their mean."""

HUMAN_KINDS = frozenset({JudgeKind.HUMAN_LIVE, JudgeKind.HUMAN_OFFLINE})


@dataclass(frozen=True)
class JudgeGroup:
    """Judges whose verdicts make one row."""

    label: str
    """The row's name in the report."""
    kind: JudgeKind
    judge_ids: frozenset[str]
    per_verdict: bool
    """Count each member's verdict on its own (humans) instead of the members' mean per
    debate (model ensembles)."""
    collapsed: bool
    """Show only the group's row unless rows per judge are asked for."""
    experiment_own: bool = False
    """The experiment's own judges (the default group for win rates)."""


def _label(ensemble: JudgeEnsemble) -> str:
    if ensemble.name == EXPERIMENT_ENSEMBLE_NAME and ensemble.kind == JudgeKind.PROMPTED:
        return EXPERIMENT_ENSEMBLE
    prefix = "trained" if ensemble.kind == JudgeKind.TRAINED else "ensemble"
    return f"{prefix} {ensemble.name}"


def judge_groups(
    judgments: Sequence[Judgment], ensembles: Sequence[JudgeEnsemble]
) -> list[JudgeGroup]:
    """The groups of the judges that gave final verdicts, in report order.

    A judge in a named ensemble belongs to that ensemble (to each, if in several). Model judges
    of a kind that no recorded ensemble claims make up one group of that kind.
    """
    kind_of = {j.judge_id: JudgeKind(j.kind) for j in judgments if j.after_round == FINAL_VERDICT}
    ids = set(kind_of)
    recorded = sorted(ensembles, key=lambda e: (e.name != EXPERIMENT_ENSEMBLE_NAME, e.id or 0))
    named = [
        JudgeGroup(
            _label(e),
            JudgeKind(e.kind),
            frozenset(e.judge_ids) & ids,
            per_verdict=False,
            collapsed=False,
            experiment_own=_label(e) == EXPERIMENT_ENSEMBLE,
        )
        for e in recorded
    ]
    claimed = frozenset().union(*(g.judge_ids for g in named))

    def unclaimed(kind: JudgeKind) -> frozenset[str]:
        return frozenset(i for i in ids - claimed if kind_of[i] == kind)

    groups: list[JudgeGroup] = []
    if not any(g.experiment_own for g in named) and unclaimed(JudgeKind.PROMPTED):
        groups.append(
            JudgeGroup(
                EXPERIMENT_ENSEMBLE,
                JudgeKind.PROMPTED,
                unclaimed(JudgeKind.PROMPTED),
                per_verdict=False,
                collapsed=False,
                experiment_own=True,
            )
        )
    groups += [g for g in named if g.judge_ids]
    for kind, label in ((JudgeKind.TRAINED, TRAINED), (JudgeKind.AGENT, AGENTS)):
        if unclaimed(kind):
            groups.append(
                JudgeGroup(label, kind, unclaimed(kind), per_verdict=False, collapsed=False)
            )
    for kind, label in ((JudgeKind.HUMAN_LIVE, HUMAN), (JudgeKind.HUMAN_OFFLINE, HUMAN_OFFLINE)):
        members = frozenset(i for i in ids if kind_of[i] == kind)
        if members:
            groups.append(JudgeGroup(label, kind, members, per_verdict=True, collapsed=True))
    return groups


class UnknownGroupError(ValueError):
    """A group asked for by name that the experiment does not have."""


def deciding_group(groups: Sequence[JudgeGroup], label: str | None = None) -> JudgeGroup | None:
    """The group whose verdicts decide who won a debate.

    ``label`` names it; by default the experiment's own judges, else the live humans (in
    imported human debates), else the first replayed ensemble, else the first trained one.
    """
    if label is not None:
        for g in groups:
            if g.label == label:
                return g
        known = ", ".join(repr(g.label) for g in groups) or "none"
        raise UnknownGroupError(f"no judge group {label!r} in this experiment (groups: {known})")
    order = (
        lambda g: g.experiment_own,
        lambda g: g.kind == JudgeKind.HUMAN_LIVE,
        lambda g: g.kind == JudgeKind.PROMPTED,
        lambda g: g.kind == JudgeKind.TRAINED,
        lambda g: True,
    )
    for test in order:
        for g in groups:
            if test(g):
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


def judge_names(judgments: list[Judgment]) -> dict[str, str]:
    """Display names for judge ids: the short name stored with the judgments, made unique."""
    named: dict[str, str] = {}
    for j in judgments:
        name = j.raw.get("judge") if isinstance(j.raw, dict) else None
        named.setdefault(j.judge_id, name if isinstance(name, str) else j.judge_id)
    counts: dict[str, int] = defaultdict(int)
    for name in named.values():
        counts[name] += 1
    return {jid: (n if counts[n] == 1 else f"{n} ({jid})") for jid, n in named.items()}

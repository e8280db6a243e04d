"""Per-protocol judge accuracy, debater win rates and judge confidence for one experiment."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from oversight.metrics import accuracy, bootstrap_ci, correctness
from oversight.report.groups import JudgeGroup, common_debates, judge_groups, primary_group
from oversight.store import Debate, JudgeEnsemble, Judgment, Question, Store

ENSEMBLE = "ensemble (mean)"


@dataclass(frozen=True)
class JudgeRow:
    """Accuracy of one judge (or the ensemble) on one protocol."""

    protocol: str
    judge: str
    debates: int
    questions: int
    accuracy: float
    ci_low: float
    ci_high: float
    confidence: float
    """Mean probability the judge put on the answer it favoured."""


@dataclass(frozen=True)
class WinRow:
    """How often the side arguing a given kind of answer won the judges over."""

    protocol: str
    speaker: str
    argued: str
    """``correct`` or ``incorrect``."""
    debates: int
    win_rate: float


def _final(judgments: list[Judgment]) -> list[Judgment]:
    return [j for j in judgments if j.after_round == -1]


def judge_rows(
    debates: list[Debate],
    questions: dict[str, Question],
    judgments: list[Judgment],
    names: dict[str, str] | None = None,
) -> list[JudgeRow]:
    """One row per protocol x judge, plus the ensemble mean over the judges of each debate."""
    names = names or {}
    by_debate: dict[str, list[Judgment]] = defaultdict(list)
    for j in _final(judgments):
        by_debate[j.debate_id].append(j)
    samples: dict[tuple[str, str], list[tuple[str, float, float]]] = defaultdict(list)
    for d in debates:
        js = by_debate.get(d.id, [])
        if not js:
            continue
        correct = questions[d.question_id].correct_index
        for j in js:
            samples[(d.protocol, names.get(j.judge_id, j.judge_id))].append(
                (d.question_id, j.probs[correct], max(j.probs))
            )
        mean = np.mean([j.probs for j in js], axis=0)
        samples[(d.protocol, ENSEMBLE)].append(
            (d.question_id, float(mean[correct]), float(max(mean)))
        )
    rows = []
    for (protocol, judge), items in sorted(
        samples.items(), key=lambda kv: (kv[0][0], kv[0][1] == ENSEMBLE, kv[0][1])
    ):
        qids = [q for q, _, _ in items]
        corr = correctness([p for _, p, _ in items])
        lo, hi = bootstrap_ci(corr, qids)
        rows.append(
            JudgeRow(
                protocol=protocol,
                judge=judge,
                debates=len(items),
                questions=len(set(qids)),
                accuracy=accuracy(corr),
                ci_low=lo,
                ci_high=hi,
                confidence=float(np.mean([c for _, _, c in items])),
            )
        )
    return rows


def win_rows(
    debates: list[Debate], questions: dict[str, Question], judgments: list[Judgment]
) -> list[WinRow]:
    """Win rate per protocol, speaker slot and side argued, by the ensemble's mean verdict."""
    by_debate: dict[str, list[Judgment]] = defaultdict(list)
    for j in _final(judgments):
        by_debate[j.debate_id].append(j)
    wins: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for d in debates:
        js = by_debate.get(d.id, [])
        if not js or not d.assignment:
            continue
        mean = np.mean([j.probs for j in js], axis=0)
        correct = questions[d.question_id].correct_index
        for speaker, choice in d.assignment.items():
            side = "correct" if choice == correct else "incorrect"
            won = 0.5 if np.isclose(mean[choice], 0.5) else float(mean[choice] > 0.5)
            wins[(d.protocol, speaker, side)].append(won)
            wins[(d.protocol, "any", side)].append(won)
    return [
        WinRow(protocol=p, speaker=s, argued=a, debates=len(v), win_rate=float(np.mean(v)))
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
) -> list[JudgeRow]:
    """Per protocol: each group's members (unless collapsed) and then the group's mean row."""
    keyed: list[tuple[str, int, int, JudgeRow]] = []
    for rank, group in enumerate(groups):
        members = [j for j in judgments if j.judge_id in group.judge_ids]
        for r in judge_rows(debates, questions, members, names):
            if r.judge == ENSEMBLE:
                keyed.append((r.protocol, rank, 1, replace(r, judge=group.label)))
            elif per_judge or not group.collapsed:
                keyed.append((r.protocol, rank, 0, r))
    return [r for *_, r in sorted(keyed, key=lambda k: k[:3])]


def experiment_summary(
    store: Store, name: str, *, per_judge: bool = False, same_debates: bool = False
) -> dict[str, Any]:
    """Everything ``oversight report`` shows, as plain data (also its ``--json`` output).

    Judges are grouped (see :mod:`oversight.report.groups`): one mean row per group, so
    replayed ensembles and human judges stand side by side. ``per_judge`` adds the rows of
    collapsed groups' members; ``same_debates`` keeps only debates every group judged.
    """
    exp = store.require_experiment(name)
    assert exp.id is not None
    debates = store.debates(exp.id)
    qids = {d.question_id for d in debates}
    questions = {q.id: q for q in store.all(Question) if q.id in qids}
    judgments = store.judgments([d.id for d in debates])
    names = judge_names(judgments)
    status: dict[str, int] = defaultdict(int)
    for d in debates:
        status[d.status] += 1
    ensembles = store.all(
        JudgeEnsemble, JudgeEnsemble.experiment_id == exp.id, order_by=JudgeEnsemble.id
    )
    groups = judge_groups(judgments, ensembles)
    judged = common_debates(debates, judgments, groups) if same_debates else debates
    primary = primary_group(groups)
    deciding = [j for j in judgments if primary is not None and j.judge_id in primary.judge_ids]
    return {
        "experiment": name,
        "debates": dict(status),
        "groups": [
            {"label": g.label, "kind": g.kind, "judges": sorted(g.judge_ids)} for g in groups
        ],
        "judges": [
            asdict(r)
            for r in grouped_judge_rows(
                judged, questions, judgments, groups, names, per_judge=per_judge
            )
        ],
        "wins_judged_by": primary.label if primary else None,
        "wins": [asdict(r) for r in win_rows(judged, questions, deciding)],
    }


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

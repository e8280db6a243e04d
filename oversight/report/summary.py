"""Per-protocol judge accuracy, debater win rates and judge confidence for one experiment."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oversight.metrics import accuracy, bootstrap_ci, correctness
from oversight.store import Debate, Judgment, Question, Store

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
        samples[(d.protocol, ENSEMBLE)].append((d.question_id, float(mean[correct]), float(max(mean))))
    rows = []
    for (protocol, judge), items in sorted(samples.items(), key=lambda kv: (kv[0][0], kv[0][1] == ENSEMBLE, kv[0][1])):
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


def experiment_summary(store: Store, name: str) -> dict[str, Any]:
    """Everything ``oversight report`` shows, as plain data (also its ``--json`` output)."""
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
    return {
        "experiment": name,
        "debates": dict(status),
        "judges": [asdict(r) for r in judge_rows(debates, questions, judgments, names)],
        "wins": [asdict(r) for r in win_rows(debates, questions, judgments)],
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

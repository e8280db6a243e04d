"""The judge seam: what every kind of judge gives and how its verdicts are stored.

A prompted model (:class:`agents.judge.PromptedJudge`), a cooperative agent's own belief, a
trained classifier (:class:`oversight.train.weak_judges.ClassifierJudge`) and an imported human
(:class:`HumanJudge`) implement :class:`Judge`; the judge-ensemble subgraph, replay and the
weak-to-strong pipeline call only this interface, and every verdict becomes a ``Judgment`` row
through :func:`judgment_row`: the judge's ``kind`` and ``model`` under its ``judge_id``, which
covers everything that changes its verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from oversight.backends.base import Backend
from oversight.store.judges import human_judge_id
from oversight.store.kinds import JudgeKind
from oversight.store.tables import Judgment, Question, Turn


@dataclass(frozen=True)
class JudgeVerdict:
    """Probabilities per choice, the per-order ones, and what the judge returned."""

    probs: list[float]
    probs_by_order: dict[str, list[float]]
    raw: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    """What was left out to fit the model's context (:class:`agents.context.ContextFit`);
    empty when the whole transcript fit."""


@runtime_checkable
class Judge(Protocol):
    """A judge of one debate: a probability per answer from a question and a transcript."""

    @property
    def name(self) -> str:
        """Short name shown in reports."""
        ...

    @property
    def model(self) -> str:
        """The model reference (or person) behind the verdicts."""
        ...

    @property
    def kind(self) -> JudgeKind: ...

    @property
    def judge_id(self) -> str:
        """Stable id: the same judge in any experiment or replay shares its verdicts."""
        ...

    async def judge(
        self,
        backend: Backend,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict: ...


def judgment_row(judge: Judge, debate_id: str, after_round: int, verdict: JudgeVerdict) -> Judgment:
    """The stored form of one verdict of ``judge`` on a debate after a round (-1: final)."""
    return Judgment(
        debate_id=debate_id,
        judge_id=judge.judge_id,
        kind=judge.kind,
        model=judge.model,
        after_round=after_round,
        probs=list(verdict.probs),
        probs_by_order=dict(verdict.probs_by_order),
        raw=dict(verdict.raw),
        context=dict(verdict.context),
    )


class HumanJudgeError(RuntimeError):
    """A human's verdicts are imported with the transcripts; nobody can ask for new ones."""


@dataclass(frozen=True)
class HumanJudge:
    """A person whose verdicts were recorded (live during the debate, or offline after it)."""

    name: str
    offline: bool = False

    @property
    def model(self) -> str:
        return "human"

    @property
    def kind(self) -> JudgeKind:
        return JudgeKind.HUMAN_OFFLINE if self.offline else JudgeKind.HUMAN_LIVE

    @property
    def judge_id(self) -> str:
        return human_judge_id(self.name, offline=self.offline)

    async def judge(
        self,
        backend: Backend,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict:
        raise HumanJudgeError(
            f"{self.judge_id}: human verdicts come from imported transcripts "
            "(`oversight import`); replay a model judge instead"
        )

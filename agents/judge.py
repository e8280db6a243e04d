"""The prompted judge: a probability per answer from next-token log-probs, never parsed text.

Each judgment scores the transcript under every presentation order of the two answers (A/B
and B/A) and averages the per-choice probabilities, which cancels the judge's position bias;
both orders are kept so the bias itself can be measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents import transcript
from agents.templates import PromptTemplate, load_template
from oversight.backends.base import Backend, BackendError, Message, ScoreRequest
from oversight.store.tables import Question, Turn

ORDERS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0))
ASSISTANT_PREFIX = "Answer:"
"""No trailing space: tokenizers attach the space to the letter (" A"), as in "Answer: A"."""


def order_key(order: Sequence[int]) -> str:
    return ",".join(str(i) for i in order)


@dataclass(frozen=True)
class JudgeVerdict:
    """Averaged probabilities per choice, the per-order ones, and what the backend returned."""

    probs: list[float]
    probs_by_order: dict[str, list[float]]
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptedJudge:
    """A language-model judge defined by a model, a template and whether it sees the context."""

    name: str
    model: str
    """The model reference (registry alias, path or hub id) as configured."""
    template: PromptTemplate
    sees_context: bool = False

    @classmethod
    def from_template_name(
        cls, name: str, model: str, prompt: str, sees_context: bool = False
    ) -> PromptedJudge:
        return cls(name, model, load_template(prompt), sees_context)

    @property
    def judge_id(self) -> str:
        """Model plus prompt hash: the same model and prompt is the same judge in any experiment."""
        ctx = "+ctx" if self.sees_context else ""
        return f"{self.model}@{self.template.hash}{ctx}"

    def messages(
        self,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
        order: Sequence[int],
    ) -> list[Message]:
        text = transcript.for_judge(turns, assignment, order, question.context)
        context = question.context if self.sees_context else None
        return self.template.render(
            context_section=f"Source material:\n{context}\n\n" if context else "",
            question=question.text,
            answer_a=question.choices[order[0]],
            answer_b=question.choices[order[1]],
            transcript_section=f"Transcript:\n{text}\n\n" if text else "",
        )

    async def judge(
        self,
        backend: Backend,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict:
        if len(question.choices) != 2:
            raise ValueError(
                f"judges need binarized questions; {question.id} has "
                f"{len(question.choices)} choices"
            )
        requests = [
            ScoreRequest(
                self.messages(question, turns, assignment, order),
                labels=["A", "B"],
                assistant_prefix=ASSISTANT_PREFIX,
            )
            for order in ORDERS
        ]
        scores = await asyncio.gather(*(backend.score_choices([r]) for r in requests))
        by_order: dict[str, list[float]] = {}
        raw: dict[str, Any] = {"judge": self.name, "template": self.template.name}
        for order, (score,) in zip(ORDERS, scores, strict=True):
            raw[order_key(order)] = {"labels": score.labels, "logprobs": score.logprobs}
            if score.probs is None:
                raise BackendError(
                    f"judge {self.name}: labels {score.missing} missing from the backend's "
                    "log-probs; no probability recorded"
                )
            per_choice = [0.0, 0.0]
            for pos, choice in enumerate(order):
                per_choice[choice] = score.probs[pos]
            by_order[order_key(order)] = per_choice
        probs = [sum(p[c] for p in by_order.values()) / len(by_order) for c in range(2)]
        return JudgeVerdict(probs=probs, probs_by_order=by_order, raw=raw)

"""Debaters and consultants: advocates for an assigned answer.

A debater argues its assigned answer against an opponent and sees the transcript so far; a
consultant argues alone. Both see the hidden context when the question has one and may quote
it; quotes are verified against it when the turn is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents import transcript
from agents.context import fit_to_context
from agents.templates import PromptTemplate, load_template
from oversight.backends.base import (
    Backend,
    Completion,
    GenerateRequest,
    Message,
    SamplingParams,
)
from oversight.config import ContextPolicy
from oversight.quotes import extract_quotes
from oversight.store.tables import Question, Turn

QUOTE_RULE = (
    " You may quote the source material between <quote> and </quote>; the judge is told "
    "which quotes match the source exactly."
)


@dataclass(frozen=True)
class Speech:
    """What an advocate said, ready to be stored as a Turn."""

    text: str
    quotes: list[dict[str, object]]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    context: dict[str, object] = field(default_factory=dict)
    """What was left out to fit the model's context (:class:`agents.context.ContextFit`);
    empty when the whole transcript fit."""


@dataclass(frozen=True)
class Advocate:
    """A debater or consultant: one template, one word limit, one sampling setting."""

    role: str
    """``debater`` or ``consultant``; selects the built-in template."""
    word_limit: int
    params: SamplingParams
    template: PromptTemplate | None = None
    context_policy: ContextPolicy = "fail"
    """What to do when the transcript so far does not fit the model's context
    (:mod:`agents.context`); the experiment's config hash covers it."""

    def prompt(self) -> PromptTemplate:
        return self.template or load_template(self.role)

    def messages(
        self,
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        turns_so_far: Sequence[Turn],
        round_: int,
        omitted: Sequence[int] = (),
    ) -> list[Message]:
        mine = assignment[speaker]
        others = [c for s, c in assignment.items() if s != speaker]
        opponent = others[0] if others else 1 - mine
        history = transcript.for_speaker(turns_so_far, speaker, assignment, omitted)
        name = f"{self.role.capitalize()} {transcript.letter_for(mine, range(8))}"
        # Dataset text is untrusted too: it must not forge a speech block or a quote mark.
        choices = [transcript.plain(c) for c in question.choices]
        context = transcript.plain(question.context) if question.context else ""
        return self.prompt().render(
            name=name,
            my_answer=choices[mine],
            opponent_answer=choices[opponent],
            word_limit=self.word_limit,
            quote_rule=QUOTE_RULE if context else "",
            context_section=f"Source material:\n{context}\n\n" if context else "",
            question=transcript.plain(question.text),
            answer_a=choices[0],
            answer_b=choices[1],
            transcript_section=f"Transcript so far:\n{history}\n\n" if history else "",
            round=round_ + 1,
        )

    async def speak(
        self,
        backend: Backend,
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        turns_so_far: Sequence[Turn],
        round_: int,
    ) -> Speech:
        async def attempt(visible: Sequence[Turn], omitted: Sequence[int]) -> Completion:
            messages = self.messages(question, speaker, assignment, visible, round_, omitted)
            (completion,) = await backend.generate([GenerateRequest(messages, self.params)])
            return completion

        completion, fit = await fit_to_context(
            self.context_policy,
            turns_so_far,
            attempt,
            f"{speaker} in round {round_ + 1}",
        )
        return Speech(
            text=completion.text,
            quotes=extract_quotes(completion.text, question.context),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s,
            context=fit.record() if fit else {},
        )

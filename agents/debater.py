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
from oversight.protocol_registry import JUDGE_SEAT, Role
from oversight.quotes import apply_quote_budget, extract_quotes
from oversight.store.tables import Question, Turn

QUOTE_RULE = (
    " You may quote the source material between <quote> and </quote>; the judge is told "
    "which quotes match the source exactly."
)


JUDGE_ASKED = (
    "The judge has asked a question (the Judge's speech above): answer it in this speech.\n\n"
)
"""Said to a speaker whose previous round ended with the judge's question."""


@dataclass(frozen=True)
class Speech:
    """What an advocate said, ready to be stored as a Turn."""

    text: str
    quotes: list[dict[str, object]]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    context: dict[str, object] = field(default_factory=dict)
    """What was left out to fit the model's context (:class:`agents.context.ContextFit`) and,
    under ``quote_budget``, the quotes cut from the speech; empty when nothing was."""

    def turn(self, debate_id: str, round_: int, speaker: str, model: str) -> Turn:
        """The speech as the Turn row that stores it."""
        return Turn(
            debate_id=debate_id,
            round=round_,
            speaker=speaker,
            model=model,
            text=self.text,
            quotes=list(self.quotes),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_s=self.latency_s,
            context=dict(self.context),
        )


@dataclass(frozen=True)
class Advocate:
    """A debater or consultant: one template, one word limit, one sampling setting."""

    role: Role
    """Selects the built-in template (``agents/prompts/ROLE.txt``) and the speaker's name."""
    word_limit: int
    params: SamplingParams
    template: PromptTemplate | None = None
    context_policy: ContextPolicy = "fail"
    """What to do when the transcript so far does not fit the model's context
    (:mod:`agents.context`); the experiment's config hash covers it."""
    quote_budget: int | None = None
    """Quoted words a speech may hold (:func:`oversight.quotes.apply_quote_budget`), stated
    in the prompt; quotes past it are stored as plain text. None: no limit."""

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
        history = transcript.for_speaker(turns_so_far, speaker, assignment, omitted)
        judge_asked = any(
            t.speaker == JUDGE_SEAT.slot and t.round == round_ - 1 for t in turns_so_far
        )
        asked = JUDGE_ASKED if judge_asked else ""
        # A speaker without an assigned answer (a cooperative agent) defends none.
        mine = assignment.get(speaker)
        others = [c for s, c in assignment.items() if s != speaker]
        opponent = others[0] if others else (None if mine is None else 1 - mine)
        if mine is None:
            name = transcript.speaker_name(speaker)
        else:
            name = f"{self.role.display} {transcript.letter_for(mine, range(8))}"
        # Dataset text is untrusted too: it must not forge a speech block or a quote mark.
        choices = [transcript.plain(c) for c in question.choices]
        context = transcript.plain(question.context) if question.context else ""
        return self.prompt().render(
            name=name,
            my_answer="" if mine is None else choices[mine],
            opponent_answer="" if opponent is None else choices[opponent],
            word_limit=self.word_limit,
            quote_rule=self._quote_rule() if context else "",
            context_section=f"Source material:\n{context}\n\n" if context else "",
            question=transcript.plain(question.text),
            answer_a=choices[0],
            answer_b=choices[1],
            transcript_section=f"Transcript so far:\n{history}\n\n{asked}" if history else "",
            round=round_ + 1,
        )

    def _quote_rule(self) -> str:
        if self.quote_budget is None:
            return QUOTE_RULE
        return f"{QUOTE_RULE} Only the first {self.quote_budget} quoted words count as quotes."

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
        return self.finish(completion, question, fit.record() if fit else {})

    def finish(
        self, completion: Completion, question: Question, record: dict[str, object] | None = None
    ) -> Speech:
        """A generated speech as it is stored: under the quote budget, quotes verified."""
        text, record = completion.text, dict(record or {})
        if self.quote_budget is not None:
            # Stored as budgeted: quotes past the budget are plain text, kept in the record.
            text, budgeted = apply_quote_budget(text, self.quote_budget)
            dropped = [{"text": q.text, "words": q.words} for q in budgeted if not q.kept]
            if dropped:
                record = {**record, "quote_budget": {"words": self.quote_budget, "cut": dropped}}
        return Speech(
            text=text,
            quotes=extract_quotes(text, question.context),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s,
            context=record,
        )

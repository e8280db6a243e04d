"""Critique-and-refine (Khan et al. 2024's cBoN): a critic comments on a draft speech and the
speaker revises it once.

The critic reads what the speaker reads (the hidden context included: it coaches that side)
and the draft; the speaker then sees its own prompt, its draft as its previous reply and the
critique, and writes the speech it gives. Draft and critique are model text like any speech:
they are escaped wherever they are shown, and stored apart from the turn (``Candidate`` rows
of kind ``draft`` and ``critique``), so judges never read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents import transcript
from agents.debater import Advocate, Speech
from agents.templates import PromptTemplate, load_template
from oversight.backends.base import Backend, GenerateRequest, Message, SamplingParams
from oversight.quotes import escape_tags
from oversight.store.tables import Question, Turn

TEMPLATE = "critic"
REVISE = (
    "A coach commented on your draft:\n<critique>\n{critique}\n</critique>\n\n"
    "Write your revised speech for round {round} now (under {word_limit} words). Reply with the "
    "speech only."
)
"""The speaker's last message before its revision; the critique inside is escaped."""
CRITIQUE_TAGS = (*transcript.RESERVED_TAGS, "critique")
"""Tags a critique cannot write: it cannot close its block or forge a speech or a quote."""


@dataclass(frozen=True)
class Critic:
    """One critique of at most ``word_limit`` words, generated with ``params``."""

    params: SamplingParams
    word_limit: int = 40
    template: PromptTemplate | None = None

    def messages(
        self,
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        seen: Sequence[Turn],
        round_: int,
        draft: str,
    ) -> list[Message]:
        history = transcript.for_speaker(seen, speaker, assignment)
        choices = [transcript.plain(c) for c in question.choices]
        context = transcript.plain(question.context) if question.context else ""
        return (self.template or load_template(TEMPLATE)).render(
            context_section=f"Source material:\n{context}\n\n" if context else "",
            question=transcript.plain(question.text),
            answer_a=choices[0],
            answer_b=choices[1],
            my_answer=choices[assignment[speaker]] if speaker in assignment else "",
            transcript_section=f"Transcript so far:\n{history}\n\n" if history else "",
            round=round_ + 1,
            draft=transcript.plain(draft.strip()),
            word_limit=self.word_limit,
        )

    async def refine(
        self,
        critic_backend: Backend,
        advocate: Advocate,
        backend: Backend,
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        seen: Sequence[Turn],
        round_: int,
        draft: Speech,
    ) -> tuple[Speech, Speech]:
        """(the critique, the revised speech)."""
        asked = self.messages(question, speaker, assignment, seen, round_, draft.text)
        (critique,) = await critic_backend.generate([GenerateRequest(asked, self.params)])
        conversation = [
            *advocate.messages(question, speaker, assignment, seen, round_),
            {"role": "assistant", "content": draft.text},
            {
                "role": "user",
                "content": REVISE.format(
                    critique=escape_tags(critique.text.strip(), CRITIQUE_TAGS),
                    round=round_ + 1,
                    word_limit=advocate.word_limit,
                ),
            },
        ]
        (revised,) = await backend.generate([GenerateRequest(conversation, advocate.params)])
        said = advocate.finish(revised, question)
        note = Speech(
            text=critique.text,
            quotes=[],
            prompt_tokens=critique.prompt_tokens,
            completion_tokens=critique.completion_tokens,
            latency_s=critique.latency_s,
        )
        return note, said

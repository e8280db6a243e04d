"""The judge's question between rounds (Khan et al. 2024; Michael et al. 2023's interactive
judges): after a round the judge's model reads the transcript as a judge does, the hidden
context left out, and asks one question that every speaker answers in its next speech.

The question is model text like any speech: it is stored as a Turn of the ``judge`` seat in the
round it follows and shown to speakers and judges through the same escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents import transcript
from agents.context import fit_to_context
from agents.debater import Speech
from agents.templates import PromptTemplate, load_template
from oversight.backends.base import Backend, Completion, GenerateRequest, Message, SamplingParams
from oversight.config import ContextPolicy
from oversight.store.tables import Question, Turn

TEMPLATE = "judge_question"
ORDER = (0, 1)
"""Answers are shown to the asking judge in the dataset's order."""


@dataclass(frozen=True)
class Questioner:
    """The judge's model asking one question of at most ``word_limit`` words."""

    params: SamplingParams
    word_limit: int = 30
    template: PromptTemplate | None = None
    context_policy: ContextPolicy = "fail"

    def messages(
        self,
        question: Question,
        assignment: dict[str, int],
        turns: Sequence[Turn],
        omitted: Sequence[int] = (),
    ) -> list[Message]:
        # The passage only marks quotes verified; its text never reaches this prompt.
        history = transcript.for_judge(turns, assignment, ORDER, question.context, omitted)
        return (self.template or load_template(TEMPLATE)).render(
            question=transcript.plain(question.text),
            answer_a=transcript.plain(question.choices[ORDER[0]]),
            answer_b=transcript.plain(question.choices[ORDER[1]]),
            transcript_section=f"Transcript so far:\n{history}\n\n" if history else "",
            word_limit=self.word_limit,
        )

    async def ask(
        self,
        backend: Backend,
        question: Question,
        assignment: dict[str, int],
        turns: Sequence[Turn],
        after_round: int,
    ) -> Speech:
        async def attempt(visible: Sequence[Turn], omitted: Sequence[int]) -> Completion:
            messages = self.messages(question, assignment, visible, omitted)
            (completion,) = await backend.generate([GenerateRequest(messages, self.params)])
            return completion

        completion, fit = await fit_to_context(
            self.context_policy,
            turns,
            attempt,
            f"the judge's question after round {after_round + 1}",
        )
        return Speech(
            text=completion.text,
            quotes=[],
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s,
            context=fit.record() if fit else {},
        )

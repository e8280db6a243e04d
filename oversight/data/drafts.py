"""Question drafts: the fields of a Question before the table object is built.

Loaders return drafts so that selection, which needs only the content-hash id, can run over a
whole split (hundreds of thousands of Hub rows) before any SQLModel object is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from oversight.data.records import make_question, question_id
from oversight.data.rows import Where
from oversight.store.tables import Question


@dataclass(frozen=True)
class QuestionDraft:
    """A validated question not yet built into a ``Question`` row."""

    dataset: str
    split: str
    text: str
    choices: tuple[str, ...]
    correct_index: int
    context: str | None = None
    source_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def id(self) -> str:
        """The id the built Question will have."""
        return question_id(self.text, list(self.choices), self.context)

    def build(self) -> Question:
        return make_question(
            dataset=self.dataset,
            split=self.split,
            text=self.text,
            choices=list(self.choices),
            correct_index=self.correct_index,
            context=self.context,
            source_id=self.source_id,
            meta=dict(self.meta),
        )


def new_draft(
    where: Where,
    *,
    dataset: str,
    split: str,
    text: str,
    choices: Sequence[str],
    correct_index: int,
    context: str | None = None,
    source_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
    choices_field: str = "choices",
    answer_field: str = "answer",
) -> QuestionDraft:
    """A draft, after checking what every question needs: two or more choices and an answer
    among them (errors name the source's own field names)."""
    if len(choices) < 2:
        raise where.error(f"needs at least 2 choices, got {len(choices)}", choices_field)
    if not 0 <= correct_index < len(choices):
        raise where.error(
            f"answer index {correct_index} is out of range for {len(choices)} choices",
            answer_field,
        )
    return QuestionDraft(
        dataset=dataset,
        split=split,
        text=text,
        choices=tuple(choices),
        correct_index=correct_index,
        context=context,
        source_id=source_id,
        meta=dict(meta or {}),
    )

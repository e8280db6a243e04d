"""Question drafts: the fields of a Question before the table object is built.

Loaders return drafts so that selection, which needs only the content-hash id, can run over a
whole split (hundreds of thousands of Hub rows) before any SQLModel object is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from oversight.data.errors import DataError
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


@dataclass
class Loaded:
    """What a loader read: the drafts of the well-formed rows, and a DataError (with file,
    line and field) for each malformed row, so that the caller decides whether a bad row
    is skipped or fails the load (``data.strict``)."""

    drafts: list[QuestionDraft] = field(default_factory=list)
    skipped: list[DataError] = field(default_factory=list)

    def __iadd__(self, other: Loaded) -> Loaded:
        self.drafts += other.drafts
        self.skipped += other.skipped
        return self


R = TypeVar("R")


def convert_rows(
    rows: Iterable[tuple[Where, R]], convert: Callable[[Where, R], Iterable[QuestionDraft]]
) -> Loaded:
    """Every row through ``convert``; a row it rejects is set aside, not fatal.

    Only the conversion of one row is guarded: a file that cannot be read or parsed (raised
    while iterating ``rows``) still fails the load, since no row after it can be trusted.
    """
    loaded = Loaded()
    for where, row in rows:
        try:
            loaded.drafts.extend(convert(where, row))
        except DataError as err:
            loaded.skipped.append(err)
    return loaded


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
    """A draft, after checking what every question needs: two or more distinct choices and an
    answer among them (errors name the source's own field names)."""
    if len(choices) < 2:
        raise where.error(f"needs at least 2 choices, got {len(choices)}", choices_field)
    for i, choice in enumerate(choices):
        if choice in choices[:i]:
            raise where.error(f"{choice!r} appears twice", choices_field)
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

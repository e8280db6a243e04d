"""Building Question records with content-hash ids."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from oversight.store.tables import Question


def question_id(text: str, choices: list[str], context: str | None) -> str:
    """Content hash: the same question from two sources or runs gets the same id."""
    payload = json.dumps([text, choices, context or ""], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def make_question(
    *,
    dataset: str,
    split: str,
    text: str,
    choices: list[str],
    correct_index: int,
    context: str | None = None,
    source_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Question:
    """A Question whose id is derived from its content (text, choices in order, context)."""
    if not 0 <= correct_index < len(choices):
        raise ValueError(f"correct_index {correct_index} out of range for {len(choices)} choices")
    return Question(
        id=question_id(text, choices, context),
        dataset=dataset,
        split=split,
        text=text,
        context=context,
        choices=list(choices),
        correct_index=correct_index,
        source_id=source_id,
        meta=dict(meta or {}),
    )

"""Binarization as in ``openai/weak-to-strong``: the correct answer and one distractor.

Debate needs two answers to argue. Which distractor is kept and whether the correct answer
comes first are decided by a hash of (seed, question id), not by a shared RNG stream, so a
question binarizes the same way whatever else is loaded with it, in whatever order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from oversight.data.errors import DataError
from oversight.data.records import make_question
from oversight.store.tables import Question


def binarize(questions: Iterable[Question], *, seed: int = 0) -> list[Question]:
    """Two-choice versions of ``questions`` (see ``binarize_question``)."""
    return [binarize_question(q, seed=seed) for q in questions]


def binarize_question(question: Question, *, seed: int = 0) -> Question:
    """The correct answer and one distractor, in an order set by a coin.

    Distractors whose text equals the correct answer's are never picked. Two-choice questions
    are reordered by the coin too, so position carries no signal in any dataset. The new
    question keeps dataset, split, context, source id and meta, and records the original in
    ``meta["binarized_from"]`` and the kept original indices in ``meta["binarized_indices"]``.
    """
    choices = question.choices
    correct = question.correct_index
    if not 0 <= correct < len(choices):
        raise DataError(
            f"question {question.id}",
            f"correct_index {correct} out of range",
            field="correct_index",
        )
    answer = choices[correct].strip()
    distractors = [i for i, c in enumerate(choices) if i != correct and c.strip() != answer]
    if not distractors:
        raise DataError(
            f"question {question.id} ({question.dataset})",
            "has no distractor that differs from the correct answer",
            field="choices",
        )
    digest = hashlib.sha256(f"binarize\0{seed}\0{question.id}".encode()).digest()
    distractor = distractors[int.from_bytes(digest[1:9], "big") % len(distractors)]
    order = [correct, distractor] if digest[0] & 1 else [distractor, correct]
    return make_question(
        dataset=question.dataset,
        split=question.split,
        text=question.text,
        choices=[choices[i] for i in order],
        correct_index=order.index(correct),
        context=question.context,
        source_id=question.source_id,
        meta={**question.meta, "binarized_from": question.id, "binarized_indices": order},
    )

"""How each dataset's Hugging Face Hub rows become question drafts.

One converter per row format, ``(where, row, split) -> drafts``. The shared-folder loaders
reuse the record builders here (BoolQ, CosmosQA) so that a question read from either place
gets identical fields, hence the same content-hash id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from oversight.data.drafts import QuestionDraft, new_draft
from oversight.data.rows import (
    Row,
    Where,
    as_int,
    as_text,
    as_text_list,
    optional_text,
    require,
    text_field,
)

logger = logging.getLogger(__name__)

Converter = Callable[[Where, Row, str], list[QuestionDraft]]
"""Turns one Hub row (and the split it belongs to) into zero or more drafts."""

BOOLQ_CHOICES = ("yes", "no")
"""BoolQ questions are yes/no questions, so the answers are worded that way."""

POLARITY_CHOICES = ("negative", "positive")
"""Indexed by amazon_polarity's label (0 negative, 1 positive)."""

POLARITY_QUESTION = "Is the sentiment of this product review positive or negative?"

ASSISTANT_TURN = "\n\nAssistant:"


def boolq_draft(
    where: Where,
    *,
    split: str,
    question: str,
    passage: str,
    answer: bool,
    source_id: str | None,
    answer_field: str,
) -> QuestionDraft:
    """BoolQ as a two-choice question; the passage is the hidden context."""
    return new_draft(
        where,
        dataset="boolq",
        split=split,
        text=question,
        choices=BOOLQ_CHOICES,
        correct_index=0 if answer else 1,
        context=passage,
        source_id=source_id,
        answer_field=answer_field,
    )


def cosmosqa_draft(
    where: Where, row: Row, *, split: str, label: int, label_field: str
) -> QuestionDraft:
    """CosmosQA: four answers to a question about a short passage (the hidden context)."""
    if label == -1:
        raise where.error("is -1: this split's labels are hidden (CosmosQA test)", label_field)
    return new_draft(
        where,
        dataset="cosmosqa",
        split=split,
        text=text_field(row, "question", where),
        choices=[text_field(row, f"answer{i}", where) for i in range(4)],
        correct_index=label,
        context=text_field(row, "context", where),
        source_id=optional_text(row, "id", where),
        answer_field=label_field,
    )


def sciq_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """``allenai/sciq``: correct_answer first, then distractor1..3; support is the context."""
    choices = [text_field(row, "correct_answer", where)]
    choices += [text_field(row, f"distractor{i}", where) for i in (1, 2, 3)]
    return [
        new_draft(
            where,
            dataset="sciq",
            split=split,
            text=text_field(row, "question", where),
            choices=choices,
            correct_index=0,
            context=optional_text(row, "support", where),
            answer_field="correct_answer",
        )
    ]


def boolq_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """``google/boolq``: question, answer (bool), passage."""
    answer = require(row, "answer", where)
    if not isinstance(answer, bool):
        raise where.error(f"expected true or false, got {answer!r}", "answer")
    draft = boolq_draft(
        where,
        split=split,
        question=text_field(row, "question", where),
        passage=text_field(row, "passage", where),
        answer=answer,
        source_id=None,
        answer_field="answer",
    )
    return [draft]


def cosmos_qa_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """``allenai/cosmos_qa``: context, question, answer0..3, label (int)."""
    label = as_int(require(row, "label", where), "label", where)
    return [cosmosqa_draft(where, row, split=split, label=label, label_field="label")]


def hh_rlhf_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """``Anthropic/hh-rlhf``: the shared dialogue is the question, the two final assistant
    replies are the choices, and the human-preferred one (chosen) is correct.

    A pair that is no comparison (identical replies, or two different conversations) is
    skipped with a warning rather than failing a load of 160k rows.
    """
    chosen = as_text(require(row, "chosen", where), "chosen", where)
    rejected = as_text(require(row, "rejected", where), "rejected", where)
    for name, dialogue in (("chosen", chosen), ("rejected", rejected)):
        if ASSISTANT_TURN not in "\n\n" + dialogue:
            raise where.error("has no '\\n\\nAssistant:' turn", name)
    split_at = _last_shared_turn("\n\n" + chosen, "\n\n" + rejected)
    if split_at is None:
        logger.warning("%s: skipped: chosen and rejected share no dialogue prefix", where)
        return []
    prompt, good, bad, multi_turn = split_at
    if not good or not bad or good == bad:
        logger.warning("%s: skipped: the two replies are empty or identical", where)
        return []
    draft = new_draft(
        where,
        dataset="hh-rlhf",
        split=split,
        text=prompt,
        choices=[good, bad],
        correct_index=0,
        meta={"multi_turn_choices": True} if multi_turn else {},
        answer_field="chosen",
    )
    return [draft]


def _last_shared_turn(chosen: str, rejected: str) -> tuple[str, str, str, bool] | None:
    """Split both dialogues at the last assistant turn they share.

    Usually the dialogues agree up to their final assistant turn; in the few pairs that
    diverge earlier the choices are the whole continuations (flagged ``multi_turn``).
    """
    c, r = chosen.rfind(ASSISTANT_TURN), rejected.rfind(ASSISTANT_TURN)
    cut = len(ASSISTANT_TURN)
    if chosen[:c] == rejected[:r]:
        return chosen[:c].strip(), chosen[c + cut :].strip(), rejected[r + cut :].strip(), False
    same = next((i for i, (a, b) in enumerate(zip(chosen, rejected, strict=False)) if a != b), None)
    shared = chosen[:same].rfind(ASSISTANT_TURN)
    if shared < 0:
        return None
    prompt = chosen[:shared].strip()
    return prompt, chosen[shared + cut :].strip(), rejected[shared + cut :].strip(), True


def amazon_polarity_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """``amazon_polarity``: a review (title, content) and its sentiment label 0/1.

    The review is the question's text, not hidden context: it is what is being judged.
    """
    label = require(row, "label", where)
    if isinstance(label, str) and label.strip() in POLARITY_CHOICES:
        index = POLARITY_CHOICES.index(label.strip())
    else:
        index = as_int(label, "label", where)
    title = optional_text(row, "title", where)
    content = text_field(row, "content", where)
    review = f"Title: {title}\nReview: {content}" if title else f"Review: {content}"
    draft = new_draft(
        where,
        dataset="amazon_polarity",
        split=split,
        text=f"{POLARITY_QUESTION}\n\n{review}",
        choices=POLARITY_CHOICES,
        correct_index=index,
        answer_field="label",
    )
    return [draft]


def quality_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """QuALITY as ``emozilla/quality`` rows: article (the hidden story), question, options,
    answer (0-based index), hard (bool, kept in meta)."""
    hard = row.get("hard")
    draft = new_draft(
        where,
        dataset="quality",
        split=split,
        text=text_field(row, "question", where),
        choices=as_text_list(require(row, "options", where), "options", where),
        correct_index=as_int(require(row, "answer", where), "answer", where),
        context=text_field(row, "article", where),
        meta={"hard": hard} if isinstance(hard, bool) else {},
        choices_field="options",
    )
    return [draft]


def tasksource_quality_row(where: Where, row: Row, split: str) -> list[QuestionDraft]:
    """QuALITY as ``tasksource/QuALITY`` rows (the original release, one row per question):
    article, question, options, gold_label (1-based, as QuALITY numbers its options),
    difficult (0/1, kept in meta as ``hard``), question_unique_id. A question read from here
    or from ``emozilla/quality`` has the same fields, hence the same id."""
    gold = as_int(require(row, "gold_label", where), "gold_label", where)
    options = as_text_list(require(row, "options", where), "options", where)
    if not 1 <= gold <= len(options):
        raise where.error(
            f"{gold} is not an option number 1..{len(options)} (QuALITY counts from 1)",
            "gold_label",
        )
    difficult = row.get("difficult")
    draft = new_draft(
        where,
        dataset="quality",
        split=split,
        text=text_field(row, "question", where),
        choices=options,
        correct_index=gold - 1,
        context=text_field(row, "article", where),
        source_id=optional_text(row, "question_unique_id", where),
        meta={"hard": bool(difficult)} if difficult in (0, 1) else {},
        choices_field="options",
        answer_field="gold_label",
    )
    return [draft]

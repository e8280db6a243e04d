"""Classifier inputs: one example per (question, candidate answer), as in openai/weak-to-strong.

A binarized question becomes two examples, "is this candidate correct?", one per answer, with
target ``P(candidate correct)``. Both candidates are always present, so the classes are
balanced by construction and the model compares the answers through what it learns about each.
A question's two scores are combined back into a probability per choice (``choice_probs``).

Only ``ground_truth_examples`` reads the answer key; label-trained students are built by
``label_examples`` from exported label rows, which do not carry it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oversight.protocol_registry import JUDGE_SEAT
from oversight.store.tables import Question, Turn
from oversight.train.config import InputSettings

if TYPE_CHECKING:
    from datasets import Dataset

EXAMPLE_COLUMNS = ("question_id", "choice", "text", "labels")
"""What a classifier trainer receives: identifiers, the input text and soft targets
``[P(incorrect), P(correct)]``. Nothing else (in particular no answer key) reaches it."""


@dataclass(frozen=True)
class DebateView:
    """A stored debate reduced to what a classifier reads."""

    debate_id: str
    question_id: str
    assignment: dict[str, int]
    turns: tuple[Turn, ...]


def render_transcript(view: DebateView, candidate: int, speeches: str = "all") -> str:
    """Speeches labelled relative to the candidate: its supporter's and its opponent's
    (``speeches="supporter"``: the supporter's alone).

    Labelling by side rather than by letter keeps the text meaningful for a single-candidate
    input and makes the two candidates' inputs mirror images of each other.
    """
    lines = []
    for t in view.turns:
        if speeches == "supporter" and view.assignment.get(t.speaker) != candidate:
            continue
        if t.speaker == JUDGE_SEAT.slot:
            side = "judge"  # the judge's question between rounds
        elif t.speaker not in view.assignment:
            side = "speaker"  # a speaker who argues no side (a cooperative agent)
        else:
            side = "supporter" if view.assignment[t.speaker] == candidate else "opponent"
        lines.append(f"Round {t.round + 1}, {side}: {' '.join(t.text.split())}")
    return "\n".join(lines)


def candidate_text(
    question: str,
    candidate: str,
    *,
    context: str | None = None,
    transcript: str | None = None,
) -> str:
    """The text a classifier reads: supporting material first, question and candidate last.

    Classifiers truncate from the left (``classifier.load_classifier``), so an over-long input
    loses the start of the passage or transcript, never the candidate answer; and a causal LM's
    head, which reads the last token, reads it right after the candidate.
    """
    parts = []
    if context:
        parts.append(f"Passage: {context}")
    if transcript:
        parts.append(f"Debate:\n{transcript}")
    parts.append(f"Question: {question}")
    parts.append(f"Answer: {candidate}")
    return "\n".join(parts)


def _texts(
    question: Mapping[str, Any], settings: InputSettings, view: DebateView | None
) -> list[str]:
    choices = list(question["choices"])
    if settings.transcript and view is None:
        raise ValueError(f"question {question['question_id']}: transcript input needs a debate")
    return [
        candidate_text(
            question["question"],
            choice,
            context=question.get("context") if settings.context else None,
            transcript=(
                render_transcript(view, c, settings.speeches)
                if settings.transcript and view
                else None
            ),
        )
        for c, choice in enumerate(choices)
    ]


def question_row(q: Question) -> dict[str, Any]:
    """A question as a student may see it: no ``correct_index``."""
    return {
        "question_id": q.id,
        "question": q.text,
        "context": q.context or "",
        "choices": list(q.choices),
    }


def _require_binary(question: Mapping[str, Any]) -> None:
    if len(question["choices"]) != 2:
        raise ValueError(
            f"question {question['question_id']}: classifiers need binarized questions, "
            f"got {len(question['choices'])} choices"
        )


def _dataset(rows: list[dict[str, Any]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_dict({col: [r[col] for r in rows] for col in EXAMPLE_COLUMNS})


def label_examples(
    label_rows: Sequence[Mapping[str, Any]],
    settings: InputSettings,
    views: Mapping[str, Sequence[DebateView]] | None = None,
    seed: int = 0,
) -> Dataset:
    """Training examples from exported label rows (``oversight.labels.label_rows``).

    The target of candidate ``c`` is the label's ``soft[c]``: the student learns what the
    overseers concluded, and only that.
    """
    rng = random.Random(seed)
    rows = []
    for lab in label_rows:
        _require_binary(lab)
        view = _pick(views, lab["question_id"], rng) if settings.transcript else None
        for c, text in enumerate(_texts(lab, settings, view)):
            p = float(lab["soft"][c])
            rows.append(
                {
                    "question_id": lab["question_id"],
                    "choice": c,
                    "text": text,
                    "labels": [1.0 - p, p],
                }
            )
    return _dataset(rows)


def ground_truth_examples(
    questions: Sequence[Question],
    settings: InputSettings,
    views: Mapping[str, Sequence[DebateView]] | None = None,
    seed: int = 0,
) -> Dataset:
    """Training examples whose targets are the answer key.

    Used for the weak supervisors (on the weak split) and for the strong ceiling (on the
    labelling split) only; the pipeline records which questions each call received.
    """
    rng = random.Random(seed)
    rows = []
    for q in questions:
        row = question_row(q)
        _require_binary(row)
        view = _pick(views, q.id, rng) if settings.transcript else None
        for c, text in enumerate(_texts(row, settings, view)):
            p = 1.0 if c == q.correct_index else 0.0
            rows.append({"question_id": q.id, "choice": c, "text": text, "labels": [1.0 - p, p]})
    return _dataset(rows)


def prediction_texts(
    question: Mapping[str, Any], settings: InputSettings, view: DebateView | None = None
) -> list[str]:
    """The texts to score for one question (one per candidate), without targets."""
    _require_binary(question)
    return _texts(question, settings, view)


def _pick(
    views: Mapping[str, Sequence[DebateView]] | None, question_id: str, rng: random.Random
) -> DebateView:
    """One stored debate of the question, sampled: ensemble members see different transcripts."""
    options = list((views or {}).get(question_id, ()))
    if not options:
        raise ValueError(f"question {question_id}: no complete debate to read")
    return options[rng.randrange(len(options))]


def choice_probs(p_correct: Sequence[float]) -> list[float]:
    """Per-choice probabilities from the two candidates' P(correct) scores.

    ``P(choice 0) = (p0 + (1 - p1)) / 2``: each candidate's score is evidence about both
    answers, and averaging the two views cancels a bias towards calling everything correct,
    the classifier analogue of averaging both presentation orders.
    """
    if len(p_correct) != 2:
        raise ValueError("choice_probs needs the two candidates' scores")
    p0, p1 = float(p_correct[0]), float(p_correct[1])
    first = (p0 + 1.0 - p1) / 2.0
    return [first, 1.0 - first]

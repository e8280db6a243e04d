"""Weak-to-strong splits: A (weak training), B (labelling, with a validation part) and test.

A split is decided per *group*, never per question: questions that share a passage (CosmosQA
asks several questions about one passage, and repeats a question with paraphrased options)
or a dataset's own group id would otherwise land in different splits, and a student would be
tested on passages it was trained on. The group key comes from the content
(:func:`split_group`), and a group's split is a seeded hash of that key alone, so raising
the question limit extends every split without moving a question between them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from oversight.store.tables import Question

SPLITS = ("weak", "label", "test")
GROUP_FIELD = "split_group"
"""``Question.meta`` key under which a loader (or a JSONL row) may name a question's group."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_group(question: Question) -> str:
    """The key every question of one group shares, from the question's content.

    In order: the dataset's own group id (``meta["split_group"]``, e.g. a story or a
    conversation id, where a loader or JSONL file sets one); else the passage (hidden
    context), whitespace-normalised; else the question text, so a question repeated with
    other options or another order still has one split. Dataset, split and choices are
    deliberately not part of the key.
    """
    group = question.meta.get(GROUP_FIELD)
    if group not in (None, ""):
        return f"group:{question.dataset}:{group}"
    context = " ".join((question.context or "").split())
    if context:
        return f"passage:{_digest(context)}"
    return f"question:{_digest(' '.join(question.text.split()))}"


@dataclass(frozen=True)
class Splits:
    """Question ids of each split, sorted. ``label`` and ``validation`` together are split B."""

    weak: list[str]
    label: list[str]
    """Split B less its validation part: what the students train on."""
    test: list[str]
    validation: list[str]
    """Carved from split B: weak-labelled like B, never trained on; for model selection and
    early stopping, so that test is only ever predicted."""

    @property
    def labelled(self) -> list[str]:
        """All of split B (training and validation parts): what the weak supervisors label."""
        return sorted(self.label + self.validation)

    def sizes(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in self.as_json().items()}

    def as_json(self) -> dict[str, list[str]]:
        return {
            "weak": self.weak,
            "label": self.label,
            "validation": self.validation,
            "test": self.test,
        }


def _unit(seed: int, key: str) -> float:
    """A seeded uniform number in [0, 1) from a group key."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16**12


def split_questions(
    questions: Iterable[Question],
    fractions: Mapping[str, float],
    seed: int,
    validation: float = 0.0,
) -> Splits:
    """Assign each question to a split by a seeded hash of its group key (:func:`split_group`).

    A group's number ``u`` picks the split by ``fractions``; within split B, the lowest
    ``validation`` share of B's interval of ``u`` is the validation part. Everything depends
    on the group key alone, so questions of one group always share a split and no question
    moves when others are added.
    """
    if not 0.0 <= validation < 1.0:
        raise ValueError(f"validation must be in [0, 1), got {validation}")
    out: dict[str, list[str]] = {name: [] for name in (*SPLITS, "validation")}
    w, b = fractions["weak"], fractions["label"]
    seen: set[str] = set()
    for q in sorted(questions, key=lambda q: q.id):
        if q.id in seen:
            continue
        seen.add(q.id)
        u = _unit(seed, split_group(q))
        if u < w:
            out["weak"].append(q.id)
        elif u < w + b:
            out["validation" if (u - w) < validation * b else "label"].append(q.id)
        else:
            out["test"].append(q.id)
    return Splits(**out)

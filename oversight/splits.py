"""Weak-to-strong splits: A (weak training), B (labelling) and test, by a hash of each id."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SPLITS = ("weak", "label", "test")


@dataclass(frozen=True)
class Splits:
    """Question ids of each split, sorted."""

    weak: list[str]
    label: list[str]
    test: list[str]

    def as_json(self) -> dict[str, list[str]]:
        return {"weak": self.weak, "label": self.label, "test": self.test}


def split_questions(
    question_ids: Sequence[str], fractions: Mapping[str, float], seed: int
) -> Splits:
    """Assign each question to a split by a seeded hash of its id alone.

    A question's split never depends on which other questions are present, so raising the
    question limit extends every split without moving a question from one to another (which
    would let, say, a weak model's training question reappear in the labelling split).
    """
    out: dict[str, list[str]] = {name: [] for name in SPLITS}
    edges = np.cumsum([fractions[name] for name in SPLITS])
    for qid in sorted(set(question_ids)):
        u = int(hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest()[:12], 16) / 16**12
        out[SPLITS[min(int(np.searchsorted(edges, u, side="right")), 2)]].append(qid)
    return Splits(**out)

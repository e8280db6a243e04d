"""Positive controls for weak-to-strong training: the answer key with a known share flipped.

A control answers one question with a known direction: can this student, trained by this
pipeline, recover accuracy above the accuracy of its labels (Burns et al. 2023's effect in its
simplest form)? Its labels are built from the answer key, never from judgments, so a control
is stored as a LabelSet of method :data:`CONTROL_METHOD` whose labels have ``n_judges == 0``,
and reports name it "control: ..." and never as a supervisor.

The flip rule (:data:`FLIP_RULE`): of ``n`` questions, exactly ``floor(rate * n + 0.5)``
(the nearest integer, halves rounded up) have their label set to the other choice; which
ones is the first of a permutation of the sorted question ids drawn by
``numpy.random.default_rng(seed)``. The permutation does not depend on the rate, so the
questions flipped at a lower rate are among those flipped at a higher one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oversight.store import Label, LabelSet, Question, Store

CONTROL_METHOD = "control-flipped-key"
"""``LabelSet.method`` of a control; no aggregation of judgments has this name."""

FLIP_RULE = (
    "control: the answer key of the labelled questions with exactly floor(rate * n + 0.5) "
    "labels flipped (seeded permutation of the sorted question ids), separately in the "
    "trained-on part and in validation; its weak accuracy is its labels' accuracy on the "
    "trained-on part, known by construction, so its interval has no width"
)
"""The rule as reports state it."""


def flip_count(rate: float, n: int) -> int:
    """How many of ``n`` labels a control with flip rate ``rate`` flips: the nearest integer
    to ``rate * n``, halves rounded up (``round`` would round 2.5 down to 2)."""
    if not 0.0 <= rate < 0.5:
        raise ValueError(f"flip rate must be in [0, 0.5), got {rate}")
    return math.floor(rate * n + 0.5)


def flipped_questions(question_ids: Sequence[str], rate: float, seed: int) -> set[str]:
    """The questions whose label the control flips (:data:`FLIP_RULE`)."""
    ordered = sorted(set(question_ids))
    order = np.random.default_rng(seed).permutation(len(ordered))
    return {ordered[int(i)] for i in order[: flip_count(rate, len(ordered))]}


def control_title(rate: float) -> str:
    """How tables name a control: ``control: key with 20% flipped``."""
    return f"control: key with {100 * rate:g}% flipped"


def control_key(rate: float) -> str:
    """The source key of a control in stage names: ``control-20``."""
    return f"control-{100 * rate:g}".replace(".", "p")


@dataclass(frozen=True)
class ControlLabels:
    """One control's labels: question id -> hard label, and which were flipped."""

    rate: float
    seed: int
    hard: dict[str, int]
    flipped: frozenset[str]

    def params(self) -> dict[str, Any]:
        qids = sorted(self.hard)
        return {
            "control": "flipped-key",
            "flip_rate": self.rate,
            "flipped": len(self.flipped),
            "seed": self.seed,
            "questions": len(qids),
            "questions_hash": hashlib.sha256(json.dumps(qids).encode()).hexdigest()[:10],
        }


def control_labels(
    questions: Mapping[str, Question], parts: Sequence[Sequence[str]], rate: float, seed: int
) -> ControlLabels:
    """The answer key of the questions of ``parts`` with the flip rule applied to each part
    on its own, so every part (the students' training set, validation) has the exact rate."""
    hard: dict[str, int] = {}
    flipped: set[str] = set()
    for part in parts:
        flips = flipped_questions(part, rate, seed)
        for qid in part:
            q = questions[qid]
            if len(q.choices) != 2:
                raise ValueError(
                    f"question {qid}: a flipped-key control needs binarized questions, got "
                    f"{len(q.choices)} choices"
                )
            hard[qid] = 1 - q.correct_index if qid in flips else q.correct_index
        flipped |= flips
    return ControlLabels(rate, seed, hard, frozenset(flipped))


def is_control(label_set: LabelSet) -> bool:
    """Whether a stored label set is a control (built from the key, not from judgments)."""
    return label_set.method == CONTROL_METHOD


def build_control_set(
    store: Store, experiment_id: int, name: str, labels: ControlLabels
) -> LabelSet:
    """Store a control as a LabelSet (or reuse the stored one of that name and params).

    Labels are one-hot with confidence 1 and ``n_judges = 0``: no judge stands behind them.
    """
    params = labels.params()
    existing = store.first(LabelSet, LabelSet.name == name)
    if existing is not None:
        if existing.params != params or existing.method != CONTROL_METHOD:
            raise ValueError(f"label set {name!r} already exists with other params")
        return existing
    store.insert_ignore(
        [LabelSet(name=name, experiment_id=experiment_id, method=CONTROL_METHOD, params=params)]
    )
    stored = store.first(LabelSet, LabelSet.name == name)
    assert stored is not None and stored.id is not None
    store.insert_ignore(
        [
            Label(
                label_set_id=stored.id,
                question_id=qid,
                soft=[1.0 if c == hard else 0.0 for c in range(2)],
                hard=hard,
                confidence=1.0,
                n_judges=0,
                agreement=1.0,
            )
            for qid, hard in sorted(labels.hard.items())
        ]
    )
    return stored

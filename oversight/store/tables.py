"""SQLModel tables: the records every stage writes and reads.

Rows are append-only in meaning: a row is never rewritten to mean something else. The only
field that changes after insert is ``Debate.status`` (and its ``error``), which tracks progress.
Every table that a graph node writes has a unique key so that inserts are idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Experiment(SQLModel, table=True):
    """One named experiment; its config is stored whole so a run can be reproduced."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    config_hash: str
    code_version: str
    created: datetime = Field(default_factory=utcnow)


class Question(SQLModel, table=True):
    """A multiple-choice question; ``id`` is a hash of its content, so sources dedupe."""

    id: str = Field(primary_key=True)
    dataset: str = Field(index=True)
    split: str
    text: str
    context: str | None = None
    """Hidden material (a story, a passage) that debaters see and judges may not."""
    choices: list[str] = Field(sa_column=Column(JSON))
    correct_index: int
    source_id: str | None = None
    """Identifier of the row in the source dataset, for tracing back."""
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Debate(SQLModel, table=True):
    """One protocol run on one question with one assignment of answers to speakers.

    ``assignment`` maps a speaker name to the choice index it argues (empty for direct QA).
    """

    __table_args__ = (UniqueConstraint("experiment_id", "key"),)

    id: str = Field(primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    question_id: str = Field(foreign_key="question.id", index=True)
    protocol: str = Field(index=True)
    key: str
    """Readable key unique within the experiment: protocol, assignment and seed."""
    assignment: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    rounds: int = 0
    seed: int = 0
    status: str = Field(default="pending", index=True)
    """pending | complete | failed"""
    error: str | None = None
    """Why the debate failed: one line."""
    traceback: str | None = None
    """Where it failed: the traceback, for ``oversight status --failures``."""
    claimed_by: str | None = None
    """The runner process working on it (``host:pid:token``), so that several processes
    sharing one Store each take different debates; see :meth:`Store.claim`."""
    claimed_at: datetime | None = None
    """When that process last said it was still working on it."""
    created: datetime = Field(default_factory=utcnow)


class Turn(SQLModel, table=True):
    """One speech by one speaker in one round."""

    __table_args__ = (UniqueConstraint("debate_id", "round", "speaker"),)

    id: int | None = Field(default=None, primary_key=True)
    debate_id: str = Field(foreign_key="debate.id", index=True)
    round: int
    speaker: str
    model: str
    text: str
    quotes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    """Quoted spans: ``{"text": ..., "verified": bool}``, verified against the hidden context."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    """How the speaker's prompt was fitted to its model's context: empty when the whole
    transcript so far fit; else what ``context_policy = "drop_oldest"`` left out
    (:class:`agents.context.ContextFit`: policy, dropped rounds, context and prompt tokens)."""
    created: datetime = Field(default_factory=utcnow)


class Candidate(SQLModel, table=True):
    """Text a speaker produced for a turn besides the turn itself, kept for audit and reuse.

    ``kind`` ``sample``: one of a best-of-N speaker's candidates with the preference model's
    score (the one said is ``chosen``); ``draft`` and ``critique``: critique-and-refine's draft
    and the critic's comments on it. Judges never read these; the turn is what was said.
    """

    __table_args__ = (UniqueConstraint("debate_id", "round", "speaker", "kind", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    debate_id: str = Field(foreign_key="debate.id", index=True)
    round: int
    speaker: str
    kind: str = "sample"
    """``sample`` | ``draft`` | ``critique``."""
    index: int = 0
    """Which of the N samples (its sampling seed is derived from it)."""
    model: str = ""
    text: str
    score: float | None = None
    """A sample's score: the preference model's probability of the speaker's answer after
    reading the transcript so far and this speech."""
    scorer: str = ""
    """Judge id of the preference model."""
    chosen: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created: datetime = Field(default_factory=utcnow)


class Judgment(SQLModel, table=True):
    """A judge's probability for each answer of a debate.

    ``probs`` is indexed by the question's choice order. ``probs_by_order`` keeps the raw
    probabilities for each presentation order (keyed by the order, e.g. ``"0,1"`` and ``"1,0"``),
    also indexed by choice, so position bias can be studied after the fact.
    ``after_round`` is -1 for a verdict on the whole transcript, else the round it followed.
    """

    __table_args__ = (UniqueConstraint("debate_id", "judge_id", "after_round"),)

    id: int | None = Field(default=None, primary_key=True)
    debate_id: str = Field(foreign_key="debate.id", index=True)
    judge_id: str = Field(index=True)
    kind: str = Field(sa_column=Column(String, nullable=False, index=True))
    """A :class:`~oversight.store.kinds.JudgeKind` value: prompted model, trained classifier,
    live or offline human. No default: every writer says what kind of judge it stores, and
    the database refuses a row without one."""
    model: str
    after_round: int = -1
    probs: list[float] = Field(sa_column=Column(JSON))
    probs_by_order: dict[str, list[float]] = Field(default_factory=dict, sa_column=Column(JSON))
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    """How the judge's prompt was fitted to its model's context, as on :attr:`Turn.context`:
    empty when the whole transcript fit."""
    created: datetime = Field(default_factory=utcnow)


class LabelSet(SQLModel, table=True):
    """Labels built from stored judgments by one aggregation method."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    method: str
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created: datetime = Field(default_factory=utcnow)


class Label(SQLModel, table=True):
    """One question's label: ``soft`` is P(choice) per choice, ``hard`` its argmax."""

    __table_args__ = (UniqueConstraint("label_set_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    label_set_id: int = Field(foreign_key="labelset.id", index=True)
    question_id: str = Field(foreign_key="question.id", index=True)
    soft: list[float] = Field(sa_column=Column(JSON))
    hard: int
    confidence: float
    n_judges: int
    agreement: float


class TrainingRun(SQLModel, table=True):
    """A training stage: its inputs, method, config, output folder and metrics."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    experiment_id: int | None = Field(default=None, foreign_key="experiment.id", index=True)
    method: str
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    output_path: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = "complete"
    created: datetime = Field(default_factory=utcnow)

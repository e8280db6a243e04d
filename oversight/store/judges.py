"""Who judged: named judge ensembles, the human judge id convention, the ``after_round`` codes.

A replay stores its judgments under each judge's own id (model plus prompt hash), so the same
judge in two replays shares its judgments. Which judges were replayed together, under which
name, is therefore recorded separately, in a :class:`JudgeEnsemble` row; reports use it to put
ensembles side by side. Human judges of imported transcripts are recognised by their id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from oversight.store.tables import utcnow

FINAL_VERDICT = -1
"""``Judgment.after_round`` of a verdict on the whole transcript."""
BEFORE_FIRST_ROUND = -2
"""``Judgment.after_round`` of a belief reported before any speech (human judges' priors)."""

HUMAN_PREFIX = "human:"
"""Judge ids of live human judges: ``human:<name>``."""
OFFLINE_HUMAN_PREFIX = "human-offline:"
"""Judge ids of human judges who read a finished transcript afterwards."""


def human_judge_id(name: str, *, offline: bool = False) -> str:
    return f"{OFFLINE_HUMAN_PREFIX if offline else HUMAN_PREFIX}{name}"


def is_live_human(judge_id: str) -> bool:
    return judge_id.startswith(HUMAN_PREFIX)


def is_offline_human(judge_id: str) -> bool:
    return judge_id.startswith(OFFLINE_HUMAN_PREFIX)


class JudgeEnsemble(SQLModel, table=True):
    """A named set of judges replayed over an experiment's stored debates.

    Append-only like every record: a name once recorded for an experiment keeps its judges.
    """

    __table_args__ = (UniqueConstraint("experiment_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    name: str
    """The name given with ``oversight replay --as``."""
    judge_ids: list[str] = Field(sa_column=Column(JSON))
    """Ids of the member judges, in config order."""
    judges: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    """The members as configured (name, model, prompt, sees_context) with their ids."""
    created: datetime = Field(default_factory=utcnow)

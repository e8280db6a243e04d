"""Who judged: judge kinds, named judge ensembles, human judge ids, the ``after_round`` codes.

A replay stores its judgments under each judge's own id (a digest of everything that changes
its output), so the same judge in two replays shares its judgments. Which judges were judged
together, under which name, is recorded separately, in a :class:`JudgeEnsemble` row; reports
use it to put ensembles side by side. What kind of judge gave a verdict is data on every
:class:`~oversight.store.tables.Judgment` (:class:`JudgeKind`), never read from its id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from oversight.store.kinds import HUMAN_PREFIX, OFFLINE_HUMAN_PREFIX, JudgeKind
from oversight.store.tables import utcnow

FINAL_VERDICT = -1
"""``Judgment.after_round`` of a verdict on the whole transcript."""
BEFORE_FIRST_ROUND = -2
"""``Judgment.after_round`` of a belief reported before any speech (human judges' priors)."""

EXPERIMENT_ENSEMBLE_NAME = "experiment"
"""JudgeEnsemble name under which a run records the experiment's own judges."""


def human_judge_id(name: str, *, offline: bool = False) -> str:
    return f"{OFFLINE_HUMAN_PREFIX if offline else HUMAN_PREFIX}{name}"


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
    kind: str = JudgeKind.PROMPTED.value
    """The :class:`JudgeKind` of the members (an ensemble holds judges of one kind)."""
    judges: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    """The members as configured (name, model, prompt, sees_context) with their ids."""
    created: datetime = Field(default_factory=utcnow)

"""One imported debate's rows, and writing them to the Store idempotently.

Every importer (the project's own JSONL, the NYU debate files) turns one source debate into a
:class:`DebateBundle` and validates all of it before anything is written, so a malformed
source adds nothing. Writing is insert-or-ignore on the tables' unique keys, so importing the
same source twice adds nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from sqlmodel import col

from oversight.store import Debate, Experiment, Judgment, Question, Store, StoreError, Turn

RowT = TypeVar("RowT", Turn, Judgment)


def debate_id(experiment: str, key: str) -> str:
    """A debate's id from its experiment and key: the formula the runner uses for its debates."""
    return hashlib.sha256(f"{experiment}\n{key}".encode()).hexdigest()[:20]


def config_hash(config: dict[str, Any]) -> str:
    """Hash of an experiment config as stored, for configs that are not an ExperimentConfig."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def package_version() -> str:
    try:
        return version("oversight")
    except PackageNotFoundError:  # pragma: no cover - only outside an installed checkout
        return "unknown"


@dataclass(frozen=True)
class ExperimentSpec:
    """The experiment an import writes into: created when new, else its config must match."""

    name: str
    config: dict[str, Any]
    config_hash: str
    code_version: str
    created: datetime | None = None


@dataclass
class DebateBundle:
    """The rows one source debate adds: its question, the debate, its turns and judgments.

    ``debate.experiment_id`` is filled in when written, and ``debate.id`` already names the
    target experiment (see :func:`debate_id`), so turns and judgments point at it.
    """

    question: Question
    debate: Debate
    turns: list[Turn] = field(default_factory=list)
    judgments: list[Judgment] = field(default_factory=list)


@dataclass
class Added:
    """Rows added to the Store (rows already present are not counted)."""

    questions: int = 0
    debates: int = 0
    turns: int = 0
    judgments: int = 0

    def __iadd__(self, other: Added) -> Added:
        self.questions += other.questions
        self.debates += other.debates
        self.turns += other.turns
        self.judgments += other.judgments
        return self


def open_experiment(store: Store, spec: ExperimentSpec) -> Experiment:
    """The experiment named by ``spec``, created (with its original timestamp) when new.

    An experiment of that name with another config is an error, as in ``Store.open_experiment``:
    transcripts of a different setup must not be mixed into it silently.
    """
    row = Experiment(
        name=spec.name,
        config=spec.config,
        config_hash=spec.config_hash,
        code_version=spec.code_version,
    )
    if spec.created is not None:
        row.created = spec.created
    store.insert_ignore([row])
    exp = store.require_experiment(spec.name)
    if exp.config_hash != spec.config_hash:
        raise StoreError(
            f"experiment {spec.name!r} already exists in {store.url} with a different config "
            f"(hash {exp.config_hash}, importing {spec.config_hash}); import under another "
            "name with --experiment"
        )
    return exp


def _free_ids(store: Store, model: type[RowT], rows: list[RowT]) -> list[RowT]:
    """Keep each row's integer id unless the target already uses it for another row.

    Exported ids come back unchanged in a fresh database; in a shared one a taken id is
    dropped so the row gets a new one rather than being lost to the primary-key conflict.
    """
    wanted = [r.id for r in rows if r.id is not None]
    if not wanted:
        return rows
    taken: set[int] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        taken |= {r.id for r in store.all(model, col(model.id).in_(chunk)) if r.id is not None}
    return [r.model_copy(update={"id": None}) if r.id in taken else r for r in rows]


def write_bundle(store: Store, experiment: Experiment, bundle: DebateBundle) -> Added:
    """Insert the bundle's rows that are not stored yet; return how many were added.

    A stored debate that was not complete becomes complete when the source now is (a debate
    file re-imported after the debate finished); nothing else of a stored row changes.
    """
    assert experiment.id is not None
    debate = bundle.debate.model_copy(update={"experiment_id": experiment.id})
    added = Added(
        questions=store.add_questions([bundle.question]),
        debates=store.insert_ignore([debate]),
    )
    stored = store.debate(debate.id)
    if stored.experiment_id != experiment.id:
        raise StoreError(
            f"debate {debate.id} ({debate.key}) is already stored in another experiment"
        )
    if debate.status == "complete" and stored.status != "complete":
        store.set_status(debate.id, "complete")
    have_turns = {(t.round, t.speaker) for t in store.turns(debate.id)}
    turns = [t for t in bundle.turns if (t.round, t.speaker) not in have_turns]
    added.turns = store.insert_ignore(_free_ids(store, Turn, turns))
    have_judgments = {(j.judge_id, j.after_round) for j in store.judgments([debate.id])}
    judgments = [j for j in bundle.judgments if (j.judge_id, j.after_round) not in have_judgments]
    added.judgments = store.insert_ignore(_free_ids(store, Judgment, judgments))
    return added

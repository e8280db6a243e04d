"""The Store: the source of truth and the resume mechanism.

Every write is an insert-or-ignore on a unique key, so a node that runs twice (after a crash,
or in two processes sharing a PostgreSQL URL) never duplicates a row. Reads return detached
copies so callers can keep them after the session closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine, select

from oversight.store.tables import Debate, Experiment, Judgment, Question, Turn

T = TypeVar("T", bound=SQLModel)


class StoreError(RuntimeError):
    """A Store operation that cannot proceed (e.g. an experiment name reused for another config)."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Typed access to the tables; creates them on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        SQLModel.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- generic ---------------------------------------------------------------------------

    def insert_ignore(self, rows: Sequence[SQLModel]) -> int:
        """Insert rows, skipping any that collide with a unique key; returns rows inserted."""
        if not rows:
            return 0
        table = type(rows[0]).__table__  # type: ignore[attr-defined]
        values = []
        for row in rows:
            data = row.model_dump()
            if data.get("id") is None and "id" in data and table.c.id.autoincrement is not False:
                data.pop("id")
            values.append(data)
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            if dialect == "sqlite":
                stmt: Any = sqlite.insert(table).values(values).on_conflict_do_nothing()
                return int(conn.execute(stmt).rowcount or 0)
            if dialect == "postgresql":
                stmt = postgresql.insert(table).values(values).on_conflict_do_nothing()
                return int(conn.execute(stmt).rowcount or 0)
        inserted = 0
        for data in values:  # other dialects: one row at a time, tolerate duplicates
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert().values(data))
                inserted += 1
            except IntegrityError:
                pass
        return inserted

    def all(self, model: type[T], *where: Any, order_by: Any = None) -> list[T]:
        with self.session() as s:
            stmt = select(model)
            for cond in where:
                stmt = stmt.where(cond)
            if order_by is not None:
                stmt = stmt.order_by(order_by)
            return list(s.exec(stmt).all())

    def first(self, model: type[T], *where: Any) -> T | None:
        with self.session() as s:
            stmt = select(model)
            for cond in where:
                stmt = stmt.where(cond)
            return s.exec(stmt.limit(1)).first()

    # -- experiments -----------------------------------------------------------------------

    def experiment(self, name: str) -> Experiment | None:
        return self.first(Experiment, Experiment.name == name)

    def require_experiment(self, name: str) -> Experiment:
        exp = self.experiment(name)
        if exp is None:
            known = [e.name for e in self.all(Experiment)]
            raise StoreError(f"no experiment named {name!r} in {self.url} (found: {known})")
        return exp

    def open_experiment(
        self, name: str, config: dict[str, Any], config_hash: str, code_version: str
    ) -> Experiment:
        """The experiment of this name, created if new; a different config is an error."""
        self.insert_ignore(
            [
                Experiment(
                    name=name, config=config, config_hash=config_hash, code_version=code_version
                )
            ]
        )
        exp = self.require_experiment(name)
        if exp.config_hash != config_hash:
            raise StoreError(
                f"experiment {name!r} already exists in {self.url} with a different config "
                f"(hash {exp.config_hash}, now {config_hash}); "
                "give the changed experiment a new name"
            )
        return exp

    # -- questions and debates -------------------------------------------------------------

    def add_questions(self, questions: Iterable[Question]) -> int:
        return self.insert_ignore(list(questions))

    def question(self, question_id: str) -> Question:
        q = self.first(Question, Question.id == question_id)
        if q is None:
            raise StoreError(f"question {question_id} not in store")
        return q

    def debate(self, debate_id: str) -> Debate:
        d = self.first(Debate, Debate.id == debate_id)
        if d is None:
            raise StoreError(f"debate {debate_id} not in store")
        return d

    def debates(
        self, experiment_id: int, *, protocol: str | None = None, status: str | None = None
    ) -> list[Debate]:
        conds: list[Any] = [Debate.experiment_id == experiment_id]
        if protocol is not None:
            conds.append(Debate.protocol == protocol)
        if status is not None:
            conds.append(Debate.status == status)
        return self.all(Debate, *conds, order_by=Debate.created)

    def set_status(self, debate_id: str, status: str, error: str | None = None) -> None:
        with self.session() as s:
            d = s.get(Debate, debate_id)
            if d is None:
                raise StoreError(f"debate {debate_id} not in store")
            d.status, d.error = status, error
            s.add(d)
            s.commit()

    # -- turns and judgments ---------------------------------------------------------------

    def turn(self, debate_id: str, round_: int, speaker: str) -> Turn | None:
        return self.first(
            Turn, Turn.debate_id == debate_id, Turn.round == round_, Turn.speaker == speaker
        )

    def turns(self, debate_id: str) -> list[Turn]:
        with self.session() as s:
            # Speaker name, not insert order, breaks ties within a round: simultaneous
            # speakers finish in a race, and transcripts must not depend on it.
            stmt = (
                select(Turn)
                .where(Turn.debate_id == debate_id)
                .order_by(Turn.round, Turn.speaker, Turn.id)  # type: ignore[arg-type]
            )
            return list(s.exec(stmt).all())

    def add_turn(self, turn: Turn) -> Turn:
        """Insert the turn unless one exists for its key; return the stored one."""
        self.insert_ignore([turn])
        stored = self.turn(turn.debate_id, turn.round, turn.speaker)
        assert stored is not None
        return stored

    def judgment(self, debate_id: str, judge_id: str, after_round: int = -1) -> Judgment | None:
        return self.first(
            Judgment,
            Judgment.debate_id == debate_id,
            Judgment.judge_id == judge_id,
            Judgment.after_round == after_round,
        )

    def add_judgment(self, judgment: Judgment) -> Judgment:
        self.insert_ignore([judgment])
        stored = self.judgment(judgment.debate_id, judgment.judge_id, judgment.after_round)
        assert stored is not None
        return stored

    def judgments(self, debate_ids: Sequence[str] | None = None) -> list[Judgment]:
        if debate_ids is None:
            return self.all(Judgment)
        out: list[Judgment] = []
        ids = list(debate_ids)
        for i in range(0, len(ids), 500):
            out += self.all(Judgment, Judgment.debate_id.in_(ids[i : i + 500]))  # type: ignore[attr-defined]
        return out

    def count_turns(self, debate_ids: Sequence[str]) -> int:
        ids = list(debate_ids)
        return sum(
            self.count(Turn, Turn.debate_id.in_(ids[i : i + 500]))  # type: ignore[attr-defined,misc]
            for i in range(0, len(ids), 500)
        )

    def count(self, model: type[SQLModel], *where: Any) -> int:
        with self.session() as s:
            stmt = select(func.count()).select_from(model)
            for cond in where:
                stmt = stmt.where(cond)
            return int(s.exec(stmt).one())

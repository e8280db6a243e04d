"""The Store: the source of truth and the resume mechanism.

Every write is an insert-or-ignore on a unique key, so a node that runs twice (after a crash,
or in two processes sharing a PostgreSQL URL) never duplicates a row. Reads return detached
copies so callers can keep them after the session closes.
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    String,
    and_,
    case,
    cast,
    event,
    func,
    inspect,
    make_url,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlmodel import Session, SQLModel, col, create_engine, select

from oversight.store.kinds import legacy_kind
from oversight.store.tables import Debate, Experiment, Judgment, Question, Turn, utcnow

T = TypeVar("T", bound=SQLModel)


class StoreError(RuntimeError):
    """A Store operation that cannot proceed (e.g. an experiment name reused for another config)."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
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


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages, logs and stored records."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it, it holds no parseable credentials
        return url


_URL_PASSWORD = re.compile(r"([a-zA-Z][\w+.-]*://[^\s:/@]*:)[^\s@/]+@")


def mask_secrets(text: str) -> str:
    """``scheme://user:***@host``: every password written in a URL inside ``text``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _prepare_schema(engine: Engine) -> None:
    """Create missing tables and columns. Several processes opening a new store at the same
    moment race for it: the loser sees "already exists" (the winner made the table) or, on
    SQLite, "database is locked" while the winner switches the file to WAL; both are retried
    for up to about 30 s, the busy timeout every other write gets."""
    delay = 0.05
    for attempt in range(40):
        try:
            SQLModel.metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as err:
            text_ = str(err).lower()
            racing = "already exists" in text_ or "duplicate" in text_ or "locked" in text_
            if not racing or attempt == 39:
                raise
            engine.dispose()
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


_ADDED_DEFAULTS: dict[tuple[str, str], str] = {
    ("judgeensemble", "kind"): "'prompted'",
    ("turn", "context"): "'{}'",
    ("judgment", "context"): "'{}'",
}
"""Defaults of columns added since stores were first written, for the rows they already hold:
those rows read back as a new row of the same meaning would be written."""


def _add_missing_columns(engine: Engine) -> None:
    """Stores written by earlier versions get the columns added since, so they keep working.

    New columns are nullable or have a default (:data:`_ADDED_DEFAULTS`). Judgment.kind,
    which earlier versions encoded in the judge id's prefix, is backfilled from there once
    (:func:`~oversight.store.kinds.legacy_kind`), so nothing reads ids for kinds later.
    """
    insp = inspect(engine)
    added: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            default = _ADDED_DEFAULTS.get((table.name, column.name))
            clause = f" DEFAULT {default}" if default else ""
            with engine.begin() as conn:
                conn.execute(
                    text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{clause}')
                )
            added.append(f"{table.name}.{column.name}")
    if "judgment.kind" in added:
        with engine.begin() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT DISTINCT judge_id FROM judgment"))]
            for judge_id in ids:
                conn.execute(
                    text("UPDATE judgment SET kind = :kind WHERE judge_id = :jid"),
                    {"kind": legacy_kind(judge_id).value, "jid": judge_id},
                )


CLAIM_LEASE_S = 120.0
"""Seconds after which a claim that was not renewed is free for another process."""


def claim_owner() -> str:
    """This process as a claim holder: ``host:pid:token`` (the token tells apart two
    processes that reuse a pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim_is_stale(holder: str, at: datetime | None, lease_s: float) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return True
    if at is None:
        return True
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return (utcnow() - at).total_seconds() > lease_s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


NUL_REPLACEMENT = "\ufffd"
"""What a NUL character in model text is stored as. PostgreSQL text cannot hold NUL at all
(the insert fails), and a model may emit one; every store keeps the same replacement, so a
SQLite and a PostgreSQL store of one run hold the same text."""


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def transcript_order(turn: Turn) -> tuple[int, str, int]:
    """The order of a transcript: by round, then speaker name, then insertion. Simultaneous
    speakers finish in a race, so insertion order alone would make transcripts (and what
    later speakers, judges and exports read) depend on it."""
    return (turn.round, turn.speaker, turn.id or 0)


def _non_empty_json(column: Any) -> Any:
    """SQL for "this JSON column holds something": neither NULL, JSON ``null``, nor ``{}``
    (what an empty dict is stored as, and the default added columns got)."""
    as_text = cast(column, String)
    return and_(column.is_not(None), as_text.not_in(["{}", "null"]))


@dataclass(frozen=True)
class ModelTokens:
    """Tokens one model read (prompt) and wrote (completion) in an experiment's turns."""

    prompt: int
    completion: int


@dataclass(frozen=True)
class GenerationHistory:
    """How fast one model generated in the stored experiments: the rate a time estimate uses.

    ``seconds`` sums, over the experiments in which the model spoke, the time from its first
    stored turn to its last; ``tokens`` sums those turns' completion tokens. Everything else
    the runs did meanwhile (judges, Store writes, other models) is inside that time."""

    tokens: int
    seconds: float
    experiments: int

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 and self.tokens > 0 else None


@dataclass(frozen=True)
class FinalJudgment:
    """A final verdict as label building reads it: no transcript, no raw scores."""

    debate_id: str
    question_id: str
    judge_id: str
    probs: list[float]


@dataclass(frozen=True)
class FailedDebate:
    debate: str
    key: str
    error: str | None
    traceback: str | None


@dataclass(frozen=True)
class ExperimentSummary:
    """Counts of one experiment, as ``oversight status`` reports them."""

    debates: dict[str, int]
    """Debates by status."""
    questions: int
    turns: int
    judgments: int
    turns_context_dropped: int
    judgments_context_dropped: int
    tokens: dict[str, ModelTokens]
    """Per model, summed over the experiment's turns (judgments record no token counts)."""
    failures: list[FailedDebate]


class Store:
    """Typed access to the tables; creates them on first use.

    ``create=False`` is for read-only commands: a SQLite file that does not exist is an error
    naming it, instead of a new empty store that would report nothing.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = safe_url(url)
        try:
            path = sqlite_path(url)
        except ArgumentError:
            raise StoreError(
                f"store URL {self.url!r} is not a database URL "
                "(e.g. sqlite:///oversight.db or postgresql+psycopg://host/db)"
            ) from None
        if path is not None:
            if not path.parent.is_dir():
                raise StoreError(f"store {self.url}: folder {path.parent} does not exist")
            if not create and not path.is_file():
                raise StoreError(f"no store at {path} ({self.url}): nothing has been written there")
        try:
            self.engine = make_engine(url)
            _prepare_schema(self.engine)
        except NoSuchModuleError as err:
            raise StoreError(f"store {self.url}: unknown database scheme ({err})") from None
        except ModuleNotFoundError as err:
            hint = " (pip install 'oversight[postgres]')" if url.startswith("postgres") else ""
            raise StoreError(
                f"store {self.url}: its database driver {err.name!r} is not installed{hint}"
            ) from None
        except DatabaseError as err:
            raise StoreError(
                f"store {self.url}: cannot open it as a database ({err.orig})"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- generic ---------------------------------------------------------------------------

    def insert_ignore(self, rows: Sequence[SQLModel]) -> int:
        """Insert rows, skipping any that collide with a unique key; returns rows inserted."""
        if not rows:
            return 0
        return self.insert_values(type(rows[0]), [row.model_dump() for row in rows])

    def insert_values(self, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
        """:meth:`insert_ignore` for rows given as column dicts (what ``model_dump`` returns):
        bulk writers skip building a model instance per row, which costs more than the insert."""
        if not rows:
            return 0
        table = model.__table__  # type: ignore[attr-defined]
        values = []
        for row in rows:
            data = {k: _without_nul(v) for k, v in row.items()}
            if data.get("id") is None and "id" in data and table.c.id.autoincrement is not False:
                data.pop("id")
            values.append(data)
        dialect = self.engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            # A multi-row VALUES needs one column set: rows with and without an explicit id go
            # in separate statements, all in one transaction.
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for data in values:
                groups.setdefault(tuple(data), []).append(data)
            insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
            with self.engine.begin() as conn:
                # One row (every turn and judgment a graph node writes) goes as parameters of
                # a constant statement, compiled once and cached: values baked into the
                # statement cost a cache key over every value and a compile per call.
                # Many rows go the same way, as one executemany per column set and chunk: a
                # multi-row VALUES of 25,000 labels took seconds to compile.
                statement = insert(table).on_conflict_do_nothing()
                if dialect == "postgresql":
                    # psycopg reports no rowcount for executemany: count the keys returned
                    # (SQLAlchemy batches these into multi-row VALUES itself).
                    returning = statement.returning(*table.primary_key.columns)
                    return sum(
                        len(conn.execute(returning, g[i : i + 1000]).all())
                        for g in groups.values()
                        for i in range(0, len(g), 1000)
                    )
                results = [
                    conn.execute(statement, g[i : i + 1000])
                    for g in groups.values()
                    for i in range(0, len(g), 1000)
                ]
                return sum(int(r.rowcount or 0) for r in results)
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

    def statuses(self, debate_ids: Sequence[str]) -> dict[str, str]:
        """Stored status of each of these debates (ids not stored are absent): one ``SELECT``
        of two columns per 500 ids, where :meth:`debates` would load every row whole."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(debate_ids), 500):
                stmt = select(Debate.id, Debate.status).where(
                    col(Debate.id).in_(debate_ids[i : i + 500])
                )
                out.update((row[0], row[1]) for row in conn.execute(stmt))
        return out

    def set_assignment(self, debate_id: str, assignment: dict[str, int]) -> Debate:
        """Record the sides of an open protocol's debate, chosen by its speakers when it ran.

        Such a debate is planned with no assignment; this fills it once, and a second call
        (a resumed run) leaves the first choice as it was. Returns the stored row."""
        # One process works on a debate at a time (it holds the claim), so read-then-write
        # cannot race; JSON columns have no portable equality to test in the UPDATE itself.
        debate = self.debate(debate_id)
        if debate.assignment:
            return debate
        stmt = (
            update(Debate)
            .where(Debate.id == debate_id)  # type: ignore[arg-type]
            .values(assignment=assignment)
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return self.debate(debate_id)

    def set_status(
        self,
        debate_id: str,
        status: str,
        error: str | None = None,
        trace: str | None = None,
    ) -> None:
        """Record a debate's progress; a failure keeps its reason and traceback, with any
        password in a URL masked (errors quote the URLs they failed on)."""
        # One UPDATE, not an ORM load and flush: every debate ends with this call.
        stmt = (
            update(Debate)
            .where(Debate.id == debate_id)  # type: ignore[arg-type]
            .values(
                status=status,
                error=mask_secrets(error) if error is not None else None,
                traceback=mask_secrets(trace) if trace is not None else None,
            )
        )
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise StoreError(f"debate {debate_id} not in store")

    def claim(
        self,
        debate_id: str,
        owner: str,
        statuses: Sequence[str],
        *,
        lease_s: float = CLAIM_LEASE_S,
    ) -> bool:
        """Take a debate to work on; False when another live process has it.

        A claim is free when nobody holds it, when its holder has not renewed it for
        ``lease_s`` seconds (see :meth:`renew_claims`), or when its holder was a process of
        this machine that no longer exists (a runner killed mid-debate: its rerun resumes at
        once). The update is a compare-and-swap on the previous holder, so of two processes
        racing for one debate exactly one wins.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(Debate.status, Debate.claimed_by, Debate.claimed_at).where(  # type: ignore[call-overload]
                    Debate.id == debate_id
                )
            ).first()
            if row is None or row.status not in statuses:
                return False
            holder, at = row.claimed_by, row.claimed_at
            if holder not in (None, owner) and not _claim_is_stale(holder, at, lease_s):
                return False
            same_holder = (
                Debate.claimed_by.is_(None) if holder is None else Debate.claimed_by == holder  # type: ignore[union-attr]
            )
            stmt = (
                update(Debate)
                .where(Debate.id == debate_id)  # type: ignore[arg-type]
                .where(Debate.status.in_(list(statuses)))  # type: ignore[attr-defined]
                .where(same_holder)
                .values(claimed_by=owner, claimed_at=utcnow())
            )
            return conn.execute(stmt).rowcount == 1

    def release_claim(self, debate_id: str, owner: str) -> None:
        """Give a debate back (done, failed, or interrupted) so any process may take it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(Debate)
                .where(Debate.id == debate_id)  # type: ignore[arg-type]
                .where(Debate.claimed_by == owner)  # type: ignore[arg-type]
                .values(claimed_by=None, claimed_at=None)
            )

    def renew_claims(self, debate_ids: Iterable[str], owner: str) -> None:
        """Say that ``owner`` is still working on these debates (keeps their leases)."""
        ids = list(debate_ids)
        for i in range(0, len(ids), 500):
            with self.engine.begin() as conn:
                conn.execute(
                    update(Debate)
                    .where(Debate.id.in_(ids[i : i + 500]))  # type: ignore[attr-defined]
                    .where(Debate.claimed_by == owner)  # type: ignore[arg-type]
                    .values(claimed_at=utcnow())
                )

    # -- turns and judgments ---------------------------------------------------------------

    def turn(self, debate_id: str, round_: int, speaker: str) -> Turn | None:
        return self.first(
            Turn, Turn.debate_id == debate_id, Turn.round == round_, Turn.speaker == speaker
        )

    def turns(self, debate_id: str) -> list[Turn]:
        with self.session() as s:
            # The same order as transcript_order, in SQL.
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

    def judgment_id(self, debate_id: str, judge_id: str, after_round: int = -1) -> int | None:
        """The id of a stored judgment, or None: what a judge node needs, without loading it."""
        stmt = select(Judgment.id).where(  # type: ignore[call-overload]
            Judgment.debate_id == debate_id,
            Judgment.judge_id == judge_id,
            Judgment.after_round == after_round,
        )
        with self.engine.connect() as conn:
            found = conn.execute(stmt).scalar()
        return None if found is None else int(found)

    def add_judgment_id(self, judgment: Judgment) -> int:
        """Insert the judgment unless one exists for its key; the stored one's id.

        One round trip where the database returns the new id (SQLite, PostgreSQL), a second
        only when another writer stored this judgment first.
        """
        if self.engine.dialect.name in ("sqlite", "postgresql"):
            table = Judgment.__table__  # type: ignore[attr-defined]
            data = {k: _without_nul(v) for k, v in judgment.model_dump().items()}
            if data.get("id") is None:
                data.pop("id", None)
            insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
            stmt = insert(table).on_conflict_do_nothing().returning(table.c.id)
            with self.engine.begin() as conn:
                new_id = conn.execute(stmt, data).scalar()
            if new_id is not None:
                return int(new_id)
        else:
            self.insert_ignore([judgment])
        found = self.judgment_id(judgment.debate_id, judgment.judge_id, judgment.after_round)
        assert found is not None
        return found

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

    def final_judgments(
        self, experiment_id: int, protocol: str | None = None
    ) -> list[FinalJudgment]:
        """The final verdicts (``after_round == -1``) of an experiment's debates, with each
        debate's question, in insertion order: only the columns labels need, in one query."""
        stmt = (
            select(Judgment.debate_id, Debate.question_id, Judgment.judge_id, Judgment.probs)  # type: ignore[call-overload]
            .join(Debate, col(Judgment.debate_id) == col(Debate.id))
            .where(Debate.experiment_id == experiment_id, Judgment.after_round == -1)
            .order_by(col(Judgment.id))
        )
        if protocol is not None:
            stmt = stmt.where(Debate.protocol == protocol)
        with self.engine.connect() as conn:
            return [FinalJudgment(*row) for row in conn.execute(stmt)]

    def turns_fitted_to_context(self, debate_ids: Sequence[str]) -> int:
        """Turns of these debates whose speaker read the transcript with rounds left out to
        fit its model's context (a non-empty ``Turn.context``)."""
        ids = list(debate_ids)
        fitted = 0
        with self.session() as s:
            for i in range(0, len(ids), 500):
                stmt = select(Turn.context).where(Turn.debate_id.in_(ids[i : i + 500]))  # type: ignore[attr-defined]
                fitted += sum(1 for context in s.exec(stmt).all() if context)
        return fitted

    def count_turns(self, debate_ids: Sequence[str]) -> int:
        ids = list(debate_ids)
        return sum(
            self.count(Turn, Turn.debate_id.in_(ids[i : i + 500]))  # type: ignore[attr-defined,misc]
            for i in range(0, len(ids), 500)
        )

    def experiment_summary(self, experiment_id: int) -> ExperimentSummary:
        """What ``oversight status`` shows of one experiment, counted by the database.

        Aggregates (``GROUP BY``, ``COUNT``, ``SUM``) instead of loading rows: a store of
        100,000 debates answers in under a second of CPU. Only failed debates are read whole.
        """
        of_exp = Debate.experiment_id == experiment_id
        turn_join: Any = Turn.debate_id == Debate.id
        judgment_join: Any = Judgment.debate_id == Debate.id
        with self.engine.connect() as conn:
            by_status = {
                str(status): int(n)
                for status, n in conn.execute(
                    select(Debate.status, func.count())  # type: ignore[call-overload]
                    .where(of_exp)
                    .group_by(Debate.status)
                )
            }
            questions = conn.execute(
                select(func.count(func.distinct(Debate.question_id))).where(of_exp)
            ).scalar_one()
            # One pass over the turns: tokens, counts and fitted contexts per model.
            by_model = conn.execute(
                select(  # type: ignore[call-overload]
                    Turn.model,
                    func.sum(Turn.prompt_tokens),
                    func.sum(Turn.completion_tokens),
                    func.count(),
                    func.sum(case((_non_empty_json(Turn.context), 1), else_=0)),
                )
                .join(Debate, turn_join)
                .where(of_exp)
                .group_by(Turn.model)
                .order_by(Turn.model)
            ).all()
            judgments_cut = conn.execute(
                select(func.count())
                .select_from(Judgment)
                .join(Debate, judgment_join)
                .where(of_exp, _non_empty_json(Judgment.context))
            ).scalar_one()
            judgments = conn.execute(
                select(func.count()).select_from(Judgment).join(Debate, judgment_join).where(of_exp)
            ).scalar_one()
            failures = [
                FailedDebate(debate=r.id, key=r.key, error=r.error, traceback=r.traceback)
                for r in conn.execute(
                    select(Debate.id, Debate.key, Debate.error, Debate.traceback)  # type: ignore[call-overload]
                    .where(of_exp, Debate.status == "failed")
                    .order_by(col(Debate.created), col(Debate.id))
                )
            ]
        return ExperimentSummary(
            debates=by_status,
            questions=int(questions),
            turns=sum(int(r[3]) for r in by_model),
            judgments=int(judgments),
            turns_context_dropped=sum(int(r[4] or 0) for r in by_model),
            judgments_context_dropped=int(judgments_cut),
            tokens={
                str(r[0]): ModelTokens(prompt=int(r[1] or 0), completion=int(r[2] or 0))
                for r in by_model
            },
            failures=failures,
        )

    def generation_history(self) -> dict[str, GenerationHistory]:
        """Per model (``Turn.model``): its generated tokens and wall time in the stored
        experiments (see :class:`GenerationHistory`), aggregated by the database."""
        stmt: Any = (
            select(  # type: ignore[call-overload]
                Turn.model,
                func.sum(Turn.completion_tokens),
                func.min(Turn.created),
                func.max(Turn.created),
            )
            .join(Debate, Turn.debate_id == Debate.id)  # type: ignore[arg-type]
            .group_by(col(Debate.experiment_id), col(Turn.model))
        )
        totals: dict[str, tuple[int, float, int]] = {}
        with self.engine.connect() as conn:
            for model, tokens, first, last in conn.execute(stmt):
                t, sec, n = totals.get(str(model), (0, 0.0, 0))
                span = (last - first).total_seconds()
                totals[str(model)] = (t + int(tokens or 0), sec + span, n + 1)
        return {m: GenerationHistory(t, sec, n) for m, (t, sec, n) in sorted(totals.items())}

    def count(self, model: type[SQLModel], *where: Any) -> int:
        with self.session() as s:
            stmt = select(func.count()).select_from(model)
            for cond in where:
                stmt = stmt.where(cond)
            return int(s.exec(stmt).one())

"""Store: rows per second through the API the graphs use, and reads at 100,000 debates.

Two figures per database (SQLite always; PostgreSQL when ``$OVERSIGHT_TEST_POSTGRES_URL``
names a server, in a fresh database dropped afterwards):

- **writes**: turns inserted one at a time with ``Store.insert_ignore`` (what a speech node
  does) and judgments with ``Store.add_judgment_id`` (what a judge node does), rows per
  second of wall time;
- **reads at scale**: a store of ``debates`` debates (bulk-inserted: the setup is not what is
  measured), then the wall time of ``oversight status --json`` and of ``build_label_set``.
  Goals: status under 1 s, a label set under 10 s.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from benchmarks.common import Figures, Options
from oversight.cli import app
from oversight.labels import LabelRequest, build_label_set, labels_of
from oversight.store import Debate, Judgment, Question, Store, Turn

STATUS_GOAL_S = 1.0
LABELS_GOAL_S = 10.0
DEBATES_PER_QUESTION = 4
"""Quickstart-shaped: each question is debated under several protocols and assignments."""
TURNS_PER_DEBATE = 2
JUDGES = ("judge-a", "judge-b")
FAILED_EVERY = 100
"""One debate in this many is stored as failed, with an error and a traceback."""
MODELS = ("debater-large", "debater-small")
SPEECH = "I argue for my answer: the passage supports it and the other answer contradicts it. " * 4


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on the server ``$OVERSIGHT_TEST_POSTGRES_URL`` names (None without one)."""
    base = os.environ.get("OVERSIGHT_TEST_POSTGRES_URL")
    if not base:
        yield None
        return
    name = f"oversight_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _experiment(store: Store, name: str) -> int:
    exp = store.open_experiment(name, {"bench": name}, f"hash-{name}", "bench")
    assert exp.id is not None
    return exp.id


def populate(store: Store, n_debates: int, experiment: str = "bench") -> dict[str, int]:
    """``n_debates`` debates with their questions, turns and final judgments, bulk-inserted.

    Returns the counts written, which ``status`` must report back.
    """
    exp_id = _experiment(store, experiment)
    now = datetime.now(UTC)
    n_questions = -(-n_debates // DEBATES_PER_QUESTION)
    questions: list[dict[str, Any]] = [
        {
            "id": f"{experiment}-q{i}",
            "dataset": "bench",
            "split": "test",
            "text": f"Question {i}: which process makes a puddle disappear on a warm day?",
            "context": None,
            "choices": [f"evaporation ({i})", f"condensation ({i})"],
            "correct_index": i % 2,
            "source_id": str(i),
            "meta": {},
        }
        for i in range(n_questions)
    ]
    debates: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    judgments: list[dict[str, Any]] = []
    failed = 0
    for i in range(n_debates):
        did = f"{experiment}-d{i}"
        is_failed = i % FAILED_EVERY == FAILED_EVERY - 1
        failed += is_failed
        debates.append(
            {
                "id": did,
                "experiment_id": exp_id,
                "question_id": f"{experiment}-q{i // DEBATES_PER_QUESTION}",
                "protocol": "debate" if i % 2 == 0 else "consultancy",
                "key": f"k{i}",
                "assignment": {"A": 0, "B": 1},
                "rounds": TURNS_PER_DEBATE // 2,
                "seed": 0,
                "status": "failed" if is_failed else "complete",
                "error": "BackendError: the server went away" if is_failed else None,
                "traceback": "Traceback (most recent call last):\n  ...\n" if is_failed else None,
                "claimed_by": None,
                "claimed_at": None,
                "created": now,
            }
        )
        if is_failed:
            continue
        for t in range(TURNS_PER_DEBATE):
            turns.append(
                {
                    "debate_id": did,
                    "round": t // 2,
                    "speaker": "AB"[t % 2],
                    "model": MODELS[t % 2],
                    "text": SPEECH,
                    "quotes": [],
                    "prompt_tokens": 200 + t,
                    "completion_tokens": 32,
                    "latency_s": 0.0,
                    "context": {},
                    "created": now,
                }
            )
        for k, judge in enumerate(JUDGES):
            p = 0.25 + 0.5 * ((i + k) % 2)
            judgments.append(
                {
                    "debate_id": did,
                    "judge_id": judge,
                    "kind": "prompted",
                    "model": "judge-model",
                    "after_round": -1,
                    "probs": [p, 1 - p],
                    "probs_by_order": {"0,1": [p, 1 - p], "1,0": [p, 1 - p]},
                    "raw": {},
                    "context": {},
                    "created": now,
                }
            )
    with store.engine.begin() as conn:
        for model, rows in (
            (Question, questions),
            (Debate, debates),
            (Turn, turns),
            (Judgment, judgments),
        ):
            table = model.__table__  # type: ignore[union-attr]
            for i in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[i : i + 5000])
    return {
        "questions": n_questions,
        "debates": n_debates,
        "failed": failed,
        "turns": len(turns),
        "judgments": len(judgments),
    }


def write_rates(store: Store, n: int) -> dict[str, float]:
    """Rows per second of wall time: ``n`` turns, then ``n`` judgments, one call each."""
    populate(store, n, experiment="writes")
    ids = [f"writes-d{i}" for i in range(n)]
    start = time.perf_counter()
    for i, did in enumerate(ids):
        store.insert_ignore(
            [
                Turn(
                    debate_id=did,
                    round=9,
                    speaker="A",
                    model=MODELS[0],
                    text=SPEECH,
                    prompt_tokens=200,
                    completion_tokens=32 + i % 3,
                )
            ]
        )
    turns_s = time.perf_counter() - start
    start = time.perf_counter()
    for did in ids:
        store.add_judgment_id(
            Judgment(
                debate_id=did,
                judge_id="judge-writes",
                kind="prompted",
                model="judge-model",
                after_round=9,
                probs=[0.5, 0.5],
                probs_by_order={"0,1": [0.5, 0.5], "1,0": [0.5, 0.5]},
            )
        )
    judgments_s = time.perf_counter() - start
    return {
        "rows": n,
        "turns_per_s": round(n / turns_s, 1),
        "judgments_per_s": round(n / judgments_s, 1),
    }


def time_status(url: str, *args: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``oversight status`` on ``url``, and what it printed."""
    cli = CliRunner()
    cpu, start = time.process_time(), time.perf_counter()
    result = cli.invoke(app, ["status", "--db", url, *args])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result.exit_code != 0:
        raise RuntimeError(f"oversight status failed on {url}: {result.output}")
    return seconds, cpu, result.stdout


def reads_at_scale(url: str, n_debates: int) -> dict[str, Any]:
    """Build a store of ``n_debates`` debates, then time ``status`` and a label set."""
    store = Store(url)
    start = time.perf_counter()
    written = populate(store, n_debates)
    setup_s = time.perf_counter() - start
    table_s, table_cpu_s, _ = time_status(url)
    status_s, status_cpu_s, printed = time_status(url, "--json")
    (row,) = json.loads(printed)
    reported = {
        "questions": row["questions"],
        "debates": sum(row["debates"].values()),
        "failed": row["debates"].get("failed", 0),
        "turns": row["turns"],
        "judgments": row["judgments"],
    }
    if reported != written:
        raise RuntimeError(f"status reported {reported}, the store holds {written}")
    cpu, start = time.process_time(), time.perf_counter()
    labelled = build_label_set(store, "bench", LabelRequest())
    labels_s, labels_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    n_labels = len(labels_of(store, labelled.name))
    store.close()
    return {
        **written,
        "setup_s": round(setup_s, 2),
        "tokens": row["tokens"],
        "status_s": round(status_s, 3),
        "status_cpu_s": round(status_cpu_s, 3),
        "status_table_s": round(table_s, 3),
        "status_table_cpu_s": round(table_cpu_s, 3),
        "labels_s": round(labels_s, 3),
        "labels_cpu_s": round(labels_cpu_s, 3),
        "labels": n_labels,
        "status_goal_met": status_s < STATUS_GOAL_S,
        "labels_goal_met": labels_s < LABELS_GOAL_S,
    }


def run(options: Options) -> Figures:
    """SQLite, then PostgreSQL when a server is configured."""
    writes, debates = (20, 200) if options.quick else (2000, 100_000)
    folder = options.workdir / f"store-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    writes_store = Store(f"sqlite:///{folder / 'writes.db'}")
    sqlite_writes = write_rates(writes_store, writes)
    writes_store.close()
    out: Figures = {
        "sqlite": {
            "writes": sqlite_writes,
            "reads": reads_at_scale(f"sqlite:///{folder / 'reads.db'}", debates),
        },
        "goals_s": {"status": STATUS_GOAL_S, "labels": LABELS_GOAL_S},
    }
    with postgres_database() as pg:
        if pg is None:
            out["postgresql"] = {"skipped": "OVERSIGHT_TEST_POSTGRES_URL is not set"}
        else:
            writes_store = Store(pg)
            pg_writes = write_rates(writes_store, writes)
            writes_store.close()
            with postgres_database() as pg_reads:
                assert pg_reads is not None
                out["postgresql"] = {
                    "writes": pg_writes,
                    "reads": reads_at_scale(pg_reads, debates),
                }
    return out

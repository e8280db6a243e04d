"""A store written by an earlier version opens, gains the columns added since, and keeps
working: resuming, reporting and exporting an experiment must not need a fresh store.

The old store is built with the raw SQL of the schema before judge kinds, failure tracebacks,
claims and context records existed: judgments without ``kind`` (their kind was the judge id's
prefix), debates without ``traceback``, ``claimed_by`` and ``claimed_at``, judge ensembles
without ``kind``, turns and judgments without ``context``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import inspect
from typer.testing import CliRunner

from oversight.cli import app
from oversight.data.records import make_question
from oversight.store import Debate, JudgeEnsemble, JudgeKind, Judgment, Store, Turn
from oversight.transcripts import export_jsonl, import_files
from oversight.transcripts.bundle import debate_id

OLD_SCHEMA = """
CREATE TABLE experiment (
    id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, config JSON,
    config_hash VARCHAR NOT NULL, code_version VARCHAR NOT NULL, created DATETIME NOT NULL
);
CREATE TABLE question (
    id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, split VARCHAR NOT NULL,
    text VARCHAR NOT NULL, context VARCHAR, choices JSON, correct_index INTEGER NOT NULL,
    source_id VARCHAR, meta JSON
);
CREATE TABLE debate (
    id VARCHAR PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiment (id),
    question_id VARCHAR NOT NULL REFERENCES question (id), protocol VARCHAR NOT NULL,
    key VARCHAR NOT NULL, assignment JSON, rounds INTEGER NOT NULL, seed INTEGER NOT NULL,
    status VARCHAR NOT NULL, error VARCHAR, created DATETIME NOT NULL,
    UNIQUE (experiment_id, key)
);
CREATE TABLE turn (
    id INTEGER PRIMARY KEY, debate_id VARCHAR NOT NULL REFERENCES debate (id),
    round INTEGER NOT NULL, speaker VARCHAR NOT NULL, model VARCHAR NOT NULL,
    text VARCHAR NOT NULL, quotes JSON, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, latency_s FLOAT NOT NULL, created DATETIME NOT NULL,
    UNIQUE (debate_id, round, speaker)
);
CREATE TABLE judgment (
    id INTEGER PRIMARY KEY, debate_id VARCHAR NOT NULL REFERENCES debate (id),
    judge_id VARCHAR NOT NULL, model VARCHAR NOT NULL, after_round INTEGER NOT NULL,
    probs JSON, probs_by_order JSON, raw JSON, created DATETIME NOT NULL,
    UNIQUE (debate_id, judge_id, after_round)
);
CREATE TABLE judgeensemble (
    id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiment (id),
    name VARCHAR NOT NULL, judge_ids JSON, judges JSON, created DATETIME NOT NULL,
    UNIQUE (experiment_id, name)
);
"""

NOW = "2025-01-01 00:00:00.000000"
QUESTION = make_question(
    dataset="arc", split="test", text="2 + 2?", choices=["3", "4"], correct_index=1
)
KEYS = {"complete": "debate|q|seed=0", "failed": "debate|q|seed=1"}
D1, D2 = (debate_id("old", key) for key in KEYS.values())
JUDGES = {
    "smol@0123456789ab": JudgeKind.PROMPTED,
    "trained:weak-0": JudgeKind.TRAINED,
    "human:alice": JudgeKind.HUMAN_LIVE,
    "human-offline:bob": JudgeKind.HUMAN_OFFLINE,
}


def _old_store(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute(
        "INSERT INTO experiment VALUES (1, 'old', '{\"name\": \"old\"}', 'h0', '0.1', ?)", (NOW,)
    )
    conn.execute(
        "INSERT INTO question VALUES (?, 'arc', 'test', '2 + 2?', NULL, ?, 1, NULL, '{}')",
        (QUESTION.id, json.dumps(QUESTION.choices)),
    )
    assignment = json.dumps({"debater_1": 0, "debater_2": 1})
    for (status, key), did in zip(KEYS.items(), (D1, D2), strict=True):
        error = "HTTP 400: too long" if status == "failed" else None
        conn.execute(
            "INSERT INTO debate VALUES (?, 1, ?, 'debate', ?, ?, 1, 0, ?, ?, ?)",
            (did, QUESTION.id, key, assignment, status, error, NOW),
        )
    for i, speaker in enumerate(("debater_1", "debater_2")):
        conn.execute(
            "INSERT INTO turn VALUES (?, ?, 0, ?, 'smol', ?, '[]', 10, 5, 0.1, ?)",
            (i + 1, D1, speaker, f"I argue for {speaker}.", NOW),
        )
    for i, judge_id in enumerate(JUDGES):
        conn.execute(
            "INSERT INTO judgment VALUES (?, ?, ?, 'smol', -1, '[0.4, 0.6]', '{}', '{}', ?)",
            (i + 1, D1, judge_id, NOW),
        )
    conn.execute(
        "INSERT INTO judgeensemble VALUES (1, 1, 'experiment', '[\"smol@0123456789ab\"]', '[]', ?)",
        (NOW,),
    )
    conn.commit()
    conn.close()


def test_an_old_store_gains_the_new_columns_and_kinds_from_the_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    store = Store(f"sqlite:///{path}")
    columns = {
        name: {c["name"] for c in inspect(store.engine).get_columns(name)}
        for name in ("debate", "judgment", "turn", "judgeensemble")
    }
    assert {"traceback", "claimed_by", "claimed_at"} <= columns["debate"]
    assert {"kind", "context"} <= columns["judgment"]
    assert "context" in columns["turn"] and "kind" in columns["judgeensemble"]
    # Each judgment's kind is read off its legacy id prefix, once, into the column.
    assert {j.judge_id: j.kind for j in store.all(Judgment)} == {
        jid: kind.value for jid, kind in JUDGES.items()
    }
    (ensemble,) = store.all(JudgeEnsemble)
    assert ensemble.kind == JudgeKind.PROMPTED.value
    # Old rows read back as new rows of the same meaning would be written.
    assert all(t.context == {} for t in store.turns(D1))
    assert all(j.context == {} for j in store.all(Judgment))
    failed = store.debate(D2)
    assert (failed.status, failed.error, failed.traceback) == ("failed", "HTTP 400: too long", None)
    assert store.debate(D1).claimed_by is None
    store.close()

    # Opening it again changes nothing (no second backfill, no column added twice).
    again = Store(f"sqlite:///{path}")
    assert {j.judge_id: j.kind for j in again.all(Judgment)} == {
        jid: kind.value for jid, kind in JUDGES.items()
    }
    # The migrated store works: claims, new rows, status and an export that imports back.
    assert again.claim(D2, "me", ["failed"])
    again.add_judgment(
        Judgment(
            debate_id=D2,
            judge_id="smol@0123456789ab",
            kind=JudgeKind.PROMPTED,
            model="smol",
            probs=[0.5, 0.5],
        )
    )
    again.add_turn(Turn(debate_id=D2, round=0, speaker="debater_1", model="smol", text="x"))
    status = CliRunner().invoke(app, ["status", "--db", f"sqlite:///{path}", "--json"])
    assert status.exit_code == 0, status.output
    (row,) = json.loads(status.stdout)
    assert row["debates"] == {"complete": 1, "failed": 1} and row["judgments"] == 5
    out = tmp_path / "old.jsonl"
    assert export_jsonl(again, "old", out) == 2
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert import_files(fresh, "jsonl", [out]).failed == []
    assert {j.judge_id: j.kind for j in fresh.all(Judgment) if j.debate_id == D1} == {
        jid: kind.value for jid, kind in JUDGES.items()
    }
    assert fresh.count(Debate) == 2

"""SIGKILL ``oversight run`` and ``replay`` mid-work, and in the middle of a write; the rerun
ends with exactly the rows of an uninterrupted run, and every row stored before the kill is
kept as it was."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

CONFIG = """
name = "crash"
concurrency = 2
[data]
source = "arc"
limit = 3
[models.m]
model = "{model}"
max_batch_size = 4
[protocols.debate]
kind = "debate"
model = "m"
rounds = 2
generation = {{ max_new_tokens = 24 }}
[protocols.consultancy]
kind = "consultancy"
model = "m"
rounds = 2
generation = {{ max_new_tokens = 24 }}
[protocols.direct]
kind = "direct"
[[judges]]
name = "plain"
model = "m"
[[judges]]
name = "skeptic"
model = "m"
prompt = "judge_skeptic"
"""

JUDGES = """
[models.m]
model = "{model}"
[[judges]]
name = "again"
model = "m"
prompt = "judge_skeptic"
sees_context = true
"""


KILLED_IN_A_WRITE = """
import os, signal, sys
from sqlalchemy.engine import Connection
from oversight.store.store import Store

table, nth = sys.argv[1], int(sys.argv[2])
state = {"writes": 0, "armed": False}
commit = Connection._commit_impl

def counting(write, rows_of):
    def wrapped(self, arg):
        rows = rows_of(arg)
        if rows and type(rows[0]).__tablename__ == table:
            state["writes"] += 1
            state["armed"] = state["writes"] == nth
        return write(self, arg)
    return wrapped

def dying_commit(self):
    if state["armed"]:  # the row is written, its transaction not yet committed
        os.kill(os.getpid(), signal.SIGKILL)
    return commit(self)

# Every way the Store writes a turn or a judgment.
Store.insert_ignore = counting(Store.insert_ignore, list)
if hasattr(Store, "add_judgment_id"):
    Store.add_judgment_id = counting(Store.add_judgment_id, lambda row: [row])
Connection._commit_impl = dying_commit
from oversight.cli import app
sys.argv = ["oversight", *sys.argv[3:]]
app()
"""
"""``oversight ARGS...`` that SIGKILLs itself inside the n-th write to a table: after the
INSERT ran, before its COMMIT. Only the moment of death is forced; the rest is the real
command."""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "oversight.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet, or a write in progress
        return 0


def _rows(db: Path) -> dict[str, Any]:
    """Everything a run computes, keyed by what it means (not by row ids)."""
    with sqlite3.connect(db) as conn:
        debates = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, key, status FROM debate")}
        turns = sorted(
            (debates[d][0], rnd, spk, text)
            for d, rnd, spk, text in conn.execute(
                "SELECT debate_id, round, speaker, text FROM turn"
            )
        )
        judgments = sorted(
            (debates[d][0], jid, after, kind, tuple(round(p, 4) for p in json.loads(probs)))
            for d, jid, after, kind, probs in conn.execute(
                "SELECT debate_id, judge_id, after_round, kind, probs FROM judgment"
            )
        )
        return {
            "debates": sorted(debates.values()),
            "turns": turns,
            "judgments": judgments,
            "questions": conn.execute("SELECT count(*) FROM question").fetchone()[0],
            "experiments": conn.execute("SELECT count(*) FROM experiment").fetchone()[0],
        }


def _stored(db: Path, table: str) -> set[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        cols = (
            "id, debate_id, round, speaker, text, created"
            if table == "turn"
            else ("id, debate_id, judge_id, probs, created")
        )
        return set(conn.execute(f"SELECT {cols} FROM {table}").fetchall())


def _run_to_completion(args: list[str]) -> None:
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _kill_when(args: list[str], db: Path, table: str, at_least: int) -> None:
    """Start the command and SIGKILL it once ``table`` holds ``at_least`` rows."""
    proc = subprocess.Popen(
        args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    try:
        while _count(db, table) < at_least:
            if proc.poll() is not None:
                pytest.fail(f"the command ended before it could be killed: {proc.stderr.read()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("the command never reached the kill point")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def reference(tiny_chat_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The rows of an uninterrupted run (and replay) of the config."""
    folder = tmp_path_factory.mktemp("reference")
    config = folder / "crash.toml"
    config.write_text(CONFIG.format(model=tiny_chat_model))
    judges = folder / "again.toml"
    judges.write_text(JUDGES.format(model=tiny_chat_model))
    db = folder / "ref.db"
    _run_to_completion(_cli("run", str(config), "--db", f"sqlite:///{db}"))
    run_rows = _rows(db)
    _run_to_completion(
        _cli("replay", "crash", "--judges", str(judges), "--as", "again", "--db", f"sqlite:///{db}")
    )
    return {"run": run_rows, "replay": _rows(db), "config": config, "judges": judges}


@pytest.mark.parametrize(
    ("point", "table", "at_least"),
    [
        ("first speeches", "turn", 1),
        ("mid generation", "turn", 9),
        ("judging", "judgment", 3),
    ],
)
def test_a_killed_run_resumes_to_the_same_rows(
    reference: dict[str, Any], tmp_path: Path, point: str, table: str, at_least: int
) -> None:
    db = tmp_path / "crash.db"
    args = _cli("run", str(reference["config"]), "--db", f"sqlite:///{db}")
    _kill_when(args, db, table, at_least)
    turns_before, judgments_before = _stored(db, "turn"), _stored(db, "judgment")
    assert len(turns_before) + len(judgments_before) >= at_least
    _run_to_completion(args)
    assert _rows(db) == reference["run"], point
    # Nothing stored before the kill was regenerated or rewritten: same ids, text, times.
    assert turns_before <= _stored(db, "turn")
    assert judgments_before <= _stored(db, "judgment")
    # And a third run adds nothing at all.
    _run_to_completion(args)
    assert _rows(db) == reference["run"]


def test_a_killed_replay_resumes_to_the_same_rows(
    reference: dict[str, Any], tmp_path: Path
) -> None:
    db = tmp_path / "replay.db"
    _run_to_completion(_cli("run", str(reference["config"]), "--db", f"sqlite:///{db}"))
    judged = _count(db, "judgment")
    args = _cli(
        "replay",
        "crash",
        "--judges",
        str(reference["judges"]),
        "--as",
        "again",
        "--db",
        f"sqlite:///{db}",
        "--concurrency",
        "1",
    )
    _kill_when(args, db, "judgment", judged + 2)
    before = _stored(db, "judgment")
    _run_to_completion(args)
    assert _rows(db) == reference["replay"]
    assert before <= _stored(db, "judgment")


@pytest.mark.parametrize(("table", "nth"), [("turn", 5), ("judgment", 3)])
def test_a_run_killed_inside_a_write_resumes_to_the_same_rows(
    reference: dict[str, Any], tmp_path: Path, table: str, nth: int
) -> None:
    db = tmp_path / "write.db"
    args = ["run", str(reference["config"]), "--db", f"sqlite:///{db}"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IN_A_WRITE, table, str(nth), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    # The write that was cut short left nothing: the row it was inserting is not there.
    assert _count(db, table) == nth - 1
    before = _stored(db, table)
    _run_to_completion(_cli(*args))
    assert _rows(db) == reference["run"]
    assert before <= _stored(db, table)


PIPELINE = """
name = "crash-w2s"
concurrency = 8
[data]
source = "arc"
limit = 24
[models.m]
model = "{chat}"
max_batch_size = 16
[protocols.debate]
kind = "debate"
model = "m"
rounds = 1
generation = {{ max_new_tokens = 6 }}
[protocols.direct]
kind = "direct"
[[judges]]
name = "judge"
model = "m"
[w2s]
output_dir = "{runs}"
seeds = [0, 1]
bootstrap = 200
splits = {{ weak = 0.34, label = 0.33, test = 0.33, validation = 0.4 }}
[w2s.weak]
model = "{bert}"
members = 2
max_steps = 3
batch_size = 8
max_length = 64
save_model = false
[w2s.strong]
model = "{chat}"
max_steps = 3
batch_size = 8
max_length = 64
save_model = false
"""


def _pipeline_rows(db: Path) -> dict[str, Any]:
    """What the pipeline computes, beyond the runner's rows: its stages and label sets."""
    with sqlite3.connect(db) as conn:
        runs = sorted(conn.execute("SELECT name, method, status FROM trainingrun").fetchall())
        labels = sorted(
            conn.execute(
                "SELECT s.name, count(l.id) FROM labelset s JOIN label l ON l.label_set_id = s.id "
                "GROUP BY s.name"
            ).fetchall()
        )
    return {**_rows(db), "runs": runs, "labels": labels}


def _training_runs(db: Path) -> set[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT id, name, metrics, created FROM trainingrun").fetchall())


def test_a_killed_pipeline_resumes_to_the_same_stages(
    tiny_chat_model: Path, tiny_bert: Path, tmp_path: Path
) -> None:
    """Killed once some training stages are stored: the rerun trains only the missing ones and
    ends with the stages and label sets of an uninterrupted run."""
    results: dict[str, dict[str, Any]] = {}
    for name in ("reference", "killed"):
        folder = tmp_path / name
        folder.mkdir()
        config = folder / "w2s.toml"
        config.write_text(
            PIPELINE.format(chat=tiny_chat_model, bert=tiny_bert, runs=folder / "runs")
        )
        db = folder / "w2s.db"
        args = _cli("pipeline", str(config), "--db", f"sqlite:///{db}")
        if name == "killed":
            _kill_when(args, db, "trainingrun", 2)
            before = _training_runs(db)
            assert 2 <= len(before) < len(results["reference"]["runs"])  # killed midway
        _run_to_completion(args)
        results[name] = _pipeline_rows(db)
        if name == "killed":
            assert before <= _training_runs(db)  # stored stages kept, not trained again
    reference, resumed = results["reference"], results["killed"]
    assert resumed["runs"] == reference["runs"] and reference["runs"]
    assert resumed["labels"] == reference["labels"] and reference["labels"]
    assert resumed["debates"] == reference["debates"]
    assert resumed["turns"] == reference["turns"]

"""SIGKILL ``oversight run`` and ``replay`` mid-work; the rerun ends with exactly the rows of an
uninterrupted run, and every row stored before the kill is kept as it was."""

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

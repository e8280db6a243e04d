"""Several processes, one Store: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from oversight.store import Debate, JudgeKind, Judgment, Store, Turn

OPEN_AT_ONCE = """
import sys, time
from oversight.store import Store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
Store(sys.argv[1]).close()
print("ok")
"""

CONFIG = """
name = "shared"
concurrency = 2
[data]
source = "arc"
limit = {limit}
[models.m]
model = "{model}"
[protocols.debate]
kind = "debate"
model = "m"
rounds = 1
swap = false
generation = {{ max_new_tokens = 48 }}
[protocols.direct]
kind = "direct"
[[judges]]
name = "plain"
model = "m"
"""


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _at_once(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(c, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_two_processes_create_a_new_sqlite_store_at_once(tmp_path: Path) -> None:
    for attempt in range(5):  # several rounds: the race is a matter of timing
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        start = str(time.time() + 3.0)
        results = _at_once([[sys.executable, "-c", OPEN_AT_ONCE, url, start]] * 3)
        for r in results:
            assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def _run_twice_at_once(config: Path, url: str) -> list[subprocess.CompletedProcess[str]]:
    cmd = [sys.executable, "-m", "oversight.cli", "run", str(config), "--db", url]
    return _at_once([cmd, cmd])


def _ran(output: str) -> int:
    """The ``N run`` figure of a run's summary line."""
    return int(output.split(" debates planned, ", 1)[1].split(" run", 1)[0])


def test_two_runs_share_one_postgres_experiment(
    postgres: str, tiny_chat_model: Path, tmp_path: Path
) -> None:
    """Both finish; every debate is done once, and each process did part of the work."""
    config = tmp_path / "shared.toml"
    config.write_text(CONFIG.format(model=tiny_chat_model, limit=12))
    results = _run_twice_at_once(config, postgres)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    ran = [_ran(r.stdout) for r in results]
    store = Store(postgres)
    debates = store.all(Debate)
    assert len(debates) == 24 and all(d.status == "complete" for d in debates)
    assert sum(ran) == 24, ran  # each debate run by exactly one of the two
    assert min(ran) > 0, ran  # the work was shared
    assert store.count(Turn) == 12 * 2
    assert store.count(Judgment) == 24
    assert all(j.kind == JudgeKind.PROMPTED for j in store.judgments())
    store.close()


def test_sqlite_run_and_replay_at_once_both_finish(tiny_chat_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "shared.toml"
    config.write_text(CONFIG.format(model=tiny_chat_model, limit=4))
    db = tmp_path / "both.db"
    url = f"sqlite:///{db}"
    first = subprocess.run(
        [sys.executable, "-m", "oversight.cli", "run", str(config), "--db", url],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    judges = tmp_path / "j.toml"
    judges.write_text(
        f'[models.m]\nmodel = "{tiny_chat_model}"\n[[judges]]\nname = "s"\n'
        'model = "m"\nprompt = "judge_skeptic"\n'
    )
    bigger = tmp_path / "bigger.toml"
    bigger.write_text(
        CONFIG.format(model=tiny_chat_model, limit=4).replace('name = "shared"', 'name = "other"')
    )
    results = _at_once(
        [
            [sys.executable, "-m", "oversight.cli", "run", str(bigger), "--db", url],
            [
                sys.executable,
                "-m",
                "oversight.cli",
                "replay",
                "shared",
                "--judges",
                str(judges),
                "--db",
                url,
            ],
        ]
    )
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM debate GROUP BY status"))
    assert statuses == {"complete": 16}

"""Secrets: a password in a Store URL or a model's base URL reaches no
stored row, error, log line, console output or export.

The Store is a real PostgreSQL server whose trust authentication accepts any password, so a
URL carrying one works; the model server's URL points at a port where nothing listens, so
its debate fails with an error that quotes the URL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import make_url, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

from oversight.backends.base import GenerateRequest, SamplingParams
from oversight.cli import app
from oversight.cli_console import MaskSecrets
from oversight.store import Debate, Experiment, Store
from tests.oversight.backends.scripted_server import ScriptedServer, chat_reply

SECRET = "s3cret"
LEAKS = (SECRET, base64.b64encode(f"user:{SECRET}".encode()).decode())
"""The password, and the basic-auth header it would become."""
SERVER = f"http://user:{SECRET}@127.0.0.1:9/v1"


def _with_password(url: str) -> str:
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def _assert_clean(where: str, text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked into {where}:\n{text[-3000:]}"


def _config(tmp_path: Path, model: Path) -> Path:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "2 + 2?", "choices": ["3", "4"], "answer": 1}))
    path = tmp_path / "secrets.toml"
    path.write_text(
        'name = "secrets"\n'
        "[data]\n"
        'source = "jsonl"\n'
        f"path = {json.dumps(str(questions))}\n"
        "[models.local]\n"
        f"model = {json.dumps(str(model))}\n"
        "[models.remote]\n"
        f"model = {json.dumps(str(model))}\n"
        'backend = "openai"\n'
        f'base_urls = ["{SERVER}"]\n'
        "max_retries = 0\n"
        "timeout_s = 10\n"
        "[protocols.debate]\n"
        'kind = "debate"\n'
        'model = "remote"\n'
        "rounds = 1\n"
        "swap = false\n"
        "[protocols.direct]\n"
        'kind = "direct"\n'
        "[[judges]]\n"
        'name = "plain"\n'
        'model = "local"\n'
    )
    return path


def test_passwords_in_store_and_server_urls_never_leave_the_process(
    postgres: str, tiny_chat_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("openai")
    caplog.set_level(logging.DEBUG)
    db = _with_password(postgres)
    assert SECRET in db
    cli = CliRunner()
    config = _config(tmp_path, tiny_chat_model)
    judges = tmp_path / "judges.toml"
    judges.write_text(
        f'[models.r]\nmodel = "{tiny_chat_model}"\nbackend = "openai"\n'
        f'base_urls = ["{SERVER}"]\nmax_retries = 0\n'
        '[[judges]]\nname = "remote"\nmodel = "r"\nprompt = "judge_skeptic"\n'
    )
    out = tmp_path / "secrets.jsonl"
    commands = [
        (["-v", "run", str(config), "--db", db], 1),  # the debate on the dead server fails
        (["-v", "run", str(config), "--db", db, "--retry-failed"], 1),
        (["-v", "replay", "secrets", "--judges", str(judges), "--db", db], 1),
        (["status", "--db", db], 0),
        (["status", "--db", db, "--failures"], 0),
        (["status", "--db", db, "--json"], 0),
        (["report", "secrets", "--db", db], 0),
        (["report", "secrets", "--db", db, "--json"], 0),
        (["export", "secrets", "--out", str(out), "--db", db], 0),
        (["export", "secrets", "--format", "hf", "--out", str(tmp_path / "hf"), "--db", db], 0),
        (["report", "no-such-experiment", "--db", db], 2),
    ]
    for args, code in commands:
        result = cli.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        _assert_clean(f"the output of {args[:2]}", result.output)

    store = Store(db)
    # The failure really quoted the server's URL (masked), so the test saw what could leak.
    (failed,) = store.all(Debate, Debate.status == "failed")
    assert "user:***@127.0.0.1:9" in (failed.error or "")
    assert "Traceback" in (failed.traceback or "")
    (experiment,) = store.all(Experiment)
    assert experiment.config["models"]["remote"]["base_urls"] == ["http://user:***@127.0.0.1:9/v1"]
    # No row of any table holds the password.
    with store.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(select(table)).mappings().all()
            _assert_clean(f"table {table.name}", json.dumps([dict(r) for r in rows], default=str))
    store.close()
    # Nor does any log record, at any level, of any library.
    assert caplog.records
    _assert_clean("the log", caplog.text)
    for record in caplog.records:
        _assert_clean(f"log record {record.name}", record.getMessage())
    # Nor any exported file.
    exported = [out, *(p for p in (tmp_path / "hf").rglob("*") if p.is_file())]
    assert len(exported) > 1
    for path in exported:
        _assert_clean(f"export {path.name}", path.read_bytes().decode("utf-8", "replace"))


def test_url_credentials_become_a_header_and_never_part_of_the_url() -> None:
    """Credentials in a base URL still authenticate (HTTP basic auth, as the URL means), but
    the client is given the URL without them, so no library can log or quote them."""
    pytest.importorskip("openai")
    from oversight.backends.openai_backend import OpenAIBackend

    with ScriptedServer([chat_reply("fine")]) as server:
        url = server.base_url.replace("http://", f"http://user:{SECRET}@")
        backend = OpenAIBackend("m", base_urls=[url], tokenizer="/no/tokenizer")
        request = GenerateRequest([{"role": "user", "content": "Hi"}], SamplingParams())

        async def once() -> str:
            try:
                (completion,) = await backend.generate([request])
                return completion.text
            finally:
                await backend.aclose()

        assert asyncio.run(once()) == "fine"
    (seen,) = server.seen
    assert seen.headers["authorization"] == f"Basic {LEAKS[1]}"
    assert backend.base_urls == [server.base_url.replace("http://", "http://user:***@")]
    assert [s.url for s in backend.replica_stats] == backend.base_urls


def test_the_log_filter_masks_what_a_library_logs() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: POST %s", (SERVER,), None
    )
    assert MaskSecrets().filter(record)
    assert record.getMessage() == "HTTP Request: POST http://user:***@127.0.0.1:9/v1"

"""Faults from models: a backend that cannot start, and output that cannot
be scored.

A backend that cannot start stops the command at once with one error naming the model and the
remedy, and marks nothing failed that never ran. Output that cannot be scored fails only its
debate, with the reason stored; an empty speech is kept as what the model said.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oversight.backends.base import BackendStartError
from oversight.cli import app
from oversight.config import ModelConfig, parse_config
from oversight.runner import Runner
from oversight.store import Debate, Judgment, Store, Turn
from tests.oversight.backends.scripted_server import Reply, ScriptedServer, chat_reply

MISSING = "/no/such/model-folder"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _experiment_toml(model: str, backend: str = "transformers", name: str = "faults") -> str:
    return (
        f'name = "{name}"\n'
        "[data]\n"
        'source = "arc"\n'
        "limit = 2\n"
        "[models.m]\n"
        f"model = {json.dumps(model)}\n"
        f'backend = "{backend}"\n'
        "[protocols.debate]\n"
        'kind = "debate"\n'
        'model = "m"\n'
        "rounds = 1\n"
        "generation = { max_new_tokens = 4 }\n"
        "[protocols.direct]\n"
        'kind = "direct"\n'
        "[[judges]]\n"
        'name = "plain"\n'
        'model = "m"\n'
    )


def _one_clean_error(output: str) -> str:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return _flat(output)


@pytest.mark.parametrize(
    ("backend", "remedy"),
    [
        ("transformers", "check that the model alias, path or hub id exists"),
        ("vllm", 'backend = "transformers"'),
    ],
)
def test_a_model_that_cannot_start_stops_run_at_once_and_fails_nothing(
    tmp_path: Path, backend: str, remedy: str
) -> None:
    config = _write(tmp_path, "exp.toml", _experiment_toml(MISSING, backend))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(app, ["run", str(config), "--db", db])
    assert result.exit_code == 2, result.output
    out = _one_clean_error(result.output)
    assert f"models.m ({MISSING}, backend {backend}) could not start" in out
    assert "does not exist" in out and remedy in out
    store = Store(db)
    debates = store.all(Debate)
    assert len(debates) == 6 and {d.status for d in debates} == {"pending"}
    assert all(d.error is None and d.claimed_by is None for d in debates)
    assert store.count(Turn) == 0 and store.count(Judgment) == 0
    status = CliRunner().invoke(app, ["status", "--db", db, "--json"])
    (row,) = json.loads(status.stdout)
    assert row["debates"] == {"pending": 6} and row["failures"] == []


def test_a_judge_model_that_cannot_start_stops_replay_and_changes_nothing(
    tmp_path: Path, tiny_chat_model: Path
) -> None:
    config = _write(tmp_path, "exp.toml", _experiment_toml(str(tiny_chat_model)))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert CliRunner().invoke(app, ["run", str(config), "--db", db]).exit_code == 0
    store = Store(db)
    before = (store.count(Debate), store.count(Turn), store.count(Judgment))
    judges = _write(
        tmp_path,
        "judges.toml",
        f'[models.j]\nmodel = "{MISSING}"\n[[judges]]\nname = "new"\nmodel = "j"\n',
    )
    result = CliRunner().invoke(app, ["replay", "faults", "--judges", str(judges), "--db", db])
    assert result.exit_code == 2, result.output
    out = _one_clean_error(result.output)
    assert f"models.j ({MISSING}, backend transformers) could not start" in out
    assert (store.count(Debate), store.count(Turn), store.count(Judgment)) == before
    assert {d.status for d in store.all(Debate)} == {"complete"}


class EngineThatFailsToStart:
    """Forces the fault of the quickstart on a machine without room for vLLM's KV cache: the
    engine fails to initialise, and would fail the same way for every debate."""

    name = "m"
    starts = 0

    async def start(self) -> None:
        type(self).starts += 1
        raise RuntimeError("Engine core initialization failed. See root cause above.")

    async def generate(self, requests: list[Any]) -> list[Any]:
        raise AssertionError("no debate may run on a backend that did not start")

    async def score_choices(self, requests: list[Any]) -> list[Any]:
        raise AssertionError("no debate may run on a backend that did not start")

    async def aclose(self) -> None:
        return None


def test_an_engine_that_fails_to_initialise_stops_the_run_before_any_debate(
    tmp_path: Path,
) -> None:
    cfg = parse_config(
        {
            "name": "engine",
            "concurrency": 8,
            "data": {"source": "arc", "limit": 4},
            "models": {"m": {"model": "smollm2-135m-instruct", "backend": "vllm"}},
            "protocols": {"direct": {"kind": "direct"}},
            "judges": [{"name": "j", "model": "m"}],
        }
    )
    store = Store(f"sqlite:///{tmp_path / 'o.db'}")

    def factory(alias: str, model: ModelConfig) -> Any:
        return EngineThatFailsToStart()

    with pytest.raises(BackendStartError) as info:
        asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    message = str(info.value)
    assert message.startswith("models.m (smollm2-135m-instruct, backend vllm) could not start")
    assert "Engine core initialization failed" in message and "VLLM_CPU_KVCACHE_SPACE" in message
    assert EngineThatFailsToStart.starts == 1  # once for the run, not once per debate
    assert {d.status for d in store.all(Debate)} == {"pending"}


# --- output that cannot be scored, from a real OpenAI-compatible client -------------------


def _openai_config(tmp_path: Path, url: str) -> Any:
    return parse_config(
        {
            "name": "unscoreable",
            "store": f"sqlite:///{tmp_path / 'o.db'}",
            "concurrency": 4,
            "data": {"source": "arc", "limit": 1},
            "models": {
                "m": {
                    "model": "m",
                    "backend": "openai",
                    "base_urls": [url],
                    "tokenizer": str(tmp_path / "no-tokenizer"),  # labels are read by text
                    "max_retries": 0,
                }
            },
            "protocols": {
                "debate": {"kind": "debate", "model": "m", "rounds": 1, "swap": False},
                "direct": {"kind": "direct"},
            },
            "judges": [{"name": "j", "model": "m"}],
        }
    )


def _logprobs(*entries: tuple[str, float]) -> Reply:
    """A reply whose first token has ``entries`` as its top log-probs; none: an empty reply,
    with no text and no log-probs at all."""
    reply = chat_reply(entries[0][0] if entries else "")
    assert reply.body is not None
    if entries:
        top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in entries]
        first = {"token": entries[0][0], "logprob": entries[0][1], "bytes": None}
        reply.body["choices"][0]["logprobs"] = {"content": [{**first, "top_logprobs": top}]}
    return reply


def test_a_judge_reply_without_log_probs_fails_its_debate_and_invents_nothing(
    tmp_path: Path,
) -> None:
    """An empty reply (no text, no log-probs) and one that lacks an answer label: neither is
    turned into a probability; each fails its debate with the reason, and the others go on."""
    pytest.importorskip("openai")

    def script(n: int, body: dict[str, Any]) -> Reply:
        if "logprobs" not in body:
            return chat_reply("I argue for my answer.")
        user = body["messages"][1]["content"]
        if "Transcript:" in user:  # the debate's judge: only "A" among the top log-probs
            return _logprobs((" A", -0.2), (" C", -1.9))
        return _logprobs()  # direct QA: an empty reply

    with ScriptedServer(script) as server:
        cfg = _openai_config(tmp_path, server.base_url)
        store = Store(cfg.store)
        summary = asyncio.run(Runner(cfg, store).run())
    assert (summary.completed, summary.failed) == (0, 2)
    debates = {d.protocol: d for d in store.all(Debate)}
    assert "labels ['A', 'B'] missing" in (debates["direct"].error or "")
    assert "labels ['B'] missing" in (debates["debate"].error or "")
    for d in debates.values():
        assert d.status == "failed"
        assert "no probability recorded" in (d.error or "")
    assert store.count(Judgment) == 0
    assert store.count(Turn) == 2  # the speeches were kept: rerunning re-judges only


def test_an_empty_speech_is_kept_as_said_and_judged(tmp_path: Path) -> None:
    """A debater whose model ends its turn at once said nothing: that is stored and shown to
    the judge as an empty speech, not replaced by a retry or by made-up text."""
    pytest.importorskip("openai")

    def script(n: int, body: dict[str, Any]) -> Reply:
        if "logprobs" not in body:
            return chat_reply("")
        return _logprobs((" A", -0.4), (" B", -1.1))

    with ScriptedServer(script) as server:
        cfg = _openai_config(tmp_path, server.base_url)
        store = Store(cfg.store)
        summary = asyncio.run(Runner(cfg, store).run())
        judged = [s.body["messages"][1]["content"] for s in server.seen if "logprobs" in s.body]
    assert (summary.completed, summary.failed) == (2, 0)
    turns = store.all(Turn)
    assert len(turns) == 2 and all(t.text == "" for t in turns)
    transcripts = [p for p in judged if "Transcript:" in p]
    assert len(transcripts) == 2  # both presentation orders
    for prompt in transcripts:
        assert prompt.count('">\n\n</speech>') == 2  # two empty speech blocks
    (verdict,) = [j for j in store.all(Judgment) if j.debate_id == turns[0].debate_id]
    assert sum(verdict.probs) == pytest.approx(1.0)


def test_failures_are_shown_by_status_and_only_they_run_again_with_retry_failed(
    tmp_path: Path,
) -> None:
    pytest.importorskip("openai")
    healthy = {"judges": False}

    def script(n: int, body: dict[str, Any]) -> Reply:
        if "logprobs" not in body:
            return chat_reply("I argue for my answer.")
        return _logprobs((" A", -0.4), (" B", -1.1)) if healthy["judges"] else _logprobs()

    with ScriptedServer(script) as server:
        config = _write(
            tmp_path,
            "exp.toml",
            'name = "retry"\n[data]\nsource = "arc"\nlimit = 1\n'
            f'[models.m]\nmodel = "m"\nbackend = "openai"\nbase_urls = ["{server.base_url}"]\n'
            f'tokenizer = "{tmp_path / "none"}"\nmax_retries = 0\n'
            '[protocols.debate]\nkind = "debate"\nmodel = "m"\nrounds = 1\nswap = false\n'
            '[protocols.direct]\nkind = "direct"\n[[judges]]\nname = "j"\nmodel = "m"\n',
        )
        db = f"sqlite:///{tmp_path / 'store.db'}"
        cli = CliRunner()
        first = cli.invoke(app, ["run", str(config), "--db", db])
        assert first.exit_code == 1 and "0 completed, 2 failed" in first.output
        status = _flat(cli.invoke(app, ["status", "--db", db]).output)
        assert status.count("failed retry") == 2 and "no probability recorded" in status
        assert "Traceback" not in status
        detail = cli.invoke(app, ["status", "--db", db, "--failures"]).output
        assert detail.count("Traceback (most recent call last)") == 2
        assert "BackendError" in detail
        sent = len(server.seen)
        plain = cli.invoke(app, ["run", str(config), "--db", db])
        assert plain.exit_code == 0 and "0 run" in plain.output
        assert "2 debates failed in an earlier run and were left alone" in _flat(plain.output)
        assert len(server.seen) == sent  # nothing was asked again
        healthy["judges"] = True
        again = cli.invoke(app, ["run", str(config), "--db", db, "--retry-failed"])
        assert again.exit_code == 0 and "2 run, 2 completed, 0 failed" in again.output
        asked = [s.body for s in server.seen[sent:]]
    assert asked and all("logprobs" in body for body in asked)  # judges only: speeches kept
    store = Store(db)
    assert {d.status for d in store.all(Debate)} == {"complete"}
    assert all(d.error is None and d.traceback is None for d in store.all(Debate))
    assert store.count(Turn) == 2 and store.count(Judgment) == 2

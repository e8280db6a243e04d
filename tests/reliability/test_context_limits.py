"""A transcript longer than a model's context: the config's policy decides,
and nothing is ever cut silently.

The model is the tiny chat model with its context cut to 560 positions: a debater's first
prompt (about 280 tokens with its speech) fits, the judge's prompt after three rounds of
24-token speeches (about 750) does not, and the judge's prompt with only the last round
(about 460) fits again.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.context import omission_note
from agents.judge import PromptedJudge
from oversight.backends import TransformersBackend
from oversight.backends.base import (
    Backend,
    ContextOverflowError,
    GenerateRequest,
    SamplingParams,
)
from oversight.cli import app
from oversight.config import ConfigError, JudgeConfig, ModelConfig, load_config, parse_config
from oversight.runner import Runner
from oversight.store import Debate, Judgment, Question, Store, Turn
from oversight.transcripts import export_jsonl, import_files
from tests.graphs.conftest import Recording
from tests.oversight.backends.scripted_server import ScriptedServer, chat_reply

CONTEXT = 560
NEW_TOKENS = 24
SHORT: dict[str, Any] = {
    "question": "What is two plus two?",
    "choices": ["three", "four"],
    "answer": 1,
}
HUGE: dict[str, Any] = {
    "question": "Which is right? " + "The judge reads the transcript carefully. " * 120,
    "choices": ["yes", "no"],
    "answer": 0,
}


@pytest.fixture(scope="module")
def short_model(tiny_chat_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat model, declared to have a context of :data:`CONTEXT` positions."""
    folder = tmp_path_factory.mktemp("tiny-short") / "model"
    shutil.copytree(tiny_chat_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = CONTEXT
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _flat(text: str) -> str:
    return " ".join(text.split())


def _config(tmp_path: Path, model: Path, policy: str, *rows: dict[str, Any]) -> Path:
    data = tmp_path / "questions.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = tmp_path / f"{policy}.toml"
    path.write_text(
        f'name = "ctx-{policy}"\n'
        "concurrency = 4\n"
        "[data]\n"
        'source = "jsonl"\n'
        f"path = {json.dumps(str(data))}\n"
        "[models.m]\n"
        f"model = {json.dumps(str(model))}\n"
        f'context_policy = "{policy}"\n'
        "[protocols.debate]\n"
        'kind = "debate"\n'
        'model = "m"\n'
        "rounds = 3\n"
        "swap = false\n"
        f"generation = {{ max_new_tokens = {NEW_TOKENS} }}\n"
        "[protocols.direct]\n"
        'kind = "direct"\n'
        "[[judges]]\n"
        'name = "plain"\n'
        'model = "m"\n'
    )
    return path


def _by_protocol(store: Store, question_text: str) -> dict[str, Debate]:
    ids = {q.id for q in store.all(Question) if q.text == question_text}
    return {d.protocol: d for d in store.all(Debate) if d.question_id in ids}


def test_fail_policy_fails_the_debate_naming_model_context_and_prompt_length(
    short_model: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, short_model, "fail", SHORT)
    db = f"sqlite:///{tmp_path / 'fail.db'}"
    result = CliRunner().invoke(app, ["run", str(config), "--db", db])
    assert result.exit_code == 1, result.output
    assert "1 completed, 1 failed" in result.output
    store = Store(db)
    debates = _by_protocol(store, SHORT["question"])
    assert debates["direct"].status == "complete"  # the run went on with the other debate
    failed = debates["debate"]
    assert failed.status == "failed"
    reason = failed.error or ""
    assert reason.startswith("ContextLimitError: ")
    assert "does not fit the model's context" in reason
    assert f"m ({short_model})" in reason  # the alias and the model it names
    sizes = re.search(r"prompt of (\d+) tokens \+ max_new_tokens (\d+) exceeds", reason)
    assert sizes is not None and int(sizes[1]) + int(sizes[2]) > CONTEXT
    assert f"the model's context of {CONTEXT} tokens" in reason
    assert 'set context_policy = "drop_oldest"' in reason
    assert "Traceback (most recent call last)" in (failed.traceback or "")
    # What fit was kept whole; nothing was cut, so nothing records a dropped round.
    turns = store.turns(failed.id)
    assert len(turns) >= 4
    assert all(t.context == {} for t in turns)
    assert all(j.context == {} for j in store.all(Judgment))
    status = CliRunner().invoke(app, ["status", "--db", db])
    assert "does not fit the model's context" in _flat(status.output)


def _recording_factory(made: list[Recording]) -> Any:
    def factory(alias: str, cfg: ModelConfig) -> Backend:
        rec = Recording(TransformersBackend(cfg.model, name=alias, max_batch_size=8))
        made.append(rec)
        return rec

    return factory


def test_drop_oldest_drops_the_earliest_rounds_says_so_and_records_it(
    short_model: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, short_model, "drop_oldest", SHORT, HUGE)
    cfg = load_config(config)
    db = f"sqlite:///{tmp_path / 'drop.db'}"
    store = Store(db)
    made: list[Recording] = []
    summary = asyncio.run(Runner(cfg, store, backend_factory=_recording_factory(made)).run())
    assert (summary.completed, summary.failed) == (2, 2)

    # A prompt that does not fit even without any earlier round fails its debate, and only it.
    for debate in _by_protocol(store, HUGE["question"]).values():
        assert debate.status == "failed"
        assert "no earlier round is left to drop" in (debate.error or "")
        assert f"context of {CONTEXT} tokens" in (debate.error or "")

    debates = _by_protocol(store, SHORT["question"])
    assert {d.status for d in debates.values()} == {"complete"}
    debate = debates["debate"]
    turns = store.turns(debate.id)
    assert len(turns) == 6
    (verdict,) = store.all(Judgment, Judgment.debate_id == debate.id)
    fitted = [t.context for t in turns if t.context] + [verdict.context]
    for record in fitted:
        dropped = record["dropped_rounds"]
        assert record["policy"] == "drop_oldest" and record["context_tokens"] == CONTEXT
        assert record["prompt_tokens"] + record["new_tokens"] > CONTEXT
        assert dropped == list(range(len(dropped))) and dropped  # the earliest, in order
    assert all(t.context == {} for t in turns if t.round == 0)  # nothing to drop yet
    assert all(r < t.round for t in turns for r in t.context.get("dropped_rounds", []))
    # The judge read the last round at least, and none of the rounds it dropped.
    dropped = verdict.context["dropped_rounds"]
    assert max(dropped) < 2
    note = omission_note(dropped)
    scored = [r.messages[-1]["content"] for r in made[0].scored]
    fitted_prompts = [p for p in scored if note in p]
    assert len(fitted_prompts) == 2  # both presentation orders, of one transcript
    for prompt in fitted_prompts:
        assert '<speech round="3"' in prompt
        for r in dropped:
            assert f'<speech round="{r + 1}"' not in prompt

    # The export carries what was dropped, and imports back with it.
    out = tmp_path / "drop.jsonl"
    export_jsonl(store, cfg.name, out)
    record = next(json.loads(line) for line in out.read_text().split("\n") if debate.id in line)
    assert record["judgments"][0]["context"] == verdict.context
    assert [t["context"] for t in record["turns"]] == [t.context for t in turns]
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    assert import_files(target, "jsonl", [out]).failed == []
    (imported,) = target.all(Judgment, Judgment.debate_id == debate.id)
    assert imported.context == verdict.context

    # status shows how many turns and judgments read a shortened transcript.
    status = CliRunner().invoke(app, ["status", "--db", db, "--json"])
    (row,) = json.loads(status.stdout)
    assert row["context_dropped"] == {
        "turns": sum(1 for t in store.all(Turn) if t.context),
        "judgments": sum(1 for j in store.all(Judgment) if j.context),
    }
    assert row["context_dropped"]["judgments"] >= 1
    table = CliRunner().invoke(app, ["status", "--db", db])
    assert "read the transcript without its earliest rounds" in _flat(table.output)


def test_the_policy_is_part_of_what_a_judge_and_an_experiment_are() -> None:
    def judge(**model: Any) -> PromptedJudge:
        cfg = ModelConfig.model_validate({"model": "smol", **model})
        return PromptedJudge.from_config(JudgeConfig(name="j", model="m"), cfg)

    default, fail, drop = judge(), judge(context_policy="fail"), judge(context_policy="drop_oldest")
    assert drop.judge_id != fail.judge_id
    # Under "fail" a verdict is of the whole transcript, as before the policy existed: the
    # ids (and stored verdicts) of every earlier judge stand.
    assert fail.judge_id == default.judge_id and "context_policy" not in fail.identity()

    def experiment(**model: Any) -> str:
        return parse_config(
            {
                "name": "e",
                "data": {"source": "arc"},
                "models": {"m": {"model": "smol", **model}},
                "protocols": {"debate": {"kind": "debate", "model": "m"}},
                "judges": [{"name": "j", "model": "m"}],
            }
        ).config_hash()

    assert experiment() == experiment(context_policy="fail")
    assert experiment(context_policy="drop_oldest") != experiment()
    with pytest.raises(ConfigError, match=r"models\.m\.context_policy"):
        experiment(context_policy="truncate")


def _long_request() -> GenerateRequest:
    text = "The judge reads the transcript carefully. " * 150
    return GenerateRequest([{"role": "user", "content": text}], SamplingParams(max_new_tokens=8))


@pytest.mark.parametrize("reported", [False, True])
def test_the_openai_backend_refuses_an_overlong_prompt_before_sending_it(
    tiny_chat_model: Path, reported: bool
) -> None:
    """With a local tokenizer, the server's context (configured, or listed by the server as
    vLLM lists it) is checked before the request leaves, with the same error as the local
    backends, so the context policy applies over HTTP too."""
    pytest.importorskip("openai")
    from oversight.backends.openai_backend import OpenAIBackend

    models = [{"id": "m", "object": "model", "created": 0, "owned_by": "x", "max_model_len": 300}]
    with ScriptedServer([chat_reply()], models=models if reported else None) as server:
        backend = OpenAIBackend(
            "m",
            base_urls=[server.base_url],
            tokenizer=str(tiny_chat_model),
            max_model_len=None if reported else 300,
        )

        async def both() -> tuple[Any, Any]:
            try:
                short = await backend.generate(
                    [GenerateRequest([{"role": "user", "content": "Hi"}], SamplingParams())]
                )
                with pytest.raises(ContextOverflowError) as info:
                    await backend.generate([_long_request()])
                return short, info.value
            finally:
                await backend.aclose()

        short, err = asyncio.run(both())
    assert short[0].text == "I argue for A."
    assert err.context_tokens == 300 and err.prompt_tokens > 300 and not err.transient
    assert len(server.seen) == 1  # the short request only: the long one was never sent

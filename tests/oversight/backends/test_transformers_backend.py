import asyncio
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from oversight.backends import (
    Backend,
    BackendError,
    GenerateRequest,
    SamplingParams,
    ScoreRequest,
    TransformersBackend,
)
from oversight.backends.chat_prompts import label_token_ids
from oversight.backends.transformers_backend import _LoadedModel

GREEDY = SamplingParams(max_new_tokens=12)
PROMPTS = [
    "Which answer is correct, A or B?",
    "Hi",
    "The judge reads the transcript and picks the more convincing answer. Which one?",
    "Paris is the capital of France.",
    "Two plus two is four. Is it?",
    "I think the answer is B because the story says so.",
]


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def _gen(text: str, params: SamplingParams = GREEDY) -> GenerateRequest:
    return GenerateRequest(_chat(text), params)


async def _concurrently(backend: TransformersBackend, requests: list[GenerateRequest]) -> list[str]:
    """One ``generate([request])`` call per request, all in flight at once, like graph nodes."""
    results = await asyncio.gather(*(backend.generate([r]) for r in requests))
    return [r[0].text for r in results]


async def _one_by_one(backend: TransformersBackend, requests: list[GenerateRequest]) -> list[str]:
    return [(await backend.generate([r]))[0].text for r in requests]


@pytest.fixture
def backend(tiny_chat_model: Path) -> TransformersBackend:
    return TransformersBackend(str(tiny_chat_model), name="tiny")


def test_is_a_backend(backend: TransformersBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "tiny"


def test_nothing_is_loaded_before_the_first_call(backend: TransformersBackend) -> None:
    assert not backend.loaded and backend.stats.loads == 0
    asyncio.run(backend.generate([_gen("Hi")]))
    assert backend.loaded and backend.stats.loads == 1
    asyncio.run(backend.generate([_gen("Hi again")]))
    assert backend.stats.loads == 1


def test_a_bad_model_fails_at_the_first_call_not_at_construction() -> None:
    backend = TransformersBackend("/no/such/model")
    with pytest.raises(BackendError, match="does not exist"):
        asyncio.run(backend.generate([_gen("Hi")]))


def test_concurrent_requests_are_batched(backend: TransformersBackend) -> None:
    texts = asyncio.run(_concurrently(backend, [_gen(p) for p in PROMPTS]))
    assert len(texts) == len(PROMPTS)
    assert backend.stats.requests == len(PROMPTS)
    assert backend.stats.batches < len(PROMPTS)
    assert backend.stats.largest_batch > 1


def test_max_batch_size_is_respected(tiny_chat_model: Path) -> None:
    backend = TransformersBackend(str(tiny_chat_model), max_batch_size=2)
    asyncio.run(_concurrently(backend, [_gen(p) for p in PROMPTS[:5]]))
    assert backend.stats.largest_batch == 2
    assert backend.stats.batches == 3


def test_batched_greedy_output_equals_unbatched(backend: TransformersBackend) -> None:
    requests = [_gen(p) for p in PROMPTS]  # different lengths: left padding is exercised
    alone = asyncio.run(_one_by_one(backend, requests))
    assert backend.stats.largest_batch == 1
    batched = asyncio.run(_concurrently(backend, requests))
    assert backend.stats.largest_batch == len(PROMPTS)
    assert batched == alone
    assert len(set(alone)) > 1  # the prompts matter: not a constant output


def test_greedy_is_repeatable(backend: TransformersBackend) -> None:
    first = asyncio.run(backend.generate([_gen(PROMPTS[0])]))
    second = asyncio.run(backend.generate([_gen(PROMPTS[0])]))
    assert first[0].text == second[0].text


def test_seeded_sampling_is_repeatable_and_independent_of_batching(
    backend: TransformersBackend,
) -> None:
    def sampled(seed: int) -> SamplingParams:
        return SamplingParams(max_new_tokens=16, temperature=1.0, seed=seed)

    requests = [_gen(p, sampled(seed)) for seed, p in enumerate(PROMPTS)]
    batched = asyncio.run(_concurrently(backend, requests))
    alone = asyncio.run(_one_by_one(backend, requests))
    assert batched == alone
    again = asyncio.run(backend.generate([_gen(PROMPTS[0], sampled(0))]))
    other_seeds = asyncio.run(
        _one_by_one(backend, [_gen(PROMPTS[0], sampled(s)) for s in range(1, 5)])
    )
    assert again[0].text == alone[0]
    assert any(text != alone[0] for text in other_seeds)
    greedy = asyncio.run(backend.generate([_gen(PROMPTS[0])]))
    assert greedy[0].text not in {alone[0], *other_seeds}


def test_different_sampling_params_run_in_separate_batches(backend: TransformersBackend) -> None:
    requests = [
        _gen("Hi"),
        _gen("Hello", SamplingParams(max_new_tokens=4)),
        _gen("Hey", SamplingParams(max_new_tokens=12, temperature=0.7, seed=1)),
        _gen("Yo", SamplingParams(max_new_tokens=12, temperature=0.7, seed=2)),
    ]
    results = asyncio.run(backend.generate(requests))
    assert backend.stats.batches == 3  # the two sampled requests differ only by seed
    assert results[1].completion_tokens <= 4


def test_completion_counts_tokens(backend: TransformersBackend, tiny_chat_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    messages = _chat(PROMPTS[2])
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    [completion] = asyncio.run(backend.generate([GenerateRequest(messages, GREEDY)]))
    assert completion.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False).input_ids)
    assert 1 <= completion.completion_tokens <= GREEDY.max_new_tokens
    assert completion.latency_s > 0
    assert backend.stats.completion_tokens == completion.completion_tokens


def _hand_scores(model_dir: Path, request: ScoreRequest) -> list[float]:
    """Label probabilities computed directly from the model's logits, no batching."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    chat = tokenizer.apply_chat_template(
        request.messages, add_generation_prompt=True, tokenize=False
    )
    text = str(chat) + request.assistant_prefix
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    label_ids = [tokenizer.convert_tokens_to_ids(lab) for lab in request.labels]
    selected = [float(logprobs[i]) for i in label_ids]
    total = sum(math.exp(lp) for lp in selected)
    return [math.exp(lp) / total for lp in selected]


def test_score_choices_matches_a_hand_computation(
    backend: TransformersBackend, tiny_chat_model: Path
) -> None:
    requests = [
        ScoreRequest(_chat(p), ["A", "B"], assistant_prefix="Answer: ") for p in PROMPTS[:4]
    ]
    scores = asyncio.run(backend.score_choices(requests))
    assert backend.stats.batches == 1  # one prefill for the four requests
    for request, score in zip(requests, scores, strict=True):
        assert score.labels == ["A", "B"] and not score.missing
        assert score.probs is not None
        assert sum(score.probs) == pytest.approx(1.0, abs=1e-6)
        assert all(lp is not None and lp < 0 for lp in score.logprobs)
        assert score.probs == pytest.approx(_hand_scores(tiny_chat_model, request), abs=1e-4)


def test_score_choices_reads_the_leading_space_label_without_trailing_space(
    backend: TransformersBackend, tiny_chat_model: Path
) -> None:
    request = ScoreRequest(_chat(PROMPTS[0]), ["A", "B"], assistant_prefix="Answer:")
    [score] = asyncio.run(backend.score_choices([request]))
    spaced = ScoreRequest(request.messages, ["ĠA", "ĠB"], request.assistant_prefix)
    assert score.probs == pytest.approx(_hand_scores(tiny_chat_model, spaced), abs=1e-4)


def test_label_tokenization(tiny_chat_model: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_chat_model)
    bare = tok.convert_tokens_to_ids(["A", "B"])
    spaced = tok.convert_tokens_to_ids(["ĠA", "ĠB"])
    assert label_token_ids(tok, ["A", "B"], "Answer: ") == bare
    assert label_token_ids(tok, ["A", "B"], "assistant\n") == bare
    assert label_token_ids(tok, ["A", "B"], "Answer:") == spaced
    # "Zq" is no single token in either spelling: its first token stands for it.
    assert tok.tokenize("Zq") == ["Z", "q"]
    assert label_token_ids(tok, ["Zq", "B"], "Answer: ") == [
        tok.convert_tokens_to_ids("Z"),
        bare[1],
    ]
    with pytest.raises(BackendError, match="share a first token"):
        label_token_ids(tok, ["Zq", "Zx"], "Answer: ")
    with pytest.raises(BackendError, match="empty"):
        label_token_ids(tok, ["", "B"], "Answer: ")


def test_a_bad_request_fails_alone(backend: TransformersBackend) -> None:
    good = ScoreRequest(_chat("Hi"), ["A", "B"], "Answer: ")
    bad = ScoreRequest(_chat("Hi"), ["Zq", "Zx"], "Answer: ")

    async def both() -> tuple[Any, Any]:
        return await asyncio.gather(
            backend.score_choices([good]), backend.score_choices([bad]), return_exceptions=True
        )

    ok, err = asyncio.run(both())
    assert isinstance(err, BackendError)
    assert ok[0].probs is not None


def test_a_failing_batch_fails_only_its_own_callers(
    backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _LoadedModel.generate_batch
    calls = 0

    def flaky(self: _LoadedModel, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("out of memory")
        return original(self, *args)

    monkeypatch.setattr(_LoadedModel, "generate_batch", flaky)

    async def run() -> tuple[list[Any], list[Any]]:
        first = await asyncio.gather(
            *(backend.generate([_gen(p)]) for p in PROMPTS[:3]), return_exceptions=True
        )
        second = await asyncio.gather(*(backend.generate([_gen(p)]) for p in PROMPTS[:3]))
        return first, second

    first, second = asyncio.run(run())
    assert all(isinstance(e, BackendError) and "out of memory" in str(e) for e in first)
    assert [len(r) for r in second] == [1, 1, 1]


def test_aclose_stops_the_worker(backend: TransformersBackend) -> None:
    async def run() -> None:
        await backend.generate([_gen("Hi")])
        task = backend._worker_task
        assert task is not None and not task.done()
        await backend.aclose()
        assert task.done()
        with pytest.raises(BackendError, match="closed"):
            await backend.generate([_gen("Hi")])

    asyncio.run(run())
    assert not backend.loaded


def test_aclose_fails_running_and_queued_requests(tiny_chat_model: Path) -> None:
    backend = TransformersBackend(str(tiny_chat_model), max_batch_size=1)

    async def run() -> list[Any]:
        await backend.load()
        calls = [asyncio.create_task(backend.generate([_gen(p)])) for p in PROMPTS[:3]]
        await asyncio.sleep(0)  # the callers enqueue
        await asyncio.sleep(0)  # the worker starts the first batch in a thread
        await backend.aclose()
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, BackendError) and "closed" in str(r) for r in results)


def test_a_tokenizer_without_chat_template_is_a_clear_error(
    tiny_chat_model: Path, tmp_path: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    tokenizer.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    tokenizer.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    (tmp_path / "chat_template.jinja").unlink(missing_ok=True)
    backend = TransformersBackend(str(tmp_path))
    with pytest.raises(BackendError, match="chat template"):
        asyncio.run(backend.generate([_gen("Hi")]))


def test_a_prompt_longer_than_the_context_fails_alone_with_its_length(
    backend: TransformersBackend,
) -> None:
    """The tiny model has 1024 positions; past them it would generate from untrained positions."""
    long_text = "Paris is the capital of France. " * 200
    fits = _gen("Hi")
    too_long = _gen(long_text)
    too_long_to_score = ScoreRequest(_chat(long_text), ["A", "B"], "Answer:")

    async def all_three() -> list[Any]:
        return await asyncio.gather(
            backend.generate([fits]),
            backend.generate([too_long]),
            backend.score_choices([too_long_to_score]),
            return_exceptions=True,
        )

    ok, gen_err, score_err = asyncio.run(all_three())
    assert ok[0].completion_tokens > 0
    for err in (gen_err, score_err):
        assert isinstance(err, BackendError)
        assert not err.transient
        assert "exceeds the model's context of 1024 tokens" in str(err)
    assert "max_new_tokens 12" in str(gen_err)

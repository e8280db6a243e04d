"""The transformers backend on the real SmolLM2-135M-Instruct from the offline wheel."""

import asyncio
import re
from pathlib import Path

import pytest

from oversight.backends import GenerateRequest, SamplingParams, ScoreRequest, TransformersBackend

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def smollm2(oversight_cache: Path) -> TransformersBackend:
    return TransformersBackend("smollm2-135m-instruct", cache_dir=oversight_cache)


def _ask(question: str, max_new_tokens: int = 24) -> GenerateRequest:
    return GenerateRequest(
        [{"role": "user", "content": question}], SamplingParams(max_new_tokens=max_new_tokens)
    )


def test_chat_generation_gives_english_text(smollm2: TransformersBackend) -> None:
    questions = ["What is the capital of France?", "Name a fruit.", "Say hello."]

    async def run() -> list[str]:
        batched = await asyncio.gather(*(smollm2.generate([_ask(q)]) for q in questions))
        return [c[0].text for c in batched]

    texts = asyncio.run(run())
    assert "Paris" in texts[0]
    for text in texts:
        words = re.findall(r"[A-Za-z]+", text)
        assert len(words) >= 2
        assert "<|im_end|>" not in text and "<|im_start|>" not in text
    # Greedy output is the same whether a prompt ran in the batch or alone.
    alone = asyncio.run(smollm2.generate([_ask(questions[2])]))
    assert alone[0].text == texts[2]


def test_score_choices_on_a_trivial_question(smollm2: TransformersBackend) -> None:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prefix = "The capital of France is"  # no trailing space: labels read as " Paris" etc.
    scores = asyncio.run(
        smollm2.score_choices(
            [
                ScoreRequest(messages, ["Paris", "London"], prefix),
                ScoreRequest(messages, ["London", "Berlin", "Paris"], prefix),
            ]
        )
    )
    assert scores[0].probs is not None and scores[1].probs is not None
    assert scores[0].probs[0] > 0.9
    assert scores[1].probs[2] > 0.9
    assert sum(scores[1].probs) == pytest.approx(1.0)
    # The same label has the same raw log-prob whatever the other labels are.
    assert scores[0].logprobs[0] == pytest.approx(scores[1].logprobs[2], abs=1e-4)

"""Throughput of the transformers backend: concurrent requests batched vs one at a time.

Reports a ratio measured in one run (the machine is shared and noisy, so absolute times mean
little): the speed-up of gathering concurrent calls into padded batches, for generation and
for judges' label scoring.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.common import DEFAULT_MODEL, Figures, Options
from oversight.backends import TransformersBackend
from oversight.backends.base import GenerateRequest, SamplingParams, ScoreRequest

QUESTION = "Explain in two sentences why the sky is blue. Variant {i}."


async def _timed(backend: TransformersBackend, requests: list[Any], concurrent: bool) -> float:
    call = backend.generate if isinstance(requests[0], GenerateRequest) else backend.score_choices
    start = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(call([r]) for r in requests))
    else:
        for r in requests:
            await call([r])
    return time.perf_counter() - start


async def _measure(model: str, n: int, max_new_tokens: int) -> Figures:
    params = SamplingParams(max_new_tokens=max_new_tokens)
    gen = [
        GenerateRequest([{"role": "user", "content": QUESTION.format(i=i)}], params)
        for i in range(n)
    ]
    score = [
        ScoreRequest(
            [{"role": "user", "content": QUESTION.format(i=i) + " Is it A or B?"}],
            ["A", "B"],
            "Answer:",
        )
        for i in range(n)
    ]
    backend = TransformersBackend(model, max_batch_size=n)
    await backend.load()
    out: Figures = {"model": model, "requests": n, "max_new_tokens": max_new_tokens}
    try:
        await _timed(backend, gen[:2], concurrent=True)  # warm-up
        for name, reqs in (("generate", gen), ("score_choices", score)):
            one = await _timed(backend, reqs, concurrent=False)
            batched = await _timed(backend, reqs, concurrent=True)
            out[name] = {
                "one_by_one_s": round(one, 3),
                "batched_s": round(batched, 3),
                "speedup": round(one / batched, 2),
            }
    finally:
        await backend.aclose()
    return out


def run(options: Options) -> Figures:
    """16 requests of 32 new tokens (quick: 4 of 4)."""
    n, tokens = (4, 4) if options.quick else (16, 32)
    return asyncio.run(_measure(options.model or DEFAULT_MODEL, n, tokens))

"""Throughput of the transformers backend: concurrent requests batched vs one at a time.

Reports a ratio measured in one run (the machine is shared and noisy, so absolute times mean
little). Usage: ``python benchmarks/bench_batching.py [--model smollm2-135m-instruct] [--n 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from oversight.backends import TransformersBackend
from oversight.backends.base import GenerateRequest, SamplingParams, ScoreRequest

QUESTION = "Explain in two sentences why the sky is blue. Variant {i}."


async def _timed(backend: TransformersBackend, requests: list, concurrent: bool) -> float:
    call = backend.generate if isinstance(requests[0], GenerateRequest) else backend.score_choices
    start = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(call([r]) for r in requests))
    else:
        for r in requests:
            await call([r])
    return time.perf_counter() - start


async def main(model: str, n: int, max_new_tokens: int) -> None:
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
    await _timed(backend, gen[:2], concurrent=True)  # warm-up
    for name, reqs in (("generate", gen), ("score_choices", score)):
        one = await _timed(backend, reqs, concurrent=False)
        batched = await _timed(backend, reqs, concurrent=True)
        print(
            f"{name:14s} n={n}: one-by-one {one:6.2f}s  batched {batched:6.2f}s  "
            f"speed-up x{one / batched:.2f}"
        )
    await backend.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
    asyncio.run(main(args.model, args.n, args.max_new_tokens))

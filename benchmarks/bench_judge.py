"""Judge cost: a judgment is prefill only, so it should cost about what one token costs.

A prompted judge scores the answer labels from next-token log-probs in both presentation
orders: two prefills of the same transcript, no decoding. The figure is, for the same judge
prompt, time per judgment / time to generate exactly one token (one prefill plus one decode
step), measured one after the other in one process on the transformers backend. Goal: at most
2 (the two orders). Both are timed one request at a time, after a warm-up, over ``repeats``.
"""

from __future__ import annotations

import asyncio
import time

from agents.judge import ORDERS, PromptedJudge
from agents.templates import load_template
from benchmarks.common import DEFAULT_MODEL, Figures, Options
from oversight.backends import TransformersBackend
from oversight.backends.base import Completion, GenerateRequest, SamplingParams
from oversight.store import Question, Turn

SPEECH = (
    "Evaporation is the answer: the sun warms the water, molecules leave the surface as vapour, "
    "and the puddle shrinks until the ground is dry. Condensation is the reverse process. "
)


def debate(words: int, tag: str = "") -> tuple[Question, list[Turn]]:
    """A 4-speech debate of about ``words`` words a speech; a ``tag`` starts every speech
    (distinct tags: no debate shares another's prefix cache)."""
    q = Question(
        id="q",
        dataset="bench",
        split="test",
        text="Which process makes a puddle disappear on a warm day?",
        choices=["evaporation", "condensation"],
        correct_index=0,
    )
    reps = max(1, words // len(SPEECH.split()))
    turns = [
        Turn(
            debate_id="d",
            round=r,
            speaker=s,
            model="m",
            text=(f"{tag}, {s}, round {r}. " if tag else "") + SPEECH * reps,
        )
        for r in range(2)
        for s in ("debater_1", "debater_2")
    ]
    return q, turns


async def _measure(model: str, repeats: int, words: int) -> Figures:
    q, turns = debate(words)
    sides = {"debater_1": 0, "debater_2": 1}
    judge = PromptedJudge("judge", model, load_template("judge"))
    one_token = GenerateRequest(
        judge.messages(q, turns, sides, ORDERS[0]), SamplingParams(max_new_tokens=1)
    )
    backend = TransformersBackend(model, max_batch_size=1)
    await backend.load()
    try:
        await judge.judge(backend, q, turns, sides)  # warm-up
        await backend.generate([one_token])
        start = time.perf_counter()
        for _ in range(repeats):
            await judge.judge(backend, q, turns, sides)
        judgment = (time.perf_counter() - start) / repeats
        start = time.perf_counter()
        for _ in range(repeats):
            (done,) = await backend.generate([one_token])
        token = (time.perf_counter() - start) / repeats
    finally:
        await backend.aclose()
    return {"model": model, **judge_figures(repeats, done, judgment, token)}


def judge_figures(repeats: int, done: Completion, judgment: float, token: float) -> Figures:
    """The judge-cost figures of one measurement: seconds per judgment and per one-token
    generation of the same prompt (``done``, the last of them) and their ratio."""
    return {
        "repeats": repeats,
        "prompt_tokens": done.prompt_tokens,
        "generated_tokens": done.completion_tokens,
        "judgment_s": round(judgment, 4),
        "one_token_s": round(token, 4),
        "judgment_per_token": round(judgment / token, 3),
        "goal": "<= 2",
    }


def run(options: Options) -> Figures:
    """A 4-speech transcript of about 4 x 120 words, 20 repeats (quick: 20 words, 2 repeats)."""
    repeats, words = (2, 20) if options.quick else (20, 120)
    return asyncio.run(_measure(options.model or DEFAULT_MODEL, repeats, words))

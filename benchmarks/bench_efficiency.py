"""Orchestration efficiency: debate turns through ``Runner`` vs the engine's own batch call.

The framework runs a debate experiment (transformers backend, temperature 0); every
generation request it sends is recorded. The same requests are then sent straight to the
model, one round at a time, as one padded ``model.generate`` per round: what the engine
alone does for the same prompts and token counts. The figure is framework / raw generated
tokens per second (goal: at least 0.95).

The framework's time runs from the start of ``Runner.run`` (planning, Store writes
included) to the return of its last generation call: all debates advance in lockstep, so the
judges, which this benchmark does not compare, start only after that. Model loading is
outside both times.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_MODEL, Figures, Options, write_questions
from oversight.backends import TransformersBackend
from oversight.backends.base import (
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
)
from oversight.backends.chat_prompts import ChatPrompter
from oversight.config import ExperimentConfig, ModelConfig, parse_config
from oversight.models import resolve_model
from oversight.runner import Runner
from oversight.store import Store


class _Recording:
    """Passes calls to a loaded backend and records each generation request and its result."""

    def __init__(self, inner: TransformersBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[GenerateRequest] = []
        self.completions: list[Completion] = []
        self.last_generate_end = 0.0

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        self.requests += requests
        out = await self.inner.generate(requests)
        self.completions += out
        self.last_generate_end = time.perf_counter()
        return out

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        return await self.inner.score_choices(requests)

    async def aclose(self) -> None:
        return None  # the benchmark closes the inner backend itself


def efficiency_figures(
    shape: tuple[int, int, int],
    recording: _Recording,
    framework_s: float,
    raw_tokens: int,
    raw_s: float,
) -> Figures:
    """The efficiency figures of ``shape`` (debates, rounds, new tokens): the framework's
    recorded turns against the raw engine's tokens and time for the same requests."""
    n, rounds, tokens = shape
    framework_tokens = sum(c.completion_tokens for c in recording.completions)
    framework_tps, raw_tps = framework_tokens / framework_s, raw_tokens / raw_s
    return {
        "debates": n,
        "rounds": rounds,
        "max_new_tokens": tokens,
        "turns": len(recording.requests),
        "framework_tokens": framework_tokens,
        "raw_tokens": raw_tokens,
        "framework_s": round(framework_s, 3),
        "raw_s": round(raw_s, 3),
        "framework_tokens_per_s": round(framework_tps, 1),
        "raw_tokens_per_s": round(raw_tps, 1),
        "ratio": round(framework_tps / raw_tps, 3),
        "goal_ratio": 0.95,
    }


def _config(model: str, questions: Path, n: int, rounds: int, tokens: int, url: str) -> Any:
    data: dict[str, Any] = {
        "name": "efficiency",
        "store": url,
        "concurrency": n,
        "data": {"source": "jsonl", "path": str(questions), "limit": n},
        "models": {"m": {"model": model, "max_batch_size": 2 * n}},
        "protocols": {
            "debate": {
                "kind": "debate",
                "model": "m",
                "rounds": rounds,
                "swap": False,
                "word_limit": 30,
                "generation": {"max_new_tokens": tokens, "temperature": 0.0},
            }
        },
        "judges": [{"name": "judge", "model": "m", "prompt": "judge"}],
    }
    cfg: ExperimentConfig = parse_config(data, "bench_efficiency")
    return cfg


def _raw(path: str, requests: list[GenerateRequest], per_round: int) -> tuple[int, float]:
    """The recorded requests as one padded ``generate`` per round: (generated tokens, s)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    prompter = ChatPrompter(tokenizer, "raw")
    eos = {tokenizer.eos_token_id} | set(
        [model.generation_config.eos_token_id]
        if isinstance(model.generation_config.eos_token_id, int)
        else (model.generation_config.eos_token_id or [])
    )
    with torch.inference_mode():  # warm-up, as the framework's backend had
        model.generate(**tokenizer(["warm up"], return_tensors="pt"), max_new_tokens=2)
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(requests), per_round):
        batch = requests[i : i + per_round]
        texts = [prompter.chat_text(r.messages) for r in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=batch[0].params.max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=sorted(e for e in eos if e is not None),
                repetition_penalty=1.0,
            )
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            end = next((k for k, t in enumerate(row) if t in eos), None)
            tokens += len(row) if end is None else end + 1
    return tokens, time.perf_counter() - started


async def _framework(cfg: Any, backend: _Recording) -> float:
    def factory(_alias: str, _cfg: ModelConfig) -> _Recording:
        return backend

    store = Store(cfg.store)
    started = time.perf_counter()
    summary = await Runner(cfg, store, backend_factory=factory).run()
    store.close()
    if summary.failed:
        raise RuntimeError(f"debates failed: {summary.errors}")
    return backend.last_generate_end - started


def measure(model: str, n: int, rounds: int, tokens: int, workdir: Path) -> Figures:
    folder = workdir / f"efficiency-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    questions = write_questions(folder / "questions.jsonl", n)
    cfg = _config(model, questions, n, rounds, tokens, f"sqlite:///{folder / 'store.db'}")
    path = resolve_model(model)
    inner = TransformersBackend(path, name="m", max_batch_size=2 * n)
    asyncio.run(inner.load())
    warm_up = GenerateRequest([{"role": "user", "content": "warm up"}])
    asyncio.run(inner.generate([warm_up]))
    recording = _Recording(inner)
    try:
        framework_s = asyncio.run(_framework(cfg, recording))
    finally:
        asyncio.run(inner.aclose())
    raw_tokens, raw_s = _raw(path, recording.requests, per_round=2 * n)
    figures = efficiency_figures((n, rounds, tokens), recording, framework_s, raw_tokens, raw_s)
    return {"backend": "transformers", "model": model} | figures


def run(options: Options) -> Figures:
    """16 debates x 2 rounds x 2 speakers of 32 tokens (quick: 2 x 1 x 2 of 4)."""
    n, rounds, tokens = (2, 1, 4) if options.quick else (16, 2, 32)
    return measure(options.model or DEFAULT_MODEL, n, rounds, tokens, options.workdir)

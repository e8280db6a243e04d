"""Concurrency scaling: throughput with 1, 4, 16 and 64 debates in flight.

The same 64 one-round debates (two 16-token speeches each, greedy, one judge) run through
``Runner`` on the transformers backend, each level on a fresh store with one loaded model;
the figure per level is generated tokens per second and debates per second of the whole run
(planning, speeches, judgments, Store writes). Throughput must rise with concurrency until
the engine saturates: flat figures would mean calls are serialised somewhere.
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.bench_efficiency import _config, _Recording
from benchmarks.common import DEFAULT_MODEL, Figures, Options, write_questions
from oversight.backends import TransformersBackend
from oversight.config import ModelConfig
from oversight.models import resolve_model
from oversight.runner import Runner
from oversight.store import Store, Turn

LEVELS = (1, 4, 16, 64)


async def _level(cfg: object, backend: _Recording) -> tuple[float, int, int]:
    def factory(_alias: str, _cfg: ModelConfig) -> _Recording:
        return backend

    store = Store(cfg.store)  # type: ignore[attr-defined]
    started = time.perf_counter()
    summary = await Runner(cfg, store, backend_factory=factory).run()  # type: ignore[arg-type]
    took = time.perf_counter() - started
    tokens = sum(t.completion_tokens for t in store.all(Turn))
    store.close()
    if summary.failed:
        raise RuntimeError(f"debates failed: {summary.errors}")
    return took, tokens, summary.completed


def run(options: Options) -> Figures:
    """64 debates at each of 1, 4, 16, 64 in flight (quick: 8 debates at 1, 4, 8)."""
    n, levels, new = (8, (1, 4, 8), 4) if options.quick else (64, LEVELS, 16)
    model = options.model or DEFAULT_MODEL
    folder = options.workdir / f"scaling-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    questions = write_questions(folder / "questions.jsonl", n)
    inner = TransformersBackend(resolve_model(model), name="m", max_batch_size=2 * max(levels))
    asyncio.run(inner.load())
    out: Figures = {"backend": "transformers", "model": model, "debates": n, "levels": {}}
    try:
        for c in levels:
            cfg = _config(model, questions, n, 1, new, f"sqlite:///{folder / f'c{c}.db'}")
            cfg = cfg.model_copy(update={"concurrency": c})
            took, tokens, done = asyncio.run(_level(cfg, _Recording(inner)))
            out["levels"][str(c)] = {
                "in_flight": c,
                "seconds": round(took, 2),
                "generated_tokens": tokens,
                "tokens_per_s": round(tokens / took, 1),
                "debates_per_s": round(done / took, 3),
            }
    finally:
        asyncio.run(inner.aclose())
    first = out["levels"][str(levels[0])]["tokens_per_s"]
    out["speedup_vs_1"] = {k: round(v["tokens_per_s"] / first, 2) for k, v in out["levels"].items()}
    return out

"""Replicas: the same debates through the openai backend against two ``vllm serve`` replicas
vs one.

One side runs one server computing on every usable core (the framework's default thread
setting); the other runs two servers, each bound to its own half of those cores
(``VLLM_CPU_OMP_THREADS_BIND``), behind one model's ``base_urls``, where the backend sends each
request to the least-loaded replica. Every server starts fresh, so neither side finds the
other's prompts in a prefix cache; start-up is outside both times. The experiment is one-round
debates at temperature 0 with the prompted judge on the same model: the whole run's generated
tokens per second, from the start of ``Runner.run`` to its end.

Figure: two / one tokens per second (goal: at least 1.7 where each replica has hardware of its
own, as on GPUs). On a CPU both sides share the same cores, so the figure measures what
splitting them between two engines costs or gains, not a second machine's worth of speed.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.bench_efficiency import _config
from benchmarks.common import DEFAULT_MODEL, Figures, Options, write_questions
from oversight.backends.cpu_threads import BIND_ENV, usable_cores
from oversight.backends.factory import make_backend
from oversight.backends.openai_backend import OpenAIBackend
from oversight.backends.vllm_server import VLLMServer
from oversight.config import ExperimentConfig, ModelConfig
from oversight.models import resolve_model
from oversight.runner import Runner
from oversight.store import Store, Turn

SERVER_ARGS = ["--dtype", "float32", "--max-model-len", "2048"]


def core_halves() -> tuple[str, str] | None:
    """The usable cores split in two ``VLLM_CPU_OMP_THREADS_BIND`` lists; None under 2 cores."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no binding
        return None
    if len(cores) < 2:
        return None
    half = len(cores) // 2
    return ",".join(map(str, cores[:half])), ",".join(map(str, cores[half:]))


def _start(servers: list[VLLMServer]) -> None:
    """Start the servers at once (each start waits for its ``/health``)."""
    with ThreadPoolExecutor(len(servers)) as pool:
        for started in [pool.submit(s.start) for s in servers]:
            started.result()


async def _debates(cfg: ExperimentConfig) -> tuple[float, int, list[dict[str, Any]]]:
    """Run ``cfg``: (seconds, generated tokens, each replica's requests and failed attempts)."""
    backends: list[OpenAIBackend] = []

    def factory(alias: str, model: ModelConfig) -> Any:
        backend = make_backend(alias, model)
        assert isinstance(backend, OpenAIBackend)
        backends.append(backend)
        return backend

    assert cfg.store is not None  # the benchmark always names its store
    store = Store(cfg.store)
    try:
        started = time.perf_counter()
        summary = await Runner(cfg, store, backend_factory=factory).run()
        took = time.perf_counter() - started
        if summary.failed:
            raise RuntimeError(f"debates failed: {summary.errors}")
        tokens = sum(t.completion_tokens for t in store.all(Turn))
    finally:
        store.close()
    stats = [
        {"url": s.url, "requests": s.requests, "failures": s.failures}
        for b in backends
        for s in b.replica_stats
    ]
    return took, tokens, stats


def _side(
    model: str, path: str, folder: Path, name: str, binds: list[str | None], run: tuple[int, int]
) -> Figures:
    """One side: ``len(binds)`` fresh servers (each bound to its cores, None: default), the
    debates against all of them, then the servers stopped."""
    n, tokens = run
    servers = [
        VLLMServer(
            path,
            served_name=model,
            extra_args=SERVER_ARGS,
            env=None if bind is None else {BIND_ENV: bind},
            log_path=folder / f"{name}-{i}.log",
        )
        for i, bind in enumerate(binds)
    ]
    try:
        _start(servers)
        questions = write_questions(folder / "questions.jsonl", n)
        cfg = _config(model, questions, n, 1, tokens, f"sqlite:///{folder / f'{name}.db'}")
        served = cfg.models["m"].model_copy(
            update={"backend": "openai", "base_urls": [s.base_url for s in servers]}
        )
        cfg = cfg.model_copy(update={"models": {"m": served}})
        took, generated, stats = asyncio.run(_debates(cfg))
    finally:
        for s in servers:
            s.stop()
    return {
        "replicas": len(servers),
        "cores_each": ["all" if b is None else b for b in binds],
        "seconds": round(took, 2),
        "generated_tokens": generated,
        "tokens_per_s": round(generated / took, 1),
        "requests_per_replica": [s["requests"] for s in stats],
        "failed_attempts": sum(s["failures"] for s in stats),
    }


def measure(model: str, workdir: Path, *, debates: int = 64, max_new_tokens: int = 32) -> Figures:
    halves = core_halves()
    if halves is None:
        return {"skipped": f"two replicas need 2 usable cores; this process has {usable_cores()}"}
    folder = workdir / f"replicas-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    path = resolve_model(model)
    run = (debates, max_new_tokens)
    one = _side(model, path, folder, "one", [None], run)
    two = _side(model, path, folder, "two", list(halves), run)
    return {
        "model": model,
        "debates": debates,
        "max_new_tokens": max_new_tokens,
        "cores": usable_cores(),
        "one": one,
        "two": two,
        "ratio": round(two["tokens_per_s"] / one["tokens_per_s"], 3),
        "goal_ratio": 1.7,
    }


def run(options: Options) -> Figures:
    """64 one-round debates of 32-token speeches, judged (quick: 4 debates, 4 tokens)."""
    model = options.model or DEFAULT_MODEL
    if options.quick:
        return measure(model, options.workdir, debates=4, max_new_tokens=4)
    return measure(model, options.workdir)

"""Orchestrator overhead: CPU ms per stored row (turn or judgment) with an instant backend.

The backend answers at once, so all CPU time of ``Runner.run`` is the framework's own:
LangGraph, the agents' prompt building, the Store. Quickstart-shaped experiments (debate,
consultancy and direct QA, two judges: 16 rows per question) at two sizes; the figure holds
if it stays flat as the experiment grows. The smaller size is run again under cProfile and
its top functions (this project's and LangGraph's loop) by cumulative time go into the
figures, so a regression names its cause (profiled times are inflated; the per-row figures
come from the unprofiled runs). Two more sizes each run in a process of their own give the
whole run's peak RSS and its growth per 1,000 questions.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figures, Options, write_questions
from oversight.backends.base import (
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
)
from oversight.backends.label_scores import choice_scores
from oversight.config import ExperimentConfig, ModelConfig, load_config
from oversight.runner import Runner
from oversight.store import Judgment, Store, Turn

QUICKSTART = Path(__file__).resolve().parent.parent / "experiments" / "quickstart.toml"
SPEECH = (
    "I argue for my answer: the passage supports it and the other answer contradicts the "
    "question's premise, so the judge should choose mine."
)


class InstantBackend:
    """A backend that answers at once: benchmark-only, so the time measured is the framework's."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return [Completion(SPEECH, prompt_tokens=200, completion_tokens=32, latency_s=0.0)] * len(
            requests
        )

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        return [choice_scores(r.labels, [-0.4] + [-1.1] * (len(r.labels) - 1)) for r in requests]

    async def aclose(self) -> None:
        return None


def _instant(alias: str, _cfg: ModelConfig) -> InstantBackend:
    return InstantBackend(alias)


def quickstart_config(
    questions: Path, n: int, store_url: str, protocols: tuple[str, ...] = ()
) -> ExperimentConfig:
    """The quickstart experiment on ``n`` generated questions, written to ``store_url``;
    ``protocols`` keeps only those of its protocols (default: all)."""
    cfg = load_config(QUICKSTART)
    data = cfg.data.model_copy(update={"source": "jsonl", "path": str(questions), "limit": n})
    kept = {k: v for k, v in cfg.protocols.items() if not protocols or k in protocols}
    update = {"data": data, "store": store_url, "name": f"overhead-{n}", "protocols": kept}
    return cfg.model_copy(update=update)


def measure(
    n: int, workdir: Path, *, profile: bool = False, protocols: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One run of ``n`` questions on a fresh SQLite store: CPU and wall time per stored row."""
    folder = workdir / f"overhead-{n}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    questions = write_questions(folder / "questions.jsonl", n)
    store = Store(f"sqlite:///{folder / 'store.db'}")
    cfg = quickstart_config(questions, n, store.url, protocols)
    runner = Runner(cfg, store, backend_factory=_instant)
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = asyncio.run(runner.run())
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rows = store.count(Turn) + store.count(Judgment)
    store.close()
    out: dict[str, Any] = {
        "questions": n,
        "debates": summary.completed,
        "failed": summary.failed,
        "rows": rows,
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_row": round(1000 * cpu / max(rows, 1), 3),
        "rows_per_s": round(rows / wall, 1) if wall > 0 else None,
        # Peak RSS of the whole process so far (tracemalloc would triple the CPU measured).
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if profiler is not None:
        out["profile_top"] = _top(profiler, 15)
    return out


_OURS = ("/oversight/", "/graphs/", "/agents/", "langgraph/pregel/main.py")
"""Files whose functions the profile summary lists (asyncio's wrappers would fill it)."""


def _top(profiler: cProfile.Profile, n: int) -> list[str]:
    """The ``n`` functions with the most cumulative time, as ``cum_s tottime_s name``."""
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream).sort_stats("cumulative")
    rows = []
    ours = [
        kv
        for kv in stats.stats.items()  # type: ignore[attr-defined]
        if any(part in kv[0][0] for part in _OURS)
    ]
    for func, (_cc, calls, tt, ct, _callers) in sorted(ours, key=lambda kv: kv[1][3], reverse=True)[
        :n
    ]:
        file, line, name = func
        where = f"{Path(file).name}:{line}({name})" if line else name
        rows.append(f"{ct:8.3f}s cum {tt:7.3f}s self {calls:7d} calls  {where}")
    return rows


def executor_peak(n: int, concurrency: int = 64) -> dict[str, Any]:
    """Peak traced memory of ``Executor.run`` over ``n`` lazily made debates whose work is
    instant: what the executor itself holds as the number of debates grows."""
    import tracemalloc

    from oversight.executor import Executor
    from oversight.store import Debate

    def debates() -> Any:
        for i in range(n):
            yield Debate(id=f"d{i}", experiment_id=1, question_id=f"q{i}", protocol="p", key="k")

    async def work(_d: Debate) -> None:
        await asyncio.sleep(0)

    tracemalloc.start()
    try:
        outcome = asyncio.run(Executor({}, concurrency=concurrency).run(debates(), work, total=n))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"debates": n, "completed": outcome.completed, "peak_kib": round(peak / 1024, 1)}


def run_peak(n: int, workdir: Path, protocols: tuple[str, ...] = ()) -> dict[str, Any]:
    """:func:`measure` of ``n`` questions in a fresh process: its peak RSS is that run's own
    (a process's peak only grows, so sizes measured one after another would hide it)."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from benchmarks.bench_overhead import measure; "
        "print(json.dumps(measure(int(sys.argv[1]), Path(sys.argv[2]), "
        "protocols=tuple(sys.argv[3:]))))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code, str(n), str(workdir), *protocols],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: figures[k] for k in ("questions", "rows", "failed", "peak_rss_mib")}


def run(options: Options) -> Figures:
    """Two sizes; the figure is CPU ms per row at each and their ratio (flat means 1.0)."""
    small, large = (3, 6) if options.quick else (100, 1000)
    a = measure(small, options.workdir)
    b = measure(large, options.workdir)
    few, many = (100, 1000) if options.quick else (1000, 100_000)
    memory = [executor_peak(few), executor_peak(many)]
    out: Figures = {
        "small": a,
        "large": b,
        "growth": round(b["cpu_ms_per_row"] / a["cpu_ms_per_row"], 3),
        "goal_ms_per_row": 1.0,
        "executor_memory": memory,
        "executor_memory_growth": round(memory[1]["peak_kib"] / memory[0]["peak_kib"], 2),
    }
    # The whole run's peak as the experiment grows: what it holds per question.
    sizes = (8, 32) if options.quick else (1000, 4000)
    whole = [run_peak(n, options.workdir) for n in sizes]
    out["run_memory"] = whole
    out["run_memory_mib_per_1000_questions"] = round(
        1000 * (whole[1]["peak_rss_mib"] - whole[0]["peak_rss_mib"]) / (sizes[1] - sizes[0]), 1
    )
    if not options.quick:
        profiled = measure(small, options.workdir, profile=True)
        out["profile_top"] = profiled["profile_top"]
    return out

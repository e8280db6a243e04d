"""Which Store a command uses (one precedence for all), and validation of command-line values."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from oversight.cli import app
from oversight.config import DEFAULT_STORE, resolve_store_url
from oversight.data.records import make_question
from oversight.store import Debate, Store, Turn

runner = CliRunner()


def _direct_config(tmp_path: Path, model: Path, store: Path) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        f"""
name = "where"
store = "sqlite:///{store}"
[data]
source = "arc"
limit = 1
[models.m]
model = "{model}"
[protocols.direct]
kind = "direct"
[[judges]]
name = "plain"
model = "m"
"""
    )
    return path


def test_precedence_is_command_line_then_environment_then_config_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OVERSIGHT_DB", raising=False)
    assert resolve_store_url(None, None) == DEFAULT_STORE
    assert resolve_store_url(None, "sqlite:///cfg.db") == "sqlite:///cfg.db"
    monkeypatch.setenv("OVERSIGHT_DB", "sqlite:///env.db")
    assert resolve_store_url(None, "sqlite:///cfg.db") == "sqlite:///env.db"
    assert resolve_store_url("sqlite:///cli.db", "sqlite:///cfg.db") == "sqlite:///cli.db"


def test_run_and_report_use_the_same_store(
    tmp_path: Path, tiny_chat_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$OVERSIGHT_DB applies to run as it does to report: both find the experiment."""
    in_config, in_env = tmp_path / "config.db", tmp_path / "env.db"
    cfg = _direct_config(tmp_path, tiny_chat_model, in_config)
    monkeypatch.setenv("OVERSIGHT_DB", f"sqlite:///{in_env}")
    result = runner.invoke(app, ["run", str(cfg)])
    assert result.exit_code == 0, result.output
    assert in_env.is_file() and not in_config.exists()
    report = runner.invoke(app, ["report", "where"])
    assert report.exit_code == 0, report.output
    assert "judge accuracy" in report.output
    cli_db = tmp_path / "cli.db"
    result = runner.invoke(app, ["run", str(cfg), "--db", f"sqlite:///{cli_db}"])
    assert result.exit_code == 0, result.output
    assert cli_db.is_file() and not in_config.exists()


@pytest.mark.parametrize(
    "args",
    [["status"], ["report", "x"], ["export", "x", "--out", "x.jsonl"], ["label", "x"]],
)
def test_read_only_commands_do_not_create_a_store(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo.db"
    result = runner.invoke(app, [*args, "--db", f"sqlite:///{missing}"])
    assert result.exit_code == 2, result.output
    assert f"no store at {missing}" in result.output
    assert not missing.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--concurrency", "0", "concurrency: Input should be greater than or equal to 1"),
        ("--concurrency", "-1", "concurrency: Input should be greater than or equal to 1"),
        ("--limit", "-1", "data.limit: Input should be greater than or equal to 1"),
        ("--limit", "0", "data.limit: Input should be greater than or equal to 1"),
    ],
)
def test_run_overrides_are_validated_as_the_config_is(
    tmp_path: Path, tiny_chat_model: Path, option: str, value: str, message: str
) -> None:
    store = tmp_path / "s.db"
    cfg = _direct_config(tmp_path, tiny_chat_model, store)
    result = runner.invoke(app, ["run", str(cfg), option, value])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not store.exists()


@pytest.mark.parametrize("value", ["2", "-5", "1.01"])
def test_min_confidence_outside_0_1_is_refused(tmp_path: Path, value: str) -> None:
    result = runner.invoke(
        app, ["label", "x", "--min-confidence", value, "--db", f"sqlite:///{tmp_path / 'none.db'}"]
    )
    assert result.exit_code == 2
    assert "--min-confidence" in result.output
    assert not (tmp_path / "none.db").exists()


def test_replay_concurrency_is_validated(tmp_path: Path) -> None:
    judges = tmp_path / "j.toml"
    judges.write_text('[models.m]\nmodel = "m"\n[[judges]]\nname = "a"\nmodel = "m"\n')
    result = runner.invoke(
        app,
        [
            "replay",
            "x",
            "--judges",
            str(judges),
            "--concurrency",
            "0",
            "--db",
            f"sqlite:///{tmp_path / 'r.db'}",
        ],
    )
    assert result.exit_code == 2
    assert "concurrency: Input should be greater than or equal to 1" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:////no/such/folder/x.db", "folder /no/such/folder does not exist"),
        ("nosuchscheme://host/db", "unknown database scheme"),
        ("not a url", "is not a database URL"),
    ],
)
def test_bad_store_urls_are_clear_errors(url: str, message: str) -> None:
    result = runner.invoke(app, ["status", "--db", url])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database")
    result = runner.invoke(app, ["status", "--db", f"sqlite:///{path}"])
    assert result.exit_code == 2
    assert "cannot open it as a database" in result.output
    assert path.read_text() == "not a database"


def test_passwords_in_store_urls_are_never_printed() -> None:
    result = runner.invoke(app, ["status", "--db", "postgresql+nodriver://ann:s3cret@h/db"])
    assert result.exit_code == 2
    assert "s3cret" not in result.output and "ann:***@h" in result.output


def test_status_shows_tokens_per_model_summed_over_turns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    store = Store(url)
    q = make_question(dataset="t", split="test", text="a?", choices=["x", "y"], correct_index=0)
    store.add_questions([q])
    exp = store.open_experiment("tok", {}, "h", "v")
    assert exp.id is not None
    store.insert_ignore(
        [
            Debate(id=d, experiment_id=exp.id, question_id=q.id, protocol="debate", key=d)
            for d in ("d1", "d2")
        ]
    )
    store.set_status("d2", "failed", "boom")
    store.insert_ignore(
        [
            Turn(
                debate_id=d,
                round=r,
                speaker="s",
                model=m,
                text="t",
                prompt_tokens=p,
                completion_tokens=c,
            )
            for d, r, m, p, c in (
                ("d1", 0, "alpha", 300, 40),
                ("d1", 1, "alpha", 410, 25),
                ("d2", 0, "beta", 90, 12),
            )
        ]
    )
    store.close()
    result = runner.invoke(app, ["status", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    # alpha: 300 + 410 prompt, 40 + 25 completion; beta: one turn.
    assert row["tokens"] == {
        "alpha": {"prompt": 710, "completion": 65},
        "beta": {"prompt": 90, "completion": 12},
    }
    assert (row["turns"], row["debates"]) == (3, {"pending": 1, "failed": 1})
    # The text rich's print_json writes to a file, byte for byte, without its cost.
    printed = io.StringIO()
    Console(file=printed, width=200).print_json(json.dumps([row]))
    assert result.stdout == printed.getvalue()

    table = runner.invoke(app, ["status", "--db", url])
    assert table.exit_code == 0, table.output
    lines = [" ".join(line.replace("│", " ").split()) for line in table.stdout.splitlines()]
    assert "tok alpha 710 65" in lines and "tok beta 90 12" in lines

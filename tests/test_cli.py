"""The ``oversight`` command end to end on the tiny offline model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from oversight.cli import app
from oversight.store import Store

runner = CliRunner()


def _config(tmp_path: Path, model: Path) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        f"""
name = "cli"
store = "sqlite:///{tmp_path / "cli.db"}"
[data]
source = "arc"
limit = 1
[models.m]
model = "{model}"
[protocols.debate]
kind = "debate"
model = "m"
rounds = 1
generation = {{ max_new_tokens = 6 }}
[protocols.direct]
kind = "direct"
[[judges]]
name = "plain"
model = "m"
[[judges]]
name = "skeptic"
model = "m"
prompt = "judge_skeptic"
"""
    )
    return path


def test_run_status_report(tmp_path: Path, tiny_chat_model: Path) -> None:
    cfg = _config(tmp_path, tiny_chat_model)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(app, ["run", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "3 completed, 0 failed" in result.output
    assert "cli: 3/3 (100%)" in result.output  # progress lines: CliRunner is not a terminal
    status = runner.invoke(app, ["status", "--db", db, "--json"])
    assert status.exit_code == 0, status.output
    (row,) = json.loads(status.stdout)
    assert row["experiment"] == "cli"
    assert row["debates"] == {"complete": 3}
    assert (row["turns"], row["judgments"]) == (4, 6)
    report = runner.invoke(app, ["report", "cli", "--db", db, "--json"])
    assert report.exit_code == 0, report.output
    summary = json.loads(report.stdout)
    protocols = {r["protocol"] for r in summary["judges"]}
    assert protocols == {"debate", "direct"}
    # Every member row's accuracy, recomputed from the stored rows by hand.
    store = Store(db, create=False)
    exp = store.require_experiment("cli")
    debates = {d.id: d for d in store.debates(exp.id or 0)}
    names = {"plain", "skeptic"}
    for r in summary["judges"]:
        if r["is_group"]:
            continue
        assert r["judge"] in names
        hits = [
            j.probs[store.question(debates[j.debate_id].question_id).correct_index] > 0.5
            for j in store.judgments(list(debates))
            if j.raw["judge"] == r["judge"] and debates[j.debate_id].protocol == r["protocol"]
        ]
        assert (r["verdicts"], r["accuracy"]) == (len(hits), sum(hits) / len(hits))
    table = runner.invoke(app, ["report", "cli", "--db", db])
    assert "judge accuracy" in table.output and "ensemble" in table.output
    again = runner.invoke(app, ["run", str(cfg)])
    assert again.exit_code == 0
    assert "0 run" in again.output


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[data]\nsource = "arc"\nlimt = 2\n')
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert f"{path}: data.limt: Extra inputs are not permitted" in result.output
    assert "Traceback" not in result.output


def test_unknown_experiment(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'x.db'}").close()
    result = runner.invoke(app, ["report", "nope", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    assert "no experiment named 'nope'" in result.output

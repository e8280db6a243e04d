"""The ``label`` and ``pipeline`` commands."""

from __future__ import annotations

import json
from pathlib import Path

from datasets import load_from_disk
from typer.testing import CliRunner

from oversight.cli import app
from oversight.store import Debate, JudgeKind, Judgment, Store
from tests.oversight.test_labels import make_store
from tests.oversight.test_pipeline import pipeline_config

runner = CliRunner()


def test_label_builds_a_set_and_exports_it(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    out = tmp_path / "labels"
    result = runner.invoke(
        app,
        [
            "label",
            "toy",
            "--db",
            store.url,
            "--method",
            "vote",
            "--protocol",
            "debate",
            "--judges",
            "j1",
            "--judges",
            "j2",
            "--name",
            "mine",
            "--export",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "label set mine" in result.output
    ds = load_from_disk(str(out))
    assert len(ds) == 4 and "correct_index" not in ds.column_names
    assert set(ds["n_judges"]) == {2}


def test_label_errors_name_the_problem(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    bad = runner.invoke(app, ["label", "toy", "--db", store.url, "--method", "median"])
    assert bad.exit_code == 2 and "--method" in bad.output
    missing = runner.invoke(app, ["label", "nope", "--db", store.url])
    assert missing.exit_code == 2 and "no experiment named 'nope'" in missing.output


def test_pipeline_command_prints_the_table_and_json(
    tiny_chat_model: Path, tiny_bert: Path, tmp_path: Path
) -> None:
    cfg = pipeline_config(tiny_chat_model, tiny_bert, tmp_path, seeds=[0])
    data = cfg.model_dump(mode="json")
    data["w2s"]["weak"]["members"] = 1
    path = tmp_path / "w2s.toml"
    path.write_text(_toml(data))
    result = runner.invoke(app, ["pipeline", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    for word in ("single", "ensemble", "PGR", "ceiling", "transf", "control:", "weak members"):
        assert word in result.output  # the tables (their columns may wrap on a narrow terminal)
    again = runner.invoke(app, ["pipeline", str(path), "--json"])
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    unavailable = payload["details"]["unavailable"]
    assert payload["stages_run"] == 0 and len(payload["rows"]) == 5 - len(unavailable)
    for reason in unavailable.values():
        assert reason.split(":")[0] in result.output and "unfit" in result.output
    _report_keeps_judge_kinds_apart(cfg.store or "", cfg.name)


def _report_keeps_judge_kinds_apart(url: str, experiment: str) -> None:
    """After a pipeline the prompted judges, each trained weak ensemble and (here, one added)
    human verdict are separate rows, and the report names the group that decided win rates."""
    store = Store(url)
    debate = next(d for d in store.all(Debate) if d.protocol == "debate")
    human = Judgment(
        debate_id=debate.id,
        judge_id="human:someone",
        kind=JudgeKind.HUMAN_LIVE,
        model="human",
        probs=[0.7, 0.3],
    )
    store.insert_ignore([human])
    result = runner.invoke(app, ["report", experiment, "--db", url, "--json"], terminal_width=200)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    groups = {row["judge"] for row in payload["judges"]}
    trained = {g for g in groups if g.startswith("trained weak-")}
    assert "ensemble (mean)" in groups and "human (live)" in groups
    assert len(trained) == 2, groups  # one trained ensemble per weak variant
    assert payload["wins_judged_by"] == "ensemble (mean)"
    text = runner.invoke(app, ["report", experiment, "--db", url], terminal_width=80)
    assert text.exit_code == 0, text.output
    assert "decided by ensemble (mean)" in " ".join(text.output.split()), text.output


def test_pipeline_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "x"\n[data]\nsource = "arc"\n[models.m]\nmodel = "m"\n'
        '[protocols.direct]\nkind = "direct"\n[[judges]]\nname = "j"\nmodel = "m"\n'
        '[w2s]\nseeds = []\n[w2s.strong]\nmodel = "m"\n'
    )
    result = runner.invoke(app, ["pipeline", str(path)])
    assert result.exit_code == 2
    assert "w2s.seeds" in result.output


def _toml(data: dict[str, object], prefix: str = "") -> str:
    """A minimal TOML writer for the nested dicts of a dumped config (tables, scalars, lists)."""
    scalars, tables, arrays = [], [], []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(scalars) + "\n"
    for key, value in tables:
        out += f"\n[{prefix}{key}]\n" + _toml(value, f"{prefix}{key}.")
    for key, items in arrays:
        for item in items:
            out += f"\n[[{prefix}{key}]]\n" + _toml(item, f"{prefix}{key}.")
    return out

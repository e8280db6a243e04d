"""Export (jsonl, hf) and import back: the same debates, turns and judgments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.data import shared_data_dir
from oversight.data.records import make_question
from oversight.store import (
    Debate,
    Experiment,
    JudgeEnsemble,
    Judgment,
    Store,
    Turn,
)
from oversight.transcripts import export_hf, export_jsonl, import_files


def _model_experiment(store: Store) -> None:
    """A small experiment as the runner would leave it, with a replayed ensemble recorded."""
    q = make_question(
        dataset="arc",
        split="test",
        text="2+2?",
        choices=["4", "5"],
        correct_index=0,
        meta={"row": 3},
    )
    store.add_questions([q])
    exp = store.open_experiment("arc-run", {"name": "arc-run", "seed": 0}, "abc123", "0.1.0")
    assert exp.id is not None
    store.insert_ignore(
        [
            Debate(
                id="d-run-1",
                experiment_id=exp.id,
                question_id=q.id,
                protocol="debate",
                key="debate|q|debater_1=0,debater_2=1|seed=0",
                assignment={"debater_1": 0, "debater_2": 1},
                rounds=1,
                status="complete",
            ),
            Debate(
                id="d-run-2",
                experiment_id=exp.id,
                question_id=q.id,
                protocol="direct",
                key="direct|q|-|seed=0",
                status="failed",
                error="BackendError: boom",
            ),
        ]
    )
    store.insert_ignore(
        [
            Turn(
                debate_id="d-run-1",
                round=0,
                speaker="debater_1",
                model="smol",
                text="It is <quote>four</quote>.",
                quotes=[{"text": "four", "verified": False}],
                prompt_tokens=120,
                completion_tokens=9,
                latency_s=0.25,
            ),
            Turn(debate_id="d-run-1", round=0, speaker="debater_2", model="smol", text="Five."),
        ]
    )
    store.insert_ignore(
        [
            Judgment(
                debate_id="d-run-1",
                judge_id="smol@1234abcd",
                kind="prompted",
                model="smol",
                probs=[0.625, 0.375],
                probs_by_order={"0,1": [0.7, 0.3], "1,0": [0.55, 0.45]},
                raw={"judge": "judge", "0,1": {"labels": ["A", "B"], "logprobs": [-0.1, -2.3]}},
            ),
        ]
    )
    store.insert_ignore(
        [
            JudgeEnsemble(
                experiment_id=exp.id,
                name="smol",
                judge_ids=["smol@1234abcd"],
                judges=[{"name": "judge", "judge_id": "smol@1234abcd"}],
            )
        ]
    )


@pytest.fixture
def source(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'source.sqlite'}")
    nyu = shared_data_dir() / "nyu-debates-sample"
    assert import_files(store, "nyu", [nyu]).failed == []
    _model_experiment(store)
    return store


def _rows(store: Store, experiment: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the experiment, with database-local experiment ids replaced by names."""
    exp = store.require_experiment(experiment)
    debates = store.debates(exp.id or 0)
    ids = [d.id for d in debates]
    turns = [t for i in ids for t in store.turns(i)]
    return {
        "experiment": [exp.model_dump(exclude={"id"})],
        "ensembles": [
            e.model_dump(exclude={"id", "experiment_id"})
            for e in store.all(JudgeEnsemble, JudgeEnsemble.experiment_id == exp.id)
        ],
        "questions": sorted(
            (store.question(q).model_dump() for q in {d.question_id for d in debates}),
            key=lambda q: q["id"],
        ),
        "debates": sorted(
            (d.model_dump(exclude={"experiment_id"}) for d in debates), key=lambda d: d["id"]
        ),
        "turns": sorted((t.model_dump() for t in turns), key=lambda t: t["id"]),
        "judgments": sorted((j.model_dump() for j in store.judgments(ids)), key=lambda j: j["id"]),
    }


@pytest.mark.parametrize("experiment", ["nyu-debates", "arc-run"])
def test_jsonl_round_trip_gives_the_same_rows(
    source: Store, tmp_path: Path, experiment: str
) -> None:
    out = tmp_path / f"{experiment}.jsonl"
    n = export_jsonl(source, experiment, out)
    lines = out.read_text().splitlines()
    assert n == len(lines) == len(source.debates(source.require_experiment(experiment).id or 0))
    record = json.loads(lines[0])
    assert set(record) == {"format", "experiment", "question", "debate", "turns", "judgments"}

    fresh = Store(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    report = import_files(fresh, "jsonl", [out])
    assert report.failed == [] and report.experiments == [experiment]
    assert _rows(fresh, experiment) == _rows(source, experiment)

    again = import_files(fresh, "jsonl", [out])
    assert (again.added.debates, again.added.turns, again.added.judgments) == (0, 0, 0)
    assert _rows(fresh, experiment) == _rows(source, experiment)


def test_jsonl_import_under_another_name_keeps_both(source: Store, tmp_path: Path) -> None:
    out = tmp_path / "nyu.jsonl"
    export_jsonl(source, "nyu-debates", out)
    turns, judgments = source.count(Turn), source.count(Judgment)
    before = _rows(source, "nyu-debates")
    report = import_files(source, "jsonl", [out], experiment="nyu-copy")
    assert report.failed == [] and report.added.debates == 40
    original = _rows(source, "nyu-debates")
    copy = _rows(source, "nyu-copy")
    assert {d["id"] for d in copy["debates"]}.isdisjoint(d["id"] for d in original["debates"])
    assert original == before
    assert source.count(Turn) == turns + len(original["turns"])
    assert source.count(Judgment) == judgments + len(original["judgments"])

    def strip(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((r["round"], r["speaker"], r["text"]) for r in rows)

    assert strip(copy["turns"]) == strip(original["turns"])
    assert copy["questions"] == original["questions"]


def test_a_malformed_record_names_file_line_and_field(source: Store, tmp_path: Path) -> None:
    out = tmp_path / "nyu.jsonl"
    export_jsonl(source, "nyu-debates", out)
    lines = out.read_text().splitlines()
    record = json.loads(lines[2])
    record["turns"][1]["round"] = "second"
    lines[2] = json.dumps(record)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    good = tmp_path / "arc.jsonl"
    export_jsonl(source, "arc-run", good)
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    report = import_files(fresh, "jsonl", [broken, good])
    (failed,) = report.failed
    assert failed.path == broken
    assert "broken.jsonl line 3: field 'turns.1.round'" in str(failed.error)
    assert fresh.count(Debate) == 2  # the whole broken file is rejected, the other imports
    assert [e.name for e in fresh.all(Experiment)] == ["arc-run"]


def test_hf_export_loads_with_one_row_per_debate(source: Store, tmp_path: Path) -> None:
    from datasets import load_from_disk

    n = export_hf(source, "nyu-debates", tmp_path / "hf")
    ds = load_from_disk(str(tmp_path / "hf"))
    assert n == len(ds) == 40
    row = next(r for r in ds if r["key"].startswith("nyu|a-pail-of-air|"))
    debate = source.debate(row["debate_id"])
    question = source.question(debate.question_id)
    assert row["question"] == question.text and row["choices"] == question.choices
    assert row["context"] == question.context and row["correct_index"] == 1
    assert json.loads(row["assignment"]) == debate.assignment
    turns = source.turns(debate.id)
    assert [t["text"] for t in row["turns"]] == [t.text for t in turns]
    assert [json.loads(t["quotes"]) for t in row["turns"]] == [t.quotes for t in turns]
    stored = {(j.judge_id, j.after_round): j for j in source.judgments([debate.id])}
    assert len(row["judgments"]) == len(stored)
    for j in row["judgments"]:
        match = stored[(j["judge_id"], j["after_round"])]
        assert j["probs"] == match.probs and json.loads(j["raw"]) == match.raw


def test_cli_export_and_import(source: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "arc.jsonl"
    res = runner.invoke(
        app, ["export", "arc-run", "--format", "jsonl", "--out", str(out), "--db", source.url]
    )
    assert res.exit_code == 0, res.output
    assert "2 debates written" in " ".join(res.output.split())
    res = runner.invoke(
        app,
        ["export", "arc-run", "--format", "hf", "--out", str(tmp_path / "hf"), "--db", source.url],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "hf" / "dataset_info.json").exists()
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    res = runner.invoke(app, ["import", "jsonl", str(out), "--db", fresh])
    assert res.exit_code == 0, res.output
    assert _rows(Store(fresh), "arc-run") == _rows(source, "arc-run")
    res = runner.invoke(app, ["export", "nope", "--out", str(out), "--db", source.url])
    assert res.exit_code == 2 and "no experiment named 'nope'" in " ".join(res.output.split())
    res = runner.invoke(
        app, ["export", "arc-run", "--format", "csv", "--out", str(out), "--db", source.url]
    )
    assert res.exit_code == 2

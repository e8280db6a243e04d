"""Import of the NYU human debates (Michael et al. 2023): the 40 real sample files and more."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.quotes import extract_quotes
from oversight.cli import app
from oversight.data import shared_data_dir
from oversight.store import Debate, Judgment, Question, Store, Turn
from oversight.store.judges import BEFORE_FIRST_ROUND
from oversight.transcripts import import_files

SPEECHES = ("SimultaneousSpeeches", "SequentialSpeeches")


@pytest.fixture(scope="module")
def nyu_dir() -> Path:
    return shared_data_dir() / "nyu-debates-sample"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _raw(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _kinds(raw: dict[str, Any]) -> list[str]:
    return [next(iter(r)) for r in raw["rounds"]]


def _expected(raw: dict[str, Any]) -> dict[str, Any]:
    """What a debate file should become, counted straight from the JSON."""
    rounds = raw["rounds"]
    roles = raw["setup"]["roles"]
    debaters = {k for k in roles if k.startswith("Debater")}
    speeches = sum(len(next(iter(r.values()))["speeches"]) for r in rounds
                   if next(iter(r)) in SPEECHES)
    feedback = [r["JudgeFeedback"] for r in rounds if "JudgeFeedback" in r]
    judgments = len(feedback) + sum(f["endDebate"] for f in feedback)
    offline = [r["OfflineJudgments"]["judgments"] for r in rounds if "OfflineJudgments" in r]
    for group in offline:
        for j in group.values():
            steps = j["judgments"]
            judgments += (len(steps) if j["mode"] == "stepped" else 0) + steps[-1]["endDebate"]
    agreed = any(all(r["NegotiateEnd"]["votes"].values()) for r in rounds if "NegotiateEnd" in r)
    complete = any(f["endDebate"] for f in feedback) or bool(offline) or agreed
    kind = "consultancy" if len(debaters) == 1 else "debate"
    return {
        "protocol": kind if "Judge" in roles else f"{kind}-unjudged",
        "turns": speeches,
        "judgments": judgments,
        "status": "complete" if complete else "pending",
    }


def test_the_sample_debates_import_with_the_right_counts(store: Store, nyu_dir: Path) -> None:
    files = sorted(nyu_dir.glob("*.json"))
    assert len(files) == 40
    report = import_files(store, "nyu", [nyu_dir])
    assert report.failed == []
    assert report.experiments == ["nyu-debates"]
    expected = {f.stem: _expected(_raw(f)) for f in files}
    assert report.added.debates == 40
    assert report.added.turns == sum(e["turns"] for e in expected.values())
    assert report.added.judgments == sum(e["judgments"] for e in expected.values())
    debates = {d.key.split("|")[1]: d for d in store.all(Debate)}
    assert sorted(debates) == sorted(expected)
    for stem, want in expected.items():
        d = debates[stem]
        assert (d.protocol, d.status) == (want["protocol"], want["status"]), stem
        assert store.count(Turn, Turn.debate_id == d.id) == want["turns"], stem
        assert store.count(Judgment, Judgment.debate_id == d.id) == want["judgments"], stem
    assert Counter(d.protocol for d in debates.values()) == Counter(
        e["protocol"] for e in expected.values()
    )
    assert store.count(Question) == len({(_raw(f)["setup"]["question"],
                                           _raw(f)["setup"]["sourceMaterial"]
                                           ["QuALITYSourceMaterial"]["articleId"])
                                          for f in files})


def test_importing_twice_adds_nothing(store: Store, nyu_dir: Path) -> None:
    import_files(store, "nyu", [nyu_dir])
    counts = [store.count(m) for m in (Question, Debate, Turn, Judgment)]
    again = import_files(store, "nyu", [nyu_dir])
    assert again.failed == []
    assert (again.added.questions, again.added.debates, again.added.turns,
            again.added.judgments) == (0, 0, 0, 0)
    assert [store.count(m) for m in (Question, Debate, Turn, Judgment)] == counts


def test_a_debate_with_a_live_and_an_offline_judge(store: Store, nyu_dir: Path) -> None:
    path = nyu_dir / "a-pail-of-air-0.json"
    raw = _raw(path)
    import_files(store, "nyu", [path])
    (debate,) = store.all(Debate)
    question = store.question(debate.question_id)
    assert question.text == raw["setup"]["question"]
    assert question.choices == raw["setup"]["answers"]
    assert question.correct_index == raw["setup"]["correctAnswerIndex"] == 1
    assert question.context is not None and question.context.startswith("A Pail of Air")
    assert "[Transcriber's Note:" in question.context  # -LSB- rendered, 's attached
    assert debate.protocol == "debate" and debate.status == "complete"
    assert debate.assignment == {"debater_1": 0, "debater_2": 1}
    turns = store.turns(debate.id)
    assert [(t.round, t.speaker) for t in turns] == [
        (0, "debater_1"), (0, "debater_2"), (1, "debater_1"), (1, "debater_2")]
    assert turns[0].model == "human:Crispy Crumbleton"
    first_quote = turns[0].quotes[0]
    assert first_quote["span"] == [1319, 1369] and first_quote["verified"] is True
    assert first_quote["text"].startswith("the carbon dioxide--when you're shoveling")
    assert f"<quote>{first_quote['text']}</quote>" in turns[0].text
    live = sorted(
        (j.after_round, j.probs) for j in store.judgments([debate.id])
        if j.judge_id == "human:Osmanth Oatcake"
    )
    assert live == [(BEFORE_FIRST_ROUND, [0.29, 0.71]), (-1, pytest.approx([0.01, 0.99])),
                    (0, pytest.approx([0.36, 0.64])), (1, pytest.approx([0.01, 0.99]))]
    final = store.judgment(debate.id, "human:Osmanth Oatcake", -1)
    assert final is not None and "who is the narrator" in final.raw["feedback"]
    offline = {j.after_round for j in store.judgments([debate.id])
               if j.judge_id == "human-offline:Lulu Lemonade"}
    assert offline == {BEFORE_FIRST_ROUND, 0, 1, -1}


def test_consultancies_unjudged_and_unfinished_debates(store: Store, nyu_dir: Path) -> None:
    names = ["call-him-nemesis-6", "coming-of-the-gods-1", "dangerous-quarry-3"]
    import_files(store, "nyu", [nyu_dir / f"{n}.json" for n in names])
    debates = {d.key.split("|")[1]: d for d in store.all(Debate)}
    consult = debates["call-him-nemesis-6"]  # Debater B and a judge
    assert consult.protocol == "consultancy"
    assert consult.assignment == {"consultant": 1}
    assert {t.speaker for t in store.turns(consult.id)} == {"consultant"}
    unjudged = debates["coming-of-the-gods-1"]  # debaters only, judged offline
    assert (unjudged.protocol, unjudged.status) == ("debate-unjudged", "complete")
    judges = {j.judge_id for j in store.judgments([unjudged.id]) if j.after_round == -1}
    assert judges == {"human-offline:Gigglesworth Grapevine", "human-offline:Crispy Crumbleton",
                      "human-offline:Bubbles Brandywine", "human-offline:Tazzy Tumbleweed"}
    unfinished = debates["dangerous-quarry-3"]  # only the judge's prior so far
    assert unfinished.status == "pending"
    assert [j.after_round for j in store.judgments([unfinished.id])] == [BEFORE_FIRST_ROUND]


def test_every_quote_is_verified_against_the_story(store: Store, nyu_dir: Path) -> None:
    import_files(store, "nyu", [nyu_dir])
    checked = 0
    for d in store.all(Debate):
        context = store.question(d.question_id).context
        for t in store.turns(d.id):
            recomputed = extract_quotes(t.text, context)
            assert [q["text"] for q in recomputed] == [q["text"] for q in t.quotes]
            assert all(q["verified"] for q in recomputed)
            checked += len(recomputed)
    assert checked > 400


def _broken_copy(nyu_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "debates"
    shutil.copytree(nyu_dir, folder)
    raw = _raw(folder / "a-pail-of-air-0.json")
    raw["rounds"][1]["SimultaneousSpeeches"]["speeches"]["0"]["content"][1]["Quote"]["span"] = [
        1319, 99999]
    (folder / "a-pail-of-air-0.json").write_text(json.dumps(raw))
    raw = _raw(folder / "ambition-0.json")
    del raw["setup"]["correctAnswerIndex"]
    (folder / "ambition-0.json").write_text(json.dumps(raw))
    (folder / "truncated.json").write_text('{"setup": {"question": "x",\n')
    return folder


def test_malformed_files_are_rejected_by_name_and_the_rest_import(
    store: Store, nyu_dir: Path, tmp_path: Path
) -> None:
    folder = _broken_copy(nyu_dir, tmp_path)
    report = import_files(store, "nyu", [folder])
    errors = {f.path.name: f.error for f in report.failed}
    assert sorted(errors) == ["a-pail-of-air-0.json", "ambition-0.json", "truncated.json"]
    assert "a-pail-of-air-0.json: field 'rounds.1.SimultaneousSpeeches.speeches.0.content.1" \
           ".Quote.span'" in str(errors["a-pail-of-air-0.json"])
    assert "outside the story" in str(errors["a-pail-of-air-0.json"])
    assert "field 'setup.correctAnswerIndex'" in str(errors["ambition-0.json"])
    assert "truncated.json line 2" in str(errors["truncated.json"])
    assert report.added.debates == 38
    keys = {d.key.split("|")[1] for d in store.all(Debate)}
    assert "a-pail-of-air-0" not in keys and "ambition-0" not in keys  # nothing half-imported


def _synthetic_debate() -> dict[str, Any]:
    """A well-formed file unlike the samples: custom story, three answers, no live judge, an
    agreed end and an offline verdict in the older ``result`` encoding."""
    speech = {"speaker": "Ann", "timestamp": 1_700_000_000_000, "content": [
        {"Text": {"text": "It says "}}, {"Quote": {"span": [0, 4]}}]}
    other = {"speaker": "Bob", "timestamp": 1_700_000_001_000, "content": [
        {"Text": {"text": "No: "}}, {"Quote": {"span": [5, 8]}}]}
    return {
        "setup": {
            "rules": {"fixedOpening": [], "repeatingStructure": [], "fixedClosing": None,
                      "scoringFunction": {}},
            "sourceMaterial": {"CustomSourceMaterial": {
                "title": "T", "contents": ["The", "sky", "is", "blue", ".", "Grass", "is",
                                           "green", "."]}},
            "question": "What color is the sky?",
            "answers": ["blue", "green", "red"],
            "correctAnswerIndex": 0,
            "roles": {"Debater A": "Ann", "Debater B": "Bob"},
            "offlineJudges": {"Cy": None},
            "creationTime": 1_700_000_000_000,
        },
        "rounds": [
            {"SimultaneousSpeeches": {"speeches": {"1": other, "0": speech}}},
            {"NegotiateEnd": {"votes": {"0": True, "1": True}}},
            {"OfflineJudgments": {"judgments": {"Cy": {
                "startTimeMillis": 1_700_000_002_000, "numContinues": 0,
                "result": {"distribution": [0.8, 0.15, 0.05], "explanation": "quotes",
                           "timestamp": 1_700_000_003_000}}}}},
        ],
        "feedback": {},
    }


def test_any_well_formed_file_imports(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "custom-0.json"
    path.write_text(json.dumps(_synthetic_debate()))
    report = import_files(store, "nyu", [path], experiment="custom")
    assert report.failed == []
    (debate,) = store.all(Debate)
    assert (debate.protocol, debate.status) == ("debate-unjudged", "complete")
    assert debate.assignment == {"debater_1": 0, "debater_2": 1}
    question = store.question(debate.question_id)
    assert question.context == "The sky is blue. Grass is green."
    assert question.choices == ["blue", "green", "red"]
    turns = store.turns(debate.id)
    assert [t.text for t in turns] == ["It says <quote>The sky is blue</quote>",
                                       "No: <quote>Grass is green</quote>"]
    (verdict,) = store.judgments([debate.id])
    assert (verdict.judge_id, verdict.after_round) == ("human-offline:Cy", -1)
    assert verdict.probs == [0.8, 0.15, 0.05] and verdict.raw["feedback"] == "quotes"


def _flat(text: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_cli_import_reports_counts_and_failures(nyu_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "nyu", str(nyu_dir), "--db", db])
    assert ok.exit_code == 0, ok.output
    assert "40 of 40 files imported into nyu-debates" in _flat(ok.output)
    again = runner.invoke(app, ["import", "nyu", str(nyu_dir), "--db", db])
    assert again.exit_code == 0
    assert "added 0 questions, 0 debates, 0 turns, 0 judgments" in _flat(again.output)
    folder = _broken_copy(nyu_dir, tmp_path)
    bad = runner.invoke(app, ["import", "nyu", str(folder), "--db",
                              f"sqlite:///{tmp_path / 'bad.sqlite'}", "--experiment", "x"])
    assert bad.exit_code == 1
    assert "38 of 41 files imported into x" in _flat(bad.output)
    assert "Quote.span" in bad.output and "setup.correctAnswerIndex" in bad.output
    unknown = runner.invoke(app, ["import", "csv", str(nyu_dir), "--db", db])
    assert unknown.exit_code == 2 and "unknown format 'csv'" in unknown.output

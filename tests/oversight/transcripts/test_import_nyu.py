"""Import of the NYU human debates (Michael et al. 2023): the 40 real sample files and more."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.data import shared_data_dir
from oversight.quotes import extract_quotes
from oversight.store import Debate, JudgeKind, Judgment, Question, Store, Turn
from oversight.store.judges import BEFORE_FIRST_ROUND
from oversight.transcripts import import_files
from oversight.transcripts.nyu import debate_key
from oversight.transcripts.nyu_format import DebateFile

SPEECHES = ("SimultaneousSpeeches", "SequentialSpeeches")
TABLES = (Question, Debate, Turn, Judgment)


@pytest.fixture(scope="module")
def nyu_dir() -> Path:
    return shared_data_dir() / "nyu-debates-sample"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _raw(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _counts(store: Store) -> list[int]:
    return [store.count(m) for m in TABLES]


def _by_title(store: Store) -> dict[str, Debate]:
    """Stored debates by story title (unique among the files these tests import)."""
    out = {store.question(d.question_id).meta["title"]: d for d in store.all(Debate)}
    assert len(out) == store.count(Debate)
    return out


# -- the platform's rules, applied straight to the raw JSON ----------------------------------


def _round_types(rules: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """DebateRules.roundTypes: opening, then the repeating part (capped by the closing)."""
    yield from rules["fixedOpening"]
    closing = rules["fixedClosing"]
    if closing is None:
        while rules["repeatingStructure"]:
            yield from rules["repeatingStructure"]
        return
    for _ in range(closing["maxRepeatCycles"]):
        yield from rules["repeatingStructure"]
    yield from closing["rounds"]


def _platform_view(raw: dict[str, Any]) -> dict[str, Any]:
    """What the platform makes of one debate file (Debate.stateInfo, DebateRoundType.getTurn,
    DebateSetting.fromDebate, OfflineJudgment.result), and the rows that should follow."""
    setup, rounds = raw["setup"], raw["rounds"]
    n_answers = len(setup["answers"])
    assigned = {ord(role[-1]) - ord("A") for role in setup["roles"] if role.startswith("Debater")}
    types = _round_types(setup["rules"])
    upcoming = next(types, None)
    over = False
    speech_rounds = 0
    live_points: set[int] = set()  # after how many speech rounds the live judge reported
    live_final = 0
    offline = 0
    turns = ai_turns = 0
    for rnd in rounds:
        ((kind, body),) = rnd.items()
        if kind == "OfflineJudgments":
            for judgment in body["judgments"].values():
                steps = judgment.get("judgments")
                if steps is None:  # the older encoding: an optional final result
                    offline += judgment.get("result") is not None
                    continue
                offline += len(steps) if judgment["mode"] == "stepped" else 0
                offline += bool(steps) and steps[-1]["endDebate"]
            continue
        assert upcoming is not None, "more rounds than the rules allow"
        ((type_kind, type_body),) = upcoming.items()
        upcoming = next(types, None)
        assert type_kind == f"{kind}Round"
        wanted = assigned if type_body.get("assignedDebatersOnly") else set(range(n_answers))
        if kind in SPEECHES:
            speakers = {int(k) for k in body["speeches"]}
            turns += len(speakers)
            ai_turns += sum(s["speaker"] == "GPT-4" for s in body["speeches"].values())
            speech_rounds += 1
            if kind == "SimultaneousSpeeches":
                outcome = "next" if len(speakers) == len(wanted) else "turn"
            else:
                outcome = "next" if wanted <= speakers else "turn"
        elif kind == "JudgeFeedback":
            live_points.add(speech_rounds)
            live_final += body["endDebate"]
            outcome = "end" if body["endDebate"] else "next"
        else:  # NegotiateEnd
            votes = body["votes"]
            outcome = (
                "turn" if len(votes) != len(wanted) else "end" if all(votes.values()) else "next"
            )
        over = over or outcome == "end" or (outcome == "next" and upcoming is None)
    has_judge = any(
        "JudgeFeedbackRound" in t
        for t in [*setup["rules"]["fixedOpening"], *setup["rules"]["repeatingStructure"]]
    )
    kind = "debate" if len(assigned) > 1 else "consultancy"
    return {
        "protocol": kind if has_judge else f"{kind}-unjudged",
        "status": "complete" if over else "pending",
        "turns": turns,
        "ai_turns": ai_turns,
        "live": len(live_points) + live_final,
        "offline": offline,
    }


def _stored_view(store: Store, d: Debate) -> dict[str, Any]:
    turns = store.turns(d.id)
    kinds = Counter(j.kind for j in store.judgments([d.id]))
    return {
        "protocol": d.protocol,
        "status": d.status,
        "turns": len(turns),
        "ai_turns": sum(t.model == "GPT-4" for t in turns),
        "live": kinds[JudgeKind.HUMAN_LIVE],
        "offline": kinds[JudgeKind.HUMAN_OFFLINE],
    }


def test_import_nyu_counts_match_the_platform_rules_on_the_raw_json(
    nyu_dir: Path, tmp_path: Path
) -> None:
    files = sorted(nyu_dir.glob("*.json"))
    assert len(files) == 40
    expected = [_platform_view(_raw(f)) for f in files]
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    res = CliRunner().invoke(app, ["import", "nyu", str(nyu_dir), "--db", db])
    assert res.exit_code == 0, res.output
    total = {k: sum(e[k] for e in expected) for k in ("turns", "live", "offline")}
    printed = " ".join(res.output.split())
    assert (
        f"40 of 40 files imported into nyu-debates: added {len({_question(f) for f in files})}"
        f" questions, 40 debates, {total['turns']} turns, "
        f"{total['live'] + total['offline']} judgments"
    ) in printed

    store = Store(db)
    stored = [_stored_view(store, d) for d in store.all(Debate)]
    # One debate per file, each with the protocol, status, turns and judgments of each kind
    # that the platform's rules give it.
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    assert sorted(map(key, stored)) == sorted(map(key, expected))
    assert Counter(e["status"] for e in expected) == {"complete": 37, "pending": 3}
    assert Counter(e["protocol"] for e in expected) == {
        "debate": 23,
        "consultancy": 14,
        "debate-unjudged": 3,
    }
    assert sum(e["ai_turns"] for e in expected) > 0  # GPT-4 debaters are not human speakers
    assert store.count(Turn, Turn.model == "human:GPT-4") == 0
    assert store.count(Judgment, Judgment.kind == JudgeKind.HUMAN_LIVE) == total["live"]
    assert store.count(Judgment, Judgment.kind == JudgeKind.HUMAN_OFFLINE) == total["offline"]


def _question(path: Path) -> tuple[str, str]:
    setup = _raw(path)["setup"]
    return setup["question"], setup["sourceMaterial"]["QuALITYSourceMaterial"]["articleId"]


def test_importing_twice_adds_nothing(store: Store, nyu_dir: Path) -> None:
    import_files(store, "nyu", [nyu_dir])
    counts = _counts(store)
    again = import_files(store, "nyu", [nyu_dir])
    assert again.failed == []
    assert (
        again.added.questions,
        again.added.debates,
        again.added.turns,
        again.added.judgments,
    ) == (0, 0, 0, 0)
    assert _counts(store) == counts


def test_a_renamed_copy_is_the_same_debate(store: Store, nyu_dir: Path, tmp_path: Path) -> None:
    import_files(store, "nyu", [nyu_dir])
    counts = _counts(store)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for i, f in enumerate(sorted(nyu_dir.glob("*.json"))):
        shutil.copy(f, renamed / f"debate-{i:02d}.json")
    # Another file name and another layout of the same JSON: still the same debate.
    raw = _raw(nyu_dir / "a-pail-of-air-0.json")
    (renamed / "pretty.json").write_text(json.dumps(raw, indent=2, sort_keys=True))
    report = import_files(store, "nyu", [renamed])
    assert report.failed == [] and len(report.files) == 41
    assert (report.added.debates, report.added.turns, report.added.judgments) == (0, 0, 0)
    assert _counts(store) == counts

    # A file whose content differs is another debate, whatever its name.
    raw["rounds"][1]["SimultaneousSpeeches"]["speeches"]["0"]["content"][0]["Text"]["text"] += "!"
    _write(tmp_path / "a-pail-of-air-0.json", raw)
    assert import_files(store, "nyu", [tmp_path / "a-pail-of-air-0.json"]).added.debates == 1


def test_a_debate_with_a_live_and_an_offline_judge(store: Store, nyu_dir: Path) -> None:
    path = nyu_dir / "a-pail-of-air-0.json"
    raw = _raw(path)
    import_files(store, "nyu", [path])
    (debate,) = store.all(Debate)
    assert debate.key.startswith("nyu|a-pail-of-air|")
    question = store.question(debate.question_id)
    assert question.text == raw["setup"]["question"]
    assert question.choices == raw["setup"]["answers"]
    assert question.correct_index == raw["setup"]["correctAnswerIndex"] == 1
    assert question.context is not None and question.context.startswith("A Pail of Air")
    assert "[Transcriber's Note:" in question.context  # -LSB- rendered, 's attached
    assert "--" not in question.context  # the platform writes "--" as "-"
    assert debate.protocol == "debate" and debate.status == "complete"
    assert debate.assignment == {"debater_1": 0, "debater_2": 1}
    turns = store.turns(debate.id)
    assert [(t.round, t.speaker) for t in turns] == [
        (0, "debater_1"),
        (0, "debater_2"),
        (1, "debater_1"),
        (1, "debater_2"),
    ]
    assert turns[0].model == "human:Crispy Crumbleton"
    first_quote = turns[0].quotes[0]
    assert first_quote["span"] == [1319, 1369] and first_quote["verified"] is True
    assert first_quote["text"].startswith("the carbon dioxide-when you're shoveling")
    assert first_quote["shown"] == first_quote["text"]
    assert f"<quote>{first_quote['text']}</quote>" in turns[0].text
    live = sorted(
        (j.after_round, j.probs)
        for j in store.judgments([debate.id])
        if j.judge_id == "human:Osmanth Oatcake"
    )
    assert live == [
        (BEFORE_FIRST_ROUND, [0.29, 0.71]),
        (-1, pytest.approx([0.01, 0.99])),
        (0, pytest.approx([0.36, 0.64])),
        (1, pytest.approx([0.01, 0.99])),
    ]
    final = store.judgment(debate.id, "human:Osmanth Oatcake", -1)
    assert final is not None and "who is the narrator" in final.raw["feedback"]
    offline = {
        j.after_round
        for j in store.judgments([debate.id])
        if j.judge_id == "human-offline:Lulu Lemonade"
    }
    assert offline == {BEFORE_FIRST_ROUND, 0, 1, -1}


def test_consultancies_unjudged_and_unfinished_debates(store: Store, nyu_dir: Path) -> None:
    names = ["call-him-nemesis-6", "coming-of-the-gods-1", "dangerous-quarry-3"]
    import_files(store, "nyu", [nyu_dir / f"{n}.json" for n in names])
    debates = _by_title(store)
    consult = debates["Call Him Nemesis"]  # Debater B and a judge
    assert consult.protocol == "consultancy"
    assert consult.assignment == {"consultant": 1}
    assert {t.speaker for t in store.turns(consult.id)} == {"consultant"}
    unjudged = debates["Coming of the Gods"]  # debaters only, who agreed to end; judged offline
    assert (unjudged.protocol, unjudged.status) == ("debate-unjudged", "complete")
    judges = {j.judge_id for j in store.judgments([unjudged.id]) if j.after_round == -1}
    assert judges == {
        "human-offline:Gigglesworth Grapevine",
        "human-offline:Crispy Crumbleton",
        "human-offline:Bubbles Brandywine",
        "human-offline:Tazzy Tumbleweed",
    }
    unfinished = debates["Dangerous Quarry"]  # only the judge's prior so far
    assert unfinished.status == "pending"
    assert [j.after_round for j in store.judgments([unfinished.id])] == [BEFORE_FIRST_ROUND]


def test_every_quote_is_verified_against_the_story(store: Store, nyu_dir: Path) -> None:
    import_files(store, "nyu", [nyu_dir])
    checked = differ = 0
    for d in store.all(Debate):
        context = store.question(d.question_id).context
        for t in store.turns(d.id):
            recomputed = extract_quotes(t.text, context)
            assert [q["text"] for q in recomputed] == [q["text"] for q in t.quotes]
            assert all(q["verified"] for q in recomputed)
            checked += len(recomputed)
            for q in t.quotes:
                # The platform renders a quote's tokens on their own: the same characters,
                # spaced differently only where the quote cuts through a quotation.
                assert "".join(q["shown"].split()) == "".join(q["text"].split())
                differ += q["shown"] != q["text"]
    assert checked > 400
    assert 0 < differ < checked / 5


def test_a_quote_past_the_end_of_the_story_is_clamped(
    store: Store, nyu_dir: Path, tmp_path: Path
) -> None:
    raw = _raw(nyu_dir / "a-pail-of-air-0.json")
    n_tokens = len(raw["setup"]["sourceMaterial"]["QuALITYSourceMaterial"]["contents"])
    content = raw["rounds"][1]["SimultaneousSpeeches"]["speeches"]["0"]["content"]
    content[1]["Quote"]["span"] = [1319, 99999]  # runs far past the story's end
    content[3]["Quote"]["span"] = [n_tokens - 9, n_tokens + 2]  # two tokens past the end
    report = import_files(store, "nyu", [_write(tmp_path / "clamped.json", raw)])
    assert report.failed == []
    (debate,) = store.all(Debate)
    assert debate.status == "complete"
    context = store.question(debate.question_id).context
    assert context is not None
    first, second = store.turns(debate.id)[0].quotes[:2]
    start = context.index("the carbon dioxide-when you're shoveling")
    assert first["text"] == first["shown"] == context[start:]
    assert first["span"] == [1319, 99999] and first["verified"] is True
    assert second["text"] == second["shown"] == "I'll be twenty in only ten years."
    assert context.endswith(second["text"])


def _broken_copy(nyu_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "debates"
    shutil.copytree(nyu_dir, folder)
    raw = _raw(folder / "a-pail-of-air-0.json")
    raw["rounds"][1]["SimultaneousSpeeches"]["speeches"]["0"]["content"][1]["Quote"]["span"] = [
        1319
    ]
    _write(folder / "a-pail-of-air-0.json", raw)
    raw = _raw(folder / "ambition-0.json")
    del raw["setup"]["correctAnswerIndex"]
    _write(folder / "ambition-0.json", raw)
    (folder / "truncated.json").write_text('{"setup": {"question": "x",\n')
    return folder


def test_malformed_files_are_rejected_by_name_and_the_rest_import(
    store: Store, nyu_dir: Path, tmp_path: Path
) -> None:
    folder = _broken_copy(nyu_dir, tmp_path)
    report = import_files(store, "nyu", [folder])
    errors = {f.path.name: f.error for f in report.failed}
    assert sorted(errors) == ["a-pail-of-air-0.json", "ambition-0.json", "truncated.json"]
    assert (
        "a-pail-of-air-0.json: field 'rounds.1.SimultaneousSpeeches.speeches.0.content.1"
        ".Quote.span.1'" in str(errors["a-pail-of-air-0.json"])
    )
    assert "field 'setup.correctAnswerIndex'" in str(errors["ambition-0.json"])
    assert "truncated.json line 2" in str(errors["truncated.json"])
    assert report.added.debates == 38
    titles = set(_by_title(store))
    assert "A Pail of Air" not in titles and "Ambition" not in titles  # nothing half-imported


def _synthetic_debate() -> dict[str, Any]:
    """A well-formed file unlike the samples: custom story, three answers, no live judge, an
    agreed end and an offline verdict in the older ``result`` encoding."""
    speech = {
        "speaker": "Ann",
        "timestamp": 1_700_000_000_000,
        "content": [
            {"Text": {"text": "It says "}},
            {"Quote": {"span": [0, 4]}},
            {"Text": {"text": " and "}},
            {"Quote": {"span": [5, 99]}},
        ],
    }
    other = {
        "speaker": "Bob",
        "timestamp": 1_700_000_001_000,
        "content": [{"Text": {"text": "No: "}}, {"Quote": {"span": [8, 5]}}],
    }
    assigned_only = {"charLimit": 500, "quoteLimit": None, "assignedDebatersOnly": True}
    return {
        "setup": {
            "rules": {
                "fixedOpening": [
                    {"SimultaneousSpeechesRound": assigned_only},
                    {"NegotiateEndRound": {"assignedDebatersOnly": True}},
                ],
                "repeatingStructure": [{"SequentialSpeechesRound": assigned_only}],
                "fixedClosing": None,
                "globalQuoteRestriction": None,
                "scoringFunction": {},
            },
            "sourceMaterial": {
                "CustomSourceMaterial": {
                    "title": "T",
                    "contents": ["The", "sky", "is", "blue", ".", "Grass", "is", "green", "."],
                }
            },
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
            {
                "OfflineJudgments": {
                    "judgments": {
                        "Cy": {
                            "mode": "timed",
                            "startTimeMillis": 1_700_000_002_000,
                            "result": {
                                "distribution": [0.8, 0.15, 0.05],
                                "explanation": "quotes",
                                "timestamp": 1_700_000_003_000,
                            },
                        }
                    }
                }
            },
        ],
        "feedback": {},
    }


def test_any_well_formed_file_imports(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "custom-0.json", _synthetic_debate())
    report = import_files(store, "nyu", [path], experiment="custom")
    assert report.failed == []
    (debate,) = store.all(Debate)
    assert (debate.protocol, debate.status) == ("debate-unjudged", "complete")
    assert debate.assignment == {"debater_1": 0, "debater_2": 1}
    question = store.question(debate.question_id)
    assert question.context == "The sky is blue. Grass is green."
    assert question.choices == ["blue", "green", "red"]
    turns = store.turns(debate.id)
    # [5, 99) runs past the story and is clamped; [8, 5] is read as the span [5, 8).
    assert [t.text for t in turns] == [
        "It says <quote>The sky is blue</quote> and <quote>Grass is green.</quote>",
        "No: <quote>Grass is green</quote>",
    ]
    assert [q["span"] for t in turns for q in t.quotes] == [[0, 4], [5, 99], [5, 8]]
    (verdict,) = store.judgments([debate.id])
    assert (verdict.judge_id, verdict.after_round) == ("human-offline:Cy", -1)
    assert verdict.kind == JudgeKind.HUMAN_OFFLINE
    assert verdict.probs == [0.8, 0.15, 0.05] and verdict.raw["feedback"] == "quotes"


def test_the_debate_key_is_a_digest_of_the_content() -> None:
    """Golden: a change to the key changes every imported debate's id, so re-imports would
    duplicate instead of adding nothing."""
    raw = _synthetic_debate()
    key = debate_key(DebateFile.model_validate(raw))
    assert key == "nyu|t|17facbf1a17382eb9c64a5931e1c084a"
    # What the server rewrites or what is not the debate leaves the identity alone ...
    raw["setup"]["offlineJudges"] = {}
    raw["feedback"] = {"Ann": {"any": "survey"}}
    raw["scratchpads"] = {"Debater A": [[{"Text": {"text": "note"}}]]}
    assert debate_key(DebateFile.model_validate(raw)) == key
    # ... and everything that defines the debate changes it.
    for change in (
        lambda r: r["setup"].update(creationTime=r["setup"]["creationTime"] + 1),
        lambda r: r["setup"]["roles"].update({"Debater A": "Zed"}),
        lambda r: r["setup"].update(correctAnswerIndex=1),
        lambda r: r["setup"]["sourceMaterial"]["CustomSourceMaterial"]["contents"].append("!"),
        lambda r: r["rounds"][2]["OfflineJudgments"]["judgments"]["Cy"]["result"].update(
            distribution=[0.7, 0.25, 0.05]
        ),
    ):
        changed = _synthetic_debate()
        change(changed)
        assert debate_key(DebateFile.model_validate(changed)) != key


def _agreement_pending(raw: dict[str, Any]) -> None:
    raw["rounds"][1]["NegotiateEnd"]["votes"]["1"] = False  # not agreed: still going


def _extra_round(raw: dict[str, Any]) -> None:
    raw["setup"]["rules"]["repeatingStructure"] = []  # time is up after the opening
    _agreement_pending(raw)
    raw["rounds"].insert(2, raw["rounds"][0])


def _speech_after_the_end(raw: dict[str, Any]) -> None:
    raw["rounds"].insert(2, {"SequentialSpeeches": raw["rounds"][0]["SimultaneousSpeeches"]})


def _judge_round(raw: dict[str, Any]) -> None:
    raw["rounds"][1] = {
        "JudgeFeedback": {
            "distribution": [0.5, 0.25, 0.25],
            "endDebate": True,
            "feedback": {"speaker": "J", "timestamp": 0, "content": []},
        }
    }


@pytest.mark.parametrize(
    ("break_it", "field", "problem"),
    [
        (
            _agreement_pending,
            "rounds.2.OfflineJudgments",
            "offline judging before the debate had ended",
        ),
        (
            _extra_round,
            "rounds.2.SimultaneousSpeeches",
            "more rounds than the debate's rules allow",
        ),
        (
            _speech_after_the_end,
            "rounds.2.SequentialSpeeches",
            "a SequentialSpeeches round after the debate had ended",
        ),
        (
            _judge_round,
            "rounds.1.JudgeFeedback",
            "a JudgeFeedback round where the debate's rules expect a NegotiateEndRound",
        ),
    ],
)
def test_rounds_that_do_not_fit_the_rules_are_rejected(
    store: Store, tmp_path: Path, break_it: Any, field: str, problem: str
) -> None:
    raw = _synthetic_debate()
    break_it(raw)
    report = import_files(store, "nyu", [_write(tmp_path / "bad.json", raw)], experiment="x")
    (failed,) = report.failed
    assert failed.error == f"{tmp_path / 'bad.json'}: field {field!r}: {problem}"
    assert store.count(Debate) == 0


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
    bad = runner.invoke(
        app,
        [
            "import",
            "nyu",
            str(folder),
            "--db",
            f"sqlite:///{tmp_path / 'bad.sqlite'}",
            "--experiment",
            "x",
        ],
    )
    assert bad.exit_code == 1
    assert "38 of 41 files imported into x" in _flat(bad.output)
    assert "Quote.span" in bad.output and "setup.correctAnswerIndex" in bad.output
    unknown = runner.invoke(app, ["import", "csv", str(nyu_dir), "--db", db])
    assert unknown.exit_code == 2 and "unknown format 'csv'" in unknown.output

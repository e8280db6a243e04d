"""Bad input gets a clear error and changes nothing.

Each test feeds one kind of bad input a user really produces (a folder given as a config, a
typo in an experiment name, a hand-edited export, a dataset with a repeated choice) and checks
the error names the place at fault and that nothing stored or exported was changed by it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oversight.backends.base import ChoiceScores, Completion, GenerateRequest, ScoreRequest
from oversight.cli import app
from oversight.config import ConfigError, load_config, parse_config
from oversight.data import DataError, load_questions
from oversight.data.records import make_question
from oversight.runner import Runner
from oversight.store import (
    Debate,
    Experiment,
    JudgeEnsemble,
    Judgment,
    Question,
    Store,
    Turn,
)
from oversight.transcripts import export_hf, export_jsonl, import_files
from oversight.transcripts.bundle import debate_id

ROWS = (Experiment, JudgeEnsemble, Question, Debate, Turn, Judgment)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _counts(store: Store) -> dict[str, int]:
    return {model.__name__: store.count(model) for model in ROWS}


def _config_toml(name: str, data_path: Path, *, extra_data: str = "") -> str:
    return (
        f'name = "{name}"\n'
        "[data]\n"
        'source = "jsonl"\n'
        f"path = {json.dumps(str(data_path))}\n"
        f"{extra_data}"
        "[models.m]\n"
        'model = "not-loaded"\n'
        "[protocols.direct]\n"
        'kind = "direct"\n'
        "[[judges]]\n"
        'name = "j"\n'
        'model = "m"\n'
    )


def _config_dict(**data: Any) -> dict[str, Any]:
    return {
        "name": "props",
        "data": {"source": "jsonl", "path": "q.jsonl", **data},
        "models": {"m": {"model": "not-loaded"}},
        "protocols": {"direct": {"kind": "direct"}},
        "judges": [{"name": "j", "model": "m"}],
    }


GOOD_ROW = {"question": "2 + 2?", "choices": ["3", "4"], "answer": 1}


def _write_rows(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- config files that cannot be read -----------------------------------------------------


def _unreadable_configs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    return [folder, latin1]


@pytest.mark.parametrize("command", ["run", "replay", "pipeline"])
def test_a_config_that_is_a_folder_or_not_utf8_is_a_clean_error(
    tmp_path: Path, command: str
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    for config in _unreadable_configs(tmp_path):
        args = {
            "run": ["run", str(config), "--db", db],
            "replay": ["replay", "some-experiment", "--judges", str(config), "--db", db],
            "pipeline": ["pipeline", str(config), "--db", db],
        }[command]
        result = CliRunner().invoke(app, args)
        out = _flat(result.output)
        assert result.exit_code == 2, result.output
        assert f"error: {config}:" in out
        assert "folder" in out if config.is_dir() else "not UTF-8" in out
        assert "Traceback" not in result.output


# --- data.source ---------------------------------------------------------------------------


def test_an_unknown_data_source_is_a_validation_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_config_dict(source="mmluu"), "exp.toml")
    message = str(err.value)
    assert message.startswith("exp.toml: data.source: unknown source 'mmluu'")
    assert "known:" in message and "mmlu" in message and "allenai/sciq" in message
    for hub_id in ("allenai/sciq", "Anthropic/hh-rlhf", "google/boolq", "emozilla/quality"):
        assert parse_config(_config_dict(source=hub_id)).data.source == hub_id


def test_an_unknown_data_source_stops_run_before_anything_is_stored(tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text(_config_toml("typo", tmp_path / "q.jsonl").replace('"jsonl"', '"jsonll"'))
    db = tmp_path / "store.db"
    result = CliRunner().invoke(app, ["run", str(config), "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert f"{config}: data.source: unknown source 'jsonll'" in _flat(result.output)
    assert not db.exists()


# --- a first run that fails on its data ----------------------------------------------------


class Scripted:
    """A judge backend that prefers the first label: enough to finish direct QA."""

    name = "scripted"

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        raise AssertionError("direct QA never generates")

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        return [
            ChoiceScores(r.labels, [math.log(0.6), math.log(0.4)], [0.6, 0.4]) for r in requests
        ]

    async def aclose(self) -> None:
        return None


def test_a_run_that_fails_on_its_data_leaves_no_experiment_behind(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    missing = tmp_path / "typo.jsonl"
    config = tmp_path / "exp.toml"
    config.write_text(_config_toml("first", missing))
    result = CliRunner().invoke(app, ["run", str(config), "--db", db])
    assert result.exit_code == 2, result.output
    assert f"{missing}: field 'path': does not exist" in _flat(result.output)
    status = CliRunner().invoke(app, ["status", "--json", "--db", db])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output) == []
    assert _counts(Store(db))["Experiment"] == 0

    # The corrected config (another data path, hence another config hash) runs under the name.
    data = _write_rows(tmp_path / "questions.jsonl", GOOD_ROW)
    config.write_text(_config_toml("first", data))
    cfg = load_config(config)
    store = Store(db)
    summary = asyncio.run(Runner(cfg, store, backend_factory=lambda a, c: Scripted()).run())
    assert (summary.questions, summary.completed, summary.failed) == (1, 1, 0)
    assert [e.name for e in store.all(Experiment)] == ["first"]


# --- export never damages a previous export ------------------------------------------------


def _experiment(
    store: Store, name: str, config_hash: str, config: dict[str, Any] | None = None
) -> None:
    """A small experiment as the runner leaves it: a debate with turns and a judgment, and a
    direct QA (the order of its records in an export: debate first)."""
    q = make_question(
        dataset="t", split="test", text=f"{name}: 2+2?", choices=["4", "5"], correct_index=0
    )
    store.add_questions([q])
    exp = store.open_experiment(name, {"name": name, **(config or {})}, config_hash, "0.1.0")
    assert exp.id is not None
    debate, direct = debate_id(name, "debate|q"), debate_id(name, "direct|q")
    store.insert_ignore(
        [
            Debate(
                id=debate,
                experiment_id=exp.id,
                question_id=q.id,
                protocol="debate",
                key="debate|q",
                assignment={"debater_1": 0, "debater_2": 1},
                rounds=1,
                status="complete",
            ),
            Debate(
                id=direct,
                experiment_id=exp.id,
                question_id=q.id,
                protocol="direct",
                key="direct|q",
                status="complete",
            ),
        ]
    )
    store.insert_ignore(
        [
            Turn(debate_id=debate, round=0, speaker="debater_1", model="m", text="Four."),
            Turn(debate_id=debate, round=0, speaker="debater_2", model="m", text="Five."),
        ]
    )
    store.insert_ignore(
        [
            Judgment(
                debate_id=d,
                judge_id="m@1234",
                kind="prompted",
                model="m",
                probs=[0.625, 0.375],
                probs_by_order={"0,1": [0.7, 0.3], "1,0": [0.55, 0.45]},
            )
            for d in (debate, direct)
        ]
    )
    store.insert_ignore(
        [
            JudgeEnsemble(
                experiment_id=exp.id,
                name="ens",
                judge_ids=["m@1234"],
                judges=[{"name": "j", "judge_id": "m@1234"}],
            )
        ]
    )


@pytest.fixture
def source(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _experiment(store, "arc-run", "hash-arc")
    _experiment(store, "other-run", "hash-other")
    return store


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_failed_jsonl_export_leaves_the_previous_one_untouched(
    source: Store, tmp_path: Path
) -> None:
    out = tmp_path / "exports" / "arc.jsonl"
    ok = CliRunner().invoke(app, ["export", "arc-run", "--out", str(out), "--db", source.url])
    assert ok.exit_code == 0, ok.output
    before = out.read_bytes()
    assert before.count(b"\n") == 2
    typo = CliRunner().invoke(app, ["export", "arc-rnu", "--out", str(out), "--db", source.url])
    assert typo.exit_code == 2
    assert "no experiment named 'arc-rnu'" in _flat(typo.output)
    assert "Traceback" not in typo.output
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["arc.jsonl"]  # no temporary left


def test_a_failed_hf_export_leaves_the_previous_one_untouched(
    source: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasets import Dataset

    out = tmp_path / "exports" / "hf"
    export_hf(source, "arc-run", out)
    before = _tree(out)
    real_save = Dataset.save_to_disk

    def save_then_fail(self: Dataset, path: str, **kwargs: Any) -> None:
        real_save(self, path, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(Dataset, "save_to_disk", save_then_fail)
    with pytest.raises(OSError, match="No space left"):
        export_hf(source, "other-run", out)
    assert _tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["hf"]
    monkeypatch.undo()
    assert export_hf(source, "other-run", out) == 2  # a successful export does replace it
    assert _tree(out) != before
    assert sorted(p.name for p in out.parent.iterdir()) == ["hf"]


# --- import jsonl checks what records mean -------------------------------------------------


def _set(record: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = record
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value


BAD_RECORDS = [
    ("question.correct_index", 2, "question.correct_index", "out of range for 2 choices"),
    ("question.text", "edited by hand", "question.id", "does not match the question's content"),
    ("question.id", "0" * 16, "question.id", "does not match the question's content"),
    ("debate.assignment.debater_2", 5, "debate.assignment.debater_2", "out of range"),
    ("turns.1.speaker", "debater_3", "turns.1.speaker", "not a speaker of the debate's"),
    ("judgments.0.probs", [0.9, 0.3], "judgments.0.probs", "sums to 1.2, not 1"),
    ("judgments.0.probs", [1.5, -0.5], "judgments.0.probs.0", "not a probability in [0, 1]"),
    ("judgments.0.probs", [1.0], "judgments.0.probs", "has 1 probabilities for 2 choices"),
    ("judgments.0.probs", [math.nan, math.nan], "judgments.0.probs.0", "not a probability"),
    ("judgments.0.probs_by_order.1,0", [0.2, 0.2], "judgments.0.probs_by_order.1,0", "sums to 0.4"),
    ("judgments.0.kind", "oracle", "judgments.0.kind", "'oracle' is not a judge kind"),
    ("turns.1.id", 1, "turns.1.id", "1 is also the id of turns.0"),
]


@pytest.mark.parametrize(("path", "value", "field", "problem"), BAD_RECORDS)
def test_import_rejects_a_record_that_means_nothing_and_writes_none_of_its_file(
    source: Store, tmp_path: Path, path: str, value: Any, field: str, problem: str
) -> None:
    out = tmp_path / "arc.jsonl"
    export_jsonl(source, "arc-run", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["debate"]["protocol"] == "debate"
    records.reverse()  # the broken debate on line 2, after a valid record
    _set(records[1], path, value)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in records))

    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    _experiment(target, "unrelated", "hash-unrelated")
    before = _counts(target)
    result = CliRunner().invoke(app, ["import", "jsonl", str(broken), "--db", target.url])
    assert result.exit_code == 1, result.output
    message = _flat(result.output)
    assert f"{broken} line 2: field {field!r}: " in message and problem in message
    assert _counts(target) == before
    report = import_files(target, "jsonl", [out])  # the export as written imports whole
    assert report.failed == []
    assert (report.added.debates, report.added.turns, report.added.judgments) == (2, 2, 2)


def test_a_record_that_gives_only_some_ids_imports_every_row(source: Store, tmp_path: Path) -> None:
    out = tmp_path / "arc.jsonl"
    export_jsonl(source, "arc-run", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    del records[0]["turns"][1]["id"]  # a hand-written turn added to an export
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(json.dumps(r) + "\n" for r in records))
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    report = import_files(target, "jsonl", [partial])
    assert report.failed == []
    assert sorted(t.text for t in target.all(Turn)) == ["Five.", "Four."]


def test_import_checks_conflicts_before_writing_any_record_of_the_file(
    source: Store, tmp_path: Path
) -> None:
    first, second = tmp_path / "other.jsonl", tmp_path / "arc.jsonl"
    export_jsonl(source, "other-run", first)
    export_jsonl(source, "arc-run", second)
    both = tmp_path / "both.jsonl"
    both.write_text(first.read_text() + second.read_text())
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    target.open_experiment("arc-run", {"name": "arc-run"}, "another-hash", "0.1.0")
    before = _counts(target)
    report = import_files(target, "jsonl", [both])
    (failed,) = report.failed
    assert "experiment 'arc-run' already exists" in str(failed.error)
    assert _counts(target) == before


# --- malformed dataset rows ----------------------------------------------------------------


MALFORMED_ROWS = [
    ({"question": "q1", "choices": ["a", "b", "a"], "answer": 0}, "choices", "'a' appears twice"),
    ({"question": "q2", "choices": ["a", "b"], "answer": 2}, "answer", "answer index 2 is out"),
    ({"question": " ", "choices": ["a", "b"], "answer": 0}, "question", "is empty"),
    ({"question": "q4", "answer": 0}, "choices", "is missing"),
]


def test_malformed_rows_are_skipped_with_file_line_and_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [GOOD_ROW, *(r for r, _, _ in MALFORMED_ROWS), {**GOOD_ROW, "question": "3 + 3?"}]
    path = _write_rows(tmp_path / "q.jsonl", *rows)
    with caplog.at_level(logging.WARNING, logger="oversight.data"):
        questions = load_questions("jsonl", path=path, binarize=False)
    assert sorted(q.text for q in questions) == ["2 + 2?", "3 + 3?"]
    for line, (_, field, problem) in enumerate(MALFORMED_ROWS, start=2):
        assert f"{path} line {line}: field {field!r}: {problem}" in caplog.text
    assert "skipped 4 malformed of 6 rows" in caplog.text and "data.strict" in caplog.text


@pytest.mark.parametrize(("row", "field", "problem"), MALFORMED_ROWS)
def test_strict_fails_on_the_first_malformed_row(
    tmp_path: Path, row: dict[str, Any], field: str, problem: str
) -> None:
    path = _write_rows(tmp_path / "q.jsonl", GOOD_ROW, row)
    with pytest.raises(DataError) as err:
        load_questions("jsonl", path=path, strict=True)
    assert str(err.value).startswith(f"{path} line 2: field {field!r}: {problem}")


def test_a_file_with_no_usable_row_is_an_error(tmp_path: Path) -> None:
    path = _write_rows(tmp_path / "q.jsonl", *(r for r, _, _ in MALFORMED_ROWS))
    with pytest.raises(DataError, match=r"line 1: field 'choices': .*no usable row: 4 of 4"):
        load_questions("jsonl", path=path)


def test_shared_sources_skip_repeated_choices_and_bad_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def arc(key: str, texts: str) -> dict[str, Any]:
        choices = [{"label": label, "text": t} for label, t in zip("ABCD", texts, strict=False)]
        return {"id": key, "question": {"stem": f"Q {key}?", "choices": choices}, "answerKey": "A"}

    arc_file = _write_rows(
        tmp_path / "ARC-Challenge-Test.jsonl", arc("1", "wxyz"), arc("2", "wxwz"), arc("3", "abcd")
    )
    with caplog.at_level(logging.WARNING, logger="oversight.data"):
        questions = load_questions("arc", path=arc_file, binarize=False)
    assert sorted(q.source_id or "" for q in questions) == ["1", "3"]
    assert f"{arc_file} line 2: field 'question.choices': 'w' appears twice" in caplog.text
    with pytest.raises(DataError, match=r"line 2: field 'question\.choices': 'w' appears twice"):
        load_questions("arc", path=arc_file, strict=True)

    mmlu = tmp_path / "mmlu" / "test"
    mmlu.mkdir(parents=True)
    (mmlu / "algebra_test.csv").write_text("1+1?,1,2,3,4,B\n2+2?,1,2,3,4,E\n3+3?,5,6,7,8,B\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="oversight.data"):
        questions = load_questions("mmlu", path=tmp_path, binarize=False)
    assert sorted(q.text for q in questions) == ["1+1?", "3+3?"]
    assert "algebra_test.csv line 2: field 'answer': expected an integer" in caplog.text
    assert "mmlu: skipped 1 malformed of 3 rows" in caplog.text


def test_data_strict_comes_from_the_config_and_keeps_the_experiment_identity(
    tmp_path: Path,
) -> None:
    data = _write_rows(tmp_path / "q.jsonl", GOOD_ROW, MALFORMED_ROWS[0][0])
    lenient = parse_config(_config_dict(path=str(data)))
    strict = parse_config(_config_dict(path=str(data), strict=True))
    assert strict.data.strict and not lenient.data.strict
    assert strict.config_hash() == lenient.config_hash()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(DataError, match="line 2: field 'choices': 'a' appears twice"):
        Runner(strict, store).prepare()
    assert _counts(store)["Experiment"] == 0
    questions = Runner(lenient, store).prepare().questions
    assert [q.text for q in questions] == ["2 + 2?"]


# --- secrets never reach an export ---------------------------------------------------------

SECRETS = ("s3cret-db-pw", "hunter2", "pw-bad-port")


def test_exports_mask_passwords_that_older_rows_kept(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _experiment(
        store,
        "old-run",
        "hash-old",
        {
            "store": "postgresql://alice:s3cret-db-pw@db.example:5432/oversight",
            "models": {
                "m": {
                    "model": "x",
                    "backend": "openai",
                    "base_urls": [
                        "http://bob:hunter2@gpu-1:8000/v1",
                        "http://carol:pw-bad-port@gpu-2:99999/v1",
                    ],
                }
            },
        },
    )
    out = tmp_path / "old.jsonl"
    export_jsonl(store, "old-run", out)
    export_hf(store, "old-run", tmp_path / "hf")
    exported = out.read_bytes() + b"".join(_tree(tmp_path / "hf").values())
    for secret in SECRETS:
        assert secret.encode() not in exported
    config = json.loads(out.read_text().splitlines()[0])["experiment"]["config"]
    assert config["store"] == "postgresql://alice:***@db.example:5432/oversight"
    assert config["models"]["m"]["base_urls"][0] == "http://bob:***@gpu-1:8000/v1"
    assert "carol:***@gpu-2" in config["models"]["m"]["base_urls"][1]
    # The export still imports, under the config hash it was stored with.
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    assert import_files(target, "jsonl", [out]).failed == []
    assert target.require_experiment("old-run").config_hash == "hash-old"
    # An export written by an older version, password included, imports without it.
    older = tmp_path / "older.jsonl"
    lines = out.read_text().splitlines()
    older.write_text(
        "".join(line.replace("alice:***@", "alice:s3cret-db-pw@") + "\n" for line in lines)
    )
    assert b"s3cret-db-pw" in older.read_bytes()
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert import_files(fresh, "jsonl", [older]).failed == []
    stored = json.dumps(fresh.require_experiment("old-run").config)
    assert "s3cret-db-pw" not in stored and "alice:***@db.example" in stored


# --- a bad --db, for every command ------------------------------------------------------------


def _bad_store_urls(tmp_path: Path) -> list[tuple[str, str]]:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("my notes, not a database\n")
    return [
        (f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}", "does not exist"),
        (f"sqlite:///{not_a_db}", "cannot open it as a database"),
        ("nosuchscheme://host/db", "unknown database scheme"),
        ("mysql://u@127.0.0.1/db", "its database driver 'MySQLdb' is not installed"),
    ]


def _every_command(tmp_path: Path) -> dict[str, list[str]]:
    data = _write_rows(tmp_path / "q.jsonl", GOOD_ROW)
    config = tmp_path / "exp.toml"
    config.write_text(_config_toml("any", data))
    judges = tmp_path / "judges.toml"
    judges.write_text('[models.m]\nmodel = "x"\n[[judges]]\nname = "j"\nmodel = "m"\n')
    export = tmp_path / "in.jsonl"
    export.write_text("")
    w2s = Path(__file__).parents[2] / "experiments" / "w2s_cpu.toml"
    return {
        "run": ["run", str(config)],
        "status": ["status"],
        "report": ["report", "any"],
        "replay": ["replay", "any", "--judges", str(judges)],
        "import": ["import", "jsonl", str(export)],
        "export": ["export", "any", "--out", str(tmp_path / "out.jsonl")],
        "label": ["label", "any"],
        "pipeline": ["pipeline", str(w2s)],
    }


@pytest.mark.parametrize(
    "command", ["run", "status", "report", "replay", "import", "export", "label", "pipeline"]
)
def test_every_command_refuses_a_bad_store_url_with_one_clean_error(
    tmp_path: Path, command: str
) -> None:
    args = _every_command(tmp_path)[command]
    for url, problem in _bad_store_urls(tmp_path):
        result = CliRunner().invoke(app, [*args, "--db", url])
        out = _flat(result.output)
        assert result.exit_code == 2, (url, result.output)
        assert "Traceback" not in result.output
        assert out.count("error:") == 1 and problem in out, (url, result.output)
    assert not (tmp_path / "no-such-folder").exists()
    assert (tmp_path / "notes.db").read_text() == "my notes, not a database\n"
    assert not (tmp_path / "out.jsonl").exists()


# --- prompt templates are checked when the config is loaded -----------------------------------


def _template_cases(tmp_path: Path) -> list[tuple[str, str]]:
    markdown = tmp_path / "judge.md"
    markdown.write_text("You judge.\n=== user ===\n{question}\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Juge: caf\u00e9\n=== user ===\n{question}\n".encode("latin-1"))
    return [
        ("judge_typo", "no prompt template 'judge_typo'"),
        (str(markdown), "is not a prompt template: templates are .txt files"),
        (str(tmp_path / "missing.txt"), "no prompt template"),
        (str(latin1), "is not UTF-8 text"),
    ]


@pytest.mark.parametrize("command", ["run", "replay"])
def test_a_bad_prompt_template_is_an_error_naming_file_and_field_before_anything_runs(
    tmp_path: Path, command: str
) -> None:
    db = tmp_path / "store.db"
    for prompt, problem in _template_cases(tmp_path):
        if command == "run":
            path = tmp_path / "exp.toml"
            data = _write_rows(tmp_path / "q.jsonl", GOOD_ROW)
            path.write_text(_config_toml("tmpl", data) + f"prompt = {json.dumps(prompt)}\n")
            args = ["run", str(path)]
        else:
            path = tmp_path / "judges.toml"
            path.write_text(
                '[models.m]\nmodel = "x"\n[[judges]]\nname = "j"\nmodel = "m"\n'
                f"prompt = {json.dumps(prompt)}\n"
            )
            args = ["replay", "no-such-experiment", "--judges", str(path)]
        result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{db}"])
        out = _flat(result.output)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert f"error: {path}: judges.0.prompt: " in out and problem in out, result.output
    assert not db.exists()  # nothing was opened, let alone written

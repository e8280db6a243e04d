"""Random bad input gives a clean error or a valid result, never another exception.

Hypothesis builds configs, dataset rows and import records from plausible and implausible
keys and values (mostly near-valid, so that the checks deep inside are reached, not only the
first one). Accepted outcomes: a ConfigError / DataError / RecordError naming the problem, an
``oversight`` exit code 2 with ``error:`` lines and no traceback, or a result that is valid.
No model is loaded.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from oversight.cli import app
from oversight.config import ConfigError, ExperimentConfig, parse_config
from oversight.data import DataError, load_questions, question_id
from oversight.data.records import make_question
from oversight.data.registry import source_spec
from oversight.store import Debate, Judgment, Store, Turn
from oversight.store.kinds import JudgeKind
from oversight.transcripts import import_files
from oversight.transcripts.records import RecordError, experiment_records, parse_record

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- values --------------------------------------------------------------------------------

PLAUSIBLE = st.sampled_from(
    [
        "arc",
        "jsonl",
        "mmlu",
        "allenai/sciq",
        "nope/nope",
        "direct",
        "debate",
        "consultancy",
        "openai",
        "vllm",
        "transformers",
        "m",
        "judge",
        "debater_1",
        "debater_2",
        "prompted",
        "human-live",
        "test",
        "dev",
        "",
        " ",
        "http://user:pw@host:8000/v1",
        "http://h:99999/v1",
        "caf\u00e9",
        "\x00",
        "\ud800",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.integers(),
    st.floats(),
    st.floats(0, 1),
    st.text(max_size=8),
    PLAUSIBLE,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PLAUSIBLE, inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON-like value, inner ones included."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


@st.composite
def mutated(draw: st.DrawFn, base: Any, extra_keys: list[str]) -> Any:
    """``base`` with one to three places replaced, deleted, or given an unexpected key."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(value))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        *parents, leaf = path
        node = value
        for key in parents:
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del node[leaf]
        elif action == "add" and isinstance(node[leaf], dict):
            node[leaf][draw(st.sampled_from(extra_keys) | PLAUSIBLE)] = draw(VALUES)
        else:
            node[leaf] = draw(VALUES)
    return value


# --- configs -------------------------------------------------------------------------------

BASE_CONFIG: dict[str, Any] = {
    "name": "props",
    "seed": 0,
    "concurrency": 2,
    "data": {"source": "jsonl", "path": "q.jsonl", "split": "test", "limit": 2, "strict": False},
    "models": {"m": {"model": "not-loaded", "backend": "transformers", "dtype": "float32"}},
    "protocols": {
        "debate": {
            "kind": "debate",
            "model": "m",
            "rounds": 1,
            "generation": {"max_new_tokens": 4, "temperature": 0.0},
        },
        "direct": {"kind": "direct"},
    },
    "judges": [{"name": "j", "model": "m", "prompt": "judge"}],
}
CONFIG_KEYS = [
    "name",
    "seed",
    "store",
    "data",
    "source",
    "path",
    "limit",
    "strict",
    "models",
    "model",
    "backend",
    "base_urls",
    "lora",
    "protocols",
    "kind",
    "rounds",
    "judges",
    "prompt",
    "sees_context",
    "bogus",
]


@SETTINGS
@given(mutated(BASE_CONFIG, CONFIG_KEYS))
def test_random_configs_validate_or_fail_cleanly(data: dict[str, Any]) -> None:
    try:
        cfg = parse_config(data, "random.toml")
    except ConfigError as err:
        assert str(err).startswith("random.toml: ")
        event("config error")
        return
    event("valid config")
    source_spec(cfg.data.source)  # a valid config names a source that exists
    assert isinstance(cfg, ExperimentConfig)
    stored = json.loads(json.dumps(cfg.stored_config()))
    assert "store" not in stored
    assert ":pw@" not in json.dumps(stored)
    again = parse_config(cfg.model_dump(mode="json"))
    assert again.config_hash() == cfg.config_hash()


TOML_LINES = st.sampled_from(
    [
        'name = "x"',
        "name = 3",
        "seed = -1",
        'store = "sqlite:///x.db"',
        "concurrency = 0",
        "[data]",
        'source = "arc"',
        'source = "nope"',
        'path = "missing.jsonl"',
        "limit = 0",
        "strict = true",
        "[models.m]",
        'model = "not-loaded"',
        'backend = "openai"',
        'base_urls = ["http://u:pw@h:1/v1"]',
        "[protocols.direct]",
        'kind = "direct"',
        "[protocols.d]",
        'kind = "debate"',
        'model = "m"',
        "rounds = 0",
        "[[judges]]",
        'name = "j"',
        'prompt = "missing-template"',
        "[[w2s]]",
        "= broken",
        "[data",
        'x = "\\q"',
    ]
)


@SETTINGS
@given(st.lists(TOML_LINES, max_size=16) | st.binary(max_size=40).map(lambda b: [b]))
def test_random_config_files_give_exit_2_and_error_lines(lines: list[str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "random.toml"
        if lines and isinstance(lines[0], bytes):
            config.write_bytes(lines[0])
        else:
            config.write_text("\n".join(str(line) for line in lines) + "\n", encoding="utf-8")
        db = f"sqlite:///{Path(tmp) / 'no-such-folder' / 'store.db'}"  # nothing can run
        result = CliRunner().invoke(app, ["run", str(config), "--db", db])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = [line for line in result.output.splitlines() if line.strip()]
    assert out and out[0].startswith("error: ")
    assert all(line.startswith(("error: ", str(config))) for line in out), result.output


# --- dataset rows --------------------------------------------------------------------------

ROW_BASES: dict[str, dict[str, Any]] = {
    "jsonl": {
        "question": "2 + 2?",
        "choices": ["3", "4", "5"],
        "answer": 1,
        "context": "c",
        "id": 7,
    },
    "arc": {
        "id": "a1",
        "answerKey": "B",
        "question": {
            "stem": "Which?",
            "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}],
        },
    },
    "boolq": {"question": "is it?", "passage": "it is", "label": "yes", "id": "b1"},
    "sciq": {
        "question": "q?",
        "correct_answer": "a",
        "distractor1": "b",
        "distractor2": "c",
        "distractor3": "d",
        "support": "s",
    },
    "quality": {
        "article": "story",
        "question": "q?",
        "options": ["a", "b"],
        "answer": 0,
        "hard": True,
    },
    "cosmos_qa": {
        "context": "c",
        "question": "q?",
        "answer0": "a",
        "answer1": "b",
        "answer2": "c",
        "answer3": "d",
        "label": 2,
    },
    "hh-rlhf": {
        "chosen": "\n\nHuman: hi\n\nAssistant: hello",
        "rejected": "\n\nHuman: hi\n\nAssistant: go away",
    },
    "amazon_polarity": {"label": 1, "title": "t", "content": "good"},
}
ROW_KEYS = [
    "question",
    "choices",
    "answer",
    "context",
    "id",
    "stem",
    "label",
    "text",
    "answerKey",
    "passage",
    "options",
    "article",
]


@st.composite
def dataset_file(draw: st.DrawFn) -> tuple[str, list[str]]:
    source = draw(st.sampled_from(sorted(ROW_BASES)))
    base = ROW_BASES[source]
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["good", "mutated", "mutated", "raw"]))
        if kind == "raw":
            lines.append(draw(st.text(max_size=20)).replace("\n", " "))
        else:
            row = base if kind == "good" else draw(mutated(base, ROW_KEYS))
            lines.append(json.dumps(row))
    return source, lines


@SETTINGS
@given(dataset_file(), st.booleans(), st.booleans())
def test_random_dataset_rows_load_or_fail_cleanly(
    file: tuple[str, list[str]], strict: bool, binarize: bool
) -> None:
    source, lines = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            questions = load_questions(source, path=path, strict=strict, binarize=binarize)
        except DataError as err:
            assert str(err).startswith(str(path))
            event("data error")
            return
    event(f"{len(questions)} questions")
    for q in questions:
        assert len(q.choices) >= 2 and len(set(q.choices)) == len(q.choices)
        assert 0 <= q.correct_index < len(q.choices)
        assert q.id == question_id(q.text, q.choices, q.context)
        assert q.text.strip() and all(c.strip() for c in q.choices)
        json.dumps(q.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")


# --- import records ------------------------------------------------------------------------


@cache
def _records() -> tuple[dict[str, Any], ...]:
    """An exported experiment: a debate with turns and a judgment, and a direct QA."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'source.db'}")
        q = make_question(
            dataset="t",
            split="test",
            text="2+2?",
            choices=["4", "5"],
            correct_index=0,
            context="ctx",
        )
        store.add_questions([q])
        exp = store.open_experiment("props", {"name": "props"}, "hash", "0.1.0")
        assert exp.id is not None
        store.insert_ignore(
            [
                Debate(
                    id="d1",
                    experiment_id=exp.id,
                    question_id=q.id,
                    protocol="debate",
                    key="debate|q",
                    assignment={"debater_1": 0, "debater_2": 1},
                    rounds=1,
                    status="complete",
                ),
                Debate(
                    id="d2",
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
                Turn(
                    debate_id="d1",
                    round=0,
                    speaker="debater_1",
                    model="m",
                    text="Four.",
                    quotes=[{"text": "4", "verified": True}],
                    latency_s=0.5,
                ),
                Turn(debate_id="d1", round=0, speaker="debater_2", model="m", text="Five."),
            ]
        )
        store.insert_ignore(
            [
                Judgment(
                    debate_id=d,
                    judge_id="m@1",
                    kind="prompted",
                    model="m",
                    probs=[0.625, 0.375],
                    probs_by_order={"0,1": [0.7, 0.3], "1,0": [0.55, 0.45]},
                )
                for d in ("d1", "d2")
            ]
        )
        records = tuple(experiment_records(store, "props"))
        store.close()
        return records


RECORD_KEYS = [
    "format",
    "experiment",
    "question",
    "debate",
    "turns",
    "judgments",
    "id",
    "choices",
    "correct_index",
    "assignment",
    "speaker",
    "round",
    "probs",
    "probs_by_order",
    "kind",
    "judge_id",
    "ensembles",
    "bogus",
]


def _assert_valid(parsed: Any) -> None:
    _, _, bundle = parsed
    q = bundle.question
    assert q.id == question_id(q.text, q.choices, q.context)
    assert 0 <= q.correct_index < len(q.choices)
    assert all(0 <= i < len(q.choices) for i in bundle.debate.assignment.values())
    assert all(t.speaker in bundle.debate.assignment for t in bundle.turns)
    for j in bundle.judgments:
        assert j.kind in {k.value for k in JudgeKind}
        for probs in (j.probs, *j.probs_by_order.values()):
            assert len(probs) == len(q.choices) and all(0 <= p <= 1 for p in probs)
            assert math.isclose(sum(probs), 1.0, abs_tol=1e-3)


@SETTINGS
@given(data=st.data())
def test_random_import_records_parse_or_fail_cleanly(data: st.DataObject, tmp_path: Path) -> None:
    records = [data.draw(st.sampled_from(_records()))]
    records = [data.draw(mutated(r, RECORD_KEYS)) for r in records]
    try:
        parsed = parse_record(records[0])
    except RecordError:
        event("record error")
    else:
        event("valid record")
        _assert_valid(parsed)
    # The same through a file into a Store: rejected whole with file and line, or imported.
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        report = import_files(store, "jsonl", [path])
        if report.failed:
            assert store.count(Debate) == 0
            error = str(report.failed[0].error)
            assert error.startswith(f"{path}") or error.startswith("experiment ")
        else:
            assert store.count(Debate) == 1
    finally:
        store.close()
        for p in tmp_path.iterdir():
            p.unlink()


@pytest.mark.parametrize("bad", ["\ud800", "x\udfff"])
def test_a_lone_surrogate_is_a_clean_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": bad, "choices": ["a", "b"], "answer": 0}) + "\n")
    with pytest.raises(DataError, match="line 1: is not valid Unicode text"):
        load_questions("jsonl", path=path)
    record = copy.deepcopy(_records()[0])
    record["turns"][0]["text"] = bad
    with pytest.raises(RecordError) as err:
        parse_record(record)
    assert err.value.field == "turns.0.text"

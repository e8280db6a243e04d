"""Hub row formats, on small files written here in each dataset's Hub schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oversight.data import DataError, load_questions, shared_data_dir


def _parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SCIQ_SCHEMA = pa.schema(
    [
        (name, pa.string())
        for name in (
            "question",
            "distractor3",
            "distractor1",
            "distractor2",
            "correct_answer",
            "support",
        )
    ]
)
SCIQ_ROW = {
    "question": "What type of organism is commonly used in preparation of foods such as cheese?",
    "distractor3": "viruses",
    "distractor1": "protozoa",
    "distractor2": "gymnosperms",
    "correct_answer": "mesophilic organisms",
    "support": "Mesophiles grow best in moderate temperature.",
}


def test_sciq_parquet(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "test.parquet", [SCIQ_ROW, {**SCIQ_ROW, "support": ""}], SCIQ_SCHEMA)
    first, second = load_questions("allenai/sciq", path=path, binarize=False)
    assert first.dataset == "sciq" and first.split == "test"
    assert first.choices == ["mesophilic organisms", "protozoa", "gymnosperms", "viruses"]
    assert first.correct_index == 0
    assert first.context == "Mesophiles grow best in moderate temperature."
    assert second.context is None  # SciQ has rows without support


def test_bad_hub_row_names_file_row_and_field(tmp_path: Path) -> None:
    path = _parquet(
        tmp_path / "t.parquet", [SCIQ_ROW, {**SCIQ_ROW, "distractor2": None}], SCIQ_SCHEMA
    )
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))} row 1: field 'distractor2': is null"
    ):
        load_questions("sciq", path=path, strict=True)


def test_google_boolq_matches_the_shared_copy(tmp_path: Path) -> None:
    shared = json.loads((shared_data_dir() / "boolq" / "test.jsonl").open().readline())
    row = {
        "question": shared["question"],
        "answer": shared["label"] == "yes",
        "passage": shared["passage"],
    }
    path = _jsonl(tmp_path / "validation.jsonl", [row])
    (hub,) = load_questions("google/boolq", path=path, split="dev", binarize=False)
    (ours,) = [q for q in load_questions("boolq", binarize=False) if q.source_id == shared["id"]]
    assert hub.id == ours.id and hub.choices == ["yes", "no"] and hub.correct_index == 1
    assert hub.context == shared["passage"] and hub.split == "dev"
    _jsonl(path, [{**row, "answer": "False"}])
    with pytest.raises(DataError, match="line 1: field 'answer': expected true or false"):
        load_questions("google/boolq", path=path)


def test_cosmos_qa_matches_the_shared_copy(tmp_path: Path) -> None:
    shared = json.loads((shared_data_dir() / "cosmosqa" / "valid.jsonl").open().readline())
    schema = pa.schema(
        [
            (k, pa.string())
            for k in ("id", "context", "question", "answer0", "answer1", "answer2", "answer3")
        ]
        + [("label", pa.int32())]
    )
    row = {**shared, "label": int(shared["label"])}
    path = _parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", [row], schema)
    (hub,) = load_questions("cosmos_qa", path=tmp_path, split="validation", binarize=False)
    ours = [
        q
        for q in load_questions("cosmosqa", split="dev", binarize=False)
        if q.source_id == shared["id"]
    ]
    assert [hub.id] == [q.id for q in ours]
    assert hub.choices[hub.correct_index] == "He wants to get married to a different person ."
    _parquet(path, [{**row, "label": -1}], schema)
    with pytest.raises(DataError, match="field 'label': is -1: this split's labels are hidden"):
        load_questions("cosmos_qa", path=tmp_path, split="dev")


HH = "\n\nHuman: What is a good name for a cat?\n\nAssistant: Whiskers is popular."


def test_hh_rlhf_splits_the_shared_dialogue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        {
            "chosen": HH + "\n\nHuman: Another?\n\nAssistant: Try Mittens.",
            "rejected": HH + "\n\nHuman: Another?\n\nAssistant: I don't know.",
        },
        {
            "chosen": HH + "\n\nHuman: Thanks\n\nAssistant: You're welcome!",
            "rejected": HH + "\n\nHuman: Ok bye\n\nAssistant: Bye.",
        },
        {"chosen": HH, "rejected": HH},
    ]
    path = _jsonl(tmp_path / "test.jsonl", rows)
    questions = load_questions("Anthropic/hh-rlhf", path=path, binarize=False)
    assert len(questions) == 2  # the identical pair is no comparison: skipped with a warning
    assert "skipped" in caplog.text and f"{path} line 3" in caplog.text
    same, diverged = sorted(questions, key=lambda q: len(q.text), reverse=True)
    assert same.text == (
        "Human: What is a good name for a cat?\n\nAssistant: Whiskers is popular."
        "\n\nHuman: Another?"
    )
    assert same.choices == ["Try Mittens.", "I don't know."] and same.correct_index == 0
    assert same.dataset == "hh-rlhf" and same.meta == {}
    # Diverging before the last turn: split at the last shared assistant turn.
    assert diverged.text == "Human: What is a good name for a cat?"
    assert diverged.choices[0].startswith("Whiskers is popular.\n\nHuman: Thanks")
    assert diverged.meta == {"multi_turn_choices": True}
    _jsonl(path, [{"chosen": "Human: hi", "rejected": HH}])
    with pytest.raises(DataError, match=r"line 1: field 'chosen': has no '\\n\\nAssistant:' turn"):
        load_questions("hh-rlhf", path=path)


def test_amazon_polarity_hub_folder_picks_the_split(tmp_path: Path) -> None:
    schema = pa.schema([("label", pa.int64()), ("title", pa.string()), ("content", pa.string())])
    test_rows = [
        {"label": 1, "title": "Great CD", "content": "My lovely Pat has one of the GREAT voices."},
        {"label": 0, "title": "", "content": "Broke after a week."},
    ]
    _parquet(tmp_path / "amazon_polarity" / "test-00000-of-00001.parquet", test_rows, schema)
    _parquet(
        tmp_path / "amazon_polarity" / "train-00000-of-00004.parquet",
        [{"label": 0, "title": "x", "content": "train row"}],
        schema,
    )
    questions = load_questions("amazon_polarity", path=tmp_path, binarize=False)
    assert len(questions) == 2
    by_answer = {q.choices[q.correct_index]: q for q in questions}
    assert all(q.choices == ["negative", "positive"] for q in questions)
    assert "Title: Great CD\nReview: My lovely Pat" in by_answer["positive"].text
    assert by_answer["negative"].text.endswith("\n\nReview: Broke after a week.")
    assert by_answer["positive"].context is None
    with pytest.raises(DataError, match=r"no .* files for split 'validation'"):
        load_questions("amazon_polarity", path=tmp_path, split="dev")


QUALITY_ROW = {
    "article": "SPACE STORY\nThe ship landed on the third moon...",
    "question": "Where did the ship land?",
    "options": ["Earth", "The third moon", "Mars", "Nowhere"],
    "answer": 1,
    "hard": True,
}


def test_quality_json_list_and_json_lines(tmp_path: Path) -> None:
    listed = tmp_path / "validation.json"
    listed.write_text(json.dumps([QUALITY_ROW]))
    (q,) = load_questions("emozilla/quality", path=listed, split="dev", binarize=False)
    assert q.dataset == "quality" and q.context == QUALITY_ROW["article"]
    assert q.choices[q.correct_index] == "The third moon" and q.meta == {"hard": True}
    from datasets import Dataset

    lines = tmp_path / "lines.json"
    Dataset.from_list([QUALITY_ROW]).to_json(str(lines))  # JSON Lines under a .json name
    (again,) = load_questions("quality", path=lines, binarize=False)
    assert again.id == q.id
    listed.write_text(json.dumps([QUALITY_ROW, {**QUALITY_ROW, "answer": 4}]))
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(listed))} row 1: field 'answer': answer index 4"
    ):
        load_questions("quality", path=listed, strict=True)


def test_save_to_disk_folder(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    saved = tmp_path / "saved"
    DatasetDict({"validation": Dataset.from_list([QUALITY_ROW])}).save_to_disk(str(saved))
    (q,) = load_questions("quality", path=saved, split="dev", binarize=False)
    assert q.choices[q.correct_index] == "The third moon"
    with pytest.raises(
        DataError, match=r"split 'test' not in this dataset; it has \['validation'\]"
    ):
        load_questions("quality", path=saved)


def test_without_path_reads_the_hub_split(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls: list[tuple[str, str]] = []

    def fake_load_dataset(name: str, *, split: str) -> datasets.Dataset:
        calls.append((name, split))
        return datasets.Dataset.from_list([SCIQ_ROW])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    (q,) = load_questions("sciq", split="dev")
    assert calls == [("allenai/sciq", "validation")]
    assert q.split == "dev" and q.meta["binarized_from"]
    assert "mesophilic organisms" in q.choices

    def offline(name: str, *, split: str) -> datasets.Dataset:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"^hub:google/boolq: field 'split': .*pass path="):
        load_questions("google/boolq")

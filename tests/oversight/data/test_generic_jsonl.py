"""The generic JSONL format: happy path, and malformed files named by file, line and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from oversight.data import DataError, load_questions


def _write(path: Path, *lines: object) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


GOOD = {"question": "2 + 2?", "choices": ["3", "4", "5"], "answer": 1}


def test_happy_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mine.jsonl",
        GOOD,
        "",
        {
            "question": "Capital of France?",
            "choices": ["Berlin", "Paris"],
            "answer": "Paris",
            "context": "Paris is the capital of France.",
            "id": 17,
            "topic": "geo",
        },
    )
    questions = load_questions("jsonl", path=path, split="validation", binarize=False)
    by_text = {q.text: q for q in questions}
    arith, geo = by_text["2 + 2?"], by_text["Capital of France?"]
    assert arith.choices == ["3", "4", "5"] and arith.correct_index == 1 and arith.context is None
    assert geo.choices[geo.correct_index] == "Paris"
    assert geo.context == "Paris is the capital of France."
    assert geo.source_id == "17" and geo.meta == {"topic": "geo"}
    assert {q.dataset for q in questions} == {"mine"} and {q.split for q in questions} == {"dev"}
    binary = load_questions("jsonl", path=path)
    assert all(len(q.choices) == 2 for q in binary)


def test_digit_string_answer_is_a_choice_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", {"question": "?", "choices": ["2", "1"], "answer": "1"})
    (q,) = load_questions("jsonl", path=path, binarize=False)
    assert q.correct_index == 1


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({"choices": ["a", "b"], "answer": 0}, "question", "is missing"),
        ({"question": "q", "answer": 0}, "choices", "is missing"),
        ({"question": "q", "choices": ["a", "b"]}, "answer", "is missing"),
        ({**GOOD, "answer": "6"}, "answer", "'6' is not one of the choices"),
        ({**GOOD, "answer": 3}, "answer", "answer index 3 is out of range for 3 choices"),
        ({**GOOD, "answer": True}, "answer", "expected an integer, got bool"),
        ({**GOOD, "choices": "abc"}, "choices", "expected a list of strings"),
        ({**GOOD, "choices": ["a", 2]}, "choices[1]", "expected a string, got int"),
        ({**GOOD, "choices": ["a"], "answer": 0}, "choices", "needs at least 2 choices"),
        ({**GOOD, "choices": ["a", "a"], "answer": 0}, "choices", "'a' appears twice"),
        ({**GOOD, "question": "  "}, "question", "is empty"),
    ],
)
def test_malformed_rows_name_file_line_and_field(
    tmp_path: Path, row: dict[str, object], field: str, problem: str
) -> None:
    path = _write(tmp_path / "q.jsonl", GOOD, row)
    with pytest.raises(DataError) as err:
        load_questions("jsonl", path=path, strict=True)
    assert str(err.value).startswith(f"{path} line 2: field {field!r}: {problem}")
    assert (err.value.field, err.value.line) == (field, 2)


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.jsonl", GOOD, GOOD, '{"question": "q", "choices": [')
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))} line 3: not valid JSON"):
        load_questions("jsonl", path=path)
    _write(path, GOOD, "[1, 2]")
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))} line 2: expected a JSON object, got list"
    ):
        load_questions("jsonl", path=path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))} line 2: is not UTF-8"):
        load_questions("jsonl", path=path)


def test_path_is_required_and_must_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="field 'path': needs path="):
        load_questions("jsonl")
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(tmp_path / 'none.jsonl'))}: field 'path': does not"
    ):
        load_questions("jsonl", path=tmp_path / "none.jsonl")

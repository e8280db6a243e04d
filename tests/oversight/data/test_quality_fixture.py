"""QuALITY with hidden passages, from the local fixture in the Hub's row format
(``tests/fixtures/quality``, stories written for these tests in ``emozilla/quality``'s schema)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from oversight.data import DataError, load_questions

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "quality" / "validation.jsonl"


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def test_the_fixture_loads_with_the_story_as_hidden_context() -> None:
    rows = _rows()
    questions = load_questions("quality", path=FIXTURE, split="dev", binarize=False)
    assert len(questions) == len(rows) == 5
    by_text = {q.text: q for q in questions}
    for row in rows:
        q = by_text[row["question"]]
        assert q.dataset == "quality" and q.split == "dev"
        assert q.context is not None and q.context == row["article"]
        assert len(q.context.split()) > 400 and q.context not in q.text
        assert q.choices == row["options"]
        assert q.correct_index == row["answer"] and q.meta == {"hard": row["hard"]}
    boy = by_text["Why did the boy take fuel from the seventh lamp?"]
    assert boy.choices[boy.correct_index].startswith("To light a lamp for his sister")


def test_binarized_fixture_questions_keep_the_passage() -> None:
    questions = load_questions("emozilla/quality", path=FIXTURE, split="dev", limit=4, seed=1)
    assert len(questions) == 4
    stories = {row["article"] for row in _rows()}
    for q in questions:
        assert len(q.choices) == 2 and q.context in stories


def _tasksource(row: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "article_id": 100 + i,
        "title": row["article"].splitlines()[0],
        "article": row["article"],
        "question": row["question"],
        "question_unique_id": f"q{i}",
        "options": row["options"],
        "gold_label": row["answer"] + 1,
        "writer_label": row["answer"] + 1,
        "difficult": int(row["hard"]),
    }


def test_tasksource_rows_give_the_same_questions(tmp_path: Path) -> None:
    rows = _rows()
    path = tmp_path / "validation.jsonl"
    path.write_text("".join(json.dumps(_tasksource(r, i)) + "\n" for i, r in enumerate(rows)))
    emozilla = load_questions("quality", path=FIXTURE, split="dev", binarize=False)
    tasksource = load_questions("tasksource/QuALITY", path=path, split="dev", binarize=False)
    assert {q.id for q in tasksource} == {q.id for q in emozilla}
    first = next(q for q in tasksource if q.source_id == "q0")
    assert first.correct_index == rows[0]["answer"] and first.meta == {"hard": rows[0]["hard"]}


def test_a_tasksource_gold_label_out_of_range_names_file_line_and_field(tmp_path: Path) -> None:
    bad = {**_tasksource(_rows()[0], 0), "gold_label": 0}
    path = tmp_path / "validation.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))} line 1: field 'gold_label': 0 is not an option number "
        r"1\.\.4 \(QuALITY counts from 1\)",
    ):
        load_questions("quality-tasksource", path=path, split="dev", strict=True)

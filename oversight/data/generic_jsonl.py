"""The generic question format: a JSONL file a user writes for their own questions.

One object per line: ``question`` (str), ``choices`` (list of str), ``answer`` (the correct
choice's 0-based index, or its exact text), and optionally ``context`` (hidden material) and
``id``. Other keys are kept in ``meta``. The dataset is named after the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oversight.data.drafts import Loaded, QuestionDraft, convert_rows, new_draft
from oversight.data.errors import DataError
from oversight.data.hub_files import canonical_split
from oversight.data.rows import (
    Where,
    as_int,
    as_text_list,
    optional_text,
    read_jsonl,
    require,
    text_field,
)

KNOWN_FIELDS = ("question", "choices", "answer", "context", "id")


def load_jsonl(path: str | Path | None, split: str) -> Loaded:
    """All questions of a generic JSONL file, in file order."""
    if path is None:
        raise DataError("jsonl source", "needs path= to a .jsonl file", field="path")
    file = Path(path)
    if not file.is_file():
        raise DataError(file, "is not a file" if file.exists() else "does not exist", field="path")
    name = canonical_split(split)
    return convert_rows(read_jsonl(file), lambda where, row: [_row(where, row, file.stem, name)])


def _row(where: Where, row: dict[str, Any], dataset: str, split: str) -> QuestionDraft:
    choices = as_text_list(require(row, "choices", where), "choices", where)
    answer = require(row, "answer", where)
    if isinstance(answer, str):  # the text of a choice (a digit string too: never an index)
        if answer.strip() not in choices:
            raise where.error(f"{answer!r} is not one of the choices {choices}", "answer")
        index = choices.index(answer.strip())
    else:
        index = as_int(answer, "answer", where)
    return new_draft(
        where,
        dataset=dataset,
        split=split,
        text=text_field(row, "question", where),
        choices=choices,
        correct_index=index,
        context=optional_text(row, "context", where),
        source_id=None if row.get("id") is None else str(row["id"]),
        meta={k: v for k, v in row.items() if k not in KNOWN_FIELDS},
    )

"""Loaders for the formats of the shared real-data folder (``../shared/data``).

Each loader takes ``path`` (the shared data folder, the dataset's own folder, or one file of
it; None finds the shared folder) and a split, and returns drafts with all choices, in file
order, and the malformed rows set aside. Errors name the file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from oversight.data.drafts import Loaded, QuestionDraft, convert_rows, new_draft
from oversight.data.errors import DataError
from oversight.data.hub_files import canonical_split
from oversight.data.hub_formats import boolq_draft, cosmosqa_draft
from oversight.data.paths import shared_data_dir
from oversight.data.rows import (
    Where,
    as_int,
    as_text,
    optional_text,
    read_csv,
    read_jsonl,
    require,
    text_field,
)


def locate(path: str | Path | None, folder: str) -> Path:
    """A file given directly, else the dataset's folder: ``<shared>/<folder>`` when ``path``
    is the shared data folder, or ``path`` itself when it already is the dataset's folder."""
    if path is not None and Path(path).is_file():
        return Path(path)
    root = shared_data_dir(path)
    if (root / folder).is_dir():
        return root / folder
    if path is None:
        raise DataError(root, f"has no {folder}/ folder", field="path")
    return root


def _no_split(folder: Path, split: str, available: Iterable[str]) -> DataError:
    names = ", ".join(sorted(set(available))) or "none"
    return DataError(folder, f"no split {split!r} here; available: {names}", field="split")


# --- MMLU -----------------------------------------------------------------------------------

MMLU_HEADER = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]
_MMLU_SPLITS = {"validation": "val", "valid": "val"}


def load_mmlu(path: str | Path | None, split: str) -> Loaded:
    """MMLU: one CSV per subject in ``dev/`` (5 few-shot examples each), ``test/``, and
    ``val/`` in the original release (``validation`` means ``val`` here, not ``dev``). With a
    header ``question,choice0..choice3,answer`` (answer 0-3), or headerless as in the original
    release (answer A-D)."""
    where = locate(path, "mmlu")
    name = split.strip().lower()
    name = _MMLU_SPLITS.get(name, name)
    if where.is_file():
        files = [where]
    else:
        folder = where / name
        files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if not files:
            raise _no_split(where, split, (d.name for d in where.iterdir() if d.is_dir()))
    loaded = Loaded()
    for file in files:
        loaded += _mmlu_file(file, name)
    return loaded


def _mmlu_file(path: Path, split: str) -> Loaded:
    subject = re.sub(r"_(dev|val|test|train)$", "", path.stem)
    records = read_csv(path)
    first = next(records, None)
    if first is None:
        return Loaded()
    columns = MMLU_HEADER  # a header (any names) starts with "question"; else positional
    if first[1][0].strip().lower() != "question":
        records = _chain(first, records)

    def convert(where: Where, item: tuple[int, list[str]]) -> list[QuestionDraft]:
        index, record = item
        if len(record) != len(columns):
            raise where.error(f"expected {len(columns)} columns {columns}, got {len(record)}")
        row = dict(zip(columns, record, strict=True))
        choices = [text_field(row, f"choice{i}", where) for i in range(4)]
        draft = new_draft(
            where,
            dataset="mmlu",
            split=split,
            text=text_field(row, "question", where),
            choices=choices,
            correct_index=_mmlu_answer(row["answer"], where),
            source_id=f"{path.stem}:{index}",
            meta={"subject": subject},
        )
        return [draft]

    numbered = ((where, (i, record)) for i, (where, record) in enumerate(records))
    return convert_rows(numbered, convert)


def _chain(
    first: tuple[Where, list[str]], rest: Iterator[tuple[Where, list[str]]]
) -> Iterator[tuple[Where, list[str]]]:
    yield first
    yield from rest


def _mmlu_answer(value: str, where: Where) -> int:
    answer = value.strip()
    if answer in ("A", "B", "C", "D"):
        return "ABCD".index(answer)
    return as_int(answer, "answer", where)


# --- ARC ------------------------------------------------------------------------------------

_ARC_FILES = {"train": "Train", "dev": "Dev", "test": "Test"}


def load_arc(path: str | Path | None, split: str) -> Loaded:
    """ARC-Challenge in AI2's JSONL (``question.stem``, ``question.choices[{label,text}]``,
    ``answerKey``). Labels are letters or digits; the key must equal one of them."""
    where = locate(path, "arc")
    name = canonical_split(split)
    if where.is_file():
        file = where
    else:
        file = where / _arc_name(_ARC_FILES.get(name, split))
        if not file.is_file():
            present = (n for n, f in _ARC_FILES.items() if (where / _arc_name(f)).is_file())
            raise _no_split(where, split, present)
    return convert_rows(read_jsonl(file), lambda w, row: [_arc_row(w, row, name)])


def _arc_name(split_word: str) -> str:
    return f"ARC-Challenge-{split_word}.jsonl"


def _arc_row(where: Where, row: dict[str, object], split: str) -> QuestionDraft:
    question = require(row, "question", where)
    if not isinstance(question, dict):
        raise where.error(f"expected an object, got {type(question).__name__}", "question")
    raw_choices = require(question, "choices", where, name="question.choices")
    if not isinstance(raw_choices, list):
        raise where.error("expected a list of {label, text}", "question.choices")
    labels: list[str] = []
    choices: list[str] = []
    for i, choice in enumerate(raw_choices):
        name = f"question.choices[{i}]"
        if not isinstance(choice, dict):
            raise where.error("expected an object with label and text", name)
        labels.append(text_field(choice, "label", where, name=f"{name}.label"))
        choices.append(text_field(choice, "text", where, name=f"{name}.text"))
    key = text_field(row, "answerKey", where)
    if key not in labels:
        raise where.error(f"{key!r} is not one of the choice labels {labels}", "answerKey")
    return new_draft(
        where,
        dataset="arc",
        split=split,
        text=text_field(question, "stem", where, name="question.stem"),
        choices=choices,
        correct_index=labels.index(key),
        source_id=optional_text(row, "id", where),
        choices_field="question.choices",
        answer_field="answerKey",
    )


# --- CosmosQA -------------------------------------------------------------------------------

_COSMOS_FILES = {"train": "train", "dev": "valid", "test": "test"}


def load_cosmosqa(path: str | Path | None, split: str) -> Loaded:
    """CosmosQA JSONL (``context, question, answer0..3``) with labels in ``<stem>-labels.lst``
    (one per line) or in each row's ``label``.

    The official test labels are hidden, so ``test`` reads ``valid.jsonl`` when no labelled
    ``test.jsonl`` exists, as weak-to-strong work evaluates on it: ``dev`` and ``test`` are then
    the same questions (same ids).
    """
    where = locate(path, "cosmosqa")
    name = canonical_split(split)
    if where.is_file():
        file = where
    else:
        stem = _COSMOS_FILES.get(name, name)
        file = where / f"{stem}.jsonl"
        if name == "test" and not _has_labels(file):
            file = where / "valid.jsonl"
        if not file.is_file():
            present = [n for n, s in _COSMOS_FILES.items() if (where / f"{s}.jsonl").is_file()]
            raise _no_split(where, split, present)
    rows = list(read_jsonl(file))
    labels_file = file.with_name(f"{file.stem}-labels.lst")
    labels = _read_labels(labels_file, len(rows)) if labels_file.is_file() else None

    def convert(where_row: Where, item: tuple[int, dict[str, object]]) -> list[QuestionDraft]:
        index, row = item
        if labels is None:
            label = as_int(require(row, "label", where_row), "label", where_row)
        else:
            where_label, label = labels[index]
            if not 0 <= label < 4:
                raise where_label.error(f"{label} is not an answer index 0-3", "label")
            in_row = row.get("label")
            if in_row is not None and as_int(in_row, "label", where_row) != label:
                raise where_row.error(
                    f"{in_row!r} disagrees with {labels_file.name} ({label})", "label"
                )
        return [cosmosqa_draft(where_row, row, split=name, label=label, label_field="label")]

    return convert_rows(((w, (i, row)) for i, (w, row) in enumerate(rows)), convert)


def _has_labels(file: Path) -> bool:
    if not file.is_file():
        return False
    if file.with_name(f"{file.stem}-labels.lst").is_file():
        return True
    first = next(read_jsonl(file), None)
    return first is not None and first[1].get("label") not in (None, -1, "-1")


def _read_labels(path: Path, expected: int) -> list[tuple[Where, int]]:
    labels = [(w, as_int(r[0], "label", w)) for w, r in read_csv(path)]
    if len(labels) != expected:
        raise DataError(path, f"has {len(labels)} labels for {expected} questions", field="label")
    return labels


# --- BoolQ ----------------------------------------------------------------------------------

_BOOLQ_ANSWERS = {"yes": True, "true": True, "no": False, "false": False}


def load_boolq(path: str | Path | None, split: str) -> Loaded:
    """BoolQ JSONL (``question, passage, label`` yes/no, ``id``). A split is ``{split}.jsonl``
    or its shards ``{split}_0.jsonl, {split}_1.jsonl, ...`` (the shared subset's train)."""
    where = locate(path, "boolq")
    name = canonical_split(split)
    if where.is_file():
        files = [where]
    else:
        pattern = re.compile(rf"{re.escape(name)}(_\d+)?")
        jsonl = sorted(where.glob("*.jsonl"), key=_natural)
        files = [f for f in jsonl if pattern.fullmatch(f.stem)]
        if not files:
            raise _no_split(where, split, (re.sub(r"_\d+$", "", f.stem) for f in jsonl))
    loaded = Loaded()
    for file in files:
        loaded += convert_rows(read_jsonl(file), lambda w, row: [_boolq_row(w, row, name)])
    return loaded


def _natural(path: Path) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", path.stem)
    assert match is not None
    return match.group(1), int(match.group(2) or -1)


def _boolq_row(where: Where, row: dict[str, object], split: str) -> QuestionDraft:
    label = require(row, "label", where)
    answer = label if isinstance(label, bool) else _BOOLQ_ANSWERS.get(str(label).strip().lower())
    if answer is None:
        raise where.error(f"{label!r} is not yes or no", "label")
    return boolq_draft(
        where,
        split=split,
        question=text_field(row, "question", where),
        passage=text_field(row, "passage", where),
        answer=answer,
        source_id=optional_text(row, "id", where),
        answer_field="label",
    )


# --- TruthfulQA -----------------------------------------------------------------------------

TRUTHFULQA_COLUMNS = ("Question", "Best Answer", "Incorrect Answers")


def load_truthfulqa(path: str | Path | None, split: str) -> Loaded:
    """TruthfulQA CSV: the choices are the best answer then the ';'-separated incorrect
    answers (stripped, deduplicated, any equal to the best answer dropped). The dataset has
    one split, called ``test`` (the Hub calls it ``validation``)."""
    where = locate(path, "truthfulqa")
    if split.strip().lower() not in ("test", "validation"):
        raise _no_split(where, split, ["test"])
    file = where if where.is_file() else where / "TruthfulQA.csv"
    if not file.is_file():
        raise DataError(file, "does not exist (expected TruthfulQA.csv)", field="path")
    records = read_csv(file)
    header_row = next(records, None)
    if header_row is None:
        raise DataError(file, "is empty")
    header = [cell.strip() for cell in header_row[1]]
    for column in TRUTHFULQA_COLUMNS:
        if column not in header:
            raise header_row[0].error(f"column missing from the header {header}", column)

    def convert(w: Where, item: tuple[int, list[str]]) -> list[QuestionDraft]:
        index, record = item
        row = dict(zip(header, record, strict=False))
        best = text_field(row, "Best Answer", w)
        incorrect = as_text(require(row, "Incorrect Answers", w), "Incorrect Answers", w)
        choices = [best]
        for answer in (a.strip() for a in incorrect.split(";")):
            if answer and answer not in choices:
                choices.append(answer)
        meta = {k.lower(): row[k].strip() for k in ("Type", "Category") if row.get(k)}
        draft = new_draft(
            w,
            dataset="truthfulqa",
            split="test",
            text=text_field(row, "Question", w),
            choices=choices,
            correct_index=0,
            source_id=str(index),
            meta=meta,
            choices_field="Incorrect Answers",
            answer_field="Best Answer",
        )
        return [draft]

    return convert_rows(((w, (i, record)) for i, (w, record) in enumerate(records)), convert)

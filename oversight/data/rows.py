"""Reading rows together with their location, and typed field access that fails clearly.

Every value a loader takes from a file passes through these helpers, so a malformed file is
reported by path, line (or row) and field rather than as a KeyError deep inside a loader.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oversight.data.errors import DataError

Row = Mapping[str, Any]

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class Where:
    """Where a row came from: a file or Hub split, its 1-based line or its 0-based row."""

    path: str | Path
    line: int | None = None
    row: int | None = None

    def error(self, problem: str, field: str | None = None) -> DataError:
        return DataError(self.path, problem, field=field, line=self.line, row=self.row)

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.path} line {self.line}"
        return f"{self.path}" if self.row is None else f"{self.path} row {self.row}"


def read_jsonl(path: Path) -> Iterator[tuple[Where, dict[str, Any]]]:
    """The JSON objects of a JSON Lines file, blank lines skipped, with their line numbers.

    Lines are decoded one by one so that a bad byte is reported on its own line.
    """
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                where = Where(path, line=number)
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise where.error(f"is not UTF-8 text ({exc.reason})") from None
                if line.strip():
                    yield parse_json_object(line, where)
    except OSError as exc:
        raise DataError(path, f"cannot be read: {exc.strerror or exc}") from None


def parse_json_object(text: str, where: Where) -> tuple[Where, dict[str, Any]]:
    """One JSON object, or a DataError at ``where`` saying why it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise where.error(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        raise where.error(f"expected a JSON object, got {type(value).__name__}")
    check_unicode(text, value, where)
    return where, value


def check_unicode(text: str, value: Any, where: Where) -> None:
    """Reject JSON whose ``\\u`` escapes leave a lone surrogate: the JSON form of a bad UTF-8
    byte, which no database or tokenizer accepts."""
    if not _SURROGATE_ESCAPE.search(text):  # the common case: no full check needed
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise where.error("is not valid Unicode text (a lone surrogate \\u escape)") from None


def read_csv(path: Path) -> Iterator[tuple[Where, list[str]]]:
    """The records of a CSV file (header included) with the line each record starts on.

    A quoted field may span lines, so the start line is tracked rather than counted.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:  # sig: Excel's BOM
            reader = csv.reader(handle)
            start = 1
            try:
                for record in reader:
                    if any(cell.strip() for cell in record):
                        yield Where(path, line=start), record
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise DataError(path, f"not valid CSV: {exc}", line=reader.line_num) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read: {exc.strerror or exc}") from None


def require(row: Row, field: str, where: Where, *, name: str | None = None) -> Any:
    """``row[field]``; missing or null is an error (``name`` is the field as the user sees it,
    e.g. ``question.stem`` for a nested field)."""
    value = row.get(field)
    if value is None:
        raise where.error("is missing" if field not in row else "is null", name or field)
    return value


def as_text(value: Any, field: str, where: Where, *, allow_empty: bool = False) -> str:
    """A string value, stripped; empty is an error unless ``allow_empty``."""
    if not isinstance(value, str):
        raise where.error(f"expected a string, got {type(value).__name__} {value!r}", field)
    text = value.strip()
    if not text and not allow_empty:
        raise where.error("is empty", field)
    return text


def text_field(row: Row, field: str, where: Where, *, name: str | None = None) -> str:
    """A required, non-empty string field, stripped."""
    return as_text(require(row, field, where, name=name), name or field, where)


def optional_text(row: Row, field: str, where: Where) -> str | None:
    """A string field that may be absent, null or empty (all read as None)."""
    value = row.get(field)
    if value is None:
        return None
    return as_text(value, field, where, allow_empty=True) or None


def as_int(value: Any, field: str, where: Where) -> int:
    """An integer, or a string of digits (CSV cells); booleans and floats are errors."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise where.error(f"expected an integer, got {type(value).__name__} {value!r}", field)


def as_text_list(value: Any, field: str, where: Where) -> list[str]:
    """A list of non-empty strings, each stripped."""
    if not isinstance(value, list | tuple):
        raise where.error(f"expected a list of strings, got {type(value).__name__}", field)
    return [as_text(item, f"{field}[{i}]", where) for i, item in enumerate(value)]

"""The one exception the data package raises, so callers can report it without a traceback."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A source file (or argument) that cannot become questions.

    The message names where (a path, or an argument such as ``load_questions``), the field,
    and the 1-based line of a text file or the 0-based row of a table, e.g.
    ``arc/ARC-Challenge-Test.jsonl line 12: field 'answerKey': 'E' is not one of the choice
    labels``, so a user can open the file at the right place.
    """

    def __init__(
        self,
        where: str | Path,
        problem: str,
        *,
        field: str | None = None,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        self.where = str(where)
        self.problem = problem
        self.field = field
        self.line = line
        self.row = row
        head = self.where
        if line is not None:
            head += f" line {line}"
        elif row is not None:
            head += f" row {row}"
        if field is not None:
            head += f": field {field!r}"
        super().__init__(f"{head}: {problem}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments do not survive the default exception pickling (multiprocessing).
        return (_rebuild, (self.where, self.problem, self.field, self.line, self.row))


def _rebuild(
    where: str, problem: str, field: str | None, line: int | None, row: int | None
) -> DataError:
    return DataError(where, problem, field=field, line=line, row=row)
